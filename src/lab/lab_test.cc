// The lab's ground truth checked against what /proc shows of the processes it
// made (fd links, fdinfo flags, parents, namespaces), the shape of each scenario,
// and that stop() leaves no process and no namespace behind.
#include "lab/lab.h"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lab/child.h"

namespace portrel::lab {
namespace {

bool alive(pid_t pid) {
  struct stat st {};
  return stat(("/proc/" + std::to_string(pid)).c_str(), &st) == 0;
}

uint64_t netns_of(const std::string& pid) {
  struct stat st {};
  if (stat(("/proc/" + pid + "/ns/net").c_str(), &st) != 0) return 0;
  return st.st_ino;
}

std::string fd_link(pid_t pid, int fd) {
  char buf[256];
  std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  ssize_t n = readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, size_t(n)) : "";
}

bool fdinfo_cloexec(pid_t pid, int fd) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(fd));
  std::string key, value;
  while (in >> key >> value)
    if (key == "flags:") return (std::stoul(value, nullptr, 8) & 02000000) != 0;
  ADD_FAILURE() << "no flags in fdinfo of " << pid << "/" << fd;
  return false;
}

pid_t ppid_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  size_t paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 > line.size()) return 0;  // it exited
  std::istringstream rest(line.substr(paren + 2));
  char state;
  pid_t ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> pids;
  DIR* dir = opendir("/proc");
  while (dirent* e = readdir(dir))
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9') pids.push_back(std::stoi(e->d_name));
  closedir(dir);
  return pids;
}

// Every row of the truth is what /proc says, and every process is alive.
void expect_matches_proc(const GroundTruth& truth) {
  for (const LabProcess& p : truth.processes) {
    EXPECT_TRUE(alive(p.pid)) << p.role << " " << p.pid;
    EXPECT_EQ(ppid_of(p.pid), p.ppid) << p.role << " " << p.pid;
    EXPECT_EQ(netns_of(std::to_string(p.pid)), truth.netns) << p.role;
  }
  for (const LabSocket& s : truth.sockets) {
    EXPECT_EQ(fd_link(s.pid, s.fd), "socket:[" + std::to_string(s.inode) + "]")
        << s.pid << "/" << s.fd;
    EXPECT_EQ(fdinfo_cloexec(s.pid, s.fd), s.cloexec) << s.pid << "/" << s.fd;
  }
}

// The start time of PID (stat field 22), or "" when it is gone: a pid the
// kernel gave again to another process (pid_max may be 32768, and other tests
// cycle pids on purpose) has another start time.
std::string start_time_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return "";
  std::istringstream rest(stat.substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
  }
  return field;
}

void expect_cleaned_up(Lab& lab) {
  GroundTruth truth = lab.truth();
  pid_t leader = lab.leader();
  std::vector<std::string> started;
  for (const LabProcess& p : truth.processes) started.push_back(start_time_of(p.pid));
  std::string leader_started = start_time_of(leader);
  lab.stop();
  EXPECT_TRUE(start_time_of(leader).empty() || start_time_of(leader) != leader_started);
  for (size_t i = 0; i < truth.processes.size(); ++i) {
    const LabProcess& p = truth.processes[i];
    EXPECT_TRUE(start_time_of(p.pid).empty() || start_time_of(p.pid) != started[i])
        << p.role << " " << p.pid << " still runs";
  }
  for (pid_t pid : all_pids()) EXPECT_NE(ppid_of(pid), getpid()) << "left child " << pid;
}

std::vector<const LabSocket*> inet(const GroundTruth& truth) {
  std::vector<const LabSocket*> out;
  for (const LabSocket& s : truth.sockets)
    if (s.family != 0) out.push_back(&s);
  return out;
}

class EveryScenario : public testing::TestWithParam<std::string_view> {};

TEST_P(EveryScenario, TruthMatchesProcAndStopCleansUp) {
  LabOptions options{.workers = 3, .procs = 5, .per_proc = 10};
  Result<Lab> lab = Lab::start(GetParam(), options);
  ASSERT_TRUE(lab) << lab.error().message;
  EXPECT_EQ(lab->truth().scenario, GetParam());
  EXPECT_GE(lab->truth().processes.size(), 2u);
  expect_matches_proc(lab->truth());
  expect_cleaned_up(*lab);
}

INSTANTIATE_TEST_SUITE_P(Lab, EveryScenario, testing::ValuesIn(scenario_names()),
                         [](const auto& info) {
                           std::string name(info.param);
                           std::erase(name, '-');
                           return name;
                         });

TEST(Lab, UnknownScenarioFails) {
  EXPECT_FALSE(Lab::start("no-such-thing", {}));
}

TEST(Lab, PreforkIsOneSocketWithWorkersPlusOneHolders) {
  Result<Lab> lab = Lab::start("prefork", {.workers = 4});
  ASSERT_TRUE(lab) << lab.error().message;
  auto rows = inet(lab->truth());
  ASSERT_EQ(rows.size(), 5u);
  std::set<pid_t> pids;
  for (const LabSocket* s : rows) {
    EXPECT_EQ(s->inode, rows[0]->inode);
    EXPECT_TRUE(s->listening);
    EXPECT_TRUE(s->reuseaddr);
    pids.insert(s->pid);
  }
  EXPECT_EQ(pids.size(), 5u);
  int workers = 0;
  for (const LabProcess& p : lab->truth().processes) workers += p.role == "worker";
  EXPECT_EQ(workers, 4);
}

TEST(Lab, ReuseportIsOneSocketPerProcess) {
  Result<Lab> lab = Lab::start("reuseport", {.workers = 3});
  ASSERT_TRUE(lab) << lab.error().message;
  auto rows = inet(lab->truth());
  ASSERT_EQ(rows.size(), 3u);
  std::set<uint64_t> inodes;
  std::set<pid_t> pids;
  for (const LabSocket* s : rows) {
    EXPECT_TRUE(s->reuseport);
    EXPECT_EQ(s->port, rows[0]->port);
    inodes.insert(s->inode);
    pids.insert(s->pid);
  }
  EXPECT_EQ(inodes.size(), 3u);
  EXPECT_EQ(pids.size(), 3u);
}

TEST(Lab, AddressesAndProtocolsShareOnePortNumber) {
  Result<Lab> lab = Lab::start("addresses", {});
  ASSERT_TRUE(lab) << lab.error().message;
  std::set<std::string> addresses;
  for (const LabSocket* s : inet(lab->truth())) {
    addresses.insert(s->address);
    EXPECT_EQ(s->port, lab->truth().sockets[0].port);
  }
  EXPECT_EQ(addresses, (std::set<std::string>{"127.0.0.1", "127.0.0.2", "::1"}));

  Result<Lab> protocols = Lab::start("protocols", {});
  ASSERT_TRUE(protocols) << protocols.error().message;
  auto rows = inet(protocols->truth());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]->port, rows[1]->port);
  EXPECT_NE(rows[0]->proto, rows[1]->proto);
  EXPECT_NE(rows[0]->pid, rows[1]->pid);
}

TEST(Lab, CloexecLeakLeavesThePortWithTheHelper) {
  Result<Lab> lab = Lab::start("cloexec-leak", {});
  ASSERT_TRUE(lab) << lab.error().message;
  const GroundTruth& truth = lab->truth();
  ASSERT_EQ(truth.processes.size(), 2u);  // the lab's leader and the helper
  const LabProcess& helper = truth.processes[1];
  EXPECT_EQ(helper.role, "helper");
  EXPECT_EQ(helper.ppid, lab->leader());
  auto rows = inet(truth);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]->pid, helper.pid);
  EXPECT_TRUE(rows[0]->listening);
  EXPECT_FALSE(rows[0]->cloexec);
  expect_matches_proc(truth);
  // The port is still taken although the server that bound it is gone.
  EXPECT_EQ(detail::make_socket({.port = rows[0]->port}), -EADDRINUSE);
  expect_cleaned_up(*lab);

  Result<Lab> fixed = Lab::start("cloexec-leak", {.fixed = true});
  ASSERT_TRUE(fixed) << fixed.error().message;
  EXPECT_TRUE(inet(fixed->truth()).empty());
}

TEST(Lab, TimeWaitNeedsReuseaddr) {
  Result<Lab> lab = Lab::start("time-wait", {.workers = 2});
  ASSERT_TRUE(lab) << lab.error().message;
  const auto& notes = lab->truth().notes;
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[0].find("Address already in use"), std::string::npos) << notes[0];
  EXPECT_NE(notes[1].find("ok"), std::string::npos) << notes[1];
  auto rows = inet(lab->truth());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows[0]->reuseaddr);
}

TEST(Lab, PrivateNetnsIsUsedAndGoneAfterStop) {
  Result<Lab> lab = Lab::start("prefork", {.workers = 2, .private_netns = true});
  ASSERT_TRUE(lab) << lab.error().message;
  uint64_t ns = lab->truth().netns;
  EXPECT_NE(ns, netns_of("self"));
  expect_matches_proc(lab->truth());
  expect_cleaned_up(*lab);
  DIR* dir = opendir("/proc");
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    EXPECT_NE(netns_of(e->d_name), ns) << "pid " << e->d_name << " still in the lab netns";
  }
  closedir(dir);
}

TEST(Lab, CrowdHoldsPerProcSocketsEachWithInheritedOnes) {
  Result<Lab> lab = Lab::start("crowd", {.procs = 50, .per_proc = 10});
  ASSERT_TRUE(lab) << lab.error().message;
  const GroundTruth& truth = lab->truth();
  EXPECT_EQ(truth.processes.size(), 52u);  // leader, parent, 50 members
  std::map<pid_t, int> per_pid;
  std::map<uint64_t, int> holders;
  std::set<std::string> kinds;
  for (const LabSocket& s : truth.sockets) {
    ++per_pid[s.pid];
    ++holders[s.inode];
    kinds.insert(std::to_string(s.family) + std::string(proto_name(s.proto)) +
                 (s.listening ? "L" : ""));
  }
  int members = 0;
  for (const LabProcess& p : truth.processes) {
    if (p.role != "member") continue;
    ++members;
    EXPECT_EQ(per_pid[p.pid], 10) << p.pid;
  }
  EXPECT_EQ(members, 50);
  int shared = 0;
  for (const auto& [inode, n] : holders) shared += n == 51;
  EXPECT_EQ(shared, 2);  // the parent's TCP and UDP sockets
  EXPECT_EQ(kinds, (std::set<std::string>{"4tcpL", "4udpL", "6tcpL", "6udpL", "4tcp",
                                          "0tcp"}));
  expect_matches_proc(truth);
  expect_cleaned_up(*lab);
}

TEST(Lab, FailureToBindCleansUp) {
  int taken = detail::make_socket({.port = 0});
  ASSERT_GE(taken, 0);
  Result<Lab> lab = Lab::start("protocols", {.port = detail::local_port(taken)});
  ASSERT_FALSE(lab);
  EXPECT_NE(lab.error().message.find("Address already in use"), std::string::npos)
      << lab.error().message;
  close(taken);
  for (pid_t pid : all_pids()) EXPECT_NE(ppid_of(pid), getpid()) << "left child " << pid;
}

TEST(Lab, RunLabPrintsJsonTruthAndStops) {
  std::vector<std::string> args = {"lab", "prefork", "--workers", "2", "--format", "json",
                                   "--for", "0.2"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  testing::internal::CaptureStdout();
  int code = run_lab(int(argv.size()), argv.data());
  std::string out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(code, 0);
  nlohmann::json truth = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(truth.is_discarded()) << out;
  EXPECT_EQ(truth["scenario"], "prefork");
  ASSERT_EQ(truth["sockets"].size(), 3u);
  for (const auto& p : truth["processes"]) EXPECT_FALSE(alive(p["pid"].get<pid_t>()));
}

}  // namespace
}  // namespace portrel::lab
