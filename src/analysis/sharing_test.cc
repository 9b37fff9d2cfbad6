// The sharing classifier on hand-built snapshots: each kind alone, several at
// once on one port (nginx-like), and ports that are not shared at all.
#include "analysis/sharing.h"

#include <gtest/gtest.h>

#include "analysis/test_snapshot.h"

namespace portrel {
namespace {

using namespace testing;
using K = SharingKind;

std::vector<PortGroup> groups(const Snapshot& snap) { return port_groups(snap, all(snap)); }

TEST(Sharing, MasterAndWorkersInheritOneSocketAndAreDualStack) {
  // nginx: master 100 and workers 101, 102 hold 0.0.0.0:80 and [::]:80.
  Snapshot snap = snapshot(
      {proc(1, 0, "init"), proc(100, 1, "nginx"), proc(101, 100, "nginx"),
       proc(102, 100, "nginx")},
      {sock(10, Proto::tcp, "0.0.0.0", 80), sock(11, Proto::tcp, "::", 80)},
      {{100, 6, 10, false}, {101, 6, 10, false}, {102, 6, 10, false},
       {100, 7, 11, false}, {101, 7, 11, false}, {102, 7, 11, false}});
  auto g = groups(snap);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_TRUE(g[0].shared());
  EXPECT_EQ(g[0].kinds(), (std::vector<K>{K::inherited, K::dual_stack}));
  EXPECT_EQ(g[0].pids, (std::vector<pid_t>{100, 101, 102}));
  EXPECT_EQ(g[0].find(K::inherited)->sockets.size(), 2u);
  EXPECT_EQ(holder_roots(snap, 10), std::vector<pid_t>{100});
}

TEST(Sharing, ManyKindsAtOnce) {
  // Port 53: a TCP listener inherited by two processes, two SO_REUSEPORT UDP
  // sockets on 127.0.0.1, a UDP socket on 127.0.0.2 and one on ::1, and an
  // accepted TCP connection.
  Snapshot snap = snapshot(
      {proc(200, 1, "dns"), proc(201, 200, "dns"), proc(202, 1, "dns")},
      {sock(20, Proto::tcp, "127.0.0.1", 53), sock(21, Proto::udp, "127.0.0.1", 53),
       sock(22, Proto::udp, "127.0.0.1", 53), sock(23, Proto::udp, "127.0.0.2", 53),
       sock(24, Proto::udp, "::1", 53),
       sock(25, Proto::tcp, "127.0.0.1", 53, kStateEstablished)},
      {{200, 3, 20, true}, {201, 3, 20, true}, {200, 4, 21, true}, {202, 4, 22, true},
       {202, 5, 23, true}, {202, 6, 24, true}, {201, 7, 25, true}});
  auto g = groups(snap);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].kinds(), (std::vector<K>{K::inherited, K::reuseport, K::addresses,
                                          K::dual_stack, K::protocols, K::connections}));
  const Socket* tcp = snap.socket(20);
  const Socket* udp_reuse = snap.socket(21);
  const Socket* udp6 = snap.socket(24);
  // Kinds per socket: what the listing's SHARING cell shows for one row.
  EXPECT_EQ(g[0].kinds_of(std::span(&tcp, 1)),
            (std::vector<K>{K::inherited, K::protocols, K::connections}));
  EXPECT_EQ(g[0].kinds_of(std::span(&udp_reuse, 1)),
            (std::vector<K>{K::reuseport, K::addresses, K::dual_stack, K::protocols}));
  EXPECT_EQ(g[0].kinds_of(std::span(&udp6, 1)),
            (std::vector<K>{K::dual_stack, K::protocols}));
}

TEST(Sharing, SeparatePortsAndNamespacesAreSeparateGroups) {
  Snapshot snap = snapshot({proc(300, 1, "a"), proc(301, 1, "b")},
                           {sock(30, Proto::tcp, "127.0.0.1", 8080),
                            sock(31, Proto::tcp, "127.0.0.1", 8081),
                            sock(32, Proto::tcp, "127.0.0.1", 8080, 0, 99)},
                           {{300, 3, 30, true}, {301, 3, 31, true}, {301, 4, 32, true}});
  auto g = groups(snap);
  ASSERT_EQ(g.size(), 3u);
  for (const PortGroup& p : g) {
    EXPECT_FALSE(p.shared()) << p.port;
    EXPECT_TRUE(p.kinds().empty()) << p.port;
  }
}

TEST(Sharing, DupInOneProcessIsNotInheritance) {
  Snapshot snap = snapshot({proc(400, 1, "a")}, {sock(40, Proto::tcp, "0.0.0.0", 9000)},
                           {{400, 3, 40, true}, {400, 4, 40, true}});
  auto g = groups(snap);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_FALSE(g[0].shared());
  EXPECT_TRUE(g[0].kinds().empty());
}

TEST(Sharing, UnrelatedHoldersHaveSeveralRoots) {
  // 501 got the socket by SCM_RIGHTS: no ancestor of it holds the socket.
  Snapshot snap = snapshot({proc(500, 1, "a"), proc(501, 1, "b"), proc(502, 500, "a")},
                           {sock(50, Proto::tcp, "0.0.0.0", 9100)},
                           {{500, 3, 50, true}, {501, 9, 50, true}, {502, 3, 50, true}});
  EXPECT_EQ(holder_roots(snap, 50), (std::vector<pid_t>{500, 501}));
  EXPECT_TRUE(is_ancestor(snap, 500, 502));
  EXPECT_FALSE(is_ancestor(snap, 501, 502));
  EXPECT_EQ(groups(snap)[0].kinds(), std::vector<K>{K::inherited});
}

TEST(Sharing, KindNames) {
  std::vector<std::string> names;
  for (K k : sharing_kinds()) names.emplace_back(sharing_kind_name(k));
  EXPECT_EQ(names, (std::vector<std::string>{"inherited", "reuseport", "addresses",
                                             "dual-stack", "protocols", "connections"}));
}

}  // namespace
}  // namespace portrel
