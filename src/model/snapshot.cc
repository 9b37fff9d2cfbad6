// The join: holdings are matched to sockets by inode (sockfs inodes are unique
// host-wide, across network namespaces), deduplicated, and indexed by pid, inode
// and (netns, proto, port). Everything here works on values; nothing reads /proc.
#include "portrel/snapshot.h"

#include <algorithm>
#include <functional>

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

void order_sockets(std::vector<Socket>& sockets) {
  // Sorted by keys, so that each socket (a large struct) moves once.
  struct Key {
    uint64_t netns;
    Proto proto;
    uint32_t port;
    uint64_t inode, cookie;
    uint32_t index;
    auto tuple() const { return std::tie(netns, proto, port, inode, cookie); }
  };
  std::vector<Key> order;
  order.reserve(sockets.size());
  for (uint32_t i = 0; i < sockets.size(); ++i) {
    const Socket& s = sockets[i];
    order.push_back(Key{s.netns, s.proto, s.local_port, s.inode, s.cookie, i});
  }
  std::sort(order.begin(), order.end(),
            [](const Key& a, const Key& b) { return a.tuple() < b.tuple(); });
  // The same inode twice: the first in that order stays.
  std::vector<std::pair<uint64_t, uint32_t>> ranked;  // (inode, place in order)
  ranked.reserve(order.size());
  for (uint32_t r = 0; r < order.size(); ++r) {
    if (order[r].inode != 0) ranked.emplace_back(order[r].inode, r);
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<char> repeated(order.size(), 0);
  for (size_t i = 1; i < ranked.size(); ++i) {
    if (ranked[i].first == ranked[i - 1].first) repeated[ranked[i].second] = 1;
  }
  std::vector<Socket> unique;
  unique.reserve(sockets.size());
  for (uint32_t r = 0; r < order.size(); ++r) {
    if (!repeated[r]) unique.push_back(std::move(sockets[order[r].index]));
  }
  sockets = std::move(unique);
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

  // A socket appears once per inode: ordered here unless it came so.
  // by_inode_ is sorted by inode, for bisection and for joining the holdings
  // in one pass; it says whether an inode came twice.
  auto index_by_inode = [this] {
    by_inode_.clear();
    by_inode_.reserve(sockets_.size());
    for (uint32_t i = 0; i < sockets_.size(); ++i) {
      if (sockets_[i].inode != 0) by_inode_.emplace_back(sockets_[i].inode, i);
    }
    std::sort(by_inode_.begin(), by_inode_.end());
    return std::adjacent_find(by_inode_.begin(), by_inode_.end(), [](auto& a, auto& b) {
             return a.first == b.first;
           }) == by_inode_.end();
  };
  auto key = [](const Socket& s) {
    return std::tie(s.netns, s.proto, s.local_port, s.inode, s.cookie);
  };
  if (!std::is_sorted(sockets_.begin(), sockets_.end(),
                      [&](const Socket& a, const Socket& b) { return key(a) < key(b); })) {
    order_sockets(sockets_);
  }
  if (!index_by_inode()) {
    order_sockets(sockets_);  // in order, but an inode came twice
    index_by_inode();
  }
  // (netns, proto, port) is a run of sockets_: on_port() finds it by bisection.
  socket_indexes_.resize(sockets_.size());
  for (uint32_t i = 0; i < sockets_.size(); ++i) socket_indexes_[i] = i;

  // Holdings of a known process, joined with the sockets by inode: both sorted.
  std::erase_if(holdings,
                [&](const Holding& h) { return h.inode == 0 || !by_pid_.contains(h.pid); });
  std::sort(holdings.begin(), holdings.end(), [](const Holding& a, const Holding& b) {
    return std::tie(a.inode, a.pid, a.fd) < std::tie(b.inode, b.pid, b.fd);
  });
  holdings.erase(std::unique(holdings.begin(), holdings.end()), holdings.end());
  holder_range_.assign(sockets_.size(), {0, 0});
  holdings_.reserve(holdings.size());
  auto socket_of = by_inode_.begin();
  for (size_t first = 0, last = 0; first < holdings.size(); first = last) {
    uint64_t inode = holdings[first].inode;
    while (last < holdings.size() && holdings[last].inode == inode) ++last;
    while (socket_of != by_inode_.end() && socket_of->first < inode) ++socket_of;
    if (socket_of == by_inode_.end() || socket_of->first != inode) continue;  // no such socket
    auto begin = static_cast<uint32_t>(holdings_.size());
    holdings_.insert(holdings_.end(), holdings.begin() + static_cast<ptrdiff_t>(first),
                     holdings.begin() + static_cast<ptrdiff_t>(last));
    holder_range_[socket_of->second] = {begin, static_cast<uint32_t>(holdings_.size())};
  }
  holdings_by_pid_.resize(holdings_.size());
  for (uint32_t i = 0; i < holdings_.size(); ++i) holdings_by_pid_[i] = i;
  std::sort(holdings_by_pid_.begin(), holdings_by_pid_.end(), [this](uint32_t a, uint32_t b) {
    const Holding &x = holdings_[a], &y = holdings_[b];
    return std::tie(x.pid, x.fd) < std::tie(y.pid, y.fd);
  });

  // Like holdings: only watches of a known process on a known socket are kept.
  std::erase_if(epoll, [&](const EpollWatch& w) {
    return w.inode == 0 || socket(w.inode) == nullptr || !by_pid_.contains(w.pid);
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
  auto it = std::ranges::lower_bound(by_inode_, inode, {}, &std::pair<uint64_t, uint32_t>::first);
  return it == by_inode_.end() || it->first != inode ? nullptr : &sockets_[it->second];
}

std::span<const Holding> Snapshot::holders(uint64_t inode) const {
  const Socket* s = inode == 0 ? nullptr : socket(inode);
  return s == nullptr ? std::span<const Holding>() : holders(*s);
}

std::span<const Holding> Snapshot::holders(const Socket& socket) const {
  std::less<const Socket*> before;
  if (before(&socket, sockets_.data()) || !before(&socket, sockets_.data() + sockets_.size())) {
    return holders(socket.inode);  // a copy, not one of ours
  }
  auto [first, last] = holder_range_[static_cast<size_t>(&socket - sockets_.data())];
  return {holdings_.data() + first, holdings_.data() + last};
}

std::vector<Holding> Snapshot::held_by(pid_t pid) const {
  auto [first, last] = std::ranges::equal_range(holdings_by_pid_, pid, {},
                                                [this](uint32_t i) { return holdings_[i].pid; });
  std::vector<Holding> out;
  for (auto it = first; it != last; ++it) out.push_back(holdings_[*it]);
  return out;
}

std::span<const uint32_t> Snapshot::on_port(const PortKey& key) const {
  auto [first, last] = std::ranges::equal_range(
      socket_indexes_, std::tie(key.netns, key.proto, key.port), {}, [this](uint32_t i) {
        const Socket& s = sockets_[i];
        return std::tie(s.netns, s.proto, s.local_port);
      });
  return {first, last};
}

std::span<const pid_t> Snapshot::children(pid_t pid) const {
  auto it = children_.find(pid);
  if (it == children_.end()) return {};
  return it->second;
}

Unowned Snapshot::why_unowned(const Socket& socket) const {
  if (socket.inode == 0) return Unowned::no_file;
  if (!holders(socket).empty()) return Unowned::none;
  return unheld_;
}

}  // namespace portrel
