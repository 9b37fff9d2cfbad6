// Filters. A --user filter keeps a socket when it was created by that uid or
// when any of its holders runs as that uid (a root master's sockets held by
// www-data workers belong to both).
#include "cli/filter.h"

#include <pwd.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string_view>

#include "output/columns.h"

namespace portrel {
namespace {

std::optional<uint64_t> number(const std::string& text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return {};
  return v;
}

// The namespace file at PATH (followed: /proc/PID/ns/net is a link); anything
// but a file of nsfs (a directory, a regular file) is not a namespace.
Result<uint64_t> inode_of(const std::string& path, const std::string& spec) {
  constexpr unsigned long kNsfsMagic = 0x6e736673;  // NSFS_MAGIC
  struct stat st;
  struct statfs fs;
  if (stat(path.c_str(), &st) != 0 || statfs(path.c_str(), &fs) != 0) {
    return std::unexpected(Error{"no network namespace '" + spec + "' (" + path + ": " +
                                 strerror(errno) + ")"});
  }
  if (static_cast<unsigned long>(fs.f_type) != kNsfsMagic || S_ISDIR(st.st_mode)) {
    return std::unexpected(Error{"'" + spec + "' is not a network namespace (" + path +
                                 " is not a namespace file)"});
  }
  return st.st_ino;
}

constexpr uint64_t kMaxPid = 4194304;  // PID_MAX_LIMIT: larger numbers are inodes

}  // namespace

bool names_workload(const Workload& w, std::string_view what) {
  if (w.kind == WorkloadKind::none) return false;
  if (!w.name.empty() && w.name == what) return true;
  if (what.size() >= 4 && !w.id.empty() && w.id.starts_with(what)) return true;
  if (!w.pod.empty() && (w.pod == what || w.pod_namespace + "/" + w.pod == what)) return true;
  return !w.unit.empty() && w.unit == what;
}

// The network namespace of a container (its processes, not its monitor's):
// the first process found in it, by /proc order.
Result<uint64_t> container_netns(std::string_view name) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string pid_text = entry.path().filename();
    pid_t pid = 0;
    auto [end, err] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
    if (err != std::errc() || end != pid_text.data() + pid_text.size()) continue;
    const Workload& w = workload_of_pid(pid);
    if (w.kind != WorkloadKind::container && w.kind != WorkloadKind::machine) continue;
    if (!names_workload(w, name)) continue;
    struct stat st {};
    if (stat(("/proc/" + pid_text + "/ns/net").c_str(), &st) == 0) return st.st_ino;
  }
  return std::unexpected(Error{"--netns container:" + std::string(name) +
                               ": no running container, pod or machine of that name"});
}

Result<uint64_t> resolve_netns(const std::string& spec) {
  if (spec.starts_with("pid:")) {
    auto pid = number(spec.substr(4));
    if (!pid) return std::unexpected(Error{"invalid pid in --netns '" + spec + "'"});
    return inode_of("/proc/" + std::to_string(*pid) + "/ns/net", spec);
  }
  if (auto n = number(spec)) {
    if (*n > kMaxPid) return *n;
    return inode_of("/proc/" + std::to_string(*n) + "/ns/net", spec);
  }
  if (spec.starts_with("net:[") && spec.ends_with("]")) {
    if (auto n = number(spec.substr(5, spec.size() - 6))) return *n;
  }
  if (spec == "host") return inode_of("/proc/self/ns/net", spec);
  if (spec.starts_with("container:")) return container_netns(std::string_view(spec).substr(10));
  if (spec.find('/') != std::string::npos) return inode_of(spec, spec);
  return inode_of("/run/netns/" + spec, spec);
}

bool in_workload(const Process& p, std::string_view what) {
  return names_workload(workload_of(p), what);
}

Result<Filter> make_filter(const Options& o) {
  Filter f;
  if (o.any_protocol()) f.protocols = o.protocols;
  if (o.ipv4 || o.ipv6) {
    f.ipv4 = o.ipv4;
    f.ipv6 = o.ipv6;
  }
  f.listening_only = !o.all;
  f.container = o.container;
  f.sort = o.sort;
  if (!o.netns.empty()) {
    auto inode = resolve_netns(o.netns);
    if (!inode) return std::unexpected(inode.error());
    f.netns.push_back(*inode);
  }
  if (!o.user.empty()) {
    if (auto n = number(o.user)) {
      f.uid = static_cast<uid_t>(*n);
    } else {
      struct passwd entry;
      struct passwd* found = nullptr;
      char buf[4096];
      if (getpwnam_r(o.user.c_str(), &entry, buf, sizeof buf, &found) != 0 || !found) {
        return std::unexpected(Error{"unknown user '" + o.user + "'"});
      }
      f.uid = found->pw_uid;
    }
  }
  return f;
}

bool Filter::keeps(const Snapshot& snapshot, const Socket& s) const {
  if (!wants(s.proto)) return false;
  if ((s.family == 4 && !ipv4) || (s.family == 6 && !ipv6)) return false;
  if (s.family == kFamilyVsock && !(ipv4 && ipv6)) return false;  // -4 or -6: IP only
  if (listening_only && !s.is_listening()) return false;
  if (!netns.empty() && std::ranges::find(netns, s.netns) == netns.end()) return false;
  if (!container.empty()) {
    bool held = std::ranges::any_of(snapshot.holders(s), [&](const Holding& h) {
      const Process* p = snapshot.process(h.pid);
      return p && in_workload(*p, container);
    });
    if (!held) return false;
  }
  if (uid && s.uid != *uid) {
    auto holders = snapshot.holders(s);
    bool held = std::ranges::any_of(holders, [&](const Holding& h) {
      const Process* p = snapshot.process(h.pid);
      return p && p->uid == *uid;
    });
    if (!held) return false;
  }
  return true;
}

void sort_sockets(const Snapshot& snapshot, std::string_view key,
                  std::vector<const Socket*>& sockets) {
  // The first holder (lowest pid) stands for the socket; none sorts last.
  auto first_holder = [&](const Socket* s) -> const Process* {
    auto holders = snapshot.holders(*s);
    return holders.empty() ? nullptr : snapshot.process(holders.front().pid);
  };
  auto by = [&](auto project) {
    std::ranges::stable_sort(sockets, [&](const Socket* a, const Socket* b) {
      return project(a) < project(b);
    });
  };
  if (key == "address") {
    by([](const Socket* s) { return std::tie(s->family, s->local_addr, s->local_port); });
  } else if (key == "proto") {
    by([](const Socket* s) { return s->proto; });
  } else if (key == "state") {
    by([](const Socket* s) { return s->state; });
  } else if (key == "user") {
    by([](const Socket* s) { return s->uid; });
  } else if (key == "pid") {
    by([&](const Socket* s) {
      const Process* p = first_holder(s);
      return p ? p->pid : std::numeric_limits<pid_t>::max();
    });
  } else if (key == "command") {
    by([&](const Socket* s) {
      const Process* p = first_holder(s);
      return std::pair(p == nullptr, p ? p->comm : std::string());
    });
  }
}

std::vector<const Socket*> select_sockets(const Snapshot& snapshot,
                                          const Filter& filter) {
  std::vector<const Socket*> out;
  for (const Socket& s : snapshot.sockets()) {
    if (filter.keeps(snapshot, s)) out.push_back(&s);
  }
  uint64_t host = 0;
  for (const Netns& n : snapshot.namespaces()) {
    if (n.is_host) host = n.inode;
  }
  // Host first, then by (netns, proto, port, family, local address, state,
  // peer). The snapshot keeps its sockets by (netns, proto, port) already, so
  // only the host's place and the order within each port are left to make.
  std::ranges::stable_partition(out, [host](const Socket* s) { return s->netns == host; });
  auto same_port = [](const Socket* a, const Socket* b) {
    return a->netns == b->netns && a->proto == b->proto && a->local_port == b->local_port;
  };
  for (size_t i = 0, j = 0; i < out.size(); i = j) {
    for (j = i + 1; j < out.size() && same_port(out[i], out[j]);) ++j;
    if (j - i == 1) continue;
    std::stable_sort(out.begin() + static_cast<ptrdiff_t>(i),
                     out.begin() + static_cast<ptrdiff_t>(j),
                     [](const Socket* a, const Socket* b) {
                       return std::tie(a->family, a->local_addr, a->state, a->remote_addr,
                                       a->remote_port) <
                              std::tie(b->family, b->local_addr, b->state, b->remote_addr,
                                       b->remote_port);
                     });
  }
  if (!filter.sort.empty() && filter.sort != "port") sort_sockets(snapshot, filter.sort, out);
  return out;
}

std::vector<pid_t> named_pids(const Snapshot& snap, const std::string& what, bool tree) {
  std::vector<pid_t> pids;
  if (std::string_view rest = what; rest.starts_with("container:")) {
    rest.remove_prefix(10);
    for (const Process& p : snap.processes()) {
      if (in_workload(p, rest)) pids.push_back(p.pid);
    }
    return pids;
  }
  pid_t pid = 0;
  auto [end, ec] = std::from_chars(what.data(), what.data() + what.size(), pid);
  bool numeric = ec == std::errc() && end == what.data() + what.size();
  bool path = what.find('/') != std::string::npos;
  for (const Process& p : snap.processes()) {
    std::string_view base = p.exe;
    if (size_t slash = base.rfind('/'); slash != std::string_view::npos) {
      base.remove_prefix(slash + 1);
    }
    if (numeric ? p.pid == pid
        : path  ? p.exe == what
                : p.comm == what || base == what) {
      pids.push_back(p.pid);
    }
  }
  for (size_t i = 0; tree && i < pids.size(); ++i) {
    for (pid_t child : snap.children(pids[i])) {
      if (std::ranges::find(pids, child) == pids.end()) pids.push_back(child);
    }
  }
  std::ranges::sort(pids);
  return pids;
}

}  // namespace portrel
