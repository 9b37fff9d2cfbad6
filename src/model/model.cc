// Value types of the relation: protocol and state names, and the Address type
// that knows v4 from v6 and prints itself canonically (inet_ntop, RFC 5952).
#include "portrel/model.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace portrel {

namespace {

constexpr ProtoInfo kProtocols[] = {
    {Proto::tcp, "tcp", IPPROTO_TCP, true, true, "-t,--tcp", "TCP sockets", "port", "TCP",
     "TCPv6", ""},
    {Proto::udp, "udp", IPPROTO_UDP, false, true, "-u,--udp", "UDP and UDPLite sockets", "port",
     "UDP", "UDPv6", ""},
    {Proto::udplite, "udplite", IPPROTO_UDPLITE, false, true, "-u,--udp",
     "UDP and UDPLite sockets", "port", "UDP-Lite", "UDPLITEv6", ""},
    {Proto::raw, "raw", IPPROTO_RAW, false, false, "-w,--raw",
     "RAW sockets (the IP protocol number as their port)", "IP protocol", "RAW", "RAWv6", ""},
    {Proto::icmp, "icmp", IPPROTO_ICMP, false, false, "--icmp",
     "ICMP ping sockets (the ping identifier as their port)", "ping identifier", "PING",
     "PINGv6", ""},
    {Proto::mptcp, "mptcp", 262 /* IPPROTO_MPTCP */, true, true, "--mptcp",
     "MPTCP sockets (their TCP subflows folded in)", "port", "MPTCP", "MPTCPv6",
     "/proc/sys/net/mptcp"},
    {Proto::vsock, "vsock", 0, true, true, "--vsock",
     "vsock sockets (a CID as their address, 32-bit ports)", "port", "", "",
     "/sys/module/vsock"},
    {Proto::sctp, "sctp", IPPROTO_SCTP, true, true, "--sctp",
     "SCTP sockets (one row per socket, not per association)", "port", "SCTP", "SCTPv6",
     "/proc/net/sctp"},
    {Proto::dccp, "dccp", IPPROTO_DCCP, true, true, "--dccp", "DCCP sockets", "port", "DCCP",
     "DCCPv6", "/sys/module/dccp"},
};
static_assert(std::size(kProtocols) == kProtoCount);

}  // namespace

std::span<const ProtoInfo> protocols() { return kProtocols; }

const ProtoInfo& proto_info(Proto proto) {
  return kProtocols[static_cast<size_t>(proto) < std::size(kProtocols)
                        ? static_cast<size_t>(proto)
                        : 0];
}

std::string_view proto_name(Proto proto) {
  if (static_cast<size_t>(proto) >= std::size(kProtocols)) return "?";
  return proto_info(proto).name;
}

std::optional<Proto> parse_proto(std::string_view name) {
  for (const ProtoInfo& p : kProtocols) {
    if (p.name == name) return p.proto;
  }
  return std::nullopt;
}

Address Address::v4(uint32_t network_order) {
  Address a;
  a.family = 4;
  std::memcpy(a.bytes.data(), &network_order, 4);
  return a;
}

Address Address::vsock(uint32_t cid) {
  Address a;
  a.family = kFamilyVsock;
  std::memcpy(a.bytes.data(), &cid, 4);
  return a;
}

uint32_t Address::vsock_cid() const {
  uint32_t cid;
  std::memcpy(&cid, bytes.data(), 4);
  return cid;
}

Address Address::v6(const std::array<uint8_t, 16>& bytes) {
  Address a;
  a.family = 6;
  a.bytes = bytes;
  return a;
}

std::optional<Address> Address::parse(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  Address a;
  if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) {
    a.family = 4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
    a.family = 6;
    return a;
  }
  return std::nullopt;
}

bool Address::is_wildcard() const {
  if (family == kFamilyVsock) return vsock_cid() == kVsockCidAny;
  size_t n = family == 4 ? 4 : 16;
  for (size_t i = 0; i < n; ++i) {
    if (bytes[i] != 0) return false;
  }
  return family != 0;
}

bool Address::is_loopback() const {
  if (family == 4) return bytes[0] == 127;
  if (family == kFamilyVsock) return vsock_cid() == kVsockCidLocal;
  if (family != 6) return false;
  static constexpr uint8_t kLoop6[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                         0, 0, 0, 0, 0, 0, 0, 1};
  if (std::memcmp(bytes.data(), kLoop6, 16) == 0) return true;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(bytes.data(), kMapped, 12) == 0 && bytes[12] == 127;
}

std::string Address::to_string() const {
  TextBuffer buf;
  return std::string(format(buf));
}

std::string_view Address::format(TextBuffer& buf) const {
  static_assert(std::tuple_size_v<TextBuffer> == INET6_ADDRSTRLEN);
  if (family == 0) return "";
  if (family == kFamilyVsock) {
    if (is_wildcard()) return "*";
    return {buf.data(), std::to_chars(buf.data(), buf.data() + buf.size(), vsock_cid()).ptr};
  }
  if (family == 4) {  // as inet_ntop writes it, without its sprintf
    char* out = buf.data();
    for (int i = 0; i < 4; ++i) {
      if (i > 0) *out++ = '.';
      out = std::to_chars(out, buf.data() + buf.size(), bytes[i]).ptr;
    }
    return {buf.data(), out};
  }
  if (!inet_ntop(AF_INET6, bytes.data(), buf.data(), buf.size())) {
    return "?";
  }
  return buf.data();
}

std::string_view tristate_name(Tristate value) {
  switch (value) {
    case Tristate::yes:
      return "true";
    case Tristate::no:
      return "false";
    case Tristate::unknown:
      break;
  }
  return "unknown";
}

std::string_view opt_source_name(OptSource source) {
  switch (source) {
    case OptSource::none: return "none";
    case OptSource::inferred: return "inferred";
    case OptSource::diag: return "sock_diag";
    case OptSource::probe: return "getsockopt";
    case OptSource::bpf: return "bpf";
  }
  return "none";
}

std::string_view state_name(Proto proto, uint8_t state) {
  static constexpr std::string_view kNames[] = {
      "UNKNOWN",   "ESTABLISHED", "SYN_SENT",     "SYN_RECV",      "FIN_WAIT1",
      "FIN_WAIT2", "TIME_WAIT",   "CLOSE",        "CLOSE_WAIT",    "LAST_ACK",
      "LISTEN",    "CLOSING",     "NEW_SYN_RECV", "BOUND_INACTIVE"};
  if (!proto_info(proto).connections && state == kStateClose) return "UNCONN";
  // DCCP's own states come after TCP's last, whose number grew in 6.8
  // (TCP_BOUND_INACTIVE, which no DCCP socket has): PARTOPEN is 13 before
  // and 14 after, PASSIVE_CLOSEREQ 14 before (a moment of a close: shown as
  // PARTOPEN there) and 15 after.
  if (proto == Proto::dccp && state >= 13) return state <= 14 ? "PARTOPEN" : "PASSIVE_CLOSEREQ";
  if (state < std::size(kNames)) return kNames[state];
  return "UNKNOWN";
}

bool Socket::is_listening() const {
  if (proto_info(proto).connections) return state == kStateListen;
  return state == kStateClose;
}

}  // namespace portrel
