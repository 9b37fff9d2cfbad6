// Live kernel: audit findings where the lab (or this test) created their cause
// and not where it did not — cloexec and leaked for cloexec-leak, neither for
// its --fixed variant nor leaked for prefork; herd for workers on plain epoll,
// none with EPOLLEXCLUSIVE. Also `portrel audit` and `shared` as a user runs them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "../cli/run.h"
#include "analysis/audit.h"
#include "lab/lab.h"
#include "portrel/capture.h"
#include "sources/waits.h"
#include "truth.h"

namespace portrel::testing {
namespace {

// Audits a live capture the way `portrel audit` does.
std::vector<Finding> audit_live(const Snapshot& snap) {
  std::vector<const Socket*> sockets;
  std::set<pid_t> holders;
  for (const Socket& s : snap.sockets()) {
    sockets.push_back(&s);
    if (!s.is_listening()) continue;
    for (const Holding& h : snap.holders(s.inode)) holders.insert(h.pid);
  }
  std::vector<pid_t> pids(holders.begin(), holders.end());
  return audit(snap, sockets, read_waits(pids));
}

// The kinds of findings that involve any of these sockets or processes.
std::set<FindingKind> kinds_touching(const std::vector<Finding>& findings,
                                     const std::set<uint64_t>& inodes,
                                     const std::set<pid_t>& pids) {
  std::set<FindingKind> out;
  for (const Finding& f : findings) {
    bool socket = std::ranges::any_of(f.sockets, [&](const Socket* s) {
      return inodes.contains(s->inode);
    });
    bool process = std::ranges::any_of(f.pids, [&](pid_t p) { return pids.contains(p); });
    if (socket || process) out.insert(f.kind);
  }
  return out;
}

std::set<uint64_t> inodes_of(const lab::GroundTruth& t) {
  std::set<uint64_t> out;
  for (const auto& s : t.sockets) out.insert(s.inode);
  return out;
}
std::set<pid_t> pids_of(const lab::GroundTruth& t) {
  std::set<pid_t> out;
  for (const auto& p : t.processes) out.insert(p.pid);
  return out;
}

TEST(AuditLive, CloexecLeakGivesCloexecAndLeaked) {
  lab::Lab lab = start_lab("cloexec-leak");
  ASSERT_EQ(inodes_of(lab.truth()).size(), 1u) << "the helper inherits the listener";
  auto kinds = kinds_touching(audit_live(capture_all()), inodes_of(lab.truth()), {});
  EXPECT_EQ(kinds, (std::set<FindingKind>{FindingKind::cloexec, FindingKind::leaked}));
}

TEST(AuditLive, FixedCloexecLeakGivesNeither) {
  lab::Lab lab = start_lab("cloexec-leak", {.fixed = true});
  EXPECT_TRUE(inodes_of(lab.truth()).empty()) << "nothing inherited the listener";
  auto kinds = kinds_touching(audit_live(capture_all()), {}, pids_of(lab.truth()));
  EXPECT_FALSE(kinds.contains(FindingKind::cloexec));
  EXPECT_FALSE(kinds.contains(FindingKind::leaked));
}

TEST(AuditLive, PreforkWorkersInAcceptAreNeitherLeakedNorAHerd) {
  lab::Lab lab = start_lab("prefork", {.workers = 3});
  usleep(100 * 1000);  // let the workers reach accept()
  auto kinds = kinds_touching(audit_live(capture_all()), inodes_of(lab.truth()), {});
  // The lab makes the listener without FD_CLOEXEC, on 127.0.0.1.
  EXPECT_EQ(kinds, std::set<FindingKind>{FindingKind::cloexec});
}

// N forked workers, each with its own epoll instance watching one inherited
// listener, with or without EPOLLEXCLUSIVE. Killed and reaped by pid.
class EpollWorkers {
 public:
  EpollWorkers(int n, bool exclusive) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{.sin_family = AF_INET, .sin_port = 0,
                    .sin_addr = {htonl(INADDR_LOOPBACK)}, .sin_zero = {}};
    if (bind(listener_, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 ||
        listen(listener_, 16) != 0) {
      ADD_FAILURE() << "listener: " << strerror(errno);
      return;
    }
    int ready[2];
    if (pipe(ready) != 0) return;
    for (int i = 0; i < n; ++i) {
      pid_t pid = fork();
      if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int ep = epoll_create1(EPOLL_CLOEXEC);
        epoll_event ev{.events = EPOLLIN | (exclusive ? EPOLLEXCLUSIVE : 0u),
                       .data = {.fd = listener_}};
        char ok = epoll_ctl(ep, EPOLL_CTL_ADD, listener_, &ev) == 0 ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1) _exit(1);
        for (;;) pause();
      }
      if (pid > 0) pids_.push_back(pid);
    }
    close(ready[1]);
    for (size_t i = 0; i < pids_.size(); ++i) {
      char ok = 0;
      if (read(ready[0], &ok, 1) != 1 || ok != 'y') ADD_FAILURE() << "worker epoll_ctl failed";
    }
    close(ready[0]);
  }
  ~EpollWorkers() {
    for (pid_t pid : pids_) kill(pid, SIGKILL);
    for (pid_t pid : pids_) waitpid(pid, nullptr, 0);
    if (listener_ >= 0) close(listener_);
  }
  std::set<pid_t> pids() const { return {pids_.begin(), pids_.end()}; }

 private:
  int listener_ = -1;
  std::vector<pid_t> pids_;
};

std::vector<Finding> herds(const Snapshot& snap, const std::set<pid_t>& workers) {
  std::vector<Finding> out;
  for (const Finding& f : audit_live(snap)) {
    if (f.kind == FindingKind::herd &&
        std::ranges::any_of(f.pids, [&](pid_t p) { return workers.contains(p); })) {
      out.push_back(f);
    }
  }
  return out;
}

TEST(AuditLive, HerdForPlainEpollOnly) {
  for (auto source : {CaptureOptions::Source::procfs, CaptureOptions::Source::automatic}) {
    SCOPED_TRACE(source == CaptureOptions::Source::procfs ? "procfs" : "auto");
    CaptureOptions o;
    o.source = source;
    {
      EpollWorkers plain(3, /*exclusive=*/false);
      auto snap = capture(o);
      ASSERT_TRUE(snap) << snap.error().message;
      if (source == CaptureOptions::Source::procfs) {
        size_t watched = 0;
        for (const EpollWatch& w : snap->epoll_watches()) watched += plain.pids().contains(w.pid);
        EXPECT_EQ(watched, 3u) << "the /proc walk collects each worker's watch";
      }
      auto found = herds(*snap, plain.pids());
      ASSERT_EQ(found.size(), 1u);
      EXPECT_EQ(std::set<pid_t>(found[0].pids.begin(), found[0].pids.end()), plain.pids());
    }
    {
      EpollWorkers exclusive(3, /*exclusive=*/true);
      auto snap = capture(o);
      ASSERT_TRUE(snap) << snap.error().message;
      EXPECT_TRUE(herds(*snap, exclusive.pids()).empty());
    }
  }
}

TEST(AuditCli, JsonFindingsAndExitCode) {
  lab::Lab lab = start_lab("cloexec-leak");
  uint64_t inode = *inodes_of(lab.truth()).begin();
  CliRun run = run_portrel({"audit", "--format", "json"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  auto doc = nlohmann::json::parse(run.out);
  std::set<std::string> kinds;
  for (const auto& f : doc.at("findings")) {
    for (const auto& s : f.at("sockets")) {
      if (s.at("inode") == inode) kinds.insert(f.at("kind").get<std::string>());
    }
    EXPECT_FALSE(f.at("explanation").get<std::string>().empty());
    EXPECT_FALSE(f.at("fix").get<std::string>().empty());
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"cloexec", "leaked"}));
  // Only info-level findings (exposed/unowned) in a namespace with just a
  // close-on-exec listener on a wildcard: exit 0.
  lab::Lab quiet = start_lab("protocols", {.private_netns = true});
  CliRun q = run_portrel({"audit", "--netns", std::to_string(quiet.truth().netns)});
  EXPECT_EQ(q.exit_code, 0) << q.out << q.err;
}

TEST(SharedCli, ShowsOnlySharedPortsWithKinds) {
  lab::Lab pre = start_lab("prefork", {.workers = 2});
  uint16_t port = pre.truth().sockets.front().port;
  CliRun run = run_portrel({"shared", "--format", "json"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  auto doc = nlohmann::json::parse(run.out);
  bool found = false;
  for (const auto& p : doc.at("ports")) {
    EXPECT_TRUE(p.at("shared").get<bool>());
    if (p.at("port") == port && p.at("netns") == pre.truth().netns) {
      found = true;
      EXPECT_EQ(p.at("sharing"), nlohmann::json::array({"inherited"}));
    }
  }
  EXPECT_TRUE(found) << run.out;
  CliRun who = run_portrel({"who", std::to_string(port)}, {"NO_COLOR=1"});
  EXPECT_NE(who.out.find("inherited by "), std::string::npos) << who.out;
  EXPECT_NE(who.out.find("and its 2 children: one accept queue"), std::string::npos) << who.out;
}

}  // namespace
}  // namespace portrel::testing
