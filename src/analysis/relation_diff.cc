// diff_relation(): both snapshots indexed by socket identity, then one pass per
// kind of change, each in the snapshots' socket order (netns, proto, port).
#include "analysis/relation_diff.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

namespace portrel {
namespace {

bool tracked(const Snapshot& snap, const Socket& s, const DiffOptions& o) {
  return (!o.listening_only || s.is_listening()) && (!o.select || o.select(snap, s));
}

// A socket's identity: its inode, else (no file) its cookie.
uint64_t identity(const Socket& s) { return s.inode ? s.inode : s.cookie | (1ULL << 63); }

PortKey port_of(const Socket& s) { return {s.netns, s.proto, s.local_port}; }

struct Side {
  const Snapshot& snap;
  std::unordered_map<uint64_t, const Socket*> by_id;
  std::unordered_map<PortKey, int, PortKeyHash> per_port;
  std::vector<const Socket*> order;  // tracked sockets, in the snapshot's order

  Side(const Snapshot& s, const DiffOptions& o) : snap(s) {
    for (const Socket& sock : s.sockets()) {
      if (!tracked(s, sock, o)) continue;
      if (!by_id.emplace(identity(sock), &sock).second) continue;
      ++per_port[port_of(sock)];
      order.push_back(&sock);
    }
  }
  const Socket* find(const Socket& s) const {
    auto it = by_id.find(identity(s));
    return it == by_id.end() ? nullptr : it->second;
  }
  int on_port(const Socket& s) const {
    auto it = per_port.find(port_of(s));
    return it == per_port.end() ? 0 : it->second;
  }
  std::span<const Holding> holders(const Socket& s) const {
    return s.inode ? snap.holders(s.inode) : std::span<const Holding>{};
  }
};

// The same process in both: same pid and start time.
bool same_process(const Process* a, const Process* b) {
  return a != nullptr && b != nullptr && a->pid == b->pid && a->start_time == b->start_time;
}

// The same process, now running another program (its exe readable both times:
// a zombie has none).
bool ran_another(const Process& before, const Process& after) {
  return !after.exe.empty() && (before.comm != after.comm || before.exe != after.exe);
}

ChangeHolder holder_of(const Snapshot& snap, pid_t pid) {
  const Process* p = snap.process(pid);
  return {pid, p ? p->comm : "", p ? p->uid : 0};
}

std::vector<ChangeHolder> holders_of(const Side& side, const Socket& s) {
  std::vector<ChangeHolder> out;
  for (const Holding& h : side.holders(s)) {
    if (out.empty() || out.back().pid != h.pid) out.push_back(holder_of(side.snap, h.pid));
  }
  return out;
}

// Whether PID holds socket S in SIDE.
bool holds(const Side& side, const Socket& s, pid_t pid) {
  return std::ranges::any_of(side.holders(s), [&](const Holding& h) { return h.pid == pid; });
}

// A holding of AFTER's socket not in BEFORE's (or the reverse): keyed by the
// process's identity and the fd.
bool has_holding(const Side& side, const Socket& s, const Process* who, int fd) {
  for (const Holding& h : side.holders(s)) {
    if (h.fd == fd && same_process(side.snap.process(h.pid), who)) return true;
  }
  return false;
}

HolderHow how_joined(const Side& before, const Side& after, const Socket& was,
                     const Socket& now, const Holding& h) {
  const Process* p = after.snap.process(h.pid);
  const Process* earlier = before.snap.process(h.pid);
  if (!same_process(earlier, p)) {
    pid_t parent = p ? p->ppid : 0;
    bool parent_held = parent > 0 && (holds(before, was, parent) || holds(after, now, parent));
    return parent_held ? HolderHow::fork : HolderHow::started;
  }
  return holds(before, was, h.pid) ? HolderHow::dup : HolderHow::received;
}

HolderHow how_left(const Side& before, const Side& after, const Holding& h) {
  const Process* p = before.snap.process(h.pid);
  const Process* later = after.snap.process(h.pid);
  if (!same_process(p, later)) return HolderHow::exited;
  // A zombie keeps its pid and start time but no longer has an executable.
  if (later->exe.empty() && !p->exe.empty()) return HolderHow::exited;
  if (h.cloexec && ran_another(*p, *later)) return HolderHow::exec;
  return HolderHow::closed;
}

using Kinds = std::vector<SharingKind>;

std::map<std::pair<uint64_t, uint32_t>, std::pair<const Socket*, Kinds>> sharing_of(
    const Side& side) {
  std::map<std::pair<uint64_t, uint32_t>, std::pair<const Socket*, Kinds>> out;
  for (const PortGroup& g : port_groups(side.snap, side.order)) {
    out[{g.netns, g.port}] = {g.sockets.front(), g.kinds()};
  }
  return out;
}

}  // namespace

std::string_view change_kind_name(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::port_opened: return "port-opened";
    case ChangeKind::socket_opened: return "socket-opened";
    case ChangeKind::socket_state: return "socket-state";
    case ChangeKind::socket_closed: return "socket-closed";
    case ChangeKind::port_closed: return "port-closed";
    case ChangeKind::holder_joined: return "holder-joined";
    case ChangeKind::holder_left: return "holder-left";
    case ChangeKind::holder_exec: return "holder-exec";
    case ChangeKind::sharing_changed: return "sharing-changed";
  }
  return "unknown";
}

std::string_view holder_how_name(HolderHow how) {
  switch (how) {
    case HolderHow::none: return "";
    case HolderHow::fork: return "fork";
    case HolderHow::received: return "received";
    case HolderHow::started: return "started";
    case HolderHow::dup: return "dup";
    case HolderHow::exited: return "exited";
    case HolderHow::closed: return "closed";
    case HolderHow::exec: return "exec";
  }
  return "";
}

std::vector<Change> diff_relation(const Snapshot& before_snap, const Snapshot& after_snap,
                                  const DiffOptions& options) {
  Side before(before_snap, options), after(after_snap, options);
  std::vector<Change> changes;

  // Sockets that appeared or changed state. The first socket on a port no
  // socket held opens the port; those beside it open sockets.
  std::unordered_map<PortKey, int, PortKeyHash> opened;
  for (const Socket* now : after.order) {
    const Socket* was = before.find(*now);
    if (was == nullptr) {
      Change c;
      bool first = before.on_port(*now) == 0 && opened[port_of(*now)]++ == 0;
      c.kind = first ? ChangeKind::port_opened : ChangeKind::socket_opened;
      c.socket = *now;
      c.holders = holders_of(after, *now);
      changes.push_back(std::move(c));
    } else if (was->state != now->state) {
      Change c;
      c.kind = ChangeKind::socket_state;
      c.socket = *now;
      c.old_state = was->state;
      c.holders = holders_of(after, *now);
      changes.push_back(std::move(c));
    }
  }

  // Holders of sockets in both.
  for (const Socket* now : after.order) {
    const Socket* was = before.find(*now);
    if (was == nullptr) continue;
    for (const Holding& h : after.holders(*now)) {
      if (has_holding(before, *was, after_snap.process(h.pid), h.fd)) continue;
      Change c;
      c.kind = ChangeKind::holder_joined;
      c.socket = *now;
      c.holders = {holder_of(after_snap, h.pid)};
      c.how = how_joined(before, after, *was, *now, h);
      c.fd = h.fd;
      changes.push_back(std::move(c));
    }
    for (const Holding& h : before.holders(*was)) {
      if (has_holding(after, *now, before_snap.process(h.pid), h.fd)) continue;
      Change c;
      c.kind = ChangeKind::holder_left;
      c.socket = *now;
      c.holders = {holder_of(before_snap, h.pid)};
      c.how = how_left(before, after, h);
      c.fd = h.fd;
      changes.push_back(std::move(c));
    }
  }

  // Processes that held tracked sockets before and after running another
  // program.
  std::set<pid_t> held_before;
  for (const Socket* was : before.order) {
    for (const Holding& h : before.holders(*was)) held_before.insert(h.pid);
  }
  std::set<pid_t> seen;
  for (const Socket* now : after.order) {
    for (const Holding& h : after.holders(*now)) {
      if (!held_before.contains(h.pid) || !seen.insert(h.pid).second) continue;
      const Process* p = after_snap.process(h.pid);
      const Process* earlier = before_snap.process(h.pid);
      if (!same_process(earlier, p) || !ran_another(*earlier, *p)) continue;
      Change c;
      c.kind = ChangeKind::holder_exec;
      c.socket = *now;
      c.holders = {holder_of(after_snap, h.pid)};
      c.old_comm = earlier->comm;
      changes.push_back(std::move(c));
    }
  }

  // Sockets that went; the last to go from a port no socket holds now closes it.
  std::unordered_map<PortKey, int, PortKeyHash> closed;
  for (const Socket* was : before.order) {
    if (after.find(*was) != nullptr) continue;
    Change c;
    bool last = after.on_port(*was) == 0 && ++closed[port_of(*was)] == before.on_port(*was);
    c.kind = last ? ChangeKind::port_closed : ChangeKind::socket_closed;
    c.socket = *was;
    c.holders = holders_of(before, *was);
    changes.push_back(std::move(c));
  }
  // Sharing kinds of ports present in both.
  auto was_shared = sharing_of(before), now_shared = sharing_of(after);
  for (const auto& [key, now] : now_shared) {
    auto it = was_shared.find(key);
    if (it == was_shared.end() || it->second.second == now.second) continue;
    Change c;
    c.kind = ChangeKind::sharing_changed;
    c.socket = *now.first;
    c.old_kinds = it->second.second;
    c.new_kinds = now.second;
    changes.push_back(std::move(c));
  }

  return changes;
}

}  // namespace portrel
