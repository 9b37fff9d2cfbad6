// Live tests of the sock_diag reader: sockets this process opens, found in a dump
// of its own namespace, and a listener in a namespace of a child process, found
// by SockDiagSource from a worker thread while the caller stays where it is.
#include "sources/sock_diag.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sources/fake_socket_source.h"
#include "sources/netns.h"

namespace portrel {
namespace {

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

uint64_t inode_of(int fd) {
  struct stat st {};
  EXPECT_EQ(fstat(fd, &st), 0);
  return st.st_ino;
}

uint16_t port_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len), 0);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

int tcp_listener_v4() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  EXPECT_EQ(listen(fd, 8), 0);
  return fd;
}

// A client connected to the loopback v4 listener LISTENER.
int connect_v4(int listener) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port_of(listener));
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  return fd;
}

const Socket* find_inode(const std::vector<Socket>& rows, uint64_t inode) {
  for (const Socket& s : rows) {
    if (s.inode == inode) return &s;
  }
  return nullptr;
}

TEST(DumpCurrentNetns, FindsOwnListenersByInode) {
  Fd l4(tcp_listener_v4());
  Fd l6(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ASSERT_EQ(setsockopt(l6.fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one), 0);
  sockaddr_in6 sa6{};
  sa6.sin6_family = AF_INET6;
  sa6.sin6_addr = in6addr_loopback;
  ASSERT_EQ(bind(l6.fd, reinterpret_cast<sockaddr*>(&sa6), sizeof sa6), 0);
  ASSERT_EQ(listen(l6.fd, 8), 0);

  auto ns = current_netns_inode();
  ASSERT_TRUE(ns.has_value());
  std::vector<std::string> warnings;
  auto rows = dump_current_netns(*ns, {}, &warnings);
  ASSERT_TRUE(rows.has_value()) << rows.error().message;

  const Socket* s4 = find_inode(*rows, inode_of(l4.fd));
  ASSERT_NE(s4, nullptr);
  EXPECT_EQ(s4->local_port, port_of(l4.fd));
  EXPECT_EQ(s4->state, kStateListen);
  EXPECT_EQ(s4->netns, *ns);
  EXPECT_EQ(s4->local_addr, Address::parse("127.0.0.1"));
  const Socket* s6 = find_inode(*rows, inode_of(l6.fd));
  ASSERT_NE(s6, nullptr);
  EXPECT_EQ(s6->local_port, port_of(l6.fd));
  EXPECT_EQ(s6->v6only, Tristate::yes);
  EXPECT_EQ(s6->local_addr, Address::parse("::1"));
}

// TCP of both families comes from one walk of each kernel table: every
// socket, listening or not, v4 or v6, is listed once, with its own family.
TEST(DumpCurrentNetns, TcpOfBothFamiliesIsListedOnceEach) {
  Fd l4(tcp_listener_v4());
  Fd l6(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 sa6{};
  sa6.sin6_family = AF_INET6;
  sa6.sin6_addr = in6addr_loopback;
  ASSERT_EQ(bind(l6.fd, reinterpret_cast<sockaddr*>(&sa6), sizeof sa6), 0);
  ASSERT_EQ(listen(l6.fd, 8), 0);
  Fd c4(connect_v4(l4.fd));
  Fd a4(accept4(l4.fd, nullptr, nullptr, SOCK_CLOEXEC));
  Fd c6(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 to6 = sa6;
  to6.sin6_port = htons(port_of(l6.fd));
  ASSERT_EQ(connect(c6.fd, reinterpret_cast<sockaddr*>(&to6), sizeof to6), 0);
  Fd a6(accept4(l6.fd, nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_GE(a4.fd, 0);
  ASSERT_GE(a6.fd, 0);

  auto ns = current_netns_inode();
  ASSERT_TRUE(ns.has_value());
  auto rows = dump_current_netns(*ns, {});
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  struct Want {
    int fd;
    int family;
    uint8_t state;
  };
  for (Want w : {Want{l4.fd, 4, kStateListen}, Want{c4.fd, 4, kStateEstablished},
                 Want{a4.fd, 4, kStateEstablished}, Want{l6.fd, 6, kStateListen},
                 Want{c6.fd, 6, kStateEstablished}, Want{a6.fd, 6, kStateEstablished}}) {
    uint64_t inode = inode_of(w.fd);
    auto n = std::ranges::count_if(*rows, [&](const Socket& s) { return s.inode == inode; });
    EXPECT_EQ(n, 1) << "fd " << w.fd;
    const Socket* s = find_inode(*rows, inode);
    if (s == nullptr) continue;
    EXPECT_EQ(s->proto, Proto::tcp);
    EXPECT_EQ(s->family, w.family);
    EXPECT_EQ(s->state, w.state);
  }
}

// The kernel's readers with TCP and UDP from LISTER.
SocketReaders from_tables(TableLister lister) {
  SocketReaders readers = kernel_readers();
  readers.of[static_cast<size_t>(Proto::tcp)] = SocketReader::tables;
  readers.of[static_cast<size_t>(Proto::udp)] = SocketReader::tables;
  readers.tables = std::move(lister);
  return readers;
}

// TCP and UDP come from a TableLister when one is given (the bpf source's
// rows), and from sock_diag when it fails or a port is asked for.
TEST(DumpCurrentNetns, ListerGivesTcpAndUdpUnlessItFailsOrAPortIsAsked) {
  Fd listener(tcp_listener_v4());
  auto ns = current_netns_inode();
  ASSERT_TRUE(ns.has_value());
  std::vector<Proto> asked;
  std::mutex mutex;
  TableLister canned = [&](Proto proto, uint64_t netns) -> Result<std::vector<Socket>> {
    std::lock_guard lock(mutex);
    asked.push_back(proto);
    Socket s;
    s.proto = proto;
    s.netns = netns;
    s.inode = proto == Proto::tcp ? 1 : 2;  // no real socket has these inodes
    return std::vector<Socket>{s};
  };
  auto rows = dump_current_netns(*ns, {}, nullptr, 0, from_tables(canned));
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  std::ranges::sort(asked);
  EXPECT_EQ(asked, (std::vector<Proto>{Proto::tcp, Proto::udp}));
  EXPECT_NE(find_inode(*rows, 1), nullptr);
  EXPECT_NE(find_inode(*rows, 2), nullptr);
  EXPECT_EQ(find_inode(*rows, inode_of(listener.fd)), nullptr) << "TCP came from sock_diag too";

  TableLister failing = [](Proto, uint64_t) -> Result<std::vector<Socket>> {
    return std::unexpected(Error{"no rows"});
  };
  rows = dump_current_netns(*ns, {}, nullptr, 0, from_tables(failing));
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  EXPECT_NE(find_inode(*rows, inode_of(listener.fd)), nullptr) << "sock_diag took over";

  asked.clear();
  SocketQuery query;
  query.port = port_of(listener.fd);
  rows = dump_current_netns(*ns, query, nullptr, 0, from_tables(canned));
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  EXPECT_TRUE(asked.empty()) << "a port query goes to sock_diag's filter";
  EXPECT_NE(find_inode(*rows, inode_of(listener.fd)), nullptr);
}

// Each protocol's reader follows what the kernel has: the tables only where
// they load and no port is asked, /proc/net where sock_diag cannot, the fd
// walk for vsock without vsock_diag; and the kernel's answer matches the plan.
TEST(PlanSocketParts, EachProtocolByWhatTheKernelHas) {
  std::vector<Proto> every;
  for (const ProtoInfo& info : protocols()) every.push_back(info.proto);
  auto reader = [](const std::vector<SocketPart>& parts, Proto p) {
    auto it = std::ranges::find(parts, p, &SocketPart::proto);
    return it == parts.end() ? std::optional<SocketReader>() : it->reader;
  };
  auto with_bpf = plan_socket_parts(every, {.table_rows = true, .fd_walk = true, .port_asked = false});
  ASSERT_EQ(with_bpf.size(), every.size());
  EXPECT_EQ(reader(with_bpf, Proto::tcp), SocketReader::tables);
  EXPECT_EQ(reader(with_bpf, Proto::udp), SocketReader::tables);
  EXPECT_EQ(reader(with_bpf, Proto::udplite), SocketReader::sock_diag);
  EXPECT_EQ(reader(with_bpf, Proto::icmp), SocketReader::proc_net);
  auto port = plan_socket_parts(every, {.table_rows = true, .fd_walk = true, .port_asked = true});
  EXPECT_EQ(reader(port, Proto::tcp), SocketReader::sock_diag);
  auto plain = plan_socket_parts(every, {});
  EXPECT_EQ(reader(plain, Proto::tcp), SocketReader::sock_diag);

  bool raw_diag = sock_diag_refusal(AF_INET, IPPROTO_RAW).empty();
  EXPECT_EQ(reader(plain, Proto::raw), raw_diag ? SocketReader::sock_diag : SocketReader::proc_net);
  if (access("/sys/module/vsock", F_OK) == 0) {
    bool vsock_diag = sock_diag_refusal(AF_VSOCK).empty();
    std::cout << "[ NOTE     ] vsock_diag " << (vsock_diag ? "dumps" : "is missing") << "\n";
    EXPECT_EQ(reader(with_bpf, Proto::vsock),
              vsock_diag ? SocketReader::sock_diag : SocketReader::fd_walk);
    EXPECT_EQ(reader(plain, Proto::vsock), vsock_diag ? SocketReader::sock_diag : SocketReader::none);
  } else {
    EXPECT_EQ(reader(plain, Proto::vsock), SocketReader::absent);
  }
  for (const SocketPart& p : plain) {
    EXPECT_EQ(p.reason.empty(), p.reader == SocketReader::sock_diag)
        << proto_name(p.proto) << ": a reader other than sock_diag says why";
  }
  // Only the protocols asked, in Proto's order.
  std::vector<Proto> two = {Proto::sctp, Proto::udp};
  auto some = plan_socket_parts(two, {});
  ASSERT_EQ(some.size(), 2u);
  EXPECT_EQ(some[0].proto, Proto::udp);
  EXPECT_EQ(some[1].proto, Proto::sctp);
}

TEST(DumpCurrentNetns, PortQueryIsFilteredByTheKernel) {
  Fd wanted(tcp_listener_v4());
  Fd other(tcp_listener_v4());
  Fd udp(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port_of(wanted.fd));  // UDP on the same number is kept
  ASSERT_EQ(bind(udp.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  auto ns = current_netns_inode();
  ASSERT_TRUE(ns.has_value());
  SocketQuery query;
  query.port = port_of(wanted.fd);
  auto rows = dump_current_netns(*ns, query);
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  EXPECT_NE(find_inode(*rows, inode_of(wanted.fd)), nullptr);
  EXPECT_NE(find_inode(*rows, inode_of(udp.fd)), nullptr);
  EXPECT_EQ(find_inode(*rows, inode_of(other.fd)), nullptr);
  for (const Socket& s : *rows) {
    if (s.proto != Proto::raw) {
      EXPECT_EQ(s.local_port, *query.port);
    }
  }
}

TEST(DumpCurrentNetns, ListeningOnlyDropsConnections) {
  Fd listener(tcp_listener_v4());
  Fd client(connect_v4(listener.fd));

  auto ns = current_netns_inode();
  ASSERT_TRUE(ns.has_value());
  auto all = dump_current_netns(*ns, {});
  auto listening = dump_current_netns(*ns, {.listening_only = true, .protocols = {}, .port = {}});
  ASSERT_TRUE(all.has_value());
  ASSERT_TRUE(listening.has_value());
  EXPECT_NE(find_inode(*all, inode_of(client.fd)), nullptr);
  EXPECT_EQ(find_inode(*listening, inode_of(client.fd)), nullptr);
  EXPECT_NE(find_inode(*listening, inode_of(listener.fd)), nullptr);
  for (const Socket& s : *listening) {
    if (s.proto == Proto::tcp) {
      EXPECT_EQ(s.state, kStateListen);
    }
  }
}

TEST(DumpCurrentNetns, MissingProtocolIsAWarningNotAnError) {
  // RAW needs raw_diag, which some kernels lack: then a warning names it and the
  // other protocols are still there; otherwise our raw socket is listed.
  Fd raw(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
  ASSERT_GE(raw.fd, 0) << "needs root";
  Fd listener(tcp_listener_v4());
  auto ns = current_netns_inode();
  ASSERT_TRUE(ns.has_value());
  std::vector<std::string> warnings;
  auto rows = dump_current_netns(*ns, {}, &warnings);
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  EXPECT_NE(find_inode(*rows, inode_of(listener.fd)), nullptr);
  bool raw_warned = std::ranges::any_of(
      warnings, [](const std::string& w) { return w.find("raw") != std::string::npos; });
  const Socket* r = find_inode(*rows, inode_of(raw.fd));
  EXPECT_NE(raw_warned, r != nullptr) << "raw is either listed or warned about";
  if (r) {
    EXPECT_EQ(r->raw_protocol, IPPROTO_ICMP);
  }
}

// A child in a network namespace of its own, holding one TCP listener.
class NetnsChild {
 public:
  NetnsChild() {
    int up[2], down[2];
    if (pipe2(up, O_CLOEXEC) != 0 || pipe2(down, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(up[0]);
      close(down[1]);
      uint64_t facts[2] = {0, 0};
      if (unshare(CLONE_NEWNET) == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(40123);
        struct stat st {};
        if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
            listen(fd, 4) == 0 && fstat(fd, &st) == 0) {
          facts[0] = st.st_ino;
        }
        if (stat("/proc/self/ns/net", &st) == 0) facts[1] = st.st_ino;
      }
      if (write(up[1], facts, sizeof facts) != sizeof facts) _exit(1);
      char c;
      while (read(down[0], &c, 1) > 0) {
      }
      _exit(0);
    }
    close(up[1]);
    close(down[0]);
    release_ = down[1];
    uint64_t facts[2] = {0, 0};
    if (pid_ > 0 && read(up[0], facts, sizeof facts) == sizeof facts) {
      socket_inode_ = facts[0];
      netns_inode_ = facts[1];
    }
    close(up[0]);
  }
  ~NetnsChild() {
    if (release_ >= 0) close(release_);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  uint64_t socket_inode() const { return socket_inode_; }
  uint64_t netns_inode() const { return netns_inode_; }

 private:
  pid_t pid_ = -1;
  int release_ = -1;
  uint64_t socket_inode_ = 0;
  uint64_t netns_inode_ = 0;
};

// The warnings about namespaces (not about protocols the kernel cannot dump).
std::vector<std::string> not_dumped(const std::vector<std::string>& warnings) {
  std::vector<std::string> out;
  for (const std::string& w : warnings) {
    if (w.find("not dumped") != std::string::npos) out.push_back(w);
  }
  return out;
}

TEST(SockDiagSource, DumpsAnotherNamespaceWithoutMovingTheCaller) {
  NetnsChild child;
  ASSERT_GT(child.pid(), 0);
  ASSERT_NE(child.socket_inode(), 0u) << "the child could not unshare and listen";
  auto here = current_netns_inode();
  ASSERT_TRUE(here.has_value());
  ASSERT_NE(child.netns_inode(), *here);

  NetnsHandle handle{child.netns_inode(),
                     "/proc/" + std::to_string(child.pid()) + "/ns/net", ""};
  SockDiagSource source;
  auto scan = source.scan({handle}, {});
  ASSERT_TRUE(scan.has_value()) << scan.error().message;
  EXPECT_EQ(scan->dumped_netns, std::vector<uint64_t>{child.netns_inode()});
  const Socket* s = find_inode(scan->sockets, child.socket_inode());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->local_port, 40123);
  EXPECT_EQ(s->netns, child.netns_inode());
  EXPECT_EQ(s->state, kStateListen);
  for (const Socket& other : scan->sockets) EXPECT_EQ(other.netns, child.netns_inode());
  EXPECT_EQ(current_netns_inode().value_or(0), *here);
}

TEST(SockDiagSource, UnenterableNamespaceIsAWarning) {
  NetnsChild child;
  ASSERT_NE(child.socket_inode(), 0u);
  std::string good_path = "/proc/" + std::to_string(child.pid()) + "/ns/net";
  NetnsHandle gone{123456789, "/proc/999999999/ns/net", ""};
  NetnsHandle good{child.netns_inode(), good_path, ""};
  SockDiagSource source(2);

  auto scan = source.scan({gone, good}, {});
  ASSERT_TRUE(scan.has_value()) << scan.error().message;
  EXPECT_EQ(scan->dumped_netns, std::vector<uint64_t>{child.netns_inode()});
  auto unreached = not_dumped(scan->warnings);
  ASSERT_EQ(unreached.size(), 1u);
  EXPECT_NE(unreached[0].find("123456789"), std::string::npos);

  // A path that now leads to another namespace is refused, not mislabelled.
  NetnsHandle reused{child.netns_inode() + 1, good_path, ""};
  EXPECT_FALSE(source.scan({reused}, {}).has_value());
  EXPECT_FALSE(source.scan({gone}, {}).has_value());
}

TEST(SockDiagSource, SecondPathOfOneNamespaceIsTriedOnce) {
  NetnsChild child;
  ASSERT_NE(child.socket_inode(), 0u);
  NetnsHandle bad{child.netns_inode(), "/proc/999999999/ns/net", ""};
  NetnsHandle good{child.netns_inode(),
                   "/proc/" + std::to_string(child.pid()) + "/ns/net", ""};
  auto scan = SockDiagSource().scan({bad, good, good}, {});
  ASSERT_TRUE(scan.has_value()) << scan.error().message;
  EXPECT_TRUE(not_dumped(scan->warnings).empty());
  EXPECT_EQ(scan->dumped_netns.size(), 1u);
  EXPECT_EQ(std::ranges::count(scan->sockets, child.socket_inode(), &Socket::inode), 1);
}

TEST(SockDiagSource, EmptyListDumpsTheCallersNamespace) {
  Fd listener(tcp_listener_v4());
  auto scan = SockDiagSource().scan({}, {});
  ASSERT_TRUE(scan.has_value()) << scan.error().message;
  EXPECT_EQ(scan->dumped_netns, std::vector<uint64_t>{current_netns_inode().value_or(0)});
  EXPECT_NE(find_inode(scan->sockets, inode_of(listener.fd)), nullptr);
}

TEST(FakeSocketSource, ServesByNamespaceAndFilters) {
  auto make = [](uint64_t inode, uint64_t netns, Proto proto, uint8_t state) {
    Socket s;
    s.inode = inode;
    s.netns = netns;
    s.proto = proto;
    s.state = state;
    return s;
  };
  Socket listen_tcp = make(1, 10, Proto::tcp, kStateListen);
  Socket conn_tcp = make(2, 10, Proto::tcp, kStateEstablished);
  Socket udp = make(3, 20, Proto::udp, kStateClose);
  FakeSocketSource fake({listen_tcp, conn_tcp, udp});
  fake.make_unreachable(20);
  auto scan = fake.scan({{10, "/a", ""}, {20, "/b", ""}}, {.listening_only = true, .protocols = {}, .port = {}});
  ASSERT_TRUE(scan.has_value());
  ASSERT_EQ(scan->sockets.size(), 1u);
  EXPECT_EQ(scan->sockets[0].inode, 1u);
  EXPECT_EQ(scan->dumped_netns, std::vector<uint64_t>{10});
  EXPECT_EQ(scan->warnings.size(), 1u);
  EXPECT_EQ(fake.scans(), 1);
  EXPECT_TRUE(fake.last_query().listening_only);
}

}  // namespace
}  // namespace portrel
