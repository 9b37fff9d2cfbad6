// Exact socket options read with getsockopt() on a duplicate of a holder's fd,
// taken with pidfd_open + pidfd_getfd and closed at once. It never reads from or
// writes to the socket, but it does reach into another process's fd table, so it
// runs only when asked (--probe-sockopts).
#pragma once

#include <string>
#include <vector>

#include "portrel/model.h"

namespace portrel {

/// For each socket with a holder, offers SO_REUSEADDR, SO_REUSEPORT and (IPv6)
/// IPV6_V6ONLY from the first holder whose fd can be duplicated and still names
/// that inode (the holder may exit or close it meanwhile: the next one is tried).
/// Sockets whose options came from a better source are skipped. Adds one warning when some sockets could not be probed.
void probe_socket_options(std::vector<Socket>& sockets,
                          std::vector<Holding> holdings,
                          std::vector<std::string>& warnings);

}  // namespace portrel
