// Live kernel: the sharing kinds and socket options portrel reports for ports the
// lab shared in known ways — prefork (inherited), SO_REUSEPORT siblings,
// addresses and dual-stack, TCP beside UDP — and nothing more on those ports.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "analysis/sharing.h"
#include "lab/lab.h"
#include "portrel/capture.h"
#include "truth.h"

namespace portrel::testing {
namespace {

using K = SharingKind;

Snapshot capture_with(CaptureOptions::Source source, bool probe = false) {
  CaptureOptions o;
  o.source = source;
  o.probe_sockopts = probe;
  auto snap = capture(o);
  EXPECT_TRUE(snap) << (snap ? "" : snap.error().message);
  return snap ? std::move(*snap) : Snapshot();
}

// The port group holding the lab's sockets (all on one port in these scenarios).
PortGroup group_of(const Snapshot& snap, const lab::GroundTruth& truth) {
  std::set<uint64_t> inodes;
  for (const auto& s : truth.sockets) inodes.insert(s.inode);
  std::vector<const Socket*> sockets;
  for (const Socket& s : snap.sockets()) sockets.push_back(&s);
  for (PortGroup& g : port_groups(snap, sockets)) {
    bool ours = std::ranges::any_of(g.sockets, [&](const Socket* s) {
      return inodes.contains(s->inode);
    });
    if (ours) {
      EXPECT_EQ(g.sockets.size(), inodes.size()) << "only the lab's sockets on its port";
      return g;
    }
  }
  ADD_FAILURE() << truth.scenario << ": no port group holds the lab's sockets";
  return {};
}

TEST(SharingLive, PreforkIsInherited) {
  lab::Lab lab = start_lab("prefork", {.workers = 3});
  Snapshot snap = capture_all();
  PortGroup g = group_of(snap, lab.truth());
  EXPECT_EQ(g.kinds(), std::vector<K>{K::inherited});
  EXPECT_EQ(g.pids.size(), 4u);
  ASSERT_EQ(g.sockets.size(), 1u);
  EXPECT_EQ(holder_roots(snap, g.sockets[0]->inode).size(), 1u) << "master alone is the root";
}

TEST(SharingLive, ReuseportSiblingsAndInferredOption) {
  lab::Lab lab = start_lab("reuseport", {.workers = 3});
  // procfs + sock_diag carry no SO_REUSEPORT: it must be inferred.
  Snapshot snap = capture_with(CaptureOptions::Source::procfs);
  PortGroup g = group_of(snap, lab.truth());
  EXPECT_EQ(g.kinds(), std::vector<K>{K::reuseport});
  ASSERT_EQ(g.sockets.size(), 3u);
  for (const Socket* s : g.sockets) {
    EXPECT_EQ(s->reuseport, Tristate::yes) << s->inode;
    EXPECT_EQ(s->reuseport_from, OptSource::inferred) << s->inode;
    EXPECT_EQ(s->reuseaddr, Tristate::unknown) << "not implied, so not claimed";
  }
}

TEST(SharingLive, ProbeReadsExactOptions) {
  lab::Lab reuse = start_lab("reuseport", {.workers = 2});
  lab::Lab pre = start_lab("prefork", {.workers = 1});
  Snapshot snap = capture_with(CaptureOptions::Source::procfs, /*probe=*/true);
  for (const auto& truth : {reuse.truth(), pre.truth()}) {
    for (const auto& t : truth.sockets) {
      const Socket* s = snap.socket(t.inode);
      ASSERT_NE(s, nullptr) << truth.scenario;
      EXPECT_EQ(s->reuseport, t.reuseport ? Tristate::yes : Tristate::no) << truth.scenario;
      EXPECT_EQ(s->reuseaddr, t.reuseaddr ? Tristate::yes : Tristate::no) << truth.scenario;
      EXPECT_EQ(s->reuseaddr_from, OptSource::probe) << truth.scenario;
      EXPECT_EQ(s->reuseport_from, OptSource::probe)
          << truth.scenario << ": a probe outranks inference";
    }
  }
}

TEST(SharingLive, AddressesAreAddressesAndDualStack) {
  lab::Lab lab = start_lab("addresses");
  Snapshot snap = capture_all();
  PortGroup g = group_of(snap, lab.truth());
  EXPECT_EQ(g.kinds(), (std::vector<K>{K::addresses, K::dual_stack}));
}

TEST(SharingLive, TcpBesideUdpIsProtocols) {
  lab::Lab lab = start_lab("protocols");
  Snapshot snap = capture_all();
  PortGroup g = group_of(snap, lab.truth());
  EXPECT_EQ(g.kinds(), std::vector<K>{K::protocols});
}

}  // namespace
}  // namespace portrel::testing
