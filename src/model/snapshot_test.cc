#include "portrel/snapshot.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace portrel
