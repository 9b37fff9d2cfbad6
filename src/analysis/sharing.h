// How a port comes to be shared. Sockets are grouped by (netns, port number), all
// protocols together, and each group is classified with every kind that applies:
// one socket inherited by several processes, SO_REUSEPORT siblings, different
// local addresses, IPv4 beside IPv6, TCP beside UDP, accepted connections beside
// their listener. Works on a Snapshot only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "portrel/snapshot.h"

namespace portrel {

enum class SharingKind : uint8_t {
  inherited,    ///< one socket, several processes (fork, dup, SCM_RIGHTS)
  reuseport,    ///< several sockets on one address and port (SO_REUSEPORT)
  addresses,    ///< sockets of one protocol and family on different local addresses
  dual_stack,   ///< an IPv4 and an IPv6 socket of one protocol
  protocols,    ///< several protocols (TCP and UDP) on one number
  connections,  ///< connected sockets on a listener's local port
};

/// "inherited", "reuseport", "addresses", "dual-stack", "protocols", "connections".
std::string_view sharing_kind_name(SharingKind kind);
/// Every kind, in the order above.
std::span<const SharingKind> sharing_kinds();

/// One kind found in a port group and the sockets it involves.
struct Sharing {
  SharingKind kind = SharingKind::inherited;
  std::vector<const Socket*> sockets;
};

/// The sockets of one (netns, port) with their holders and sharing kinds.
struct PortGroup {
  uint64_t netns = 0;
  uint32_t port = 0;
  std::vector<const Socket*> sockets;  ///< in the order given
  std::vector<pid_t> pids;             ///< distinct visible holders, sorted
  std::vector<Sharing> sharing;        ///< at most one entry per kind, in kind order
  /// For each socket of the group, a bit per kind (1 << kind) that involves it.
  std::unordered_map<const Socket*, uint32_t> kind_bits;

  /// Held by more than one process, or more than one socket.
  bool shared() const { return sockets.size() > 1 || pids.size() > 1; }
  const Sharing* find(SharingKind kind) const;
  /// Every kind of the group.
  std::vector<SharingKind> kinds() const;
  /// The kinds that involve at least one of SOCKETS.
  std::vector<SharingKind> kinds_of(std::span<const Socket* const> sockets) const;
};

/// Groups SOCKETS (pointers into SNAPSHOT) by (netns, port) and classifies each
/// group. Sockets without a port (RAW) form no group. Groups come sorted by
/// (netns, port); pointers stay valid as long as the snapshot.
std::vector<PortGroup> port_groups(const Snapshot& snapshot,
                                   std::span<const Socket* const> sockets);

/// The holders of a socket that did not get it from another holder: those with
/// no ancestor (by ppid) among its holders. A forked master and its workers give
/// the master alone. Sorted.
std::vector<pid_t> holder_roots(const Snapshot& snapshot, uint64_t inode);

/// Whether ANCESTOR is a proper ancestor of PID in the snapshot's process tree.
bool is_ancestor(const Snapshot& snapshot, pid_t ancestor, pid_t pid);

}  // namespace portrel
