// Tests of the sock_diag reader: replays of dumps that tools/record_diag.cc
// recorded from sockets it made itself (ports 40001-40014 in a private namespace),
// damaged copies of them, and live dumps of sockets this process opens, here and
// in a namespace of its own child.
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
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "sources/fake_socket_source.h"
#include "sources/netns.h"

namespace portrel {
namespace {

constexpr uint64_t kNetns = 4242;

std::vector<std::byte> read_data(const std::string& name) {
  std::ifstream in(std::string(PORTREL_TEST_DATA) + "/" + name, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), {});
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

// The facts of the recording run that only it could know (inodes, ifindex).
std::map<std::string, uint64_t> recorded_facts() {
  std::ifstream in(std::string(PORTREL_TEST_DATA) + "/diag_expected.txt");
  std::map<std::string, uint64_t> facts;
  std::string key;
  uint64_t value;
  while (in >> key) {
    if (key.starts_with("#")) {
      std::getline(in, key);
      continue;
    }
    in >> value;
    facts[key] = value;
  }
  return facts;
}

std::vector<Socket> parse_all(const std::string& name, Proto proto) {
  std::vector<Socket> out;
  auto done = parse_diag_dump(read_data(name), proto, kNetns, out);
  EXPECT_TRUE(done.has_value()) << name << ": " << done.error().message;
  if (done) {
    EXPECT_TRUE(*done) << name << " should end in NLMSG_DONE";
  }
  return out;
}

const Socket* find(const std::vector<Socket>& rows, uint16_t local_port,
                   uint16_t remote_port = 0) {
  for (const Socket& s : rows) {
    if (s.local_port == local_port && s.remote_port == remote_port) return &s;
  }
  return nullptr;
}

Address v4(const char* text) {
  Address a;
  a.family = 4;
  inet_pton(AF_INET, text, a.bytes.data());
  return a;
}

Address v6(const char* text) {
  Address a;
  a.family = 6;
  inet_pton(AF_INET6, text, a.bytes.data());
  return a;
}

// Offsets of each message in a dump, the terminating one included.
std::vector<size_t> message_offsets(const std::vector<std::byte>& buf) {
  std::vector<size_t> offsets;
  size_t off = 0;
  while (off + sizeof(nlmsghdr) <= buf.size()) {
    offsets.push_back(off);
    uint32_t len;
    std::memcpy(&len, buf.data() + off, sizeof len);
    off += MNL_ALIGN(len);
  }
  return offsets;
}

nlmsghdr* header_at(std::vector<std::byte>& buf, size_t off) {
  return reinterpret_cast<nlmsghdr*>(buf.data() + off);
}

TEST(ParseDiagDump, RecordedTcp4ListenersPairUnacceptedAndTimeWait) {
  auto facts = recorded_facts();
  auto rows = parse_all("diag_tcp4.bin", Proto::tcp);
  ASSERT_EQ(rows.size(), 7u);

  const Socket* listener = find(rows, 40001);
  ASSERT_NE(listener, nullptr);
  EXPECT_EQ(listener->inode, facts.at("inode.tcp4_listen"));
  EXPECT_EQ(listener->state, kStateListen);
  EXPECT_EQ(listener->family, 4);
  EXPECT_EQ(listener->proto, Proto::tcp);
  EXPECT_EQ(listener->netns, kNetns);
  EXPECT_EQ(listener->local_addr, v4("127.0.0.1"));
  EXPECT_EQ(listener->tx_queue, 16u);  // a listener's wqueue is its backlog
  EXPECT_EQ(listener->rx_queue, 0u);
  EXPECT_EQ(listener->uid, 0u);
  EXPECT_EQ(listener->v6only, Tristate::unknown);  // meaningless for v4
  EXPECT_EQ(listener->reuseaddr, Tristate::unknown);
  EXPECT_EQ(listener->reuseport, Tristate::unknown);

  const Socket* pending = find(rows, 40011);
  ASSERT_NE(pending, nullptr);
  EXPECT_EQ(pending->inode, facts.at("inode.pending_listen"));
  EXPECT_EQ(pending->rx_queue, 1u);  // one connection waits in accept()
  EXPECT_EQ(pending->tx_queue, 7u);

  const Socket* server = find(rows, 40001, 40006);
  const Socket* client = find(rows, 40006, 40001);
  ASSERT_NE(server, nullptr);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(server->inode, facts.at("inode.est_server"));
  EXPECT_EQ(client->inode, facts.at("inode.est_client"));
  EXPECT_EQ(server->state, kStateEstablished);
  EXPECT_EQ(client->remote_addr, v4("127.0.0.1"));

  const Socket* unaccepted = find(rows, 40011, 40012);
  ASSERT_NE(unaccepted, nullptr);
  EXPECT_EQ(unaccepted->inode, 0u);  // no file until accept()
  EXPECT_EQ(unaccepted->state, kStateEstablished);

  const Socket* time_wait = find(rows, 40007, 40008);
  ASSERT_NE(time_wait, nullptr);
  EXPECT_EQ(time_wait->state, kStateTimeWait);
  EXPECT_EQ(time_wait->inode, 0u);

  std::vector<uint64_t> cookies;
  for (const Socket& s : rows) cookies.push_back(s.cookie);
  std::ranges::sort(cookies);
  EXPECT_NE(cookies.front(), 0u);
  EXPECT_EQ(std::ranges::adjacent_find(cookies), cookies.end()) << "cookies are unique";
}

TEST(ParseDiagDump, RecordedTcp6CarriesV6only) {
  auto facts = recorded_facts();
  auto rows = parse_all("diag_tcp6.bin", Proto::tcp);
  ASSERT_EQ(rows.size(), 2u);
  const Socket* only6 = find(rows, 40002);
  const Socket* dual = find(rows, 40003);
  ASSERT_NE(only6, nullptr);
  ASSERT_NE(dual, nullptr);
  EXPECT_EQ(only6->inode, facts.at("inode.tcp6_v6only"));
  EXPECT_EQ(only6->family, 6);
  EXPECT_EQ(only6->local_addr, v6("::"));
  EXPECT_EQ(only6->v6only, Tristate::yes);
  EXPECT_EQ(dual->inode, facts.at("inode.tcp6_dual"));
  EXPECT_EQ(dual->v6only, Tristate::no);
}

TEST(ParseDiagDump, RecordedUdp) {
  auto facts = recorded_facts();
  auto rows = parse_all("diag_udp4.bin", Proto::udp);
  ASSERT_EQ(rows.size(), 4u);
  const Socket* bound = find(rows, 40004);
  ASSERT_NE(bound, nullptr);
  EXPECT_EQ(bound->inode, facts.at("inode.udp4"));
  EXPECT_EQ(bound->proto, Proto::udp);
  EXPECT_EQ(bound->state, kStateClose);
  EXPECT_EQ(bound->local_addr, v4("0.0.0.0"));
  EXPECT_GT(bound->rx_queue, 100u);  // one unread 100-byte datagram, plus overhead

  const Socket* dev = find(rows, 40009);
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(dev->bound_dev, facts.at("ifindex.lo"));
  EXPECT_EQ(bound->bound_dev, 0u);

  const Socket* nobody = find(rows, 40010);
  ASSERT_NE(nobody, nullptr);
  EXPECT_EQ(nobody->uid, 65534u);

  const Socket* connected = find(rows, 40014, 40004);
  ASSERT_NE(connected, nullptr);
  EXPECT_EQ(connected->inode, facts.at("inode.udp_connected"));
  EXPECT_EQ(connected->state, kStateEstablished);

  auto rows6 = parse_all("diag_udp6.bin", Proto::udp);
  ASSERT_EQ(rows6.size(), 1u);
  EXPECT_EQ(rows6[0].inode, facts.at("inode.udp6_v6only"));
  EXPECT_EQ(rows6[0].local_port, 40005);
  EXPECT_EQ(rows6[0].local_addr, v6("::1"));
  EXPECT_EQ(rows6[0].v6only, Tristate::yes);

  auto lite = parse_all("diag_udplite4.bin", Proto::udplite);
  ASSERT_EQ(lite.size(), 1u);
  EXPECT_EQ(lite[0].proto, Proto::udplite);
  EXPECT_EQ(lite[0].inode, facts.at("inode.udplite4"));
}

TEST(ParseDiagDump, MissingDiagModuleIsAnErrorWithItsErrno) {
  // Recorded replies whose NLMSG_DONE carries -ENOENT: no raw_diag in this
  // kernel, and no handler at all for protocol 253.
  for (const char* name : {"diag_raw4.bin", "diag_noproto4.bin"}) {
    std::vector<Socket> out;
    auto done = parse_diag_dump(read_data(name), Proto::raw, kNetns, out);
    ASSERT_FALSE(done.has_value()) << name;
    EXPECT_EQ(done.error().errno_value, ENOENT) << name;
    EXPECT_TRUE(out.empty());
  }
}

TEST(ParseDiagDump, EveryTruncationGivesAnErrorOrAPrefix) {
  auto full_buf = read_data("diag_tcp4.bin");
  auto full = parse_all("diag_tcp4.bin", Proto::tcp);
  auto offsets = message_offsets(full_buf);
  ASSERT_EQ(offsets.size(), full.size() + 1);  // + NLMSG_DONE
  size_t accepted = 0;
  for (size_t n = 0; n < full_buf.size(); ++n) {
    std::vector<Socket> out;
    auto done = parse_diag_dump(std::span(full_buf).first(n), Proto::tcp, kNetns, out);
    ASSERT_LE(out.size(), full.size()) << n;
    for (size_t i = 0; i < out.size(); ++i) {
      EXPECT_EQ(out[i].cookie, full[i].cookie) << n;
      EXPECT_EQ(out[i].local_port, full[i].local_port) << n;
    }
    if (!done) continue;
    ++accepted;
    EXPECT_FALSE(*done) << "a cut dump cannot be complete, n=" << n;
    EXPECT_NE(std::ranges::find(offsets, n), offsets.end())
        << "only a cut between messages parses, n=" << n;
  }
  EXPECT_EQ(accepted, offsets.size());  // every boundary, 0 included
}

TEST(ParseDiagMsg, EveryTruncationOfOneMessageIsAnError) {
  auto buf = read_data("diag_tcp6.bin");
  uint32_t len = header_at(buf, 0)->nlmsg_len;
  for (size_t n = 0; n < len; ++n) {
    EXPECT_FALSE(parse_diag_msg(std::span(buf).first(n), Proto::tcp, kNetns).has_value())
        << n;
  }
  auto whole = parse_diag_msg(std::span(buf).first(len), Proto::tcp, kNetns);
  ASSERT_TRUE(whole.has_value()) << whole.error().message;
  EXPECT_EQ(whole->family, 6);
}

TEST(ParseDiagDump, CorruptedNlmsgLenIsAnError) {
  auto original = read_data("diag_tcp4.bin");
  uint32_t len = header_at(original, 0)->nlmsg_len;
  for (uint32_t bad : {0u, 15u, 20u, len - 1, len + 4, len + 2, 0xFFFFu, 0xFFFFFFFFu}) {
    auto buf = original;
    header_at(buf, 0)->nlmsg_len = bad;
    std::vector<Socket> out;
    auto done = parse_diag_dump(buf, Proto::tcp, kNetns, out);
    EXPECT_FALSE(done.has_value()) << "nlmsg_len " << bad;
    EXPECT_TRUE(out.empty()) << "nlmsg_len " << bad;
  }
}

TEST(ParseDiagDump, NlmsgErrorAndAck) {
  alignas(nlmsghdr) char buf[64] = {};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = NLMSG_ERROR;
  auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nlmsgerr)));
  err->error = -EPERM;
  auto bytes = std::as_bytes(std::span(buf, nlh->nlmsg_len));
  std::vector<Socket> out;
  auto done = parse_diag_dump(bytes, Proto::tcp, kNetns, out);
  ASSERT_FALSE(done.has_value());
  EXPECT_EQ(done.error().errno_value, EPERM);

  err->error = 0;
  done = parse_diag_dump(bytes, Proto::tcp, kNetns, out);
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(*done);

  nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 2;  // too short for an nlmsgerr
  done = parse_diag_dump(std::as_bytes(std::span(buf, 20)), Proto::tcp, kNetns, out);
  EXPECT_FALSE(done.has_value());
  EXPECT_TRUE(out.empty());
}

// A message built from a recorded one, with `extra` attributes appended.
std::vector<std::byte> with_attrs(const std::string& file, void (*add)(nlmsghdr*)) {
  auto rec = read_data(file);
  alignas(nlmsghdr) static char buf[512];
  std::memset(buf, 0, sizeof buf);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  std::memcpy(nlh, rec.data(), sizeof(nlmsghdr));
  nlh->nlmsg_len = MNL_NLMSG_HDRLEN;
  void* msg = mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_msg));
  std::memcpy(msg, rec.data() + MNL_NLMSG_HDRLEN, sizeof(inet_diag_msg));
  add(nlh);
  auto bytes = std::as_bytes(std::span(buf, nlh->nlmsg_len));
  return {bytes.begin(), bytes.end()};
}

TEST(ParseDiagMsg, RawProtocolAttribute) {
  auto buf = with_attrs("diag_udp4.bin",
                        [](nlmsghdr* n) { mnl_attr_put_u8(n, INET_DIAG_PROTOCOL, 1); });
  auto raw = parse_diag_msg(buf, Proto::raw, kNetns);
  ASSERT_TRUE(raw.has_value()) << raw.error().message;
  EXPECT_EQ(raw->proto, Proto::raw);
  EXPECT_EQ(raw->raw_protocol, 1);
  auto udp = parse_diag_msg(buf, Proto::udp, kNetns);
  ASSERT_TRUE(udp.has_value());
  EXPECT_EQ(udp->raw_protocol, 0);
}

TEST(ParseDiagMsg, V6onlyOnAV4SocketStaysUnknown) {
  auto buf = with_attrs("diag_udp4.bin",
                        [](nlmsghdr* n) { mnl_attr_put_u8(n, INET_DIAG_SKV6ONLY, 1); });
  auto s = parse_diag_msg(buf, Proto::udp, kNetns);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->v6only, Tristate::unknown);
}

TEST(ParseDiagMsg, AttributeWithBadLengthIsAnError) {
  auto good = with_attrs("diag_tcp6.bin",
                         [](nlmsghdr* n) { mnl_attr_put_u8(n, INET_DIAG_SKV6ONLY, 1); });
  ASSERT_TRUE(parse_diag_msg(good, Proto::tcp, kNetns).has_value());
  const size_t attr_at = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(inet_diag_msg));
  for (uint16_t bad : {0, 2, 9, 64, 0xFFFF}) {
    auto buf = good;
    auto* attr = reinterpret_cast<nlattr*>(buf.data() + attr_at);
    attr->nla_len = bad;
    EXPECT_FALSE(parse_diag_msg(buf, Proto::tcp, kNetns).has_value()) << "nla_len " << bad;
  }
  auto empty = with_attrs("diag_tcp6.bin", [](nlmsghdr* n) {
    mnl_attr_put(n, INET_DIAG_SKV6ONLY, 0, nullptr);  // a u8 with no byte
  });
  EXPECT_FALSE(parse_diag_msg(empty, Proto::tcp, kNetns).has_value());
}

TEST(ParseDiagMsg, WrongTypeOrFamilyIsAnError) {
  auto buf = read_data("diag_tcp6.bin");
  uint32_t len = header_at(buf, 0)->nlmsg_len;
  auto one = std::vector<std::byte>(buf.begin(), buf.begin() + len);
  auto typed = one;
  header_at(typed, 0)->nlmsg_type = 0x20;
  EXPECT_FALSE(parse_diag_msg(typed, Proto::tcp, kNetns).has_value());
  auto fam = one;
  reinterpret_cast<inet_diag_msg*>(fam.data() + MNL_NLMSG_HDRLEN)->idiag_family = AF_UNIX;
  EXPECT_FALSE(parse_diag_msg(fam, Proto::tcp, kNetns).has_value());
}

TEST(ParseDiagDump, UnalignedBufferParsesTheSame) {
  auto buf = read_data("diag_udp4.bin");
  std::vector<std::byte> shifted(buf.size() + 1);
  std::memcpy(shifted.data() + 1, buf.data(), buf.size());
  std::vector<Socket> out;
  auto done = parse_diag_dump(std::span(shifted).subspan(1), Proto::udp, kNetns, out);
  ASSERT_TRUE(done.has_value()) << done.error().message;
  EXPECT_TRUE(*done);
  auto expected = parse_all("diag_udp4.bin", Proto::udp);
  ASSERT_EQ(out.size(), expected.size());
  for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].inode, expected[i].inode);
}

TEST(ParseDiagDump, DumpInterruptedKeepsRowsAndSaysSo) {
  auto buf = read_data("diag_tcp4.bin");
  header_at(buf, 0)->nlmsg_flags |= NLM_F_DUMP_INTR;
  std::vector<Socket> out;
  bool interrupted = false;
  auto done = parse_diag_dump(buf, Proto::tcp, kNetns, out, &interrupted);
  ASSERT_TRUE(done.has_value()) << done.error().message;
  EXPECT_TRUE(*done);
  EXPECT_TRUE(interrupted);
  EXPECT_EQ(out.size(), 7u);

  auto clean = read_data("diag_tcp4.bin");
  out.clear();
  ASSERT_TRUE(parse_diag_dump(clean, Proto::tcp, kNetns, out, &interrupted).has_value());
  EXPECT_FALSE(interrupted);
}

// ---- live: sockets this process opens -------------------------------------

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
  EXPECT_EQ(s4->local_addr, v4("127.0.0.1"));
  const Socket* s6 = find_inode(*rows, inode_of(l6.fd));
  ASSERT_NE(s6, nullptr);
  EXPECT_EQ(s6->local_port, port_of(l6.fd));
  EXPECT_EQ(s6->v6only, Tristate::yes);
  EXPECT_EQ(s6->local_addr, v6("::1"));
}

TEST(DumpCurrentNetns, ListeningOnlyDropsConnections) {
  Fd listener(tcp_listener_v4());
  Fd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port_of(listener.fd));
  ASSERT_EQ(connect(client.fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);

  auto ns = current_netns_inode();
  ASSERT_TRUE(ns.has_value());
  auto all = dump_current_netns(*ns, {});
  auto listening = dump_current_netns(*ns, {.listening_only = true});
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
  auto scan = fake.scan({{10, "/a", ""}, {20, "/b", ""}}, {.listening_only = true});
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
