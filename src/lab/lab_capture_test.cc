// portrel's own queries (capture() into a Snapshot) checked row by row against the
// ground truth the lab printed: the same holders, sockets, fds and cloexec flags.
#include <algorithm>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "lab/lab.h"
#include "portrel/capture.h"
#include "portrel/snapshot.h"

namespace portrel::lab {
namespace {

Snapshot capture_lab(const GroundTruth& truth) {
  CaptureOptions options;
  options.only_netns = {truth.netns};
  Result<Snapshot> snap = capture(options);
  EXPECT_TRUE(snap) << snap.error().message;
  return snap ? std::move(*snap) : Snapshot();
}

// Every inet row of the truth is in the snapshot, and every inode has exactly the
// holders the lab made.
void expect_snapshot_matches(const GroundTruth& truth, const Snapshot& snap) {
  std::map<uint64_t, std::set<Holding>> expected;
  for (const LabSocket& s : truth.sockets) {
    if (s.family == 0) continue;
    expected[s.inode].insert({.pid = s.pid, .fd = s.fd, .inode = s.inode, .cloexec = s.cloexec});
    const Socket* sock = snap.socket(s.inode);
    ASSERT_NE(sock, nullptr) << "inode " << s.inode << " of pid " << s.pid;
    EXPECT_EQ(sock->proto, s.proto);
    EXPECT_EQ(sock->family, s.family);
    EXPECT_EQ(sock->local_port, s.port);
    EXPECT_EQ(sock->local_addr.to_string(), s.address);
    EXPECT_EQ(sock->netns, truth.netns);
    EXPECT_EQ(sock->is_listening(), s.listening) << s.inode;
  }
  for (const auto& [inode, holders] : expected) {
    auto got = snap.holders(inode);
    EXPECT_EQ(std::set<Holding>(got.begin(), got.end()), holders) << "inode " << inode;
  }
  for (const LabProcess& p : truth.processes) {
    const Process* proc = snap.process(p.pid);
    ASSERT_NE(proc, nullptr) << p.role << " " << p.pid;
    EXPECT_EQ(proc->ppid, p.ppid);
    EXPECT_EQ(proc->netns, truth.netns);
  }
}

size_t sockets_on(const Snapshot& snap, uint64_t netns, Proto proto, uint16_t port) {
  return snap.on_port({.netns = netns, .proto = proto, .port = port}).size();
}

class CaptureScenario : public testing::TestWithParam<std::string_view> {};

TEST_P(CaptureScenario, SnapshotMatchesGroundTruth) {
  Result<Lab> lab = Lab::start(GetParam(), {.workers = 3, .procs = 10, .per_proc = 10});
  ASSERT_TRUE(lab) << lab.error().message;
  expect_snapshot_matches(lab->truth(), capture_lab(lab->truth()));
}

INSTANTIATE_TEST_SUITE_P(Lab, CaptureScenario,
                         testing::Values("multi-port", "prefork", "reuseport", "addresses",
                                         "protocols", "cloexec-leak", "crowd"),
                         [](const auto& info) {
                           std::string name(info.param);
                           std::erase(name, '-');
                           return name;
                         });

TEST(LabCapture, PreforkIsOneSocketOnThePortWithEveryHolder) {
  Result<Lab> lab = Lab::start("prefork", {.workers = 4, .private_netns = true});
  ASSERT_TRUE(lab) << lab.error().message;
  const GroundTruth& truth = lab->truth();
  Snapshot snap = capture_lab(truth);
  const LabSocket& row = truth.sockets.at(0);
  EXPECT_EQ(sockets_on(snap, truth.netns, Proto::tcp, row.port), 1u);
  EXPECT_EQ(snap.holders(row.inode).size(), 5u);
  lab->stop();
  Result<Snapshot> after = capture(CaptureOptions());
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(sockets_on(*after, truth.netns, Proto::tcp, row.port), 0u);
  for (const Netns& ns : after->namespaces()) EXPECT_NE(ns.inode, truth.netns);
}

TEST(LabCapture, ReuseportIsOneSocketPerWorkerOnThePort) {
  Result<Lab> lab = Lab::start("reuseport", {.workers = 3});
  ASSERT_TRUE(lab) << lab.error().message;
  Snapshot snap = capture_lab(lab->truth());
  uint16_t port = lab->truth().sockets.at(0).port;
  EXPECT_EQ(sockets_on(snap, lab->truth().netns, Proto::tcp, port), 3u);
  for (const LabSocket& s : lab->truth().sockets) EXPECT_EQ(snap.holders(s.inode).size(), 1u);
}

}  // namespace
}  // namespace portrel::lab
