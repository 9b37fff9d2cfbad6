// The kernel's bind() rules, transcribed from net/ipv4/af_inet.c (__inet_bind),
// net/ipv6/af_inet6.c (__inet6_bind), net/ipv4/inet_connection_sock.c
// (inet_csk_get_port and its conflict helpers, 6.x with bhash2) and
// net/ipv4/udp.c (udp_lib_get_port). Each socket is first reduced to the fields
// of struct sock those functions read; the functions below keep the kernel's
// names and shape, over three-valued booleans so that an unknown option of an
// existing socket yields "unknown" instead of a guess. UDP has two variants of
// udp_lib_lport_inuse() (UdpReuseportRule): both are computed, and where the
// kernel's rule is not known and they disagree, the answer is "uncertain".
#include "analysis/bind_rules.h"

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>

#include "analysis/bind_precheck.h"

namespace portrel {
namespace {

// ---- three-valued logic -------------------------------------------------------
using T = Tristate;
constexpr T tri(bool b) { return b ? T::yes : T::no; }
constexpr T t_not(T a) {
  return a == T::unknown ? T::unknown : (a == T::yes ? T::no : T::yes);
}
constexpr T t_and(T a, T b) {
  if (a == T::no || b == T::no) return T::no;
  if (a == T::yes && b == T::yes) return T::yes;
  return T::unknown;
}
constexpr T t_or(T a, T b) { return t_not(t_and(t_not(a), t_not(b))); }
template <typename... R>
constexpr T t_and(T a, T b, R... rest) {
  return t_and(t_and(a, b), rest...);
}
template <typename... R>
constexpr T t_or(T a, T b, R... rest) {
  return t_or(t_or(a, b), rest...);
}

// ---- struct sock, as far as bind looks at it ------------------------------------
using In6 = std::array<uint8_t, 16>;
constexpr uint8_t kLoopback4Ipv6[4] = {127, 0, 0, 6};  // LOOPBACK4_IPV6

enum class AddrType { any, mapped, other };  // ipv6_addr_type(), reduced

AddrType ipv6_addr_type(const In6& a) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.data(), kMapped, 12) == 0) return AddrType::mapped;
  for (uint8_t b : a) {
    if (b != 0) return AddrType::other;
  }
  return AddrType::any;
}

struct Sk {
  uint8_t family = 4;     // sk_family
  uint32_t rcv_saddr = 0; // sk_rcv_saddr, compared only for == and == 0
  In6 v6_rcv_saddr{};     // sk_v6_rcv_saddr (family 6)
  T ipv6only = T::no;     // ipv6_only_sock()
  T reuse = T::no;        // sk_reuse
  T reuseport = T::no;    // sk_reuseport
  uint8_t state = kStateClose;
  uid_t uid = 0;              // sk_uid / sock_i_uid
  uint32_t bound_dev_if = 0;  // sk_bound_dev_if
};

uint32_t load4(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// __inet6_bind: a v6 socket's sk_rcv_saddr is the v4 part of a mapped address, 0
// for ::, and LOOPBACK4_IPV6 for any other IPv6 address.
void set_addresses(Sk& sk, uint8_t family, const Address& a) {
  sk.family = family;
  if (family == 4) {
    sk.rcv_saddr = load4(a.bytes.data());
    sk.v6_rcv_saddr = {};
    return;
  }
  sk.v6_rcv_saddr = a.bytes;
  switch (ipv6_addr_type(a.bytes)) {
    case AddrType::mapped:
      sk.rcv_saddr = load4(a.bytes.data() + 12);
      break;
    case AddrType::any:
      sk.rcv_saddr = 0;
      break;
    case AddrType::other:
      sk.rcv_saddr = load4(kLoopback4Ipv6);
      break;
  }
}

Sk sk_of(const BindRequest& r) {
  Sk sk;
  set_addresses(sk, r.family, r.address);
  // __inet6_bind sets sk_ipv6only on a socket bound to a plain IPv6 address.
  sk.ipv6only = tri(r.family == 6 && (r.v6only || ipv6_addr_type(r.address.bytes) ==
                                                      AddrType::other));
  sk.reuse = tri(r.reuseaddr);
  sk.reuseport = tri(r.reuseport);
  sk.uid = r.uid;
  sk.bound_dev_if = r.bound_dev;
  return sk;
}

Sk sk_of(const Socket& s) {
  Sk sk;
  set_addresses(sk, s.family, s.local_addr);
  sk.ipv6only = s.family == 6 ? s.v6only : T::no;
  sk.reuse = s.reuseaddr;
  sk.reuseport = s.reuseport;
  sk.state = s.state;
  sk.uid = s.uid;
  sk.bound_dev_if = s.bound_dev;
  return sk;
}

// ---- inet_rcv_saddr_equal() -------------------------------------------------------
// match_sk*_wildcard: whether 0.0.0.0 / :: of that side covers other addresses.
T ipv4_rcv_saddr_equal(uint32_t sk1_rcv_saddr, uint32_t sk2_rcv_saddr, T sk2_ipv6only,
                       bool match_sk1_wildcard, bool match_sk2_wildcard) {
  bool eq = sk1_rcv_saddr == sk2_rcv_saddr || (match_sk1_wildcard && !sk1_rcv_saddr) ||
            (match_sk2_wildcard && !sk2_rcv_saddr);
  return t_and(t_not(sk2_ipv6only), tri(eq));
}

T ipv6_rcv_saddr_equal(const Sk& sk, const Sk& sk2, bool match_sk1_wildcard,
                       bool match_sk2_wildcard) {
  AddrType addr_type = ipv6_addr_type(sk.v6_rcv_saddr);
  // inet6_rcv_saddr(sk2) is NULL for an AF_INET socket: treated as mapped.
  AddrType addr_type2 =
      sk2.family == 6 ? ipv6_addr_type(sk2.v6_rcv_saddr) : AddrType::mapped;
  if (addr_type == AddrType::mapped && addr_type2 == AddrType::mapped) {
    return ipv4_rcv_saddr_equal(sk.rcv_saddr, sk2.rcv_saddr, sk2.ipv6only,
                                match_sk1_wildcard, match_sk2_wildcard);
  }
  if (addr_type == AddrType::any && addr_type2 == AddrType::any) return T::yes;
  T equal = T::no;
  if (addr_type2 == AddrType::any && match_sk2_wildcard) {
    equal = t_or(equal, t_not(t_and(sk2.ipv6only, tri(addr_type == AddrType::mapped))));
  }
  if (addr_type == AddrType::any && match_sk1_wildcard) {
    equal = t_or(equal, t_not(t_and(sk.ipv6only, tri(addr_type2 == AddrType::mapped))));
  }
  if (sk2.family == 6 && sk.v6_rcv_saddr == sk2.v6_rcv_saddr) equal = T::yes;
  return equal;
}

T inet_rcv_saddr_equal(const Sk& sk, const Sk& sk2) {
  if (sk.family == 6) return ipv6_rcv_saddr_equal(sk, sk2, true, true);
  return ipv4_rcv_saddr_equal(sk.rcv_saddr, sk2.rcv_saddr, sk2.ipv6only, true, true);
}

bool bound_dev_compatible(const Sk& sk, const Sk& sk2) {
  return !sk.bound_dev_if || !sk2.bound_dev_if || sk.bound_dev_if == sk2.bound_dev_if;
}

// ---- TCP: inet_csk_get_port() -------------------------------------------------------
// inet_bind_conflict(), with reuseport_cb_ok true (a new socket is in no group).
T inet_bind_conflict(const Sk& sk, const Sk& sk2, bool relax, bool reuseport_ok) {
  if (!bound_dev_compatible(sk, sk2)) return T::no;
  T both_reuse = t_and(sk.reuse, sk2.reuse, tri(sk2.state != kStateListen));
  T reuseport_group = t_and(
      sk.reuseport, sk2.reuseport,
      tri(sk2.state == kStateTimeWait || sk.uid == sk2.uid));
  // if (both_reuse) return !relax || (!reuseport_ok && reuseport_group);
  // else return !reuseport_ok || !reuseport_group;
  T if_reuse = relax ? t_and(tri(!reuseport_ok), reuseport_group) : T::yes;
  T if_not = reuseport_ok ? t_not(reuseport_group) : T::yes;
  return t_or(t_and(both_reuse, if_reuse), t_and(t_not(both_reuse), if_not));
}

// inet_use_bhash2_on_bind(): a specific address is checked against its own
// bhash2 bucket and the wildcard ones, not the whole port.
bool inet_use_bhash2_on_bind(const Sk& sk) {
  if (sk.family == 6) {
    AddrType t = ipv6_addr_type(sk.v6_rcv_saddr);
    if (t == AddrType::any) return false;
    if (t != AddrType::mapped) return true;
  }
  return sk.rcv_saddr != 0;
}

// A bhash2 bucket keys on an IPv6 address; IPv4 sockets are stored v4-mapped.
In6 bucket_v6_addr(const Sk& sk) {
  if (sk.family == 6) return sk.v6_rcv_saddr;
  In6 a{};
  a[10] = a[11] = 0xff;
  std::memcpy(a.data() + 12, &sk.rcv_saddr, 4);
  return a;
}

// inet_bind2_bucket_addr_match(tb2 of sk2, sk)
bool bind2_bucket_addr_match(const Sk& sk2, const Sk& sk) {
  In6 tb = bucket_v6_addr(sk2);
  if (sk.family == 6) return tb == sk.v6_rcv_saddr;
  if (ipv6_addr_type(tb) != AddrType::mapped) return false;
  return sk2.rcv_saddr == sk.rcv_saddr;
}

// A v6 socket binding a v4-mapped address.
bool v6_mapped(const Sk& sk) {
  return sk.family == 6 && ipv6_addr_type(sk.v6_rcv_saddr) == AddrType::mapped;
}

// A v6 socket on ::ffff:0.0.0.0 and a v6 socket binding a v4-mapped address:
// the pair KernelBindRules::tcp_mapped_any_found is about.
bool mapped_any_pair(const Sk& sk2, const Sk& sk) {
  return v6_mapped(sk2) && sk2.rcv_saddr == 0 && v6_mapped(sk);
}

// Whether a v6 bind of a v4-mapped address (SK) finds the IPv4 wildcard
// sockets of the port (v4 0.0.0.0 and v6 ::ffff:0.0.0.0): yes where the kernel
// finds ::ffff:0.0.0.0. Where it does not (6.1), it still finds 0.0.0.0 when no
// ::ffff:0.0.0.0 socket is on the port, misses ::ffff:0.0.0.0 alone, and with
// both on the port finds both or neither, as the order of their bhash2 buckets
// has it (measured in the kernel matrix): that order is not known, so unknown.
T mapped_wildcards_found(const Sk& sk, std::span<const Sk> port, const KernelBindRules& kernel) {
  if (!v6_mapped(sk) || kernel.tcp_mapped_any_found == T::yes) return T::yes;
  bool mapped_any = false, v4_any = false;
  for (const Sk& sk2 : port) {
    mapped_any |= mapped_any_pair(sk2, sk);
    v4_any |= sk2.family == 4 && sk2.rcv_saddr == 0;
  }
  if (!mapped_any) return T::yes;
  if (kernel.tcp_mapped_any_found == T::unknown || v4_any) return T::unknown;
  return T::no;
}

// inet_bind2_bucket_match_addr_any(tb2 of sk2, sk); `mapped_found` answers
// for the IPv4 wildcards as mapped_wildcards_found() does.
T bind2_bucket_match_addr_any(const Sk& sk2, const Sk& sk, T mapped_found) {
  In6 tb = bucket_v6_addr(sk2);
  if (ipv6_addr_type(tb) == AddrType::any) return T::yes;
  if (ipv6_addr_type(tb) != AddrType::mapped) return T::no;
  if (sk.family == 6 && ipv6_addr_type(sk.v6_rcv_saddr) != AddrType::mapped) {
    return T::no;
  }
  if (sk2.rcv_saddr != 0) return T::no;
  return v6_mapped(sk) ? mapped_found : T::yes;
}

// __inet_bhash2_conflict(): a v6-only socket never conflicts with an IPv4 one.
T inet_bhash2_conflict(const Sk& sk, const Sk& sk2, bool relax, bool reuseport_ok) {
  bool sk_is_v4 = sk.family == 4 || ipv6_addr_type(sk.v6_rcv_saddr) == AddrType::mapped;
  return t_and(t_not(t_and(sk2.ipv6only, tri(sk_is_v4))),
               inet_bind_conflict(sk, sk2, relax, reuseport_ok));
}

// sk_reuseport_match(): the SO_REUSEPORT shortcut of inet_csk_get_port().
bool sk_reuseport_match(const TcpFastReuse& tb, const Sk& sk) {
  if (tb.fastreuseport <= 0 || sk.reuseport != T::yes || tb.fastuid != sk.uid) return false;
  if (tb.fastreuseport == TcpFastReuse::kAny) return true;
  Sk fast;
  set_addresses(fast, tb.family, tb.address);
  fast.ipv6only = tri(tb.ipv6only);
  if (tb.family == 6) return ipv6_rcv_saddr_equal(fast, sk, true, false) == T::yes;
  return ipv4_rcv_saddr_equal(fast.rcv_saddr, sk.rcv_saddr, sk.ipv6only, true, false) ==
         T::yes;
}

// Whether sk2, on the port, stops sk from binding it (inet_csk_bind_conflict
// plus inet_bhash2_addr_any_conflict). relax/reuseport_ok are true for an
// explicit port and false while searching the ephemeral range.
// `mapped_found`: mapped_wildcards_found() of the port.
T tcp_conflict(const Sk& sk, const Sk& sk2, bool relax, bool reuseport_ok, T mapped_found) {
  if (inet_use_bhash2_on_bind(sk)) {
    T found = t_or(bind2_bucket_match_addr_any(sk2, sk, mapped_found),
                   tri(bind2_bucket_addr_match(sk2, sk)));
    return t_and(found, inet_bhash2_conflict(sk, sk2, relax, reuseport_ok));
  }
  return t_and(inet_bind_conflict(sk, sk2, relax, reuseport_ok),
               inet_rcv_saddr_equal(sk, sk2));
}

// ---- UDP: udp_lib_lport_inuse() ------------------------------------------------------
// A socket "matches" when it overlaps and not both have SO_REUSEADDR; a match
// shares the port by SO_REUSEPORT and uid. Under first_match the first match in
// the hash chain (newest first) decides; under every_match each match must share.
T udp_match(const Sk& sk, const Sk& sk2) {
  if (!bound_dev_compatible(sk, sk2)) return T::no;
  return t_and(t_not(t_and(sk2.reuse, sk.reuse)), inet_rcv_saddr_equal(sk, sk2));
}

T udp_reuseport_ok(const Sk& sk, const Sk& sk2) {
  return t_and(sk2.reuseport, sk.reuseport, tri(sk.uid == sk2.uid));
}

// Whether sk2 alone keeps sk off the port: the every_match rule, and the rule of
// the ephemeral search (the bitmap walk never stops early, under either rule).
T udp_blocks(const Sk& sk, const Sk& sk2) {
  return t_and(udp_match(sk, sk2), t_not(udp_reuseport_ok(sk, sk2)));
}

// The outcomes a check can end in; `none`: no socket of the walk matched.
struct Outcomes {
  bool ok = false, fail = false, none = false;
};

Outcomes udp_walk(const Sk& sk, const std::vector<const Socket*>& chain) {
  Outcomes out;
  out.none = true;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    Sk sk2 = sk_of(**it);
    T m = udp_match(sk, sk2);
    if (m == T::no) continue;
    T ok = udp_reuseport_ok(sk, sk2);
    Outcomes here{ok != T::no, ok != T::yes, false};
    if (m == T::yes) {
      out = here;
    } else {
      out = {out.ok || here.ok, out.fail || here.fail, out.none};
    }
  }
  return out;
}

// ---- words --------------------------------------------------------------------------
std::string describe(const Socket& s) {
  std::string addr = s.local_addr.to_string();
  if (s.family == 6) addr = "[" + addr + "]";
  std::string text = std::string(state_name(s.proto, s.state)) + " " + addr + ":" +
                     std::to_string(s.local_port);
  if (s.inode) text += " (inode " + std::to_string(s.inode) + ")";
  return text;
}

std::string uid_clause(uid_t mine, uid_t theirs) {
  return "SO_REUSEPORT on both, but uid " + std::to_string(mine) + " is not its uid " +
         std::to_string(theirs);
}

std::string option_clause(const char* name, bool mine, T theirs) {
  if (!mine) return std::string("this bind has no ") + name;
  if (theirs == T::no) return std::string("it has no ") + name;
  if (theirs == T::unknown) return std::string("its ") + name + " is unknown";
  return "";
}

BindConflict tcp_blocker(const BindRequest& r, const Socket& s, T blocks,
                         const KernelBindRules& kernel) {
  Sk sk2 = sk_of(s);
  std::vector<std::string> parts;
  parts.push_back(describe(s) + " overlaps");
  bool listen = s.state == kStateListen;
  if (r.reuseaddr && s.reuseaddr != T::no && listen) {
    parts.push_back("SO_REUSEADDR never passes a LISTEN socket");
  } else if (auto c = option_clause("SO_REUSEADDR", r.reuseaddr, s.reuseaddr);
             !c.empty()) {
    parts.push_back(c);
  }
  if (auto c = option_clause("SO_REUSEPORT", r.reuseport, s.reuseport); !c.empty()) {
    parts.push_back(c);
  } else if (s.state != kStateTimeWait && s.uid != r.uid) {
    parts.push_back(uid_clause(r.uid, s.uid));
  }
  BindConflict c{&s, blocks, "", {}};
  for (size_t i = 0; i < parts.size(); ++i) c.rule += (i ? "; " : "") + parts[i];
  if (blocks == T::unknown) {
    if (s.reuseaddr == T::unknown && r.reuseaddr && !listen) {
      c.depends_on.push_back("SO_REUSEADDR of " + describe(s));
    }
    if (s.reuseport == T::unknown && r.reuseport) {
      c.depends_on.push_back("SO_REUSEPORT of " + describe(s));
    }
    if (sk2.ipv6only == T::unknown) c.depends_on.push_back("IPV6_V6ONLY of " + describe(s));
    if (kernel.tcp_mapped_any_found != T::yes && inet_use_bhash2_on_bind(sk_of(r)) &&
        v6_mapped(sk_of(r)) && sk2.rcv_saddr == 0) {
      c.depends_on.push_back(
          kernel.tcp_mapped_any_found == T::unknown
              ? "whether this kernel finds a v6 socket on ::ffff:0.0.0.0 when a v4-mapped "
                "address is bound (6.1's bhash2 does not; a probe bind tells)"
              : "the order of the port's ::ffff:0.0.0.0 and 0.0.0.0 buckets, which decides "
                "what this kernel's search for IPv4 wildcard sockets finds (6.1)");
    }
  }
  return c;
}

BindConflict udp_blocker(const BindRequest& r, const Socket& s, T blocks) {
  BindConflict c{&s, blocks, describe(s) + " overlaps", {}};
  if (auto t = option_clause("SO_REUSEADDR", r.reuseaddr, s.reuseaddr); !t.empty()) {
    c.rule += "; " + t;
  }
  if (auto t = option_clause("SO_REUSEPORT", r.reuseport, s.reuseport); !t.empty()) {
    c.rule += "; " + t;
  } else if (s.uid != r.uid) {
    c.rule += "; " + uid_clause(r.uid, s.uid);
  }
  if (blocks == T::unknown) {
    if (s.reuseaddr == T::unknown && r.reuseaddr) {
      c.depends_on.push_back("SO_REUSEADDR of " + describe(s));
    }
    if (s.reuseport == T::unknown && r.reuseport) {
      c.depends_on.push_back("SO_REUSEPORT of " + describe(s));
    }
    if (s.family == 6 && s.v6only == T::unknown) {
      c.depends_on.push_back("IPV6_V6ONLY of " + describe(s));
    }
  }
  return c;
}

std::vector<const Socket*> on_port(std::span<const Socket* const> table, Proto proto,
                                   uint16_t port) {
  std::vector<const Socket*> out;
  for (const Socket* s : table) {
    if (s->proto != proto || s->local_port != port) continue;
    // Request sockets (SYN_RECV) are not in the bind table.
    if (proto == Proto::tcp && (s->state == 3 || s->state == 12)) continue;
    out.push_back(s);
  }
  return out;
}

BindPrediction predict_tcp(const BindRequest& r, const std::vector<const Socket*>& sockets,
                           const KernelBindRules& kernel, const TcpFastReuse* fast) {
  Sk sk = sk_of(r);
  BindPrediction p;
  if (fast && !sockets.empty() &&
      ((fast->fastreuse > 0 && r.reuseaddr) || sk_reuseport_match(*fast, sk))) {
    p.reason = "the port's fastreuse shortcut lets it through without checking sockets";
    return p;
  }
  std::vector<Sk> port;
  for (const Socket* s : sockets) port.push_back(sk_of(*s));
  T mapped_found = mapped_wildcards_found(sk, port, kernel);
  for (const Socket* s : sockets) {
    T c = tcp_conflict(sk, sk_of(*s), true, true, mapped_found);
    if (c != T::no) p.conflicts.push_back(tcp_blocker(r, *s, c, kernel));
  }
  return p;
}

// sk_add_node_rcu(): a new socket goes to the head of the chain, except an IPv6
// one with SO_REUSEPORT, which goes to the tail.
std::vector<const Socket*> udp_chain(const std::vector<const Socket*>& bind_order) {
  std::vector<const Socket*> head, tail;
  for (const Socket* s : bind_order) {
    (s->family == 6 && s->reuseport == T::yes ? tail : head).push_back(s);
  }
  std::vector<const Socket*> chain(head.rbegin(), head.rend());
  chain.insert(chain.end(), tail.begin(), tail.end());
  return chain;
}

// The first_match rule over `sockets` in `order`.
Outcomes udp_first_match(const Sk& sk, const std::vector<const Socket*>& sockets,
                         TableOrder order) {
  bool chain_known = order == TableOrder::bind_order &&
                     std::ranges::none_of(sockets, [](const Socket* s) {
                       return s->family == 6 && s->reuseport == T::unknown;
                     });
  if (chain_known) return udp_walk(sk, udp_chain(sockets));
  // Each family's sockets in chain order (a sock_diag dump walks the chain);
  // how the two families interleave is not known.
  std::vector<const Socket*> v4, v6;
  for (const Socket* s : sockets) (s->family == 4 ? v4 : v6).push_back(s);
  if (order == TableOrder::bind_order) {
    v4 = udp_chain(v4);
    v6 = udp_chain(v6);
  }
  Outcomes a = udp_walk(sk, v4), b = udp_walk(sk, v6);
  return {a.ok || b.ok, a.fail || b.fail, a.none && b.none};
}

// The every_match rule: the order of `sockets` does not matter.
Outcomes udp_every_match(const Sk& sk, const std::vector<const Socket*>& sockets) {
  T blocked = T::no;
  for (const Socket* s : sockets) blocked = t_or(blocked, udp_blocks(sk, sk_of(*s)));
  return {blocked != T::yes, blocked != T::no, false};
}

bool may_succeed(const Outcomes& o) { return o.ok || o.none; }

BindPrediction predict_udp(const BindRequest& r,
                           const std::vector<const Socket*>& sockets, TableOrder order,
                           UdpReuseportRule rule) {
  Sk sk = sk_of(r);
  BindPrediction p;
  Outcomes first, every;
  if (rule != UdpReuseportRule::every_match) {
    first = udp_first_match(sk, sockets, order);
  }
  if (rule != UdpReuseportRule::first_match) every = udp_every_match(sk, sockets);
  Outcomes result = rule == UdpReuseportRule::every_match ? every : first;
  if (rule == UdpReuseportRule::unknown) {
    result = {first.ok || every.ok, first.fail || every.fail, first.none};
  }
  if (!result.fail) return p;
  bool order_decides =
      rule != UdpReuseportRule::every_match && first.fail && may_succeed(first);
  bool rule_decides =
      rule == UdpReuseportRule::unknown &&
      (first.fail != every.fail || may_succeed(first) != may_succeed(every));
  for (const Socket* s : sockets) {
    T blocks = udp_blocks(sk, sk_of(*s));
    if (blocks == T::no) continue;
    BindConflict c = udp_blocker(r, *s, blocks);
    if (may_succeed(result)) {
      c.blocks = T::unknown;
      if (order_decides) {
        c.depends_on.push_back(
            "which overlapping socket was bound last (the kernel stops at the newest)");
      }
      if (rule_decides) {
        c.depends_on.push_back(
            "whether this kernel stops at the first overlapping socket that shares the "
            "port or checks every one (kernel builds differ; a probe bind tells)");
      }
    }
    p.conflicts.push_back(std::move(c));
  }
  return p;
}

void settle(BindPrediction& p, const BindRequest& r) {
  bool yes = false, unknown = false;
  std::string first_unknown;  // what the first uncertain conflict depends on
  for (const BindConflict& c : p.conflicts) {
    yes |= c.blocks == T::yes;
    unknown |= c.blocks == T::unknown;
    if (c.blocks == T::unknown && first_unknown.empty() && !c.depends_on.empty()) {
      first_unknown = c.depends_on.front();
    }
  }
  std::string what = std::string(proto_name(r.proto)) + " port " + std::to_string(r.port);
  if (yes) {
    p.outcome = BindOutcome::fails;
    p.error = EADDRINUSE;
    p.reason = what + " is in use by an overlapping socket that does not share it";
  } else if (unknown) {
    p.outcome = BindOutcome::uncertain;
    p.error = EADDRINUSE;
    p.reason = first_unknown.empty()
                   ? "it depends on options of existing sockets that are not known"
                   : "it depends on " + first_unknown;
  } else {
    p.outcome = BindOutcome::succeeds;
  }
}

BindPrediction predict_ephemeral(const BindRequest& r, std::span<const Socket* const> table,
                                 const BindEnvironment& env, TableOrder) {
  BindPrediction p;
  Sk sk = sk_of(r);
  std::unordered_map<uint16_t, std::vector<const Socket*>> by_port;
  for (const Socket* s : table) {
    if (s->proto == r.proto) by_port[s->local_port].push_back(s);
  }
  size_t maybe = 0;
  for (uint32_t port = env.port_low; port <= env.port_high; ++port) {
    if (env.is_reserved(static_cast<uint16_t>(port))) continue;
    T blocked = T::no;
    auto here = by_port.find(static_cast<uint16_t>(port));
    if (here == by_port.end()) {
      ++p.free_ephemeral;
      continue;
    }
    std::vector<Sk> sks;
    for (const Socket* s : on_port(here->second, r.proto, static_cast<uint16_t>(port))) {
      sks.push_back(sk_of(*s));
    }
    T mapped_found = mapped_wildcards_found(sk, sks, env.kernel);
    for (const Sk& sk2 : sks) {
      T c = r.proto == Proto::tcp ? tcp_conflict(sk, sk2, false, false, mapped_found)
                                  : udp_blocks(sk, sk2);
      blocked = t_or(blocked, c);
    }
    if (blocked == T::no) ++p.free_ephemeral;
    if (blocked == T::unknown) ++maybe;
  }
  std::string range = std::to_string(env.port_low) + "-" + std::to_string(env.port_high);
  if (p.free_ephemeral > 0) {
    p.reason = std::to_string(p.free_ephemeral) + " ports of the ephemeral range " +
               range + " are free";
  } else if (maybe > 0) {
    p.outcome = BindOutcome::uncertain;
    p.error = EADDRINUSE;
    p.reason = "every port of " + range + " is taken, or may be by options not known";
  } else {
    p.outcome = BindOutcome::fails;
    p.error = EADDRINUSE;
    p.reason = "every port of the ephemeral range " + range + " is taken or reserved";
  }
  return p;
}

}  // namespace

std::string_view bind_outcome_name(BindOutcome outcome) {
  switch (outcome) {
    case BindOutcome::succeeds: return "succeeds";
    case BindOutcome::fails: return "fails";
    case BindOutcome::uncertain: return "uncertain";
  }
  return "uncertain";
}

// inet_csk_update_fastreuse(). On 5.10 and 6.1 a port's first socket meets an
// empty owners list and sets the shortcut from its own options:
// FASTREUSEPORT_ANY with SO_REUSEPORT, fastreuse from SO_REUSEADDR. Later
// kernels link the socket to the port first, so that branch is never taken:
// every bucket starts at 0 and SO_REUSEPORT sockets reset it to STRICT.
void update_fastreuse(TcpFastReuse& tb, const BindRequest& sk, bool listening,
                      bool first_bind_sets_shortcut) {
  bool reuse = sk.reuseaddr && !listening;
  bool first = !tb.owned;
  tb.owned = true;
  if (first && first_bind_sets_shortcut) {
    tb.fastreuse = reuse ? 1 : 0;
    tb.fastreuseport = sk.reuseport ? TcpFastReuse::kAny : 0;
    tb.fastuid = sk.uid;
    tb.family = sk.family;
    tb.address = sk.address;
    tb.ipv6only = sk.family == 6 && (sk.v6only || ipv6_addr_type(sk.address.bytes) ==
                                                      AddrType::other);
    return;
  }
  if (!reuse) tb.fastreuse = 0;
  if (!sk.reuseport) {
    tb.fastreuseport = 0;
  } else if (!sk_reuseport_match(tb, sk_of(sk))) {
    tb.fastreuseport = TcpFastReuse::kStrict;
    tb.fastuid = sk.uid;
    tb.family = sk.family;
    tb.address = sk.address;
    tb.ipv6only = sk.family == 6 && (sk.v6only || ipv6_addr_type(sk.address.bytes) ==
                                                      AddrType::other);
  }
}

Tristate addresses_overlap(const BindRequest& request, const Socket& existing) {
  return inet_rcv_saddr_equal(sk_of(request), sk_of(existing));
}

BindPrediction predict_bind(const BindRequest& r, std::span<const Socket* const> table,
                            const BindEnvironment& env, TableOrder order,
                            const TcpFastReuse* fast) {
  if (auto early = bind_precheck(r, env)) return *early;
  if (r.port == 0) return predict_ephemeral(r, table, env, order);
  std::vector<const Socket*> sockets = on_port(table, r.proto, r.port);
  BindPrediction p = r.proto == Proto::tcp
                         ? predict_tcp(r, sockets, env.kernel, fast)
                         : predict_udp(r, sockets, order, env.kernel.udp_reuseport);
  settle(p, r);
  if (p.outcome == BindOutcome::succeeds && p.reason.empty()) {
    bool overlaps = std::ranges::any_of(sockets, [&](const Socket* s) {
      return bound_dev_compatible(sk_of(r), sk_of(*s)) &&
             addresses_overlap(r, *s) != T::no;
    });
    p.reason = !overlaps
                   ? "no socket on " + std::string(proto_name(r.proto)) + " port " +
                         std::to_string(r.port) + " overlaps this address"
               : r.proto != Proto::tcp &&
                       env.kernel.udp_reuseport == UdpReuseportRule::first_match
                   ? "the first overlapping socket in the port's chain shares it "
                     "(SO_REUSEPORT, same uid)"
                   : "every overlapping socket shares the port with it";
  }
  if (r.proto == Proto::tcp && !fast && r.reuseport && p.outcome != BindOutcome::succeeds) {
    std::string uid = std::to_string(r.uid);
    p.notes.push_back(
        env.kernel.tcp_first_bind_sets_shortcut == T::no
            ? "the kernel skips these checks when the last SO_REUSEPORT socket to join "
              "this port had uid " + uid +
                  " and covered this address, even if it has closed since "
                  "(fastreuseport)"
            : "the kernel skips these checks when the port's first socket had "
              "SO_REUSEPORT and uid " + uid +
                  " and every socket to join since could share with it, or the last "
                  "SO_REUSEPORT socket to join had uid " + uid +
                  " and covered this address, even if they have closed since "
                  "(fastreuseport)");
  }
  if (r.proto != Proto::tcp && sockets.size() > 10 && inet_use_bhash2_on_bind(sk_of(r))) {
    p.notes.push_back(
        "with more than 10 sockets on the port the kernel checks only this address and "
        "the wildcard of its family (udp_lib_lport_inuse2)");
  }
  return p;
}

}  // namespace portrel
