// Parsing what users type for a port: "8080", "tcp/8080", "udp/53",
// "127.0.0.1:8080", "[::1]:8080", "[::ffff:127.0.0.1]:8080", "localhost:8080"
// (names from /etc/hosts only: portrel never asks DNS), "http", "udp/domain",
// "vsock/2024", "vsock/3:1024" (a CID and a 32-bit port).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "portrel/error.h"
#include "portrel/model.h"

namespace portrel {

struct PortSpec {
  std::optional<Proto> proto;  ///< only this protocol, when given
  /// Only sockets that would receive for one of these (a host name may have
  /// several); empty: any address.
  std::vector<Address> addresses;
  uint32_t port = 0;  ///< 16 bits for IP protocols, 32 for vsock

  /// True when a socket on that port would serve this spec: same protocol (if
  /// given) and, if addresses were given, bound to one of them or to a
  /// wildcard that covers it. A v4-mapped address (::ffff:a.b.c.d) is the
  /// IPv4 address it maps, on either side.
  bool matches(const Socket& socket) const;
};

/// Parses a port specification, host names looked up in HOSTS (the text of an
/// /etc/hosts file); the error names what was wrong in one line.
Result<PortSpec> parse_port_spec(std::string_view text, std::string_view hosts);
/// The same, with the host's /etc/hosts.
Result<PortSpec> parse_port_spec(std::string_view text);

/// "[tcp|udp|udplite] SPEC" as a command's arguments ARGS (one or two words):
/// the port spec, with the protocol word when given; a RAW protocol is an
/// error. COMMAND names the command in the messages.
Result<PortSpec> parse_proto_and_port(const std::vector<std::string>& args,
                                      std::string_view command);

/// The addresses NAME has in HOSTS (/etc/hosts text), in the file's order.
std::vector<Address> hosts_addresses(std::string_view hosts, std::string_view name);

}  // namespace portrel
