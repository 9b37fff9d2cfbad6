// Parsing what users type for a port: "8080", "tcp/8080", "udp/53",
// "127.0.0.1:8080", "[::1]:8080", "http", "udp/domain".
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "portrel/error.h"
#include "portrel/model.h"

namespace portrel {

struct PortSpec {
  std::optional<Proto> proto;      ///< only this protocol, when given
  std::optional<Address> address;  ///< only sockets that would receive for it
  uint16_t port = 0;

  /// True when a socket on that port would serve this spec: same protocol (if
  /// given) and, if an address was given, bound to it or to a wildcard that
  /// covers it.
  bool matches(const Socket& socket) const;
};

/// Parses a port specification; the error names what was wrong in one line.
Result<PortSpec> parse_port_spec(std::string_view text);

}  // namespace portrel
