// capture_from() over the fake sources: the join, and which sockets the option
// source is asked to read options for (only those no holder revealed), as the
// plan says.
#include "sources/capture.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "sources/fake_process_source.h"
#include "sources/fake_socket_source.h"

namespace portrel {
namespace {

constexpr uint64_t kOther = 4026532999u;

uint64_t own_netns() {
  struct stat st;
  return stat("/proc/self/ns/net", &st) == 0 ? st.st_ino : 0;
}

// The plan of a source that reads options of unheld sockets after the join
// (and, with BESIDE, our own namespace's listeners beside the scan).
CapturePlan reading_options(bool beside = false) {
  CapturePlan plan;
  plan.unheld_options = true;
  plan.own_listener_options = beside;
  plan.socket_netns = CapturePlan::SocketNetns::not_sought;
  return plan;
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
  FakeOptionSource options({ExactOptions{200, false, true, false}});
  Socket tw = listener(0, host, 81);
  tw.state = kStateTimeWait;
  FakeSocketSource sockets({listener(100, host, 80), listener(200, host, 8080),
                            listener(300, host, 53, Proto::udplite), tw,
                            listener(400, kOther, 80)});
  auto snap = capture_from({processes, sockets, &options}, reading_options(), CaptureOptions{});
  ASSERT_TRUE(snap) << snap.error().message;
  ASSERT_EQ(options.asks().size(), 1u);
  const auto& ask = options.asks()[0];
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
  FakeOptionSource options;
  ASSERT_TRUE(capture_from({processes, sockets, &options}, reading_options(), CaptureOptions{}));
  ASSERT_EQ(options.asks().size(), 1u);
  const TableQuery& q = options.asks()[0].query;
  EXPECT_TRUE(q.tcp && q.udp);
  EXPECT_FALSE(q.tcp_listeners_only);
  EXPECT_EQ(q.ports, (std::vector<uint16_t>{53, 40000}));
}

TEST(CaptureFrom, OwnNamespaceListenersAreReadBesideAndAskedNoMore) {
  uint64_t host = own_netns();
  FakeProcessSource processes;
  processes.add_netns(NetnsHandle{host, "/proc/10/ns/net", ""});
  FakeOptionSource options({ExactOptions{200, false, true, false}});
  FakeSocketSource sockets({listener(200, host, 8080)});
  auto snap = capture_from({processes, sockets, &options}, reading_options(true), CaptureOptions{});
  ASSERT_TRUE(snap) << snap.error().message;
  ASSERT_EQ(options.asks().size(), 1u) << "the listeners read beside serve";
  const auto& ask = options.asks()[0];
  EXPECT_EQ(ask.namespaces, std::vector<uint64_t>{host});
  EXPECT_TRUE(ask.query.ports.empty()) << "every listener";
  EXPECT_TRUE(ask.query.tcp && !ask.query.udp && ask.query.tcp_listeners_only);
  EXPECT_EQ(snap->socket(200)->reuseport, Tristate::yes);
  EXPECT_EQ(snap->socket(200)->reuseport_from, OptSource::bpf);

  // An unheld UDP socket is not among them: the tables are asked for it alone.
  FakeSocketSource more({listener(200, host, 8080), listener(600, host, 53, Proto::udp)});
  FakeProcessSource again;
  again.add_netns(NetnsHandle{host, "/proc/10/ns/net", ""});
  FakeOptionSource again_options({ExactOptions{200, false, true, false}});
  ASSERT_TRUE(
      capture_from({again, more, &again_options}, reading_options(true), CaptureOptions{}));
  ASSERT_EQ(again_options.asks().size(), 2u);
  const TableQuery& q = again_options.asks()[1].query;
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
  FakeOptionSource options;
  ASSERT_TRUE(capture_from({processes, sockets, &options}, reading_options(), CaptureOptions{}));
  EXPECT_TRUE(options.asks().empty());
}

TEST(CaptureFrom, PortGoesToTheSocketSource) {
  uint64_t host = own_netns();
  FakeProcessSource processes;
  processes.add_netns(NetnsHandle{host, "/proc/10/ns/net", ""});
  FakeSocketSource sockets({listener(100, host, 80), listener(200, host, 8080)});
  CaptureOptions options;
  options.port = 8080;
  auto snap = capture_from({processes, sockets}, CapturePlan{}, options);
  ASSERT_TRUE(snap) << snap.error().message;
  EXPECT_EQ(sockets.last_query().port, std::optional<uint16_t>(8080));
  ASSERT_EQ(snap->sockets().size(), 1u);
  EXPECT_EQ(snap->sockets()[0].inode, 200u);
}

// A protocol the plan reads from the fd walk comes from the walk's sockets
// (as the query narrows them); one the plan cannot read makes an answer that
// asked for it by name partial, and the default view silent.
TEST(CaptureFrom, PlanSaysWhichProtocolsComeFromTheWalkOrCannotBeListed) {
  uint64_t host = own_netns();
  ProcessScan canned;
  canned.netns.push_back(NetnsHandle{host, "/proc/10/ns/net", ""});
  Socket vsock = listener(700, host, 2024, Proto::vsock);
  vsock.state = kStateListen;
  Socket connected = listener(701, host, 2025, Proto::vsock);
  connected.state = kStateEstablished;
  canned.held_sockets = {vsock, connected};
  FakeProcessSource processes(canned);
  FakeSocketSource sockets({listener(100, host, 80)});
  CapturePlan plan;
  plan.socket_netns = CapturePlan::SocketNetns::not_sought;
  plan.sockets = {SocketPart{Proto::tcp, SocketReader::sock_diag, ""},
                  SocketPart{Proto::vsock, SocketReader::fd_walk, "no vsock_diag"}};
  CaptureOptions listening;
  listening.listening_only = true;
  auto snap = capture_from({processes, sockets}, plan, listening);
  ASSERT_TRUE(snap) << snap.error().message;
  EXPECT_NE(snap->socket(700), nullptr) << "the walk's listener";
  EXPECT_EQ(snap->socket(701), nullptr) << "a connection, in a listeners-only view";
  EXPECT_TRUE(snap->warnings().empty()) << "the default view says nothing of it";

  CaptureOptions named;
  named.protocols = {Proto::vsock};
  snap = capture_from({processes, sockets}, plan, named);
  ASSERT_TRUE(snap) << snap.error().message;
  EXPECT_NE(snap->socket(701), nullptr);
  ASSERT_EQ(snap->warnings().size(), 1u) << "--vsock: where they come from";
  EXPECT_NE(snap->warnings()[0].find("no vsock_diag"), std::string::npos);
  ASSERT_EQ(snap->namespaces().size(), 1u);
  EXPECT_TRUE(snap->namespaces()[0].unlisted.empty());

  plan.sockets[1].reader = SocketReader::none;
  snap = capture_from({processes, sockets}, plan, named);
  ASSERT_TRUE(snap) << snap.error().message;
  EXPECT_EQ(snap->socket(700), nullptr) << "the plan does not read the walk's";
  ASSERT_EQ(snap->namespaces().size(), 1u);
  EXPECT_EQ(snap->namespaces()[0].unlisted, std::vector<Proto>{Proto::vsock});
  snap = capture_from({processes, sockets}, plan, listening);
  ASSERT_TRUE(snap) << snap.error().message;
  EXPECT_TRUE(snap->namespaces()[0].unlisted.empty()) << "not asked for by name";
}

// The plan's part beside runs once, on the thread beside the process scan.
TEST(CaptureFrom, ThePartBesideRunsOnceOnTheOtherThread) {
  uint64_t host = own_netns();
  FakeProcessSource processes;
  processes.add_netns(NetnsHandle{host, "/proc/10/ns/net", ""});
  FakeSocketSource sockets({listener(100, host, 80)});
  std::atomic<int> runs{0};
  std::thread::id where;
  CapturePlan plan;
  plan.tasks_beside = true;
  plan.socket_netns = CapturePlan::SocketNetns::not_sought;
  auto snap = capture_from({processes, sockets, nullptr,
                            [&] {
                              ++runs;
                              where = std::this_thread::get_id();
                            }},
                           plan, CaptureOptions{});
  ASSERT_TRUE(snap) << snap.error().message;
  EXPECT_EQ(runs.load(), 1);
  EXPECT_NE(where, std::this_thread::get_id());
}

// Without the walk's namespaces, a held socket the listeners-only dumps left
// out is first looked for in a dump of every state of its holder's namespace,
// before any socket is asked where it lives.
TEST(CaptureFrom, UnlistedHeldSocketsAreLookedForInEveryStateFirst) {
  uint64_t host = own_netns();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  FakeProcessSource processes;
  Process self;
  self.pid = getpid();
  self.netns = host;
  processes.add_process(self);
  processes.add_netns(NetnsHandle{host, "/proc/self/ns/net", ""});
  processes.add_holding(getpid(), fd, st.st_ino);
  Socket conn = listener(st.st_ino, host, 40000);
  conn.state = kStateEstablished;
  FakeSocketSource sockets({listener(100, host, 80), conn});
  CaptureOptions listening;
  listening.listening_only = true;
  auto snap = capture_from({processes, sockets}, CapturePlan{}, listening);
  close(fd);
  ASSERT_TRUE(snap) << snap.error().message;
  EXPECT_EQ(sockets.scans(), 2) << "our namespace's dump, then every state of it";
  EXPECT_FALSE(sockets.last_query().listening_only);
  EXPECT_EQ(snap->socket(st.st_ino), nullptr) << "the connection is not in the view";
  EXPECT_EQ(snap->namespaces().size(), 1u);
}

}  // namespace
}  // namespace portrel
