// The free-a-port plan: for each socket of the port, the roots of its holder
// tree (sharing.h) are the processes to signal; sockets that a signal must not
// free (PID 1's, a container's, portrel's own) or cannot (no visible holder)
// become blockers with the command that would.
#include "analysis/free_plan.h"

#include <algorithm>
#include <map>
#include <set>

#include "analysis/sharing.h"
#include "sources/workload.h"

namespace portrel {
namespace {

// Whether S keeps its local port bound: listening, bound UDP, or a connection.
bool holds_port(const Socket& s) { return s.local_port != 0; }

}  // namespace

std::optional<std::pair<std::string, std::string>> container_of_cgroup(std::string_view cgroup) {
  Workload w = workload_of_cgroup_path(cgroup);
  if (w.kind != WorkloadKind::container || w.id.empty()) return std::nullopt;
  return std::pair{w.runtime, w.id};
}

FreePlan plan_free(const Snapshot& snap, const OnPort& on_port, pid_t self) {
  FreePlan plan;
  std::map<pid_t, FreeTarget> targets;
  std::set<uint64_t> port_inodes;
  size_t seen = 0;
  for (const Socket& s : snap.sockets()) {
    if (!holds_port(s) || !on_port(s)) continue;
    ++seen;
    if (s.state == kStateTimeWait || s.inode == 0) {
      plan.time_wait.push_back(&s);
      continue;
    }
    port_inodes.insert(s.inode);
    if (s.remote_port != 0 && !s.is_listening()) plan.connections.push_back(&s);
    std::vector<pid_t> roots = holder_roots(snap, s.inode);
    if (roots.empty()) {
      plan.blockers.push_back({&s,
                               "no visible process holds it (" +
                                   std::string(unowned_reason(snap.why_unowned(s))) + ")",
                               ""});
      continue;
    }
    for (pid_t root : roots) {
      const Process* p = snap.process(root);
      if (root == 1) {
        plan.blockers.push_back(
            {&s, "held by PID 1: a socket-activated service (systemd keeps the socket)",
             "systemctl list-sockets | grep " + std::to_string(s.local_port) +
                 "   # then: systemctl stop UNIT.socket UNIT.service"});
        continue;
      }
      if (root == self) {
        plan.blockers.push_back({&s, "held by portrel itself", ""});
        continue;
      }
      if (p != nullptr) {
        if (auto c = container_of_cgroup(p->cgroup)) {
          std::string id = c->second.substr(0, 12);
          bool cri = c->first == "containerd" || c->first == "cri-o" || c->first.empty();
          plan.blockers.push_back(
              {&s, "held by a process of " + (c->first.empty() ? "a" : c->first) +
                       " container " + id,
               (cri ? "crictl" : c->first) + " stop " + id});
          continue;
        }
      }
      FreeTarget& t = targets[root];
      t.pid = root;
      t.start_time = p ? p->start_time : 0;
      if (std::ranges::find(t.sockets, &s) == t.sockets.end()) t.sockets.push_back(&s);
    }
  }
  plan.nothing = seen == 0;
  // What each target holds besides the port, and how many of its descendants
  // hold the port's sockets with it (they go when it goes).
  for (auto& [pid, t] : targets) {
    std::set<uint64_t> also;
    for (const Holding& h : snap.held_by(pid)) {
      if (port_inodes.contains(h.inode) || !also.insert(h.inode).second) continue;
      const Socket* s = snap.socket(h.inode);
      if (s != nullptr && s->is_listening()) t.also.push_back(s);
    }
    std::set<pid_t> children;
    for (const Socket* s : t.sockets) {
      for (const Holding& h : snap.holders(s->inode)) {
        if (h.pid != pid && is_ancestor(snap, pid, h.pid)) children.insert(h.pid);
      }
    }
    t.children = children.size();
    plan.targets.push_back(std::move(t));
  }
  // A blocker may repeat for sockets of one holder: keep one line per (why, command).
  std::vector<FreeBlocker> unique;
  for (FreeBlocker& b : plan.blockers) {
    bool dup = std::ranges::any_of(unique, [&](const FreeBlocker& u) {
      return u.why == b.why && u.command == b.command;
    });
    if (!dup) unique.push_back(std::move(b));
  }
  plan.blockers = std::move(unique);
  return plan;
}

}  // namespace portrel
