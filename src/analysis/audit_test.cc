// The audit rules on hand-built snapshots: each finding where its condition
// holds and not where it does not (blocking accept, EPOLLEXCLUSIVE, close-on-exec
// listeners, loopback addresses, socket activation by PID 1).
#include "analysis/audit.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "analysis/test_snapshot.h"

namespace portrel {
namespace {

using namespace testing;

constexpr uint32_t kIn = 1, kExclusive = 1u << 28;

std::vector<Finding> of_kind(const std::vector<Finding>& all, FindingKind kind) {
  std::vector<Finding> out;
  std::ranges::copy_if(all, std::back_inserter(out),
                       [&](const Finding& f) { return f.kind == kind; });
  return out;
}

TEST(Audit, CloexecOnlyForListenersWithoutTheFlag) {
  Snapshot snap = snapshot({proc(10, 1, "srv"), proc(11, 10, "srv")},
                           {sock(1, Proto::tcp, "127.0.0.1", 80),
                            sock(2, Proto::tcp, "127.0.0.1", 81),
                            sock(3, Proto::tcp, "127.0.0.1", 82, kStateEstablished)},
                           {{10, 3, 1, false}, {11, 3, 1, true}, {10, 4, 2, true},
                            {10, 5, 3, false}});
  auto f = of_kind(audit(snap, all(snap), {}), FindingKind::cloexec);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::warning);
  EXPECT_EQ(f[0].sockets.front()->inode, 1u);
  EXPECT_EQ(f[0].pids, std::vector<pid_t>{10});
  EXPECT_FALSE(f[0].explanation.empty());
  EXPECT_FALSE(f[0].fix.empty());
}

TEST(Audit, LeakedIntoAnotherProgram) {
  // httpd 20 forked 21, which exec'd rotatelogs without closing the listener.
  Snapshot snap = snapshot(
      {proc(20, 1, "httpd"), proc(21, 20, "rotatelogs"), proc(22, 20, "httpd")},
      {sock(1, Proto::tcp, "0.0.0.0", 80)},
      {{20, 3, 1, false}, {21, 3, 1, false}, {22, 3, 1, false}});
  auto f = of_kind(audit(snap, all(snap), {}), FindingKind::leaked);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].pids, std::vector<pid_t>{21});
}

TEST(Audit, SocketActivationByPid1IsNotALeak) {
  Snapshot snap = snapshot({proc(1, 0, "systemd"), proc(30, 1, "sshd")},
                           {sock(1, Proto::tcp, "0.0.0.0", 22)},
                           {{1, 40, 1, true}, {30, 3, 1, false}});
  EXPECT_TRUE(of_kind(audit(snap, all(snap), {.epoll = {}, .accept_waits = {}, .waits_read = true}), FindingKind::leaked)
                  .empty());
}

TEST(Audit, LeakedWhenCreatorIsGoneAndNobodyServes) {
  Snapshot snap = snapshot({proc(40, 1, "sleep"), proc(41, 1, "server"), proc(42, 1, "ev")},
                           {sock(1, Proto::tcp, "127.0.0.1", 8080),
                            sock(2, Proto::tcp, "127.0.0.1", 8081),
                            sock(3, Proto::tcp, "127.0.0.1", 8082)},
                           {{40, 3, 1, false}, {41, 3, 2, false}, {42, 3, 3, false}},
                           {EpollWatch{42, 5, 3, 3, kIn}});
  AuditEvidence ev{.epoll = {}, .accept_waits = {AcceptWait{41, 41, 3, 2}}, .waits_read = true};
  auto f = of_kind(audit(snap, all(snap), ev), FindingKind::leaked);
  ASSERT_EQ(f.size(), 1u) << "41 blocks in accept, 42 watches with epoll";
  EXPECT_EQ(f[0].sockets.front()->inode, 1u);
  EXPECT_EQ(f[0].pids, std::vector<pid_t>{40});
  // Without wait evidence the case is not judged.
  EXPECT_TRUE(of_kind(audit(snap, all(snap), {}), FindingKind::leaked).empty());
}

TEST(Audit, HerdOnlyForPlainEpollOnAnInheritedListener) {
  Snapshot snap = snapshot(
      {proc(50, 1, "m"), proc(51, 50, "w"), proc(52, 50, "w"), proc(53, 50, "w")},
      {sock(1, Proto::tcp, "127.0.0.1", 80), sock(2, Proto::tcp, "127.0.0.1", 81),
       sock(3, Proto::tcp, "127.0.0.1", 82)},
      {{50, 3, 1, true}, {51, 3, 1, true}, {52, 3, 1, true},
       {50, 4, 2, true}, {51, 4, 2, true}, {52, 4, 2, true},
       {50, 5, 3, true}, {51, 5, 3, true}, {53, 5, 3, true}},
      {EpollWatch{51, 7, 3, 1, kIn}, EpollWatch{52, 7, 3, 1, kIn},
       EpollWatch{51, 7, 4, 2, kIn | kExclusive}, EpollWatch{52, 7, 4, 2, kIn | kExclusive},
       EpollWatch{53, 7, 5, 3, kIn}});
  auto f = of_kind(audit(snap, all(snap), {}), FindingKind::herd);
  ASSERT_EQ(f.size(), 1u) << "port 81 is exclusive, port 82 has one epoll waiter";
  EXPECT_EQ(f[0].sockets.front()->inode, 1u);
  EXPECT_EQ(f[0].pids, (std::vector<pid_t>{51, 52}));
  // Watches given as evidence count like the snapshot's.
  Snapshot bare = snapshot({proc(50, 1, "m"), proc(51, 50, "w"), proc(52, 50, "w")},
                           {sock(1, Proto::tcp, "127.0.0.1", 80)},
                           {{50, 3, 1, true}, {51, 3, 1, true}, {52, 3, 1, true}});
  AuditEvidence ev{.epoll = {EpollWatch{51, 7, 3, 1, kIn}, EpollWatch{52, 7, 3, 1, kIn}},
                   .accept_waits = {},
                   .waits_read = false};
  EXPECT_EQ(of_kind(audit(bare, all(bare), ev), FindingKind::herd).size(), 1u);
}

TEST(Audit, ExposedOnlyForWildcardsInTheHostNamespace) {
  // vsock's CID any is not a network address: never exposed.
  Socket vsock = sock(4, Proto::vsock, "0.0.0.0", 2024);
  vsock.family = kFamilyVsock;
  vsock.local_addr = Address::vsock(kVsockCidAny);
  Snapshot snap = snapshot({proc(60, 1, "db")},
                           {sock(1, Proto::tcp, "0.0.0.0", 5432),
                            sock(2, Proto::tcp, "127.0.0.1", 5433),
                            sock(3, Proto::tcp, "0.0.0.0", 5434, 0, 77), vsock},
                           {{60, 3, 1, true}, {60, 4, 2, true}, {60, 5, 3, true},
                            {60, 6, 4, true}});
  auto f = of_kind(audit(snap, all(snap), {}), FindingKind::exposed);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::info);
  EXPECT_EQ(f[0].sockets.front()->local_port, 5432);
}

TEST(Audit, UnownedSaysWhyAndExitCodeFollowsSeverity) {
  Snapshot snap = snapshot({proc(70, 1, "a")}, {sock(1, Proto::udp, "127.0.0.1", 68)}, {});
  auto findings = audit(snap, all(snap), {});
  auto f = of_kind(findings, FindingKind::unowned);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].summary.find("not visible"), std::string::npos) << f[0].summary;
  EXPECT_FALSE(has_warnings(findings));
  Finding warning;
  warning.severity = Severity::warning;
  findings.push_back(warning);
  EXPECT_TRUE(has_warnings(findings));
}

}  // namespace
}  // namespace portrel
