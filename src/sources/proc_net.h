// The /proc/net socket tables (raw, raw6, icmp, icmp6, …): the kernel's text
// listing of a protocol's sockets in the reading thread's network namespace.
// portrel reads them where sock_diag has no handler: ping sockets (no diag
// exists) and RAW sockets on kernels built without raw_diag. They carry no
// socket options and no cookie; the inode ties a row to its holders.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "portrel/error.h"
#include "portrel/model.h"

namespace portrel {

/// The rows of one /proc/net table of PROTO and FAMILY (4 or 6) as Sockets in
/// namespace NETNS. For RAW the port is the IP protocol number (also in
/// raw_protocol); for ICMP ping sockets, the ping identifier. A line that is
/// not a socket row is an error naming its number: the text is the kernel's,
/// so a bad line means a format portrel does not know.
Result<std::vector<Socket>> parse_proc_net(std::string_view text, Proto proto, uint8_t family,
                                           uint64_t netns);

/// Reads /proc/thread-self/net/NAME (NAME6 for v6) of the calling thread's
/// namespace: "raw", "icmp". A missing file (the protocol not built in, or
/// IPv6 off) yields no rows.
Result<std::vector<Socket>> read_proc_net(Proto proto, uint8_t family, uint64_t netns);

}  // namespace portrel
