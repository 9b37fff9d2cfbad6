// Human views. The listing folds a socket held by a master and 1,000 workers,
// or 8 SO_REUSEPORT sockets on one address, into one line; `who` and `of` spell
// out every (process, fd) because that is what they are asked for.
#include "output/views.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

#include "output/columns.h"
#include "output/holders.h"
#include "output/sharing_view.h"
#include "output/table.h"
#include "util/beside.h"
#include "util/text.h"

namespace portrel {
namespace {

// NETNS is shown when the rows span several namespaces, and always when one
// is not the host's: a socket of a private namespace must never read as the
// host's.
bool show_netns_column(const Snapshot& snap, std::span<const Socket* const> sockets) {
  uint64_t host_checked = 0;
  for (const Socket* s : sockets) {
    if (s->netns == host_checked) continue;
    const Netns* n = snap.netns(s->netns);
    if (n == nullptr || !n->is_host) return true;
    host_checked = s->netns;
  }
  return std::ranges::adjacent_find(sockets, [](const Socket* a, const Socket* b) {
           return a->netns != b->netns;
         }) != sockets.end();
}

using GroupOf = std::unordered_map<const Socket*, const PortGroup*>;

// The port group of each socket, for the SHARING cells.
GroupOf group_of(const std::vector<PortGroup>& groups) {
  GroupOf out;
  for (const PortGroup& g : groups) {
    for (const Socket* s : g.sockets) out.emplace(s, &g);
  }
  return out;
}

std::string sharing_cell(const GroupOf& groups, std::span<const Socket* const> row) {
  if (row.empty()) return "";
  auto it = groups.find(row.front());
  if (it == groups.end()) return "";
  return kinds_text(it->second->kinds_of(row));
}

std::string peer(const Socket& s) {
  if (s.remote_port == 0 && s.remote_addr.is_wildcard()) return "*";
  return endpoint(s.remote_addr, s.remote_port);
}

// Whether any of PIDS runs in a container, machine or unit (the CONTAINER
// column is shown only then).
bool any_workload(const Snapshot& snap, std::span<const pid_t> pids) {
  return std::ranges::any_of(pids, [&](pid_t pid) {
    const Process* p = snap.process(pid);
    return p != nullptr && workload_of(*p).kind != WorkloadKind::none;
  });
}

// uid -> user name, from the processes' own rows (no second passwd lookup).
std::map<uid_t, std::string> user_names(const Snapshot& snap) {
  std::map<uid_t, std::string> names;
  for (const Process& p : snap.processes()) {
    if (!p.user.empty()) names.try_emplace(p.uid, sanitize(p.user));
  }
  return names;
}

}  // namespace

namespace {

std::string endpoint_text(const Address& address, uint32_t port, uint32_t bound_dev,
                          std::string_view bound_dev_name) {
  std::string text =
      address.family == 6 ? "[" + address.to_string() + "]" : address.to_string();
  if (bound_dev != 0) {
    text += "%";
    text += bound_dev_name.empty() ? std::to_string(bound_dev) : sanitize(bound_dev_name);
  }
  return text + ":" + std::to_string(port);
}

}  // namespace

std::string endpoint(const Address& address, uint32_t port, uint32_t bound_dev) {
  return endpoint_text(address, port, bound_dev, "");
}

std::string local_endpoint(const Socket& s) {
  return endpoint_text(s.local_addr, s.local_port, s.bound_dev,
                       std::string_view(s.bound_dev_name.data(),
                                        strnlen(s.bound_dev_name.data(), s.bound_dev_name.size())));
}

std::unordered_map<pid_t, std::string> container_labels(const Snapshot& snap,
                                                        std::span<const Socket* const> sockets) {
  struct stat st {};
  uint64_t host_pidns = stat("/proc/self/ns/pid", &st) == 0 ? st.st_ino : 0;
  uint64_t host_netns = 0;
  for (const Netns& n : snap.namespaces()) {
    if (n.is_host) host_netns = n.inode;
  }
  std::unordered_map<pid_t, std::string> labels;
  for (const Socket* s : sockets) {
    for (const Holding& h : snap.holders(*s)) {
      const Process* p = snap.process(h.pid);
      if (p == nullptr || labels.contains(h.pid) ||
          !may_be_in_container(*p, host_pidns, host_netns)) {
        continue;
      }
      // workload_of reads the cgroup from /proc when the capture did not.
      const Workload& w = workload_of(*p);
      if (w.kind == WorkloadKind::container || w.kind == WorkloadKind::container_monitor ||
          w.kind == WorkloadKind::machine) {
        labels.emplace(h.pid, workload_label(w));
      }
    }
  }
  return labels;
}

std::string listing_table(const Snapshot& snap, std::span<const Socket* const> sockets,
                          bool show_state, bool color,
                          const std::unordered_map<pid_t, std::string>& containers) {
  bool netns_col = show_netns_column(snap, sockets);
  bool container_col = !containers.empty();
  std::vector<std::string> headers{"PROTO", "LOCAL"};
  if (show_state) {
    headers.push_back("PEER");
    headers.push_back("STATE");
  }
  if (netns_col) headers.push_back("NETNS");
  for (const char* h : {">SOCKETS", "USER", "SHARING"}) headers.push_back(h);
  if (container_col) headers.push_back("CONTAINER");
  headers.push_back("HOLDERS");
  Table table(headers);
  const size_t sharing_col = headers.size() - (container_col ? 3 : 2);
  std::map<uid_t, std::string> names = user_names(snap);
  // The sharing analysis runs on the other core while the rows are built; the
  // SHARING cells are filled in once both are done.
  auto pending = run_beside([&] { return port_groups(snap, sockets); });
  std::vector<std::pair<size_t, size_t>> row_sockets;  // [i, j) of each row

  for (size_t i = 0; i < sockets.size();) {
    const Socket& first = *sockets[i];
    size_t j = i;
    auto same_group = [&](const Socket& s) {
      return s.netns == first.netns && s.proto == first.proto &&
             s.local_port == first.local_port && s.local_addr == first.local_addr &&
             s.state == first.state && s.remote_addr == first.remote_addr &&
             s.remote_port == first.remote_port && s.bound_dev == first.bound_dev;
    };
    std::vector<std::vector<pid_t>> pids;
    std::set<uid_t> uids;
    std::map<Unowned, size_t> unowned;
    while (j < sockets.size() && same_group(*sockets[j])) {
      const Socket& s = *sockets[j];
      uids.insert(s.uid);
      pids.emplace_back();
      for (const Holding& h : snap.holders(s)) pids.back().push_back(h.pid);
      if (Unowned why = snap.why_unowned(s); why != Unowned::none) ++unowned[why];
      ++j;
    }
    std::vector<Cell> row{
        {std::string(proto_name(first.proto))},
        {local_endpoint(first), Style::accent}};
    if (show_state) {
      row.push_back({peer(first)});
      row.push_back({std::string(state_name(first.proto, first.state))});
    }
    if (netns_col) row.push_back({sanitize(netns_label(snap, first.netns))});
    row.push_back({with_commas(j - i)});
    std::string users;
    for (uid_t u : uids) {
      auto it = names.find(u);
      users += (users.empty() ? "" : ",") +
               (u == kUnknownUid ? "-" : it != names.end() ? it->second : std::to_string(u));
    }
    row.push_back({users});
    row.push_back({""});  // SHARING, below
    if (container_col) {
      std::set<std::string> names;
      for (const auto& row_pids : pids) {
        for (pid_t pid : row_pids) {
          if (auto it = containers.find(pid); it != containers.end()) names.insert(it->second);
        }
      }
      std::string text;
      for (const std::string& n : names) text += (text.empty() ? "" : ", ") + n;
      row.push_back({text});
    }
    row_sockets.emplace_back(i, j);
    std::string holders = summarize_socket_holders(snap, pids);
    Style style = Style::plain;
    for (const auto& [why, n] : unowned) {
      if (!holders.empty()) holders += "; ";
      holders += "(" + std::string(unowned_reason(why)) + ")";
      if (j - i > 1) holders += " \u00d7" + with_commas(n);
      if (unowned.size() == 1 && n == j - i) style = Style::warn;
    }
    row.push_back({holders, style});
    table.add(std::move(row));
    i = j;
  }
  std::vector<PortGroup> port_groups_ = pending.get();
  auto groups = group_of(port_groups_);
  for (size_t r = 0; r < row_sockets.size(); ++r) {
    auto [i, j] = row_sockets[r];
    table.cell(r, sharing_col).text = sharing_cell(groups, sockets.subspan(i, j - i));
  }
  return table.render(color);
}

namespace {

// "podman container webx", "netns blue", or "" for the host.
std::string far_end_label(const Snapshot& snap, const PublishedPort& p) {
  for (const Socket* s : p.listeners) {
    for (const Holding& h : snap.holders(*s)) {
      const Process* proc = snap.process(h.pid);
      if (proc == nullptr) continue;
      const Workload& w = workload_of(*proc);
      if (w.kind == WorkloadKind::container && w.pod.empty()) {
        return sanitize((w.runtime.empty() ? "" : w.runtime + " ") + "container " +
                        (!w.name.empty() ? w.name : w.id.substr(0, 12)));
      }
      if (w.kind == WorkloadKind::container || w.kind == WorkloadKind::machine) {
        return workload_label(w);
      }
    }
  }
  const Netns* n = p.netns ? snap.netns(*p.netns) : nullptr;
  if (p.netns && (n == nullptr || !n->is_host)) return "netns " + netns_label(snap, *p.netns);
  return "";
}

std::string rule_text(const PortForward& f) {
  return "an nftables rule (" + f.family + " " + f.table + " " + f.chain +
         (f.xtables ? ", iptables-nft" : "") + ")";
}

// Who listens at the far end: "busybox 11019 listens", "nothing listens on port 80".
std::string listeners_text(const Snapshot& snap, const PublishedPort& p) {
  if (!p.netns) return "an address of no network namespace portrel read";
  std::vector<std::string> names;
  bool unowned = false;
  for (const Socket* s : p.listeners) {
    auto holders = snap.holders(*s);
    if (holders.empty()) unowned = true;
    for (const Holding& h : holders) {
      const Process* proc = snap.process(h.pid);
      std::string name = (proc && !proc->comm.empty() ? proc->comm + " " : "") +
                         std::to_string(h.pid);
      if (std::ranges::find(names, name) == names.end()) names.push_back(name);
    }
  }
  if (p.listeners.empty()) {
    return "where nothing listens on port " + std::to_string(p.to_port);
  }
  if (names.empty()) return "where a socket whose holder is not visible listens";
  std::string list;
  for (size_t i = 0; i < names.size() && i < 3; ++i) list += (i ? ", " : "") + names[i];
  if (names.size() > 3) list += " and " + std::to_string(names.size() - 3) + " more";
  return "where " + list + (names.size() == 1 && !unowned ? " listens" : " listen");
}

}  // namespace

std::string published_sentence(const Snapshot& snap, const PublishedPort& p) {
  const PortForward& f = p.rule;
  std::string from = (f.address ? endpoint(*f.address, p.port, 0) : ":" + std::to_string(p.port));
  std::string to = f.redirect ? "port " + std::to_string(p.to_port) + " of this host"
                              : endpoint(f.to_addr, p.to_port, 0);
  std::string label = far_end_label(snap, p);
  std::string head = label.empty()
                         ? (f.redirect ? "redirected to " : "forwarded to ") + to
                         : "published to " + label + ":" + std::to_string(p.to_port);
  std::string route = label.empty() ? "" : ", " + from + " → " + to;
  return sanitize(head + " by " + rule_text(f) + route + ", " + listeners_text(snap, p));
}

std::string who_table(const Snapshot& snap, std::span<const Socket* const> sockets,
                      bool color, bool explain, std::span<const PublishedPort> published) {
  bool netns_col = show_netns_column(snap, sockets);
  std::vector<pid_t> holder_pids;
  for (const Socket* s : sockets) {
    for (const Holding& h : snap.holders(*s)) holder_pids.push_back(h.pid);
  }
  bool container_col = any_workload(snap, holder_pids);
  std::vector<std::string> headers{"PROTO", "LOCAL", "PEER", "STATE"};
  if (netns_col) headers.push_back("NETNS");
  for (const char* h : {"SHARING", ">INODE", ">PID", ">FD", "CLOEXEC", "USER"}) {
    headers.push_back(h);
  }
  if (container_col) headers.push_back("CONTAINER");
  headers.push_back("COMMAND");
  Table table(headers);
  std::vector<PortGroup> port_groups_ = port_groups(snap, sockets);
  auto groups = group_of(port_groups_);
  for (const Socket* s : sockets) {
    std::vector<Cell> socket_cells{
        {std::string(proto_name(s->proto))},
        {local_endpoint(*s), Style::accent},
        {peer(*s)},
        {std::string(state_name(s->proto, s->state))}};
    if (netns_col) socket_cells.push_back({sanitize(netns_label(snap, s->netns))});
    socket_cells.push_back({sharing_cell(groups, std::span(&s, 1))});
    socket_cells.push_back({std::to_string(s->inode)});
    auto holders = snap.holders(*s);
    if (holders.empty()) {
      std::vector<Cell> row = socket_cells;
      row.push_back({"-"});
      row.push_back({"-"});
      row.push_back({"-"});
      row.push_back({"-"});
      if (container_col) row.push_back({"-"});
      row.push_back(
          {"(" + std::string(unowned_reason(snap.why_unowned(*s))) + ")", Style::warn});
      table.add(std::move(row));
      continue;
    }
    bool first = true;
    for (const Holding& h : holders) {
      // The socket's cells on its first line only.
      std::vector<Cell> row = first ? socket_cells : std::vector<Cell>(socket_cells.size());
      row.reserve(socket_cells.size() + 5);
      first = false;
      const Process* p = snap.process(h.pid);
      row.push_back({std::to_string(h.pid)});
      row.push_back({std::to_string(h.fd)});
      row.push_back({h.cloexec ? "yes" : "no", h.cloexec ? Style::plain : Style::warn});
      row.push_back({p ? sanitize(p->user) : ""});
      if (container_col) row.push_back({p ? workload_label(workload_of(*p)) : ""});
      std::string command =
          p ? sanitize(p->cmdline.empty() ? "[" + p->comm + "]" : p->cmdline) : "";
      row.push_back({command});
      table.add(std::move(row));
    }
  }
  std::string text = table.render(color);
  if (!explain) return text;
  for (const PortGroup& g : port_groups_) {
    for (const std::string& sentence : sharing_sentences(snap, g)) {
      text += styled("port " + std::to_string(g.port) + ": ", Style::bold, color) +
              sentence + "\n";
    }
  }
  std::set<std::string> said;
  std::set<std::string> published_containers;  // container ids a rule publishes to
  for (const PublishedPort& p : published) {
    std::string sentence = published_sentence(snap, p);
    if (!said.insert(sentence).second) continue;
    text += styled("port " + std::to_string(p.port) + ": ", Style::bold, color) + sentence +
            "\n";
    for (const Socket* l : p.listeners) {
      for (const Holding& h : snap.holders(*l)) {
        if (const Process* proc = snap.process(h.pid)) {
          published_containers.insert(workload_of(*proc).id);
        }
      }
    }
  }
  // A port a container runtime's helper holds is the container's, published.
  for (const Socket* s : sockets) {
    for (const Holding& h : snap.holders(*s)) {
      const Process* p = snap.process(h.pid);
      if (p == nullptr) continue;
      const Workload& w = workload_of(*p);
      if (w.kind != WorkloadKind::container_monitor) continue;
      std::string container = !w.name.empty() ? w.name : w.id.substr(0, 12);
      if (container.empty()) container = "a container";
      std::string helper = (w.forwards_to.empty() ? "monitor" : "proxy") + std::string(" ") +
                           (p->comm.empty() ? "" : p->comm + " ") + std::to_string(p->pid);
      std::string sentence;
      if (!w.id.empty() && published_containers.contains(w.id)) {
        sentence = "held for " + (w.runtime.empty() ? "" : w.runtime + " ") + "container " +
                   container + " by its " + helper;
      } else {
        std::string to = w.forwards_to.empty()
                             ? ""
                             : ":" + w.forwards_to.substr(w.forwards_to.rfind(':') + 1);
        sentence = "published to " + (w.runtime.empty() ? "" : w.runtime + " ") +
                   "container " + container + to + " by its " + helper;
      }
      if (said.insert(std::to_string(s->local_port) + sentence).second) {
        text += styled("port " + std::to_string(s->local_port) + ": ", Style::bold, color) +
                sanitize(sentence) + "\n";
      }
    }
  }
  return text;
}

std::string of_table(const Snapshot& snap, std::span<const pid_t> pids,
                     std::span<const Socket* const> sockets, bool color) {
  std::set<uint64_t> wanted;
  for (const Socket* s : sockets) wanted.insert(s->inode);
  bool netns_col = show_netns_column(snap, sockets);
  bool container_col = any_workload(snap, pids);
  std::vector<std::string> headers{">PID", "COMM"};
  if (container_col) headers.push_back("CONTAINER");
  for (const char* h : {">FD", "PROTO", "LOCAL", "PEER", "STATE"}) headers.push_back(h);
  if (netns_col) headers.push_back("NETNS");
  headers.push_back("CLOEXEC");
  headers.push_back("ALSO HELD BY");
  Table table(headers);
  for (pid_t pid : pids) {
    const Process* p = snap.process(pid);
    for (const Holding& h : snap.held_by(pid)) {
      if (!wanted.contains(h.inode)) continue;
      const Socket* s = snap.socket(h.inode);
      std::vector<pid_t> others;
      for (const Holding& o : snap.holders(h.inode)) {
        if (o.pid != pid) others.push_back(o.pid);
      }
      std::vector<Cell> row{{std::to_string(pid)}, {p ? sanitize(p->comm) : "?"}};
      if (container_col) row.push_back({p ? workload_label(workload_of(*p)) : ""});
      std::vector<Cell> rest{
          {std::to_string(h.fd)},
          {std::string(proto_name(s->proto))},
          {local_endpoint(*s), Style::accent},
          {peer(*s)},
          {std::string(state_name(s->proto, s->state))}};
      row.insert(row.end(), rest.begin(), rest.end());
      if (netns_col) row.push_back({sanitize(netns_label(snap, s->netns))});
      row.push_back({h.cloexec ? "yes" : "no", h.cloexec ? Style::plain : Style::warn});
      row.push_back(
          {others.empty() ? "-" : summarize_holders(snap, others), Style::dim});
      table.add(std::move(row));
    }
  }
  return table.render(color);
}

std::string unowned_warning(const Snapshot& snap,
                            std::span<const Socket* const> sockets) {
  std::map<Unowned, size_t> counts;
  size_t total = 0;
  for (const Socket* s : sockets) {
    Unowned why = snap.why_unowned(*s);
    if (why == Unowned::none || why == Unowned::no_file) continue;
    ++counts[why];
    ++total;
  }
  if (total == 0) return "";
  std::string text = plural(total, "socket shows", "sockets show") + " no owner:";
  bool first = true;
  for (const auto& [why, n] : counts) {
    text += (first ? " " : "; ") + with_commas(n) + " " +
            (why == Unowned::not_privileged
                 ? "whose holders may be processes this user cannot read: run as root"
             : why == Unowned::unreadable
                 ? "held by processes whose fd tables are unreadable even as root "
                   "(protected or hidden)"
                 : "held by processes hidden from this view (another pid namespace, "
                   "a hidden process, or one that exited during the scan)");
    first = false;
  }
  return text;
}

}  // namespace portrel
