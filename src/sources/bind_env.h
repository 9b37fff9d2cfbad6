// What a bind depends on besides the sockets: the namespace's ephemeral range,
// reserved ports, unprivileged port start, non-local bind switches and local
// addresses. Parsers take text; the reader reads the calling thread's netns.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "model/bind_request.h"
#include "portrel/error.h"

namespace portrel {

/// Parses ip_local_port_range ("32768\t60999\n").
Result<std::pair<uint16_t, uint16_t>> parse_port_range(std::string_view text);

/// Parses ip_local_reserved_ports ("", "8080", "1000-1005,8080\n").
Result<std::vector<std::pair<uint16_t, uint16_t>>> parse_reserved_ports(
    std::string_view text);

/// Reads /proc/sys/net/{ipv4,ipv6}/… and the interface addresses (getifaddrs) of
/// the network namespace the calling thread is in (sysctl files under /proc/sys/net
/// follow the opener's namespace). A sysctl that cannot be read keeps the
/// kernel's default; unreadable addresses leave addresses_known false.
Result<BindEnvironment> read_bind_environment();

}  // namespace portrel
