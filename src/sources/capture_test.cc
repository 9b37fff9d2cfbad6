// capture_from() over the fake sources: the join, and which sockets the process
// source is asked to read options for (only those no holder revealed).
#include "sources/capture.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "sources/fake_process_source.h"
#include "sources/fake_socket_source.h"

namespace portrel {
namespace {

constexpr uint64_t kOther = 4026532999u;

uint64_t own_netns() {
  struct stat st;
  return stat("/proc/self/ns/net", &st) == 0 ? st.st_ino : 0;
}

Socket listener(uint64_t inode, uint64_t netns, uint16_t port, Proto proto = Proto::tcp) {
  Socket s;
  s.inode = inode;
  s.netns = netns;
  s.proto = proto;
  s.family = 4;
  s.state = proto == Proto::tcp ? kStateListen : kStateClose;
  s.local_port = port;
  return s;
}

TEST(CaptureFrom, AsksForOptionsOfUnheldSocketsOnlyInTheirNamespacesAndPorts) {
  uint64_t host = own_netns();
  ASSERT_NE(host, 0u);
  FakeProcessSource processes;
  Process p;
  p.pid = 10;
  p.comm = "srv";
  processes.add_process(p);
  processes.add_netns(NetnsHandle{host, "/proc/10/ns/net", ""});
  processes.add_netns(NetnsHandle{kOther, "/run/netns/blue", "blue"});
  processes.add_holding(10, 3, 100);
  ProcessScan canned = *processes.scan();
  canned.options.push_back(ExactOptions{100, true, false, false});  // held: known
  processes.set_scan(canned);
  processes.set_unheld_options({ExactOptions{200, false, true, false}});
  Socket tw = listener(0, host, 81);
  tw.state = kStateTimeWait;
  FakeSocketSource sockets({listener(100, host, 80), listener(200, host, 8080),
                            listener(300, host, 53, Proto::udplite), tw,
                            listener(400, kOther, 80)});
  auto snap = capture_from(processes, sockets, CaptureOptions{});
  ASSERT_TRUE(snap) << snap.error().message;
  ASSERT_EQ(processes.unheld_asks().size(), 1u);
  const auto& ask = processes.unheld_asks()[0];
  // 200 (host, 8080) and 400 (blue, 80); not the held 100, the UDPLite socket
  // (no table iterator) or TIME_WAIT (no inode).
  EXPECT_EQ(ask.query.ports, (std::vector<uint16_t>{80, 8080}));
  EXPECT_TRUE(ask.query.tcp);
  EXPECT_FALSE(ask.query.udp) << "no unheld UDP socket";
  EXPECT_TRUE(ask.query.tcp_listeners_only);
  std::vector<uint64_t> asked = ask.namespaces;
  std::ranges::sort(asked);
  std::vector<uint64_t> expected = {host, kOther};
  std::ranges::sort(expected);
  EXPECT_EQ(asked, expected);
  ASSERT_NE(snap->socket(200), nullptr);
  EXPECT_EQ(snap->socket(200)->reuseport, Tristate::yes);
  EXPECT_EQ(snap->socket(200)->reuseport_from, OptSource::bpf);
  EXPECT_EQ(snap->socket(100)->reuseaddr, Tristate::yes);
}

TEST(CaptureFrom, UnheldConnectionOrUdpWidensTheTableWalk) {
  uint64_t host = own_netns();
  FakeProcessSource processes;
  processes.add_netns(NetnsHandle{host, "/proc/10/ns/net", ""});
  Socket conn = listener(500, host, 40000);
  conn.state = kStateEstablished;
  FakeSocketSource sockets({conn, listener(600, host, 53, Proto::udp)});
  ASSERT_TRUE(capture_from(processes, sockets, CaptureOptions{}));
  ASSERT_EQ(processes.unheld_asks().size(), 1u);
  const TableQuery& q = processes.unheld_asks()[0].query;
  EXPECT_TRUE(q.tcp && q.udp);
  EXPECT_FALSE(q.tcp_listeners_only);
  EXPECT_EQ(q.ports, (std::vector<uint16_t>{53, 40000}));
}

TEST(CaptureFrom, OwnNamespaceListenersAreReadBesideAndAskedNoMore) {
  uint64_t host = own_netns();
  FakeProcessSource processes;
  processes.set_reads_unheld(true);
  processes.add_netns(NetnsHandle{host, "/proc/10/ns/net", ""});
  processes.set_unheld_options({ExactOptions{200, false, true, false}});
  FakeSocketSource sockets({listener(200, host, 8080)});
  auto snap = capture_from(processes, sockets, CaptureOptions{});
  ASSERT_TRUE(snap) << snap.error().message;
  ASSERT_EQ(processes.unheld_asks().size(), 1u) << "the listeners read beside serve";
  const auto& ask = processes.unheld_asks()[0];
  EXPECT_EQ(ask.namespaces, std::vector<uint64_t>{host});
  EXPECT_TRUE(ask.query.ports.empty()) << "every listener";
  EXPECT_TRUE(ask.query.tcp && !ask.query.udp && ask.query.tcp_listeners_only);
  EXPECT_EQ(snap->socket(200)->reuseport, Tristate::yes);
  EXPECT_EQ(snap->socket(200)->reuseport_from, OptSource::bpf);

  // An unheld UDP socket is not among them: the tables are asked for it alone.
  FakeSocketSource more({listener(200, host, 8080), listener(600, host, 53, Proto::udp)});
  FakeProcessSource again;
  again.set_reads_unheld(true);
  again.add_netns(NetnsHandle{host, "/proc/10/ns/net", ""});
  again.set_unheld_options({ExactOptions{200, false, true, false}});
  ASSERT_TRUE(capture_from(again, more, CaptureOptions{}));
  ASSERT_EQ(again.unheld_asks().size(), 2u);
  const TableQuery& q = again.unheld_asks()[1].query;
  EXPECT_TRUE(q.udp && !q.tcp);
  EXPECT_EQ(q.ports, std::vector<uint16_t>{53});
}

TEST(CaptureFrom, EverySocketHeldMeansNoTableWalk) {
  uint64_t host = own_netns();
  FakeProcessSource processes;
  processes.add_netns(NetnsHandle{host, "/proc/10/ns/net", ""});
  processes.add_holding(10, 3, 100);
  ProcessScan canned = *processes.scan();
  canned.options.push_back(ExactOptions{100, false, false, false});
  processes.set_scan(canned);
  FakeSocketSource sockets({listener(100, host, 80)});
  ASSERT_TRUE(capture_from(processes, sockets, CaptureOptions{}));
  EXPECT_TRUE(processes.unheld_asks().empty());
}

TEST(CaptureFrom, PortGoesToTheSocketSource) {
  uint64_t host = own_netns();
  FakeProcessSource processes;
  processes.add_netns(NetnsHandle{host, "/proc/10/ns/net", ""});
  FakeSocketSource sockets({listener(100, host, 80), listener(200, host, 8080)});
  CaptureOptions options;
  options.port = 8080;
  auto snap = capture_from(processes, sockets, options);
  ASSERT_TRUE(snap) << snap.error().message;
  EXPECT_EQ(sockets.last_query().port, std::optional<uint16_t>(8080));
  ASSERT_EQ(snap->sockets().size(), 1u);
  EXPECT_EQ(snap->sockets()[0].inode, 200u);
}

}  // namespace
}  // namespace portrel
