// Ports published by forwarding: a DNAT or REDIRECT rule sends packets for a
// host port to another address and port, usually a container's. Given the
// rules, the interface addresses of every namespace and a snapshot, each rule
// that covers the port asked about is followed to the namespace that owns its
// destination address and to the sockets listening there.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "portrel/snapshot.h"
#include "sources/port_forwards.h"

namespace portrel {

struct PublishedPort {
  PortForward rule;
  uint16_t port = 0;     ///< the host port asked about
  uint16_t to_port = 0;  ///< where the rule sends it
  /// The namespace whose interface holds the destination address (the host's
  /// for REDIRECT); nullopt when no namespace portrel read has it.
  std::optional<uint64_t> netns;
  /// Sockets of the snapshot in that namespace bound to to_port (their address
  /// the destination or a wildcard), listening (TCP) or bound (UDP).
  std::vector<const Socket*> listeners;
};

/// The rules of FORWARDS that send PROTO (both when none) packets for PORT
/// (to ADDRESS, when given) elsewhere, each followed through ADDRESSES to its
/// namespace and the listeners of SNAPSHOT there. HOST is the namespace the
/// rules were read in.
std::vector<PublishedPort> follow_forwards(const Snapshot& snapshot,
                                           std::span<const PortForward> forwards,
                                           std::span<const InterfaceAddress> addresses,
                                           uint64_t host, std::optional<Proto> proto,
                                           uint16_t port, const std::optional<Address>& address);

}  // namespace portrel
