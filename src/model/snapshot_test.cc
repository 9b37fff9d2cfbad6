#include "portrel/snapshot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "analysis/test_snapshot.h"

namespace portrel {
namespace {

using testing::proc;
using testing::sock;

std::vector<Holding> list(std::span<const Holding> holders) {
  return {holders.begin(), holders.end()};
}

TEST(Snapshot, HoldersOfASocketAreSortedByPidAndFd) {
  Snapshot snap = testing::snapshot(
      {proc(1, 0, "init"), proc(10, 1, "a"), proc(20, 1, "b")},
      {sock(300, Proto::tcp, "0.0.0.0", 80), sock(100, Proto::udp, "::", 53),
       sock(200, Proto::tcp, "::", 443)},
      {{20, 7, 100, true},
       {10, 5, 100, false},
       {10, 3, 100, false},
       {10, 4, 300, true},
       {10, 4, 300, true},
       {99, 1, 300, false},
       {20, 1, 555, false}});
  EXPECT_EQ(list(snap.holders(100)),
            (std::vector<Holding>{
                {10, 3, 100, false}, {10, 5, 100, false}, {20, 7, 100, true}}));
  EXPECT_EQ(list(snap.holders(300)), (std::vector<Holding>{{10, 4, 300, true}}))
      << "duplicates and unknown pids are dropped";
  EXPECT_TRUE(snap.holders(200).empty()) << "a socket nobody holds";
  EXPECT_TRUE(snap.holders(555).empty()) << "an inode that names no socket";
  EXPECT_TRUE(snap.holders(0).empty());
}

TEST(Snapshot, EverySocketFindsItsHoldersAmongMany) {
  std::vector<Process> procs{proc(1, 0, "init")};
  std::vector<Socket> socks;
  std::vector<Holding> holds;
  for (uint64_t inode = 1000; inode < 3000; ++inode) {
    socks.push_back(sock(inode, Proto::tcp, "127.0.0.1", uint16_t(inode)));
    for (pid_t pid = 2; pid < 2 + pid_t(inode % 4); ++pid)
      holds.push_back({pid, 3, inode});
  }
  for (pid_t pid = 2; pid < 6; ++pid) procs.push_back(proc(pid, 1, "w"));
  Snapshot snap = testing::snapshot(procs, socks, holds);
  for (uint64_t inode = 1000; inode < 3000; ++inode) {
    std::span<const Holding> h = snap.holders(inode);
    ASSERT_EQ(h.size(), inode % 4) << inode;
    for (const Holding& one : h) EXPECT_EQ(one.inode, inode);
  }
}

// Sockets ordered beforehand (as a capture does beside the fd walk) make the
// same snapshot as the same sockets in any order; a repeated inode is dropped
// either way, the first in the snapshot's order staying.
TEST(Snapshot, OrderedBeforehandIsTheSameSnapshot) {
  std::vector<Socket> socks{sock(30, Proto::udp, "::", 53), sock(10, Proto::tcp, "0.0.0.0", 80),
                            sock(0, Proto::tcp, "127.0.0.1", 80, kStateTimeWait),
                            sock(20, Proto::tcp, "::", 443), sock(0, Proto::tcp, "127.0.0.1", 80,
                                                                 kStateTimeWait)};
  Socket moved = sock(10, Proto::tcp, "0.0.0.0", 81);  // inode 10 again, on another port
  socks.push_back(moved);
  std::vector<Socket> ordered = socks;
  order_sockets(ordered);
  ASSERT_EQ(ordered.size(), socks.size() - 1) << "one of inode 10's two rows goes";
  auto key = [](const Socket& s) { return std::tuple(s.netns, s.proto, s.local_port, s.inode); };
  for (size_t i = 1; i < ordered.size(); ++i) EXPECT_LE(key(ordered[i - 1]), key(ordered[i]));
  EXPECT_EQ(std::ranges::count(ordered, uint64_t{0}, &Socket::inode), 2)
      << "sockets with no file are all kept";
  std::vector<Holding> holds{{2, 3, 10}, {2, 4, 20}};
  std::vector<Process> procs{proc(1, 0, "init"), proc(2, 1, "srv")};
  Snapshot a = testing::snapshot(procs, socks, holds);
  Snapshot b = testing::snapshot(procs, ordered, holds);
  // Already ordered, but with an inode twice: the snapshot orders it again.
  std::vector<Socket> twice = ordered;
  ASSERT_EQ(ordered[2].inode, 10u);
  twice.insert(twice.begin() + 2, ordered[2]);
  Snapshot c = testing::snapshot(procs, twice, holds);
  for (const Snapshot* snap : {&b, &c}) {
    ASSERT_EQ(snap->sockets().size(), a.sockets().size());
    for (size_t i = 0; i < a.sockets().size(); ++i) {
      EXPECT_EQ(key(snap->sockets()[i]), key(a.sockets()[i])) << i;
    }
    ASSERT_NE(snap->socket(10), nullptr);
    EXPECT_EQ(snap->socket(10)->local_port, 80) << "the first in the snapshot's order stays";
    EXPECT_EQ(list(snap->holders(20)), (std::vector<Holding>{{2, 4, 20}}));
  }
}

}  // namespace
}  // namespace portrel
