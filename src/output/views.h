// The human tables of the three queries: the listing (default view), `who PORT`
// and `of PID|NAME`. Each takes already-selected sockets and returns text.
#pragma once

#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "analysis/published.h"
#include "portrel/snapshot.h"

namespace portrel {

/// "0.0.0.0:80", "[::1]:53", "[::]:80%lo" (with a bound device).
std::string endpoint(const Address& address, uint32_t port, uint32_t bound_dev = 0);
/// A socket's local "ADDRESS%INTERFACE:PORT", the interface named as in the
/// socket's own namespace (its index when the name is unknown).
std::string local_endpoint(const Socket& socket);

/// Sockets grouped by (netns, proto, local address, port, state, peer); each
/// group on one line with its holders summarised. `show_state` adds the peer and
/// state columns (for --all).
/// With CONTAINERS (pid → workload label, for the holders that have one), a
/// CONTAINER column names them.
std::string listing_table(const Snapshot& snapshot,
                          std::span<const Socket* const> sockets, bool show_state,
                          bool color,
                          const std::unordered_map<pid_t, std::string>& containers = {});

/// The workload labels of the holders of SOCKETS that may run in a container
/// (may_be_in_container: no file is read for the others), their cgroup and
/// command line read from /proc when the capture did not. Empty on a host
/// without containers.
std::unordered_map<pid_t, std::string> container_labels(const Snapshot& snapshot,
                                                        std::span<const Socket* const> sockets);

/// One line per (socket, holder): every process holding each socket, with fd;
/// then, with EXPLAIN, a sentence on how each shared port is shared.
/// With PUBLISHED, a sentence for each forwarding rule that covers the port:
/// where it sends it and what listens there.
std::string who_table(const Snapshot& snapshot, std::span<const Socket* const> sockets,
                      bool color, bool explain = true,
                      std::span<const PublishedPort> published = {});

/// "published to podman container webx:80 by an nftables rule (ip nat CHAIN),
/// 127.0.0.1:18555 → 10.88.0.24:80, where busybox 11019 listens".
std::string published_sentence(const Snapshot& snapshot, const PublishedPort& published);

/// One line per holding of the given processes, with who else holds the socket.
std::string of_table(const Snapshot& snapshot, std::span<const pid_t> pids,
                     std::span<const Socket* const> sockets, bool color);

/// One line summarising sockets without a visible owner among these, or "" when
/// every socket has one: "3 sockets show no owner: 2 held by hidden processes…".
std::string unowned_warning(const Snapshot& snapshot,
                            std::span<const Socket* const> sockets);

}  // namespace portrel
