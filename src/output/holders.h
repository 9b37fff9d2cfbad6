// Compact description of who holds a socket or a group of sockets: a master and
// its forked workers collapse into one phrase ("nginx 1201 + 1,000 children").
#pragma once

#include <string>
#include <vector>

#include "portrel/snapshot.h"

namespace portrel {

/// Summarises the holders of one or more sockets into one line. Within one
/// socket, a holder whose parent chain reaches another holder counts as that
/// holder's child (an inherited socket); holders of different sockets are never
/// each other's children (SO_REUSEPORT siblings stay apart). Many unrelated
/// holders with one name become "comm ×N (pids …)". Names are sanitised.
std::string summarize_socket_holders(const Snapshot& snapshot,
                                     const std::vector<std::vector<pid_t>>& per_socket);

/// The same for a single socket's holders (duplicates allowed).
std::string summarize_holders(const Snapshot& snapshot, std::vector<pid_t> pids);

}  // namespace portrel
