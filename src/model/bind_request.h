// What a bind() is asked with and where it happens: the socket that would be
// bound (BindRequest), the namespace's sysctls and addresses and the running
// kernel's variants of the rules (BindEnvironment, KernelBindRules). Plain data,
// filled by the readers in sources/ and judged by analysis/bind_rules.h.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "portrel/model.h"

namespace portrel {

/// The socket that would be bound, with everything the kernel looks at.
struct BindRequest {
  Proto proto = Proto::tcp;  ///< tcp, udp or udplite
  uint8_t family = 4;        ///< of the socket: 4 (AF_INET) or 6 (AF_INET6)
  /// Family 4: an IPv4 address. Family 6: an IPv6 address, possibly v4-mapped
  /// (::ffff:a.b.c.d), which binds the IPv4 address through a v6 socket.
  Address address;
  uint16_t port = 0;  ///< 0: the kernel picks one from the ephemeral range
  bool reuseaddr = false;
  bool reuseport = false;
  bool v6only = false;          ///< IPV6_V6ONLY; ignored for family 4
  uid_t uid = 0;                ///< fsuid when the socket is created
  bool can_bind_service = true; ///< holds CAP_NET_BIND_SERVICE
  uint32_t bound_dev = 0;       ///< SO_BINDTODEVICE ifindex, 0 for none
};

/// An address configured on an interface of the namespace.
struct LocalAddress {
  Address address;
  uint8_t prefix_len = 0;
  uint32_t ifindex = 0;
  bool loopback = false;  ///< on an IFF_LOOPBACK interface (127/8 is all local)
  std::optional<Address> broadcast;
};

/// How udp_lib_lport_inuse() treats an overlapping socket it may share the port
/// with (SO_REUSEPORT on both, same uid). Upstream sources from late 4.x to 6.18
/// stop at it; 4.5 checked every socket, and so does one 6.18.44 build. The
/// version string does not say which rule a build follows (two 6.18.44 builds
/// differ): only a bind performed on the kernel tells, see
/// probe_kernel_bind_rules() in sources/.
enum class UdpReuseportRule : uint8_t {
  unknown,      ///< not probed: a verdict the two rules disagree on is uncertain
  first_match,  ///< the walk of the port's chain (newest first) stops at the first
                ///< overlapping socket; sharing with that one is enough
  every_match,  ///< every overlapping socket must share the port with the bind
};
std::string_view udp_reuseport_rule_name(UdpReuseportRule rule);  ///< "first_match", …

/// Where the kernels portrel runs on differ in their bind checks: properties of
/// the running kernel's build, not of a namespace, found by binds performed on
/// it (probe_kernel_bind_rules() in sources/). What is not known makes a verdict
/// that depends on it "uncertain", naming it.
struct KernelBindRules {
  UdpReuseportRule udp_reuseport = UdpReuseportRule::unknown;
  /// TCP: a v6 socket bound to ::ffff:0.0.0.0 keeps a v6 socket from binding a
  /// v4-mapped address (::ffff:a.b.c.d) on its port. 6.1's bhash2 search for
  /// the wildcard misses it (no); with a socket on 0.0.0.0 beside it, that
  /// search finds both or neither, by the order of their buckets, which a
  /// snapshot does not show: such a verdict is uncertain (measured: the
  /// kernel matrix). 5.10 (no bhash2) and 6.12 and later find it (yes).
  Tristate tcp_mapped_any_found = Tristate::unknown;
  /// TCP: the first socket bound to a free port sets the port's shortcut from
  /// its own options (inet_csk_update_fastreuse() on an empty owners list: 5.10,
  /// 6.1): with SO_REUSEPORT, FASTREUSEPORT_ANY for its uid, which lets every
  /// later SO_REUSEPORT bind of that uid through unchecked. Later kernels link
  /// the socket first, so a port starts with no shortcut (no).
  Tristate tcp_first_bind_sets_shortcut = Tristate::unknown;
};

/// What the namespace's sysctls and interfaces, and the kernel, add to the rules.
struct BindEnvironment {
  uint16_t port_low = 32768;  ///< net.ipv4.ip_local_port_range
  uint16_t port_high = 60999;
  std::vector<std::pair<uint16_t, uint16_t>> reserved;  ///< ip_local_reserved_ports
  uint32_t unprivileged_port_start = 1024;  ///< net.ipv4.ip_unprivileged_port_start
  bool nonlocal_bind4 = false;  ///< net.ipv4.ip_nonlocal_bind
  bool nonlocal_bind6 = false;  ///< net.ipv6.ip_nonlocal_bind
  bool addresses_known = false; ///< false: the address check is skipped
  std::vector<LocalAddress> addresses;
  /// Properties of the running kernel, not of the namespace.
  KernelBindRules kernel;

  bool is_reserved(uint16_t port) const;
};

}  // namespace portrel
