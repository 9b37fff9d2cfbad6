// Following a forwarding rule to what listens at its far end: the destination
// address names a namespace (the one with an interface holding it), the
// rule's port a socket there. Addresses are compared exactly; a v4 socket on
// a v6 wildcard that is not v6-only also receives v4 packets.
#include "analysis/published.h"

#include <algorithm>

namespace portrel {

namespace {

bool receives(const Socket& s, const Address& to) {
  if (!s.is_listening()) return false;
  if (s.local_addr == to) return true;
  if (!s.local_addr.is_wildcard()) return false;
  return s.family == to.family || (s.family == 6 && s.v6only != Tristate::yes);
}

}  // namespace

std::vector<PublishedPort> follow_forwards(const Snapshot& snapshot,
                                           std::span<const PortForward> forwards,
                                           std::span<const InterfaceAddress> addresses,
                                           uint64_t host, std::optional<Proto> proto,
                                           uint16_t port, const std::optional<Address>& address) {
  std::vector<PublishedPort> out;
  for (const PortForward& f : forwards) {
    if (proto && f.proto != *proto) continue;
    if (!f.matches(f.proto, port, address)) continue;
    PublishedPort p{f, port, f.to_port(port), std::nullopt, {}};
    if (f.redirect) {
      p.netns = host;
    } else {
      // The host's own addresses first: a rule may forward to a local port.
      auto owner = std::ranges::find_if(addresses, [&](const InterfaceAddress& a) {
        return a.netns == host && a.address == f.to_addr;
      });
      if (owner == addresses.end()) {
        owner = std::ranges::find_if(
            addresses, [&](const InterfaceAddress& a) { return a.address == f.to_addr; });
      }
      if (owner != addresses.end()) p.netns = owner->netns;
    }
    if (p.netns) {
      for (const Socket& s : snapshot.sockets()) {
        if (s.netns != *p.netns || s.proto != f.proto || s.local_port != p.to_port) continue;
        Address to = f.redirect ? s.local_addr : f.to_addr;
        if (receives(s, to)) p.listeners.push_back(&s);
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace portrel
