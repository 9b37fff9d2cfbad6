// Port forwards from the kernel's nftables rules. Each rule is a small register
// program: loads (payload, meta, immediate), comparisons, and a statement.
// Forwarding rules load the destination port and compare it, then either
// `nat` (native nftables: DNAT with the address and port in registers) or an
// xtables target (iptables-nft: DNAT or REDIRECT with struct nf_nat_range*
// as bytes). The interpreter follows exactly that much; a rule it cannot read
// whole (a port from a set, an address from a map) is counted, not guessed.
// The attributes are read with libmnl, by hand: libnftnl trusts its input so
// far that it calls exit() on a value it does not expect.
#include "sources/port_forwards.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/rtnetlink.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>

#include "sources/netns.h"
#include "util/text.h"

namespace portrel {

bool PortForward::matches(Proto p, uint16_t port,
                          const std::optional<Address>& addr) const {
  if (p != proto || port < port_lo || port > port_hi) return false;
  if (!address || !addr || addr->is_wildcard()) return true;
  return *address == *addr;
}

uint16_t PortForward::to_port(uint16_t port) const {
  if (to_port_lo == 0) return port;
  if (to_port_hi > to_port_lo && port >= port_lo) {
    return static_cast<uint16_t>(std::min<uint32_t>(to_port_lo + (port - port_lo), to_port_hi));
  }
  return to_port_lo;
}

namespace {

// What a register holds, as far as the interpreter follows it.
struct Reg {
  enum class Kind : uint8_t { unknown, payload, meta, data } kind = Kind::unknown;
  uint32_t base = 0, offset = 0, len = 0;  // payload
  uint32_t key = 0;                        // meta
  std::vector<uint8_t> data;               // immediate
};

// A 16-byte register N (1..4) and the 4-byte registers that overlay it share
// one index space: the kernel's nft_parse_register.
uint32_t reg_index(uint32_t reg) {
  return reg <= NFT_REG_4 ? reg * 4 : reg - NFT_REG32_00 + 4;
}

struct RuleState {
  uint32_t nfproto = 0;  // NFPROTO_IPV4 / IPV6; from the table or a meta match
  std::map<uint32_t, Reg> regs;
  std::optional<uint8_t> l4proto;
  std::optional<std::pair<uint16_t, uint16_t>> dport;
  std::optional<Address> daddr;
  bool port_unreadable = false;  // the port comes from a set, or is negated
  bool forwards = false;         // a DNAT or REDIRECT statement
  bool target_unreadable = false;
  PortForward out;
};

bool is_dport(const Reg& r) {
  return r.kind == Reg::Kind::payload && r.base == NFT_PAYLOAD_TRANSPORT_HEADER &&
         r.offset == 2 && r.len == 2;
}

bool is_daddr(const RuleState& st, const Reg& r) {
  if (r.kind != Reg::Kind::payload || r.base != NFT_PAYLOAD_NETWORK_HEADER) return false;
  return (st.nfproto == NFPROTO_IPV4 && r.offset == 16 && r.len == 4) ||
         (st.nfproto == NFPROTO_IPV6 && r.offset == 24 && r.len == 16);
}

bool is_l4proto(const RuleState& st, const Reg& r) {
  if (r.kind == Reg::Kind::meta) return r.key == NFT_META_L4PROTO;
  return r.kind == Reg::Kind::payload && r.base == NFT_PAYLOAD_NETWORK_HEADER &&
         ((st.nfproto == NFPROTO_IPV4 && r.offset == 9 && r.len == 1) ||
          (st.nfproto == NFPROTO_IPV6 && r.offset == 6 && r.len == 1));
}

// One expression of a rule: its name and the attributes of its data.
struct Expr {
  std::string_view name;
  std::array<const nlattr*, 16> attrs{};

  bool has(uint16_t type) const { return type < attrs.size() && attrs[type] != nullptr; }
  uint32_t u32(uint16_t type) const {
    if (!has(type) || mnl_attr_get_payload_len(attrs[type]) < 4) return 0;
    return ntohl(mnl_attr_get_u32(attrs[type]));
  }
  std::span<const uint8_t> raw(uint16_t type) const {
    if (!has(type)) return {};
    return {static_cast<const uint8_t*>(mnl_attr_get_payload(attrs[type])),
            mnl_attr_get_payload_len(attrs[type])};
  }
  std::string_view str(uint16_t type) const {
    auto b = raw(type);
    std::string_view text(reinterpret_cast<const char*>(b.data()), b.size());
    return text.substr(0, text.find('\0'));
  }
  std::span<const uint8_t> value(uint16_t type) const;  // NFTA_DATA_VALUE inside
};

// Calls EACH for the attributes in BYTES (a nest's payload, or what follows a
// message's nfgenmsg).
template <typename F>
void each_attr(std::span<const uint8_t> bytes, F each) {
  const auto* a = reinterpret_cast<const nlattr*>(bytes.data());
  int len = static_cast<int>(std::min<size_t>(bytes.size(), INT32_MAX));
  while (mnl_attr_ok(a, len)) {
    each(a);
    len -= static_cast<int>(MNL_ALIGN(a->nla_len));
    a = mnl_attr_next(a);
  }
}

std::span<const uint8_t> payload(const nlattr* a) {
  return {static_cast<const uint8_t*>(mnl_attr_get_payload(a)), mnl_attr_get_payload_len(a)};
}

std::span<const uint8_t> Expr::value(uint16_t type) const {
  std::span<const uint8_t> out;
  if (has(type)) {
    each_attr(raw(type), [&](const nlattr* a) {
      if (mnl_attr_get_type(a) == NFTA_DATA_VALUE) out = payload(a);
    });
  }
  return out;
}

uint16_t be16(std::span<const uint8_t> b) {
  return b.size() < 2 ? 0 : static_cast<uint16_t>(b[0] << 8 | b[1]);
}

std::optional<Address> address_of(uint32_t nfproto, std::span<const uint8_t> b) {
  if (nfproto == NFPROTO_IPV4 && b.size() >= 4) {
    uint32_t v;
    std::memcpy(&v, b.data(), 4);
    return Address::v4(v);
  }
  if (nfproto == NFPROTO_IPV6 && b.size() >= 16) {
    std::array<uint8_t, 16> a;
    std::memcpy(a.data(), b.data(), 16);
    return Address::v6(a);
  }
  return std::nullopt;
}

const Reg* reg_at(const RuleState& st, const Expr& e, uint16_t attr) {
  if (!e.has(attr)) return nullptr;
  auto it = st.regs.find(reg_index(e.u32(attr)));
  return it == st.regs.end() ? nullptr : &it->second;
}

void on_cmp(RuleState& st, const Expr& e) {
  const Reg* r = reg_at(st, e, NFTA_CMP_SREG);
  if (r == nullptr) return;
  bool eq = e.u32(NFTA_CMP_OP) == NFT_CMP_EQ;
  auto data = e.value(NFTA_CMP_DATA);
  if (is_dport(*r)) {
    // A range is two comparisons when iptables-nft writes it: >= lo, <= hi.
    uint16_t port = be16(data);
    switch (e.u32(NFTA_CMP_OP)) {
      case NFT_CMP_EQ: st.dport = {port, port}; break;
      case NFT_CMP_GTE: st.dport = {port, st.dport ? st.dport->second : 0xffff}; break;
      case NFT_CMP_LTE: st.dport = {st.dport ? st.dport->first : 0, port}; break;
      default: st.port_unreadable = true; break;
    }
  } else if (is_daddr(st, *r)) {
    if (eq) st.daddr = address_of(st.nfproto, data);
  } else if (is_l4proto(st, *r)) {
    if (eq && !data.empty()) st.l4proto = data[0];
  } else if (r->kind == Reg::Kind::meta && r->key == NFT_META_NFPROTO && eq &&
             !data.empty()) {
    st.nfproto = data[0];
  }
}

// The xtables targets iptables-nft puts in a rule: the struct the kernel's
// xt_nat takes, by revision.
void on_xt_target(RuleState& st, const Expr& e) {
  std::string_view name = e.str(NFTA_TARGET_NAME);
  bool dnat = name == "DNAT", redirect = name == "REDIRECT";
  if (!dnat && !redirect) return;
  st.forwards = true;
  st.out.xtables = true;
  st.out.redirect = redirect;
  auto info = e.raw(NFTA_TARGET_INFO);
  uint32_t rev = e.u32(NFTA_TARGET_REV);
  unsigned flags = 0;
  std::span<const uint8_t> min_addr, min_port, max_port;
  if (rev == 0 && info.size() >= sizeof(nf_nat_ipv4_multi_range_compat)) {
    nf_nat_ipv4_multi_range_compat c;
    std::memcpy(&c, info.data(), sizeof c);
    flags = c.range[0].flags;
    size_t at = offsetof(nf_nat_ipv4_multi_range_compat, range);
    min_addr = info.subspan(at + offsetof(nf_nat_ipv4_range, min_ip), 4);
    min_port = info.subspan(at + offsetof(nf_nat_ipv4_range, min), 2);
    max_port = info.subspan(at + offsetof(nf_nat_ipv4_range, max), 2);
    st.nfproto = NFPROTO_IPV4;
  } else if ((rev == 1 || rev == 2) && info.size() >= sizeof(nf_nat_range)) {
    std::memcpy(&flags, info.data(), sizeof flags);
    min_addr = info.subspan(offsetof(nf_nat_range, min_addr), 16);
    min_port = info.subspan(offsetof(nf_nat_range, min_proto), 2);
    max_port = info.subspan(offsetof(nf_nat_range, max_proto), 2);
  } else {
    st.target_unreadable = true;
    return;
  }
  if (dnat) {
    if (!(flags & NF_NAT_RANGE_MAP_IPS)) {
      st.target_unreadable = true;
      return;
    }
    auto a = address_of(st.nfproto, min_addr);
    if (!a) {
      st.target_unreadable = true;
      return;
    }
    st.out.to_addr = *a;
  }
  if (flags & NF_NAT_RANGE_PROTO_SPECIFIED) {
    st.out.to_port_lo = be16(min_port);
    st.out.to_port_hi = be16(max_port);
  }
}

// The xtables matches "tcp" and "udp" (iptables-nft writes native payload
// matches for them today; older rule sets carry the xtables form).
void on_xt_match(RuleState& st, const Expr& e) {
  std::string_view name = e.str(NFTA_MATCH_NAME);
  auto info = e.raw(NFTA_MATCH_INFO);
  bool tcp = name == "tcp", udp = name == "udp";
  if ((!tcp || info.size() < sizeof(xt_tcp)) && (!udp || info.size() < sizeof(xt_udp))) {
    return;
  }
  uint16_t dpts[2];
  std::memcpy(dpts, info.data() + offsetof(xt_tcp, dpts), sizeof dpts);
  uint8_t inv = tcp ? info[offsetof(xt_tcp, invflags)] : info[offsetof(xt_udp, invflags)];
  st.l4proto = tcp ? IPPROTO_TCP : IPPROTO_UDP;
  if (inv & XT_TCP_INV_DSTPT) st.port_unreadable = true;  // same bit for udp
  else if (dpts[0] != 0 || dpts[1] != 0xffff) st.dport = {dpts[0], dpts[1]};
}

void on_nat(RuleState& st, const Expr& e, bool redirect) {
  if (!redirect && e.u32(NFTA_NAT_TYPE) != NFT_NAT_DNAT) return;
  st.forwards = true;
  st.out.redirect = redirect;
  uint16_t proto_min = redirect ? uint16_t{NFTA_REDIR_REG_PROTO_MIN}
                                : uint16_t{NFTA_NAT_REG_PROTO_MIN};
  uint16_t proto_max = redirect ? uint16_t{NFTA_REDIR_REG_PROTO_MAX}
                                : uint16_t{NFTA_NAT_REG_PROTO_MAX};
  if (!redirect) {
    const Reg* a = reg_at(st, e, NFTA_NAT_REG_ADDR_MIN);
    uint32_t family = e.has(NFTA_NAT_FAMILY)
                          ? e.u32(NFTA_NAT_FAMILY)
                          : st.nfproto;
    std::optional<Address> to;
    if (a != nullptr && a->kind == Reg::Kind::data) to = address_of(family, a->data);
    if (!to) {
      st.target_unreadable = true;  // from a map, or no address at all
      return;
    }
    st.out.to_addr = *to;
  }
  if (e.has(proto_min)) {
    const Reg* lo = reg_at(st, e, proto_min);
    if (lo == nullptr || lo->kind != Reg::Kind::data) {
      st.target_unreadable = true;
      return;
    }
    st.out.to_port_lo = st.out.to_port_hi = be16(lo->data);
    const Reg* hi = reg_at(st, e, proto_max);
    if (hi != nullptr && hi->kind == Reg::Kind::data) st.out.to_port_hi = be16(hi->data);
  }
}

void on_expr(RuleState& st, const Expr& e) {
  std::string_view n = e.name;
  auto load = [&](uint16_t dreg_attr) -> Reg* {
    if (!e.has(dreg_attr)) return nullptr;
    Reg& r = st.regs[reg_index(e.u32(dreg_attr))];
    r = Reg{};
    return &r;
  };
  if (n == "payload") {
    if (Reg* r = load(NFTA_PAYLOAD_DREG)) {
      r->kind = Reg::Kind::payload;
      r->base = e.u32(NFTA_PAYLOAD_BASE);
      r->offset = e.u32(NFTA_PAYLOAD_OFFSET);
      r->len = e.u32(NFTA_PAYLOAD_LEN);
    }
  } else if (n == "meta") {
    if (Reg* r = load(NFTA_META_DREG)) {
      r->kind = Reg::Kind::meta;
      r->key = e.u32(NFTA_META_KEY);
    }
  } else if (n == "immediate") {
    if (auto b = e.value(NFTA_IMMEDIATE_DATA); !b.empty()) {
      if (Reg* r = load(NFTA_IMMEDIATE_DREG)) {
        r->kind = Reg::Kind::data;
        r->data.assign(b.begin(), b.end());
      }
    }
  } else if (n == "cmp") {
    on_cmp(st, e);
  } else if (n == "range") {
    const Reg* r = reg_at(st, e, NFTA_RANGE_SREG);
    if (r != nullptr && is_dport(*r)) {
      if (e.u32(NFTA_RANGE_OP) != NFT_RANGE_EQ) st.port_unreadable = true;
      else st.dport = {be16(e.value(NFTA_RANGE_FROM_DATA)),
                       be16(e.value(NFTA_RANGE_TO_DATA))};
    }
  } else if (n == "lookup") {
    const Reg* r = reg_at(st, e, NFTA_LOOKUP_SREG);
    if (r != nullptr && is_dport(*r)) st.port_unreadable = true;
  } else if (n == "bitwise" || n == "byteorder") {
    load(n == "bitwise" ? uint16_t{NFTA_BITWISE_DREG}
                        : uint16_t{NFTA_BYTEORDER_DREG});
  } else if (n == "nat") {
    on_nat(st, e, false);
  } else if (n == "redir") {
    on_nat(st, e, true);
  } else if (n == "target") {
    on_xt_target(st, e);
  } else if (n == "match") {
    on_xt_match(st, e);
  }
}

std::string_view family_text(uint32_t family) {
  switch (family) {
    case NFPROTO_IPV4: return "ip";
    case NFPROTO_IPV6: return "ip6";
    case NFPROTO_INET: return "inet";
    case NFPROTO_BRIDGE: return "bridge";
    case NFPROTO_NETDEV: return "netdev";
    case NFPROTO_ARP: return "arp";
    default: return "?";
  }
}

struct DumpState {
  ForwardScan scan;
  bool malformed = false;
};

int on_rule(const nlmsghdr* nlh, void* data) {
  auto& d = *static_cast<DumpState*>(data);
  if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWRULE) return MNL_CB_OK;
  const auto* gen = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  uint32_t family = gen->nfgen_family;
  if (family != NFPROTO_IPV4 && family != NFPROTO_IPV6 && family != NFPROTO_INET) {
    return MNL_CB_OK;
  }
  RuleState st;
  st.nfproto = family == NFPROTO_INET ? 0 : family;  // inet: until a meta nfproto match
  PortForward where;
  auto* attrs = static_cast<const uint8_t*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
  auto* tail = static_cast<const uint8_t*>(mnl_nlmsg_get_payload_tail(nlh));
  each_attr({attrs, static_cast<size_t>(std::max<ptrdiff_t>(tail - attrs, 0))},
            [&](const nlattr* a) {
    Expr top;
    top.attrs[0] = a;
    switch (mnl_attr_get_type(a)) {
      case NFTA_RULE_TABLE: where.table = top.str(0); break;
      case NFTA_RULE_CHAIN: where.chain = top.str(0); break;
      case NFTA_RULE_HANDLE:
        if (mnl_attr_get_payload_len(a) >= 8) where.handle = be64toh(mnl_attr_get_u64(a));
        break;
      case NFTA_RULE_EXPRESSIONS:
        each_attr(payload(a), [&](const nlattr* elem) {
          if (mnl_attr_get_type(elem) != NFTA_LIST_ELEM) return;
          Expr e;
          each_attr(payload(elem), [&](const nlattr* part) {
            Expr named;
            named.attrs[0] = part;
            if (mnl_attr_get_type(part) == NFTA_EXPR_NAME) e.name = named.str(0);
            if (mnl_attr_get_type(part) != NFTA_EXPR_DATA) return;
            each_attr(payload(part), [&](const nlattr* field) {
              if (mnl_attr_get_type(field) < e.attrs.size()) {
                e.attrs[mnl_attr_get_type(field)] = field;
              }
            });
          });
          on_expr(st, e);
        });
        break;
    }
  });
  if (!st.forwards) return MNL_CB_OK;
  // A DNAT that matches no destination port maps whole addresses: not a port
  // forward.
  if (st.port_unreadable || st.target_unreadable) {
    ++d.scan.unread;
    return MNL_CB_OK;
  }
  if (!st.dport) return MNL_CB_OK;
  PortForward f = st.out;
  f.port_lo = st.dport->first;
  f.port_hi = std::max(st.dport->first, st.dport->second);
  f.address = st.daddr;
  f.family = family_text(family);
  f.table = where.table;
  f.chain = where.chain;
  f.handle = where.handle;
  if (!st.l4proto || *st.l4proto == IPPROTO_TCP) {
    f.proto = Proto::tcp;
    d.scan.forwards.push_back(f);
  }
  if (!st.l4proto || *st.l4proto == IPPROTO_UDP) {
    f.proto = Proto::udp;
    d.scan.forwards.push_back(f);
  }
  return MNL_CB_OK;
}

// Every datagram of a netlink dump, whole messages back to back, until
// NLMSG_DONE; an NLMSG_ERROR reply is the error.
Result<std::vector<std::byte>> netlink_dump(int bus, nlmsghdr* request, const char* what) {
  std::unique_ptr<mnl_socket, int (*)(mnl_socket*)> nl(mnl_socket_open2(bus, SOCK_CLOEXEC),
                                                       mnl_socket_close);
  if (!nl) return std::unexpected(system_error(std::string("open netlink for ") + what, errno));
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return std::unexpected(system_error(std::string("bind netlink for ") + what, errno));
  }
  if (mnl_socket_sendto(nl.get(), request, request->nlmsg_len) < 0) {
    return std::unexpected(system_error(what, errno));
  }
  std::vector<std::byte> out;
  std::vector<std::byte> buf(64 * 1024);  // larger than any dump datagram
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(system_error(what, errno));
    }
    if (n == 0) return std::unexpected(Error{std::string(what) + ": netlink socket closed"});
    int len = static_cast<int>(n);
    auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
    bool done = false;
    while (mnl_nlmsg_ok(nlh, len) && nlh->nlmsg_len <= static_cast<uint32_t>(len)) {
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) {
          return std::unexpected(Error{std::string(what) + ": malformed error reply"});
        }
        if (err->error != 0) {
          int e = err->error == INT32_MIN ? EIO : -err->error;
          return std::unexpected(system_error(what, e));
        }
        done = true;
        break;
      }
      if (nlh->nlmsg_type == NLMSG_DONE) {
        done = true;
        break;
      }
      nlh = mnl_nlmsg_next(nlh, &len);
    }
    size_t whole = static_cast<size_t>(n) - static_cast<size_t>(std::max(len, 0));
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<ptrdiff_t>(whole));
    if (done) return out;
  }
}

int on_address_attr(const nlattr* attr, void* data) {
  auto& attrs = *static_cast<std::array<const nlattr*, IFA_MAX + 1>*>(data);
  uint16_t type = mnl_attr_get_type(attr);
  if (type <= IFA_MAX) attrs[type] = attr;
  return MNL_CB_OK;
}

// Whether the legacy ip_tables (not nftables) has a nat table loaded.
bool legacy_nat_table() {
  for (const char* path : {"/proc/net/ip_tables_names", "/proc/net/ip6_tables_names"}) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      if (line == "nat") return true;
    }
  }
  return false;
}

}  // namespace

ForwardScan parse_forward_dump(std::span<const std::byte> bytes) {
  DumpState d;
  int len = static_cast<int>(std::min<size_t>(bytes.size(), INT32_MAX));
  auto* nlh = reinterpret_cast<const nlmsghdr*>(bytes.data());
  // Message by message, so that one bad message does not hide the rest.
  // mnl_nlmsg_ok compares lengths as int: one past INT_MAX would pass.
  while (mnl_nlmsg_ok(nlh, len) && nlh->nlmsg_len <= static_cast<uint32_t>(len)) {
    if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR) break;
    if (nlh->nlmsg_len >= MNL_NLMSG_HDRLEN + sizeof(nfgenmsg)) on_rule(nlh, &d);
    else d.malformed = true;
    nlh = mnl_nlmsg_next(nlh, &len);
  }
  if (len > 0 && !(len >= static_cast<int>(sizeof(nlmsghdr)) &&
                   (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR))) {
    d.malformed = true;
  }
  if (d.malformed) {
    d.scan.warnings.push_back("nftables rule dump: malformed message skipped");
  }
  return std::move(d.scan);
}

Result<ForwardScan> read_port_forwards() {
  alignas(nlmsghdr) char req[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(nfgenmsg))];
  nlmsghdr* nlh = mnl_nlmsg_put_header(req);
  nlh->nlmsg_type = NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETRULE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = 1;
  auto* gen = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  gen->nfgen_family = NFPROTO_UNSPEC;
  gen->version = NFNETLINK_V0;
  gen->res_id = 0;
  auto bytes = netlink_dump(NETLINK_NETFILTER, nlh, "nftables rule dump");
  if (!bytes) return std::unexpected(std::move(bytes.error()));
  ForwardScan scan = parse_forward_dump(*bytes);
  if (scan.unread > 0) {
    scan.warnings.push_back(plural(scan.unread, "DNAT rule", "DNAT rules") +
                            " not read whole (a port set or an address map)");
  }
  if (legacy_nat_table()) {
    scan.warnings.push_back(
        "legacy iptables (ip_tables) has a nat table; its rules are not read");
  }
  return scan;
}

std::vector<InterfaceAddress> interface_addresses(std::span<const NetnsHandle> namespaces,
                                                  std::vector<std::string>& warnings) {
  std::vector<std::vector<InterfaceAddress>> found(namespaces.size());
  std::vector<std::string> problems(namespaces.size());
  for_each_netns(namespaces, 2, [&](size_t i, Result<uint64_t> entered) {
    if (!entered) {
      problems[i] = entered.error().message;
      return;
    }
    alignas(nlmsghdr) char req[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(ifaddrmsg))] = {};
    nlmsghdr* nlh = mnl_nlmsg_put_header(req);
    nlh->nlmsg_type = RTM_GETADDR;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = 1;
    auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
    ifa->ifa_family = AF_UNSPEC;
    auto bytes = netlink_dump(NETLINK_ROUTE, nlh, "interface addresses");
    if (!bytes) {
      problems[i] = bytes.error().message;
      return;
    }
    int len = static_cast<int>(bytes->size());
    auto* m = reinterpret_cast<const nlmsghdr*>(bytes->data());
    for (; mnl_nlmsg_ok(m, len) && m->nlmsg_len <= static_cast<uint32_t>(len);
         m = mnl_nlmsg_next(m, &len)) {
      if (m->nlmsg_type != RTM_NEWADDR || m->nlmsg_len < mnl_nlmsg_size(sizeof(ifaddrmsg))) {
        continue;
      }
      const auto* a = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(m));
      std::array<const nlattr*, IFA_MAX + 1> attrs{};
      mnl_attr_parse(m, sizeof(ifaddrmsg), on_address_attr, &attrs);
      for (const nlattr* attr : {attrs[IFA_LOCAL], attrs[IFA_ADDRESS]}) {
        if (attr == nullptr) continue;
        auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(attr));
        std::optional<Address> addr =
            address_of(a->ifa_family == AF_INET6 ? NFPROTO_IPV6 : NFPROTO_IPV4,
                       {p, mnl_attr_get_payload_len(attr)});
        if (addr) found[i].push_back({*entered, *addr});
      }
    }
  });
  std::vector<InterfaceAddress> out;
  for (size_t i = 0; i < namespaces.size(); ++i) {
    if (!problems[i].empty()) {
      warnings.push_back("interface addresses of " + namespaces[i].path + ": " + problems[i]);
    }
    out.insert(out.end(), found[i].begin(), found[i].end());
  }
  return out;
}

}  // namespace portrel
