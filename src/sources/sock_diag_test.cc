// Tests of the sock_diag parsers: replays of dumps that tools/record_diag.cc
// recorded from sockets it made itself (ports 40001-40014 in a private namespace)
// and damaged copies of them. Live dumps are in sock_diag_live_test.cc.
#include "sources/sock_diag.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/vm_sockets_diag.h>
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
  EXPECT_EQ(listener->local_addr, Address::parse("127.0.0.1"));
  EXPECT_EQ(listener->tx_queue, 16u);  // a listener's wqueue is its backlog
  EXPECT_EQ(listener->rx_queue, 0u);
  EXPECT_EQ(listener->uid, 0u);
  EXPECT_EQ(listener->v6only, Tristate::unknown);  // meaningless for v4
  EXPECT_EQ(listener->v6only_from, OptSource::none);
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
  EXPECT_EQ(client->remote_addr, Address::parse("127.0.0.1"));

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
  EXPECT_EQ(only6->local_addr, Address::parse("::"));
  EXPECT_EQ(only6->v6only, Tristate::yes);
  EXPECT_EQ(only6->v6only_from, OptSource::diag);
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
  EXPECT_EQ(bound->local_addr, Address::parse("0.0.0.0"));
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
  EXPECT_EQ(rows6[0].local_addr, Address::parse("::1"));
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

// Found by fuzz/sock_diag_fuzz.cc: an errno of INT_MIN in NLMSG_ERROR or
// NLMSG_DONE (its negation overflows) is a malformed reply, not an errno.
TEST(ParseDiagDump, AnErrnoNoErrnoHasIsMalformed) {
  for (uint16_t type : {uint16_t(NLMSG_ERROR), uint16_t(NLMSG_DONE)}) {
    for (int32_t value : {INT32_MIN, -4096, 4096, INT32_MAX}) {
      alignas(nlmsghdr) char buf[64] = {};
      nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
      nlh->nlmsg_type = type;
      auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nlmsgerr)));
      err->error = value;
      std::vector<Socket> out;
      auto done = parse_diag_dump(std::as_bytes(std::span(buf, nlh->nlmsg_len)), Proto::tcp,
                                  kNetns, out);
      if (type == NLMSG_DONE && value > 0) continue;  // a DONE with a count: the end
      ASSERT_FALSE(done.has_value()) << type << " " << value;
      EXPECT_NE(done.error().message.find("malformed"), std::string::npos)
          << done.error().message;
    }
  }
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

// One vsock_diag reply message as the kernel builds it.
std::vector<std::byte> vsock_message(const vsock_diag_msg& msg) {
  std::vector<std::byte> bytes(NLMSG_LENGTH(sizeof msg));
  nlmsghdr nlh{};
  nlh.nlmsg_len = static_cast<uint32_t>(bytes.size());
  nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  std::memcpy(bytes.data(), &nlh, sizeof nlh);
  std::memcpy(bytes.data() + NLMSG_HDRLEN, &msg, sizeof msg);
  return bytes;
}

TEST(ParseDiagMsg, VsockListenerAndConnection) {
  vsock_diag_msg msg{};
  msg.vdiag_family = AF_VSOCK;
  msg.vdiag_type = SOCK_STREAM;
  msg.vdiag_state = kStateListen;
  msg.vdiag_src_cid = kVsockCidAny;
  msg.vdiag_src_port = 4000000000u;
  msg.vdiag_dst_cid = kVsockCidAny;
  msg.vdiag_dst_port = 0xFFFFFFFF;  // VMADDR_PORT_ANY: no peer
  msg.vdiag_ino = 4242;
  msg.vdiag_cookie[0] = 7;
  auto listener = parse_diag_msg(vsock_message(msg), Proto::vsock, 99);
  ASSERT_TRUE(listener) << listener.error().message;
  EXPECT_EQ(listener->proto, Proto::vsock);
  EXPECT_EQ(listener->family, kFamilyVsock);
  EXPECT_EQ(listener->local_addr.to_string(), "*");
  EXPECT_EQ(listener->local_port, 4000000000u);
  EXPECT_EQ(listener->remote_port, 0u);
  EXPECT_EQ(listener->inode, 4242u);
  EXPECT_EQ(listener->cookie, 7u);
  EXPECT_EQ(listener->netns, 99u);
  EXPECT_EQ(listener->uid, kUnknownUid) << "vsock_diag gives no uid";
  EXPECT_TRUE(listener->is_listening());

  msg.vdiag_state = kStateEstablished;
  msg.vdiag_src_cid = 1;
  msg.vdiag_dst_cid = 2;
  msg.vdiag_dst_port = 1024;
  auto connected = parse_diag_msg(vsock_message(msg), Proto::vsock, 99);
  ASSERT_TRUE(connected);
  EXPECT_TRUE(connected->local_addr.is_loopback()) << "CID 1 is the local host";
  EXPECT_EQ(connected->remote_addr.to_string(), "2");
  EXPECT_EQ(connected->remote_port, 1024u);
  EXPECT_FALSE(connected->is_listening());

  // Another family, and every truncation, are errors.
  msg.vdiag_family = AF_INET;
  EXPECT_FALSE(parse_diag_msg(vsock_message(msg), Proto::vsock, 99));
  msg.vdiag_family = AF_VSOCK;
  auto whole = vsock_message(msg);
  for (size_t n = 0; n < whole.size(); ++n) {
    std::vector<std::byte> cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(parse_diag_msg(cut, Proto::vsock, 99)) << n << " bytes";
  }
}

TEST(ParseDiagMsg, WrongTypeOrFamilyIsAnError) {
  auto buf = read_data("diag_tcp6.bin");
  uint32_t len = header_at(buf, 0)->nlmsg_len;
  auto one = std::vector<std::byte>(buf.begin(), buf.begin() + len);
  auto typed = one;
  header_at(typed, 0)->nlmsg_type = 0x20;
  EXPECT_FALSE(parse_diag_msg(typed, Proto::tcp, kNetns).has_value());
  // The older request type's replies (TCP of both families in one dump)
  // carry the same message.
  auto older = one;
  header_at(older, 0)->nlmsg_type = TCPDIAG_GETSOCK;
  auto same = parse_diag_msg(older, Proto::tcp, kNetns);
  ASSERT_TRUE(same.has_value()) << same.error().message;
  EXPECT_EQ(same->inode, parse_diag_msg(one, Proto::tcp, kNetns)->inode);
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

}  // namespace
}  // namespace portrel
