// The join: holdings are matched to sockets by inode (sockfs inodes are unique
// host-wide, across network namespaces), deduplicated, and indexed by pid, inode
// and (netns, proto, port). Everything here works on values; nothing reads /proc.
#include "portrel/snapshot.h"

#include <algorithm>

#include "portrel/error.h"

namespace portrel {

std::string_view unowned_reason(Unowned why) {
  switch (why) {
    case Unowned::none:
      return "";
    case Unowned::no_file:
      return "no file (kernel-held: TIME_WAIT or orphaned)";
    case Unowned::not_privileged:
      return "not visible: run as root to see its holder";
    case Unowned::unreadable:
      return "not visible: its holder's fd table is unreadable (protected or hidden)";
    case Unowned::hidden:
      return "not visible: its holder is hidden, in another pid namespace, or exited";
  }
  return "";
}

Snapshot::Snapshot(std::vector<Process> processes, std::vector<Socket> sockets,
                   std::vector<Holding> holdings, std::vector<Netns> namespaces,
                   std::vector<std::string> warnings, Unowned unheld,
                   std::vector<EpollWatch> epoll)
    : processes_(std::move(processes)),
      sockets_(std::move(sockets)),
      namespaces_(std::move(namespaces)),
      warnings_(std::move(warnings)),
      unheld_(unheld) {
  std::sort(processes_.begin(), processes_.end(),
            [](const Process& a, const Process& b) { return a.pid < b.pid; });
  processes_.erase(
      std::unique(processes_.begin(), processes_.end(),
                  [](const Process& a, const Process& b) { return a.pid == b.pid; }),
      processes_.end());
  by_pid_.reserve(processes_.size());
  for (uint32_t i = 0; i < processes_.size(); ++i) {
    by_pid_.emplace(processes_[i].pid, i);
    children_[processes_[i].ppid].push_back(processes_[i].pid);
  }

  // A socket appears once per inode; inode 0 (TIME_WAIT, request socks) is kept
  // as many times as the kernel listed it.
  std::sort(sockets_.begin(), sockets_.end(), [](const Socket& a, const Socket& b) {
    return std::tie(a.netns, a.proto, a.local_port, a.inode, a.cookie) <
           std::tie(b.netns, b.proto, b.local_port, b.inode, b.cookie);
  });
  by_inode_.reserve(sockets_.size());
  std::vector<Socket> unique;
  unique.reserve(sockets_.size());
  for (Socket& s : sockets_) {
    if (s.inode != 0 && !by_inode_.emplace(s.inode, unique.size()).second) continue;
    unique.push_back(std::move(s));
  }
  sockets_ = std::move(unique);
  for (uint32_t i = 0; i < sockets_.size(); ++i) {
    const Socket& s = sockets_[i];
    by_port_[PortKey{s.netns, s.proto, s.local_port}].push_back(i);
  }

  std::erase_if(holdings, [&](const Holding& h) {
    return h.inode == 0 || !by_inode_.contains(h.inode) || !by_pid_.contains(h.pid);
  });
  std::sort(holdings.begin(), holdings.end(), [](const Holding& a, const Holding& b) {
    return std::tie(a.inode, a.pid, a.fd) < std::tie(b.inode, b.pid, b.fd);
  });
  holdings.erase(std::unique(holdings.begin(), holdings.end()), holdings.end());
  holdings_ = std::move(holdings);
  for (uint32_t i = 0; i < holdings_.size(); ++i) {
    holdings_by_pid_[holdings_[i].pid].push_back(i);
  }
  holder_range_.assign(sockets_.size(), {0, 0});
  for (uint32_t first = 0, last = 0; first < holdings_.size(); first = last) {
    while (last < holdings_.size() && holdings_[last].inode == holdings_[first].inode) ++last;
    holder_range_[by_inode_.find(holdings_[first].inode)->second] = {first, last};
  }

  // Like holdings: only watches of a known process on a known socket are kept.
  std::erase_if(epoll, [&](const EpollWatch& w) {
    return w.inode == 0 || !by_inode_.contains(w.inode) || !by_pid_.contains(w.pid);
  });
  std::sort(epoll.begin(), epoll.end(), [](const EpollWatch& a, const EpollWatch& b) {
    return std::tie(a.inode, a.pid, a.epfd, a.target_fd) <
           std::tie(b.inode, b.pid, b.epfd, b.target_fd);
  });
  epoll.erase(std::unique(epoll.begin(), epoll.end()), epoll.end());
  epoll_ = std::move(epoll);
}

std::span<const EpollWatch> Snapshot::watchers(uint64_t inode) const {
  auto lo = std::lower_bound(epoll_.begin(), epoll_.end(), inode,
                             [](const EpollWatch& w, uint64_t i) { return w.inode < i; });
  auto hi = lo;
  while (hi != epoll_.end() && hi->inode == inode) ++hi;
  return {lo, hi};
}

const Process* Snapshot::process(pid_t pid) const {
  auto it = by_pid_.find(pid);
  return it == by_pid_.end() ? nullptr : &processes_[it->second];
}

const Netns* Snapshot::netns(uint64_t inode) const {
  for (const Netns& n : namespaces_) {
    if (n.inode == inode) return &n;
  }
  return nullptr;
}

const Socket* Snapshot::socket(uint64_t inode) const {
  auto it = by_inode_.find(inode);
  return it == by_inode_.end() ? nullptr : &sockets_[it->second];
}

std::span<const Holding> Snapshot::holders(uint64_t inode) const {
  if (inode == 0) return {};
  auto it = by_inode_.find(inode);
  if (it == by_inode_.end()) return {};
  auto [first, last] = holder_range_[it->second];
  return {holdings_.data() + first, holdings_.data() + last};
}

std::vector<Holding> Snapshot::held_by(pid_t pid) const {
  std::vector<Holding> out;
  auto it = holdings_by_pid_.find(pid);
  if (it == holdings_by_pid_.end()) return out;
  for (uint32_t i : it->second) out.push_back(holdings_[i]);
  std::sort(out.begin(), out.end(),
            [](const Holding& a, const Holding& b) { return a.fd < b.fd; });
  return out;
}

std::span<const uint32_t> Snapshot::on_port(const PortKey& key) const {
  auto it = by_port_.find(key);
  if (it == by_port_.end()) return {};
  return it->second;
}

std::span<const pid_t> Snapshot::children(pid_t pid) const {
  auto it = children_.find(pid);
  if (it == children_.end()) return {};
  return it->second;
}

Unowned Snapshot::why_unowned(const Socket& socket) const {
  if (socket.inode == 0) return Unowned::no_file;
  if (!holders(socket.inode).empty()) return Unowned::none;
  return unheld_;
}

}  // namespace portrel
