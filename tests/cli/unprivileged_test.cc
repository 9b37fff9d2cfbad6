// Without root portrel still answers: it shows the sockets it can see, marks the
// owners it cannot resolve, and says once, in a warning, how many and why.
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lab/lab.h"
#include "run.h"

namespace portrel::testing {
namespace {


TEST(Unprivileged, ShowsSocketsAndMarksUnknownOwners) {
  ASSERT_EQ(geteuid(), 0u) << "this test starts root-owned servers and drops to nobody";
  ASSERT_EQ(access("/usr/bin/setpriv", X_OK), 0) << "setpriv (util-linux) is needed";
  auto lab = lab::Lab::start("prefork", {.workers = 2});
  ASSERT_TRUE(lab) << lab.error().message;
  const auto& socket = lab->truth().sockets.at(0);

  CliRun json = run_portrel_as_nobody({"-t", "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto doc = nlohmann::json::parse(json.out);
  bool found = false;
  for (const auto& s : doc["sockets"]) {
    if (s["inode"] != socket.inode) continue;
    found = true;
    EXPECT_TRUE(s["holders"].empty());
    EXPECT_NE(s["owner"].get<std::string>().find("run as root"), std::string::npos) << s;
  }
  EXPECT_TRUE(found) << "the lab's listener is visible to sock_diag without root";
  bool warned = false;
  for (const auto& w : doc["warnings"]) {
    warned |= w.get<std::string>().find("run as root") != std::string::npos;
  }
  EXPECT_TRUE(warned) << doc["warnings"];

  CliRun table = run_portrel_as_nobody({"-t", "--color", "never"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::string port = ":" + std::to_string(socket.port) + " ";
  size_t at = table.out.find(port);
  ASSERT_NE(at, std::string::npos) << table.out;
  std::string line = table.out.substr(at, table.out.find('\n', at) - at);
  EXPECT_NE(line.find("run as root"), std::string::npos) << line;
  size_t warnings = 0;
  for (size_t p = 0; (p = table.err.find("warning:", p)) != std::string::npos; ++p) ++warnings;
  EXPECT_GE(warnings, 1u);
  EXPECT_LE(warnings, 3u) << "one warning per cause, not one per process:\n" << table.err;
}

}  // namespace
}  // namespace portrel::testing
