// Holder summaries. A holder is a "root" when no ancestor of it holds the same
// socket(s); every other holder is counted under the root it descends from.
// Roots with the same name are folded together when there are many of them
// (SO_REUSEPORT workers started by a supervisor that holds nothing).
#include "output/holders.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "util/text.h"

namespace portrel {
namespace {

constexpr size_t kListedRoots = 3;

std::string plural(size_t n, std::string_view one, std::string_view many) {
  return with_commas(n) + " " + std::string(n == 1 ? one : many);
}

// Adds the roots of one socket's holders, with their holder-descendant counts,
// to CHILDREN_OF_ROOT.
void count_roots(const Snapshot& snapshot, std::vector<pid_t> pids,
                 std::map<pid_t, size_t>& children_of_root) {
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
      children_of_root.try_emplace(pid, 0);
    } else {
      ++children_of_root[root];
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
  std::map<pid_t, size_t> children_of_root;
  for (const auto& pids : per_socket) count_roots(snapshot, pids, children_of_root);

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
    for (pid_t r : roots) children += children_of_root[r];
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
      if (size_t c = children_of_root[r]; c > 0) {
        out += " + " + plural(c, "child", "children");
      }
    }
  }
  return out;
}

}  // namespace portrel
