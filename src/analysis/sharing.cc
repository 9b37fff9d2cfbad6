// The sharing classifier. Each kind is a predicate over the sockets of one
// (netns, port) group; the kinds are independent, so a port can carry several
// (nginx: one socket inherited by its workers, and IPv4 beside IPv6).
#include "analysis/sharing.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <tuple>

namespace portrel {
namespace {

constexpr std::array kKinds = {SharingKind::inherited,  SharingKind::reuseport,
                               SharingKind::addresses,  SharingKind::dual_stack,
                               SharingKind::protocols,  SharingKind::connections};

// Which sockets of a group a kind involves, by their position in the group.
using Involved = std::vector<char>;

// Adds KIND with the sockets of INVOLVED (in group order).
void add(PortGroup& group, SharingKind kind, const Involved& involved) {
  Sharing sharing{kind, {}};
  for (size_t i = 0; i < group.sockets.size(); ++i) {
    if (!involved[i]) continue;
    sharing.sockets.push_back(group.sockets[i]);
    group.kind_bits[group.sockets[i]] |= 1u << static_cast<unsigned>(kind);
  }
  if (!sharing.sockets.empty()) group.sharing.push_back(std::move(sharing));
}

// Whether more than one process holds S (holders come sorted by pid).
bool held_by_several(const Snapshot& snap, const Socket& s) {
  auto holders = snap.holders(s);
  for (size_t i = 1; i < holders.size(); ++i) {
    if (holders[i].pid != holders[0].pid) return true;
  }
  return false;
}

void classify(const Snapshot& snap, PortGroup& g) {
  const size_t n = g.sockets.size();
  g.kind_bits.reserve(n);
  std::vector<size_t> listening;
  for (size_t i = 0; i < n; ++i) {
    if (g.sockets[i]->is_listening()) listening.push_back(i);
  }

  Involved inherited(n, 0);
  for (size_t i = 0; i < n; ++i) inherited[i] = held_by_several(snap, *g.sockets[i]);
  add(g, SharingKind::inherited, inherited);

  // Distinct sockets on one (proto, address, device): only SO_REUSEPORT (or, for
  // UDP, SO_REUSEADDR) lets them coexist.
  auto place = [&](size_t i) {
    const Socket* s = g.sockets[i];
    return std::tie(s->proto, s->local_addr, s->bound_dev);
  };
  std::vector<size_t> by_place = listening;
  std::ranges::stable_sort(by_place, [&](size_t a, size_t b) { return place(a) < place(b); });
  Involved reuseport(n, 0);
  for (size_t a = 0, b = 0; a < by_place.size(); a = b) {
    while (b < by_place.size() && place(by_place[b]) == place(by_place[a])) ++b;
    if (b - a > 1) {
      for (size_t k = a; k < b; ++k) reuseport[by_place[k]] = 1;
    }
  }
  add(g, SharingKind::reuseport, reuseport);

  std::map<std::pair<Proto, uint8_t>, std::set<Address>> addresses_of;
  std::map<Proto, std::set<uint8_t>> families_of;
  std::set<Proto> protos;
  for (size_t i : listening) {
    const Socket* s = g.sockets[i];
    addresses_of[{s->proto, s->family}].insert(s->local_addr);
    families_of[s->proto].insert(s->family);
    protos.insert(s->proto);
  }
  Involved addresses(n, 0), dual_stack(n, 0), protocols(n, 0), connections(n, 0);
  for (size_t i : listening) {
    const Socket* s = g.sockets[i];
    addresses[i] = addresses_of[{s->proto, s->family}].size() > 1;
    dual_stack[i] = families_of[s->proto].size() > 1;
    protocols[i] = protos.size() > 1;
  }
  add(g, SharingKind::addresses, addresses);
  add(g, SharingKind::dual_stack, dual_stack);
  add(g, SharingKind::protocols, protocols);

  // Connected sockets beside a listener of their protocol: accepted connections
  // (TCP), or connected UDP sockets on a server's port (QUIC-style).
  std::set<Proto> connected;
  for (size_t i = 0; i < n; ++i) {
    const Socket* s = g.sockets[i];
    if (s->is_listening() || !protos.contains(s->proto)) continue;
    connections[i] = 1;
    connected.insert(s->proto);
  }
  for (size_t i : listening) {
    if (connected.contains(g.sockets[i]->proto)) connections[i] = 1;
  }
  add(g, SharingKind::connections, connections);
}

}  // namespace

std::string_view sharing_kind_name(SharingKind kind) {
  switch (kind) {
    case SharingKind::inherited: return "inherited";
    case SharingKind::reuseport: return "reuseport";
    case SharingKind::addresses: return "addresses";
    case SharingKind::dual_stack: return "dual-stack";
    case SharingKind::protocols: return "protocols";
    case SharingKind::connections: return "connections";
  }
  return "?";
}

std::span<const SharingKind> sharing_kinds() { return kKinds; }

const Sharing* PortGroup::find(SharingKind kind) const {
  for (const Sharing& s : sharing) {
    if (s.kind == kind) return &s;
  }
  return nullptr;
}

std::vector<SharingKind> PortGroup::kinds() const {
  std::vector<SharingKind> out;
  for (const Sharing& s : sharing) out.push_back(s.kind);
  return out;
}

std::vector<SharingKind> PortGroup::kinds_of(std::span<const Socket* const> subset) const {
  uint32_t bits = 0;
  for (const Socket* x : subset) {
    if (auto it = kind_bits.find(x); it != kind_bits.end()) bits |= it->second;
  }
  std::vector<SharingKind> out;
  for (const Sharing& s : sharing) {
    if (bits & (1u << static_cast<unsigned>(s.kind))) out.push_back(s.kind);
  }
  return out;
}

std::vector<PortGroup> port_groups(const Snapshot& snap,
                                   std::span<const Socket* const> sockets) {
  std::vector<const Socket*> sorted;
  sorted.reserve(sockets.size());
  for (const Socket* s : sockets) {
    if (s->local_port != 0 && proto_info(s->proto).port_meaning == "port") sorted.push_back(s);
  }
  // Stable: a group keeps the order of SOCKETS.
  std::ranges::stable_sort(sorted, {}, [](const Socket* s) {
    return std::pair(s->netns, s->local_port);
  });
  std::vector<PortGroup> out;
  for (size_t i = 0, j = 0; i < sorted.size(); i = j) {
    PortGroup g;
    g.netns = sorted[i]->netns;
    g.port = sorted[i]->local_port;
    while (j < sorted.size() && sorted[j]->netns == g.netns && sorted[j]->local_port == g.port) {
      g.sockets.push_back(sorted[j++]);
    }
    for (const Socket* s : g.sockets) {
      for (const Holding& h : snap.holders(*s)) g.pids.push_back(h.pid);
    }
    std::ranges::sort(g.pids);
    g.pids.erase(std::ranges::unique(g.pids).begin(), g.pids.end());
    // Most ports have one socket (a client's ephemeral port): only inheritance
    // can apply, and the pids just gathered decide it.
    if (g.sockets.size() == 1) {
      if (g.pids.size() > 1) add(g, SharingKind::inherited, Involved{1});
    } else {
      classify(snap, g);
    }
    out.push_back(std::move(g));
  }
  return out;
}

bool is_ancestor(const Snapshot& snap, pid_t ancestor, pid_t pid) {
  const Process* p = snap.process(pid);
  // The depth bound guards against a ppid cycle in a torn snapshot.
  for (int depth = 0; p != nullptr && depth < 4096; ++depth) {
    if (p->ppid == ancestor) return true;
    if (p->ppid <= 0 || p->ppid == p->pid) return false;
    p = snap.process(p->ppid);
  }
  return false;
}

std::vector<pid_t> holder_roots(const Snapshot& snap, uint64_t inode) {
  std::set<pid_t> pids;
  for (const Holding& h : snap.holders(inode)) pids.insert(h.pid);
  std::vector<pid_t> roots;
  for (pid_t pid : pids) {
    bool has_holder_ancestor = false;
    const Process* p = snap.process(pid);
    for (int depth = 0; p != nullptr && depth < 4096 && !has_holder_ancestor; ++depth) {
      if (p->ppid <= 0 || p->ppid == p->pid) break;
      has_holder_ancestor = pids.contains(p->ppid);
      p = snap.process(p->ppid);
    }
    if (!has_holder_ancestor) roots.push_back(pid);
  }
  return roots;
}

}  // namespace portrel
