// The binary run as a user would, against real processes made by the lab: the
// default view, `who` and `of` in table, JSON and CSV, with exit codes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>

#include "lab/lab.h"
#include "../live/truth.h"
#include "run.h"

namespace portrel::testing {
namespace {

pid_t master_of(const lab::GroundTruth& t) {
  for (const auto& p : t.processes) {
    if (p.role == "master") return p.pid;
  }
  return 0;
}

std::string comm_of(pid_t pid) {
  std::string comm;
  FILE* f = fopen(("/proc/" + std::to_string(pid) + "/comm").c_str(), "r");
  if (f) {
    char buf[64];
    if (fgets(buf, sizeof buf, f)) comm = buf;
    fclose(f);
  }
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm;
}

TEST(Query, WhoJsonListsEveryHolderOfAPreforkListener) {
  lab::Lab lab = start_lab("prefork", {.workers = 3});
  const auto& t = lab.truth();
  uint16_t port = t.sockets.at(0).port;
  CliRun r = run_portrel({"who", "tcp/" + std::to_string(port), "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_TRUE(doc["warnings"].is_array());
  ASSERT_EQ(doc["sockets"].size(), 1u) << r.out;
  const auto& s = doc["sockets"][0];
  EXPECT_EQ(s["inode"], t.sockets[0].inode);
  EXPECT_EQ(s["proto"], "tcp");
  EXPECT_EQ(s["family"], 4);
  EXPECT_EQ(s["state"], "LISTEN");
  EXPECT_EQ(s["local_port"], port);
  EXPECT_EQ(s["local_address"], t.sockets[0].address);
  EXPECT_TRUE(s["remote_address"].is_string());
  EXPECT_EQ(s["remote_port"], 0);
  EXPECT_TRUE(s["uid"].is_number());
  EXPECT_TRUE(s["netns"].is_number());
  std::set<std::pair<pid_t, int>> want, got;
  for (const auto& ts : t.sockets) want.insert({ts.pid, ts.fd});
  for (const auto& h : s["holders"]) {
    got.insert({h["pid"].get<pid_t>(), h["fd"].get<int>()});
    EXPECT_TRUE(h["comm"].is_string());
    EXPECT_TRUE(h["cloexec"].is_boolean());
    EXPECT_TRUE(h.contains("exe"));
  }
  EXPECT_EQ(got, want);
}

TEST(Query, DefaultViewFoldsMasterAndWorkersOnOneLine) {
  lab::Lab lab = start_lab("prefork", {.workers = 3});
  pid_t master = master_of(lab.truth());
  ASSERT_NE(master, 0);
  std::string port = std::to_string(lab.truth().sockets.at(0).port);
  CliRun r = run_portrel({"-t", "--color", "never"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string expect = comm_of(master) + " " + std::to_string(master) + " + 3 children";
  size_t at = r.out.find(":" + port + " ");
  ASSERT_NE(at, std::string::npos) << r.out;
  std::string line = r.out.substr(at, r.out.find('\n', at) - at);
  EXPECT_NE(line.find(expect), std::string::npos) << line;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "colour with --color never";
}

TEST(Query, OfPidShowsItsSocketsAndOfMissingPortIsExitOne) {
  lab::Lab lab = start_lab("multi-port");
  pid_t pid = lab.truth().sockets.at(0).pid;
  CliRun r = run_portrel({"of", std::to_string(pid), "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> want;
  for (const auto& s : lab.truth().sockets) {
    if (s.family != 0) want.insert(std::to_string(pid) + "/" + std::to_string(s.fd));
  }
  std::set<std::string> got;
  size_t lines = 0;
  for (size_t at = r.out.find("\r\n") + 2; at < r.out.size(); ++lines) {
    size_t end = r.out.find("\r\n", at);
    std::string line = r.out.substr(at, end - at);
    got.insert(line.substr(line.rfind(',') + 1));
    at = end + 2;
  }
  EXPECT_EQ(got, want) << r.out;
  EXPECT_EQ(lines, want.size());

  CliRun none = run_portrel({"who", "udp/1"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_EQ(none.out, "");
}

TEST(Query, ColourOnlyWhenAskedAndNoColorWins) {
  lab::Lab lab = start_lab("prefork", {.workers = 1});
  CliRun always = run_portrel({"-t", "--color", "always"});
  EXPECT_NE(always.out.find("\x1b["), std::string::npos);
  CliRun piped = run_portrel({"-t"});
  EXPECT_EQ(piped.out.find('\x1b'), std::string::npos) << "stdout is a pipe";
  CliRun no_color = run_portrel({"-t"}, {"NO_COLOR=1"});
  EXPECT_EQ(no_color.out.find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace portrel::testing
