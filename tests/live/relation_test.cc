// Live kernel: real processes made by the lab, with known sockets, and the
// relation portrel captures from /proc and sock_diag checked exactly against
// them — including a socket in a private network namespace and one in a
// /run/netns namespace.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "lab/lab.h"
#include "portrel/capture.h"
#include "truth.h"

namespace portrel::testing {
namespace {

TEST(Relation, OneProcessWithSeveralPorts) {
  lab::Lab lab = start_lab("multi-port");
  const auto& truth = lab.truth();
  std::set<uint16_t> ports;
  std::set<Proto> protos;
  for (const auto& s : truth.sockets) {
    ports.insert(s.port);
    protos.insert(s.proto);
  }
  ASSERT_GE(ports.size(), 2u);
  ASSERT_TRUE(protos.contains(Proto::tcp) && protos.contains(Proto::udp));
  expect_matches_truth(capture_all(), truth);
}

TEST(Relation, ListenerSharedByParentAndForkedChildren) {
  lab::Lab lab = start_lab("prefork", {.workers = 4});
  Snapshot snap = capture_all();
  expect_matches_truth(snap, lab.truth());
  std::set<uint64_t> inodes;
  std::set<pid_t> holders;
  for (const auto& s : lab.truth().sockets) {
    inodes.insert(s.inode);
    holders.insert(s.pid);
  }
  ASSERT_EQ(inodes.size(), 1u) << "prefork shares one socket";
  EXPECT_EQ(holders.size(), 5u);
  EXPECT_EQ(snap.holders(*inodes.begin()).size(), 5u)
      << "one socket, five holding rows";
  const Socket* s = snap.socket(*inodes.begin());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(snap.on_port({s->netns, Proto::tcp, s->local_port}).size(), 1u);
}

TEST(Relation, TwoReuseportSockets) {
  lab::Lab lab = start_lab("reuseport", {.workers = 2});
  Snapshot snap = capture_all();
  expect_matches_truth(snap, lab.truth());
  std::set<uint64_t> inodes;
  for (const auto& s : lab.truth().sockets) inodes.insert(s.inode);
  ASSERT_EQ(inodes.size(), 2u);
  const Socket* s = snap.socket(*inodes.begin());
  ASSERT_NE(s, nullptr);
  size_t on_port = 0;
  for (uint32_t i : snap.on_port({s->netns, Proto::tcp, s->local_port})) {
    on_port += inodes.contains(snap.sockets()[i].inode);
  }
  EXPECT_EQ(on_port, 2u);
  for (uint64_t inode : inodes) EXPECT_EQ(snap.holders(inode).size(), 1u);
}

TEST(Relation, UdpTcpAndIpv6OnOnePort) {
  lab::Lab protocols = start_lab("protocols");
  lab::Lab addresses = start_lab("addresses");
  Snapshot snap = capture_all();
  expect_matches_truth(snap, protocols.truth());
  expect_matches_truth(snap, addresses.truth());
  bool v6 = false;
  for (const auto& s : addresses.truth().sockets) v6 |= s.family == 6;
  EXPECT_TRUE(v6) << "the addresses scenario binds ::1";
}

TEST(Relation, SocketInAPrivateNetworkNamespace) {
  lab::Lab lab = start_lab("prefork", {.workers = 1, .private_netns = true});
  struct stat host;
  ASSERT_EQ(stat("/proc/self/ns/net", &host), 0);
  ASSERT_NE(lab.truth().netns, 0u);
  ASSERT_NE(lab.truth().netns, host.st_ino) << "the lab did not make a namespace";
  Snapshot snap = capture_all();
  expect_matches_truth(snap, lab.truth());
  const Netns* ns = snap.netns(lab.truth().netns);
  ASSERT_NE(ns, nullptr);
  EXPECT_TRUE(ns->dumped);
  EXPECT_FALSE(ns->is_host);
}

TEST(Relation, OnlyTheAskedNamespaceIsRead) {
  lab::Lab inside = start_lab("prefork", {.workers = 1, .private_netns = true});
  lab::Lab outside = start_lab("prefork", {.workers = 1});
  CaptureOptions options;
  options.only_netns = {inside.truth().netns};
  auto snap = capture(options);
  ASSERT_TRUE(snap) << snap.error().message;
  expect_matches_truth(*snap, inside.truth());
  for (const Socket& s : snap->sockets()) EXPECT_EQ(s.netns, inside.truth().netns);
  EXPECT_EQ(snap->socket(outside.truth().sockets[0].inode), nullptr);
}

}  // namespace
}  // namespace portrel::testing
