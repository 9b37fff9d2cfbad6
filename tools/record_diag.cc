// Records the sock_diag dumps that sock_diag_test.cc replays. In a private network
// namespace it opens sockets of known kinds on known ports, dumps each (protocol,
// family) and writes the raw reply bytes to OUTDIR/diag_<proto><family>.bin, plus
// the facts only the run can know (socket inodes, the namespace inode) to
// OUTDIR/diag_expected.txt. Run as root, by hand; it is not part of the build:
//   g++ -std=c++23 -Iinclude -Isrc tools/record_diag.cc build-X/libportrel.a -lmnl -o record_diag && sudo ./record_diag tests/data
#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "sources/sock_diag.h"

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "record_diag: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

uint64_t inode_of(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) die("fstat");
  return st.st_ino;
}

void bring_lo_up() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr{};
  std::strcpy(ifr.ifr_name, "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) die("SIOCGIFFLAGS lo");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) die("SIOCSIFFLAGS lo");
  close(fd);
}

sockaddr_in v4(const char* addr, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, addr, &sa.sin_addr);
  return sa;
}

sockaddr_in6 v6(const char* addr, uint16_t port) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  inet_pton(AF_INET6, addr, &sa.sin6_addr);
  return sa;
}

template <typename Addr>
int make(int family, int type, int protocol, const Addr& addr, int v6only = -1) {
  int fd = socket(family, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) die("socket");
  if (v6only >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only)) {
    die("IPV6_V6ONLY");
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) die("bind");
  return fd;
}

void connect_to(int fd, const sockaddr_in& to) {
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) die("connect");
}

// Dumps one (protocol, family) and returns the raw reply bytes, DONE included.
std::vector<char> dump(uint8_t protocol, uint8_t family, portrel::Proto proto) {
  mnl_socket* nl = mnl_socket_open(NETLINK_SOCK_DIAG);
  if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) die("netlink");
  alignas(nlmsghdr) char req[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(inet_diag_req_v2))];
  nlmsghdr* nlh = mnl_nlmsg_put_header(req);
  nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = 1;
  auto* r = static_cast<inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
  r->sdiag_family = family;
  r->sdiag_protocol = protocol;
  r->idiag_states = ~0u;
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) die("sendto");
  std::vector<char> all;
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
    if (n <= 0) die("recv");
    all.insert(all.end(), buf.data(), buf.data() + n);
    std::vector<portrel::Socket> rows;
    auto done = portrel::parse_diag_dump(
        {reinterpret_cast<const std::byte*>(buf.data()), static_cast<size_t>(n)}, proto,
        0, rows);
    if (!done || *done) break;  // an error reply is recorded too
  }
  mnl_socket_close(nl);
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: record_diag OUTDIR\n");
    return 2;
  }
  std::string out = argv[1];
  if (unshare(CLONE_NEWNET) != 0) die("unshare(CLONE_NEWNET)");
  bring_lo_up();
  std::map<std::string, uint64_t> facts;
  struct stat ns {};
  if (stat("/proc/self/ns/net", &ns) != 0) die("stat ns");
  facts["netns"] = ns.st_ino;

  int tcp4_listen = make(AF_INET, SOCK_STREAM, 0, v4("127.0.0.1", 40001));
  if (listen(tcp4_listen, 16) != 0) die("listen");
  int tcp6_v6only = make(AF_INET6, SOCK_STREAM, 0, v6("::", 40002), 1);
  if (listen(tcp6_v6only, 16) != 0) die("listen");
  int tcp6_dual = make(AF_INET6, SOCK_STREAM, 0, v6("::", 40003), 0);
  if (listen(tcp6_dual, 16) != 0) die("listen");

  int udp4 = make(AF_INET, SOCK_DGRAM, 0, v4("0.0.0.0", 40004));
  int udp6_v6only = make(AF_INET6, SOCK_DGRAM, 0, v6("::1", 40005), 1);

  // An accepted connection: client 127.0.0.1:40006 → listener 40001.
  int est_client = make(AF_INET, SOCK_STREAM, 0, v4("127.0.0.1", 40006));
  connect_to(est_client, v4("127.0.0.1", 40001));
  int est_server = accept4(tcp4_listen, nullptr, nullptr, SOCK_CLOEXEC);
  if (est_server < 0) die("accept");

  // A listener (backlog 7) holding one connection nobody accepted yet.
  int pending_listen = make(AF_INET, SOCK_STREAM, 0, v4("127.0.0.1", 40011));
  if (listen(pending_listen, 7) != 0) die("listen");
  int pending_client = make(AF_INET, SOCK_STREAM, 0, v4("127.0.0.1", 40012));
  connect_to(pending_client, v4("127.0.0.1", 40011));

  // TIME_WAIT on the server side: it closes first, so it is the active closer.
  int tw_listen = make(AF_INET, SOCK_STREAM, 0, v4("127.0.0.1", 40007));
  if (listen(tw_listen, 4) != 0) die("listen");
  int tw_client = make(AF_INET, SOCK_STREAM, 0, v4("127.0.0.1", 40008));
  connect_to(tw_client, v4("127.0.0.1", 40007));
  int tw_server = accept4(tw_listen, nullptr, nullptr, SOCK_CLOEXEC);
  if (tw_server < 0) die("accept");
  close(tw_server);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  close(tw_client);
  close(tw_listen);

  int udp_dev = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (setsockopt(udp_dev, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) != 0) die("BINDTODEVICE");
  auto dev_addr = v4("127.0.0.1", 40009);
  if (bind(udp_dev, reinterpret_cast<const sockaddr*>(&dev_addr), sizeof dev_addr)) die("bind");

  setfsuid(65534);
  int udp_nobody = make(AF_INET, SOCK_DGRAM, 0, v4("0.0.0.0", 40010));
  setfsuid(0);

  int udp_connected = make(AF_INET, SOCK_DGRAM, 0, v4("127.0.0.1", 40014));
  connect_to(udp_connected, v4("127.0.0.1", 40004));
  char payload[100] = {};
  if (send(udp_connected, payload, sizeof payload, 0) != sizeof payload) die("send");

  int udplite4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDPLITE);
  if (udplite4 >= 0) {
    auto a = v4("127.0.0.1", 40013);
    if (bind(udplite4, reinterpret_cast<const sockaddr*>(&a), sizeof a)) die("bind");
    facts["inode.udplite4"] = inode_of(udplite4);
  }
  int raw4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  int raw6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  if (raw4 < 0 || raw6 < 0) die("raw socket");

  facts["inode.tcp4_listen"] = inode_of(tcp4_listen);
  facts["inode.tcp6_v6only"] = inode_of(tcp6_v6only);
  facts["inode.tcp6_dual"] = inode_of(tcp6_dual);
  facts["inode.udp4"] = inode_of(udp4);
  facts["inode.udp6_v6only"] = inode_of(udp6_v6only);
  facts["inode.est_client"] = inode_of(est_client);
  facts["inode.est_server"] = inode_of(est_server);
  facts["inode.pending_listen"] = inode_of(pending_listen);
  facts["inode.pending_client"] = inode_of(pending_client);
  facts["inode.udp_dev"] = inode_of(udp_dev);
  facts["inode.udp_nobody"] = inode_of(udp_nobody);
  facts["inode.udp_connected"] = inode_of(udp_connected);
  facts["inode.raw4"] = inode_of(raw4);
  facts["inode.raw6"] = inode_of(raw6);
  facts["ifindex.lo"] = if_nametoindex("lo");

  struct Dump {
    const char* name;
    uint8_t protocol;
    uint8_t family;
    portrel::Proto proto;
  };
  const Dump dumps[] = {
      {"tcp4", IPPROTO_TCP, AF_INET, portrel::Proto::tcp},
      {"tcp6", IPPROTO_TCP, AF_INET6, portrel::Proto::tcp},
      {"udp4", IPPROTO_UDP, AF_INET, portrel::Proto::udp},
      {"udp6", IPPROTO_UDP, AF_INET6, portrel::Proto::udp},
      {"udplite4", IPPROTO_UDPLITE, AF_INET, portrel::Proto::udplite},
      {"raw4", IPPROTO_RAW, AF_INET, portrel::Proto::raw},
      {"raw6", IPPROTO_RAW, AF_INET6, portrel::Proto::raw},
      // No diag handler exists for protocol 253 (reserved for experiments).
      {"noproto4", 253, AF_INET, portrel::Proto::tcp},
  };
  for (const Dump& d : dumps) {
    std::vector<char> bytes = dump(d.protocol, d.family, d.proto);
    std::ofstream(out + "/diag_" + d.name + ".bin", std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::printf("%s: %zu bytes\n", d.name, bytes.size());
  }
  std::ofstream expected(out + "/diag_expected.txt");
  expected << "# written by tools/record_diag.cc with the dumps beside it\n";
  for (const auto& [key, value] : facts) expected << key << ' ' << value << '\n';
  return 0;
}
