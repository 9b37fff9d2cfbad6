// Holder summaries. A holder is a "root" when no ancestor of it holds the same
// socket(s); every other holder is counted under the root it descends from.
// Roots with the same name are folded together when there are many of them
// (SO_REUSEPORT workers started by a supervisor that holds nothing).
#include "output/holders.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "util/text.h"

namespace portrel {
namespace {

constexpr size_t kListedRoots = 3;

// Holders a root stands for: the processes, not the holdings, so that a worker
// holding two of the row's sockets is one child.
using ChildrenOfRoot = std::map<pid_t, std::set<pid_t>>;

// Adds the roots of one socket's holders, with their holder-descendants, to
// CHILDREN_OF_ROOT.
void count_roots(const Snapshot& snapshot, std::vector<pid_t> pids,
                 ChildrenOfRoot& children_of_root) {
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  std::unordered_set<pid_t> holding(pids.begin(), pids.end());
  std::unordered_map<pid_t, pid_t> root_of;
  for (pid_t pid : pids) {
    pid_t root = pid;
    size_t depth = 0;
    for (const Process* p = snapshot.process(pid); p != nullptr;) {
      if (auto known = root_of.find(p->pid); known != root_of.end() && p->pid != pid) {
        root = known->second;
        break;
      }
      if (holding.contains(p->pid)) root = p->pid;
      if (p->ppid == p->pid || p->ppid == 0 || ++depth > 4096) break;
      p = snapshot.process(p->ppid);
    }
    root_of[pid] = root;
    if (root == pid) {
      children_of_root.try_emplace(pid);
    } else {
      children_of_root[root].insert(pid);
    }
  }
}

}  // namespace

std::string summarize_holders(const Snapshot& snapshot, std::vector<pid_t> pids) {
  return summarize_socket_holders(snapshot,
                                  std::vector<std::vector<pid_t>>{std::move(pids)});
}

std::string summarize_socket_holders(
    const Snapshot& snapshot, const std::vector<std::vector<pid_t>>& per_socket) {
  // The usual row: one socket, one holder.
  if (per_socket.size() == 1 && per_socket[0].size() == 1) {
    pid_t pid = per_socket[0][0];
    const Process* p = snapshot.process(pid);
    return (p ? sanitize(p->comm) : std::string("?")) + " " + std::to_string(pid);
  }
  ChildrenOfRoot children_of_root;
  for (const auto& pids : per_socket) count_roots(snapshot, pids, children_of_root);
  // A process that is a root of one socket and a child of another is named as a root.
  for (auto& [root, children] : children_of_root) {
    std::erase_if(children, [&](pid_t c) { return children_of_root.contains(c); });
  }

  std::map<std::string, std::vector<pid_t>> roots_by_name;
  for (const auto& [root, n] : children_of_root) {
    const Process* p = snapshot.process(root);
    roots_by_name[p ? sanitize(p->comm) : std::string("?")].push_back(root);
  }

  std::string out;
  auto separate = [&] {
    if (!out.empty()) out += ", ";
  };
  for (const auto& [name, roots] : roots_by_name) {
    size_t children = 0;
    for (pid_t r : roots) children += children_of_root[r].size();
    if (roots.size() > kListedRoots) {
      separate();
      out += name + " \u00d7" + with_commas(roots.size()) + " (pids " +
             std::to_string(roots.front()) + "\u2026" + std::to_string(roots.back()) +
             ")";
      if (children > 0) out += " + " + plural(children, "child", "children");
      continue;
    }
    for (pid_t r : roots) {
      separate();
      out += name + " " + std::to_string(r);
      if (size_t c = children_of_root[r].size(); c > 0) {
        out += " + " + plural(c, "child", "children");
      }
    }
  }
  return out;
}

}  // namespace portrel
