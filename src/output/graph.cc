// The DOT text of `portrel graph`, in three passes: choose the process nodes
// (the sockets' holders and the processes asked for, identical siblings folded
// into one node), place them in nested clusters (container, then the children
// of a parent that is not drawn, then a drawn process tree), and write the
// socket clusters of port_groups(), the holding edges and a legend. A process's
// "drawn parent" is its nearest ancestor that is drawn too, in the same
// container; PID 1 is never one, or every service would be a single tree.
#include "output/graph.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "analysis/free_plan.h"
#include "analysis/sharing.h"
#include "output/columns.h"
#include "output/views.h"
#include "util/text.h"

namespace portrel {
namespace {

constexpr size_t kCommandWidth = 44;   ///< code points of a command line in a label
constexpr size_t kTooltipWidth = 400;  ///< code points of a command line in a tooltip
constexpr size_t kTooltipPids = 32;    ///< pids a fold's tooltip lists

struct KindStyle {
  const char* color;
  const char* meaning;
};
// Indexed by SharingKind.
constexpr KindStyle kKindStyles[] = {
    {"#a6cee3", "one socket held by several processes: one accept queue"},
    {"#b2df8a", "SO_REUSEPORT sockets on one address: the kernel spreads connections"},
    {"#fdbf6f", "sockets on different local addresses: independent"},
    {"#cab2d6", "an IPv4 and an IPv6 socket: independent"},
    {"#ffff99", "TCP and UDP on one number: independent"},
    {"#fb9a99", "connected sockets beside their listener"},
};
static_assert(std::size(kKindStyles) == size_t(SharingKind::connections) + 1);

// Escapes text that is already safe to show (sanitised, or portrel's own) for
// a DOT quoted string. Graphviz reads the backslashes of a label once, and
// those of a TOOLTIP twice (as an escString, then as a tooltip's \n).
std::string escape(std::string_view safe, bool tooltip = false) {
  std::string out;
  out.reserve(safe.size());
  for (char c : safe) {
    if (c == '\\') {
      out += tooltip ? "\\\\\\\\" : "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '&') {
      out += "&amp;";
    } else {
      out += c;
    }
  }
  return out;
}

// Untrusted TEXT for a tooltip, as dot_text() is for a label.
std::string tooltip_text(std::string_view text) { return escape(sanitize(text), true); }

// Sanitised TEXT without its trailing spaces (nginx pads its process titles),
// cut to WIDTH code points, the last one an ellipsis.
std::string cut(std::string_view text, size_t width) {
  text = text.substr(0, text.find_last_not_of(' ') + 1);
  std::string safe = sanitize(text);
  if (display_width(safe) <= width) return safe;
  size_t points = 0, at = 0;
  for (; at < safe.size(); ++at) {
    if ((static_cast<unsigned char>(safe[at]) & 0xc0) != 0x80 && ++points == width)
      break;
  }
  return safe.substr(0, at) + "…";
}

std::string fd_range(int low, int high) {
  return low == high ? fmt::format("fd {}", low) : fmt::format("fd {}…{}", low, high);
}

// A box: one process, or several identical siblings folded together.
struct ProcNode {
  std::string id;
  std::vector<pid_t> pids;  ///< sorted; more than one for a fold
  pid_t up = 0;             ///< the drawn parent of its processes (0: none)
  pid_t parent = 0;         ///< their ppid (0: unknown)
  std::string container;    ///< "podman 3f2a12345678", "" outside containers
};

class Builder {
 public:
  Builder(const Snapshot& snap, std::span<const Socket* const> sockets,
          const GraphOptions& options)
      : snap_(snap), sockets_(sockets), options_(options) {}

  std::string dot() {
    choose_processes();
    std::string out =
        "digraph portrel {\n"
        "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=10, nodesep=0.2, "
        "ranksep=0.8];\n"
        "  node [fontname=\"Helvetica\", fontsize=10, shape=box];\n"
        "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#444444\"];\n";
    write_processes(out);
    write_sockets(out);
    write_edges(out);
    write_legend(out);
    return out + "}\n";
  }

 private:
  const std::string& container(pid_t pid) {
    auto [it, added] = container_.try_emplace(pid);
    if (added) {
      const Process* p = snap_.process(pid);
      if (auto c = p ? container_of_cgroup(p->cgroup) : std::nullopt) {
        it->second = c->first + " " + c->second.substr(0, 12);
      }
    }
    return it->second;
  }

  // The nearest ancestor of PID that is drawn, when it is in PID's container.
  pid_t drawn_parent(pid_t pid, const std::set<pid_t>& drawn) {
    const Process* p = snap_.process(pid);
    for (size_t depth = 0; p && p->ppid > 1 && p->ppid != p->pid && depth < 4096;
         ++depth) {
      if (drawn.contains(p->ppid)) {
        return container(p->ppid) == container(pid) ? p->ppid : 0;
      }
      p = snap_.process(p->ppid);
    }
    return 0;
  }

  void choose_processes() {
    std::set<pid_t> drawn;
    std::map<pid_t, std::vector<size_t>> held;  // pid -> indexes into sockets_
    for (size_t i = 0; i < sockets_.size(); ++i) {
      for (const Holding& h : snap_.holders(*sockets_[i])) {
        drawn.insert(h.pid);
        held[h.pid].push_back(i);
      }
    }
    for (pid_t pid : options_.processes) {
      if (snap_.process(pid)) drawn.insert(pid);
    }
    std::map<pid_t, pid_t> up;
    std::unordered_set<pid_t> has_child;
    for (pid_t pid : drawn) {
      up[pid] = drawn_parent(pid, drawn);
      if (up[pid] != 0) has_child.insert(up[pid]);
    }
    // Siblings that look alike fold: same parent, container, name and sockets.
    using Key = std::tuple<pid_t, std::string, std::string, std::vector<size_t>>;
    std::map<Key, std::vector<pid_t>> alike;
    for (pid_t pid : drawn) {
      const Process* p = snap_.process(pid);
      std::vector<size_t>& sockets = held[pid];
      std::ranges::sort(sockets);
      sockets.erase(std::unique(sockets.begin(), sockets.end()), sockets.end());
      if (options_.fold_at == 0 || p == nullptr || has_child.contains(pid)) {
        add_node({pid}, up[pid]);
        continue;
      }
      alike[{up[pid] != 0 ? up[pid] : p->ppid, container(pid), p->comm, sockets}]
          .push_back(pid);
    }
    for (auto& [key, pids] : alike) {
      if (pids.size() >= options_.fold_at) {
        add_node(pids, up[pids.front()]);
      } else {
        for (pid_t pid : pids) add_node({pid}, up[pid]);
      }
    }
    std::ranges::sort(nodes_, {}, [](const ProcNode& n) { return n.pids.front(); });
    for (size_t i = 0; i < nodes_.size(); ++i) {
      for (pid_t pid : nodes_[i].pids) node_of_[pid] = i;
    }
  }

  void add_node(std::vector<pid_t> pids, pid_t up) {
    ProcNode n;
    n.id = fmt::format("{}{}", pids.size() > 1 ? 'f' : 'p', pids.front());
    const Process* p = snap_.process(pids.front());
    n.parent = p ? p->ppid : 0;
    n.up = up;
    n.container = container(pids.front());
    n.pids = std::move(pids);
    nodes_.push_back(std::move(n));
  }

  std::string process_node(const ProcNode& n) {
    const Process* p = snap_.process(n.pids.front());
    std::string name = p ? dot_text(p->comm) : "?";
    std::string label, tooltip;
    if (n.pids.size() == 1) {
      label = fmt::format("{} {}", name, n.pids.front());
      tooltip = fmt::format("pid {}", n.pids.front());
    } else {
      label = fmt::format("{} ×{}\\npids {}…{}", name, n.pids.size(), n.pids.front(),
                          n.pids.back());
      tooltip = "pids";
      for (size_t i = 0; i < n.pids.size() && i < kTooltipPids; ++i) {
        tooltip += fmt::format("{}{}", i ? ", " : " ", n.pids[i]);
      }
      if (n.pids.size() > kTooltipPids) tooltip += ", …";
    }
    if (p && !p->user.empty()) {
      label += "\\n" + dot_text(p->user);
      tooltip += ", user " + tooltip_text(p->user);
    }
    if (p && !p->cmdline.empty()) {
      if (p->cmdline != p->comm)
        label += "\\n" + escape(cut(p->cmdline, kCommandWidth));
      tooltip += "\\n" + escape(cut(p->cmdline, kTooltipWidth), true);
    }
    if (p && !p->exe.empty())
      tooltip += "\\nexe " + escape(cut(p->exe, kTooltipWidth), true);
    return fmt::format("{} [label=\"{}\", tooltip=\"{}\"{}];\n", n.id, label, tooltip,
                       n.pids.size() > 1 ? ", peripheries=2" : "");
  }

  std::string process_label(pid_t pid) {
    const Process* p = snap_.process(pid);
    return fmt::format("{} {}", p ? dot_text(p->comm) : "pid", pid);
  }

  // Nodes by container, then by the parent shared by several tree roots (0:
  // none), then by tree root.
  void write_processes(std::string& out) {
    std::vector<size_t> root(nodes_.size());
    for (size_t i = 0; i < nodes_.size(); ++i) {
      size_t r = i;
      for (size_t depth = 0; nodes_[r].up != 0 && depth < nodes_.size(); ++depth) {
        r = node_of_.at(nodes_[r].up);
      }
      root[i] = r;
    }
    std::map<std::pair<std::string, pid_t>, size_t> siblings;  // processes per parent
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (root[i] == i && nodes_[i].parent > 1) {
        siblings[{nodes_[i].container, nodes_[i].parent}] += nodes_[i].pids.size();
      }
    }
    std::map<std::string, std::map<pid_t, std::map<size_t, std::vector<size_t>>>>
        layout;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      const ProcNode& r = nodes_[root[i]];
      pid_t parent =
          r.parent > 1 && siblings[{r.container, r.parent}] > 1 ? r.parent : 0;
      layout[r.container][parent][root[i]].push_back(i);
    }
    for (const auto& [box, by_parent] : layout) {
      std::string indent = "  ";
      if (!box.empty()) {
        out += fmt::format(
            "{}subgraph \"cluster_c_{}\" {{\n{}  label=\"{}\"; style=bold;\n", indent,
            dot_text(box), indent, dot_text(box));
        indent += "  ";
      }
      for (const auto& [parent, trees] : by_parent) {
        if (parent != 0) {
          out += fmt::format(
              "{}subgraph cluster_k{} {{\n{}  label=\"children of {}\"; "
              "style=dashed;\n",
              indent, parent, indent, process_label(parent));
          indent += "  ";
        }
        for (const auto& [r, members] : trees) {
          if (members.size() > 1) {
            size_t processes = 0;
            for (size_t m : members) processes += nodes_[m].pids.size();
            out += fmt::format(
                "{}subgraph cluster_t{} {{\n{}  label=\"{} + {}\"; style=rounded;\n",
                indent, nodes_[r].id, indent, process_label(nodes_[r].pids.front()),
                plural(processes - nodes_[r].pids.size(), "child", "children"));
          }
          std::string inner = indent + (members.size() > 1 ? "  " : "");
          for (size_t m : members) out += inner + process_node(nodes_[m]);
          if (members.size() > 1) out += indent + "}\n";
        }
        if (parent != 0) {
          indent.resize(indent.size() - 2);
          out += indent + "}\n";
        }
      }
      if (!box.empty()) out += "  }\n";
    }
  }

  std::string socket_id(size_t i) {
    const Socket& s = *sockets_[i];
    return s.inode != 0 ? fmt::format("s{}", s.inode) : fmt::format("s0_{}", i);
  }

  std::string socket_node(size_t i, uint32_t kind_bits) {
    const Socket& s = *sockets_[i];
    std::string label =
        fmt::format("{} {}", proto_name(s.proto),
                    dot_text(local_endpoint(s)));
    if (!s.is_listening()) {
      label += fmt::format("\\n{}", state_name(s.proto, s.state));
      if (s.remote_port != 0) {
        label += " → " + dot_text(endpoint(s.remote_addr, s.remote_port));
      }
    }
    std::string tooltip = fmt::format("inode {}", s.inode);
    bool unowned = snap_.holders(s).empty();
    if (unowned) {
      label += "\\nno visible holder";
      tooltip += "\\n" + escape(unowned_reason(snap_.why_unowned(s)), true);
    }
    std::vector<std::string> colors;
    for (SharingKind k : sharing_kinds()) {
      if (kind_bits & (1u << uint32_t(k)))
        colors.push_back(kKindStyles[size_t(k)].color);
    }
    std::string style = colors.size() > 1 ? "wedged" : "filled";
    std::string fill = colors.empty() ? "white" : colors[0];
    for (size_t c = 1; c < colors.size(); ++c) fill += ":" + colors[c];
    return fmt::format(
        "{} [shape=ellipse, style=\"{}{}\", fillcolor=\"{}\", label=\"{}\", "
        "tooltip=\"{}\"];\n",
        socket_id(i), style, unowned ? ",dashed" : "", fill, label, tooltip);
  }

  void write_sockets(std::string& out) {
    std::unordered_map<const Socket*, size_t> index;
    std::set<uint64_t> namespaces;
    for (size_t i = 0; i < sockets_.size(); ++i) {
      index[sockets_[i]] = i;
      namespaces.insert(sockets_[i]->netns);
    }
    const Netns* only =
        namespaces.size() == 1 ? snap_.netns(*namespaces.begin()) : nullptr;
    bool name_netns = !(only && only->is_host) && !namespaces.empty();
    std::vector<bool> grouped(sockets_.size());
    for (const PortGroup& g : port_groups(snap_, sockets_)) {
      std::vector<SharingKind> kinds = g.kinds();
      for (SharingKind k : kinds) kinds_seen_.insert(k);
      std::string label = fmt::format("port {}", g.port);
      if (name_netns) label += " · " + dot_text(netns_label(snap_, g.netns));
      for (size_t k = 0; k < kinds.size(); ++k) {
        label += (k == 0 ? "\\n" : ", ") + std::string(sharing_kind_name(kinds[k]));
      }
      out += fmt::format(
          "  subgraph cluster_s{}_{} {{\n    label=\"{}\"; style=rounded; "
          "color=\"#888888\";\n",
          g.netns, g.port, label);
      for (const Socket* s : g.sockets) {
        size_t i = index.at(s);
        grouped[i] = true;
        auto bits = g.kind_bits.find(s);
        out += "    " + socket_node(i, bits == g.kind_bits.end() ? 0 : bits->second);
      }
      out += "  }\n";
    }
    for (size_t i = 0; i < sockets_.size(); ++i) {
      if (!grouped[i]) out += "  " + socket_node(i, 0);
    }
  }

  void write_edges(std::string& out) {
    for (const ProcNode& n : nodes_) {
      if (n.up == 0) continue;
      has_tree_edges_ = true;
      out += fmt::format(
          "  {} -> {} [style=dotted, arrowhead=onormal, color=\"#888888\"];\n",
          nodes_[node_of_.at(n.up)].id, n.id);
    }
    for (size_t i = 0; i < sockets_.size(); ++i) {
      // A fold's holdings of one socket become one edge: fd range, dashed when
      // any of them lacks close-on-exec.
      struct Folded {
        int low = 0, high = 0;
        bool leaks = false;
      };
      std::map<size_t, Folded> folded;
      for (const Holding& h : snap_.holders(*sockets_[i])) {
        size_t n = node_of_.at(h.pid);
        if (nodes_[n].pids.size() == 1) {
          out += fmt::format("  {} -> {} [label=\"fd {}\"{}];\n", nodes_[n].id,
                             socket_id(i), h.fd, h.cloexec ? "" : ", style=dashed");
          leaks_ |= !h.cloexec;
          continue;
        }
        auto [f, added] = folded.try_emplace(n, Folded{h.fd, h.fd, !h.cloexec});
        f->second.low = std::min(f->second.low, h.fd);
        f->second.high = std::max(f->second.high, h.fd);
        f->second.leaks |= !h.cloexec;
      }
      for (const auto& [n, f] : folded) {
        out += fmt::format("  {} -> {} [label=\"{}\", penwidth=2{}];\n", nodes_[n].id,
                           socket_id(i), fd_range(f.low, f.high),
                           f.leaks ? ", style=dashed" : "");
        leaks_ |= f.leaks;
      }
    }
  }

  // One HTML-like label of portrel's own words (no text from other processes).
  void write_legend(std::string& out) {
    std::string rows;
    for (SharingKind k : kinds_seen_) {
      rows +=
          fmt::format("<TR><TD BGCOLOR=\"{}\">{}</TD><TD ALIGN=\"LEFT\">{}</TD></TR>",
                      kKindStyles[size_t(k)].color, sharing_kind_name(k),
                      kKindStyles[size_t(k)].meaning);
    }
    rows +=
        "<TR><TD>fd N ───</TD><TD ALIGN=\"LEFT\">holds the socket as fd N, "
        "close-on-exec</TD></TR>";
    if (leaks_) {
      rows +=
          "<TR><TD>fd N - - -</TD><TD ALIGN=\"LEFT\">fd N without close-on-exec: "
          "programs it executes inherit it</TD></TR>";
    }
    if (has_tree_edges_) {
      rows += "<TR><TD>· · · ▷</TD><TD ALIGN=\"LEFT\">parent to child</TD></TR>";
    }
    if (std::ranges::any_of(nodes_,
                            [](const ProcNode& n) { return n.pids.size() > 1; })) {
      rows +=
          "<TR><TD>name ×N</TD><TD ALIGN=\"LEFT\">N processes alike: one name, one "
          "parent, the same sockets</TD></TR>";
    }
    out += fmt::format(
        "  legend [shape=plaintext, label=<<TABLE BORDER=\"0\" CELLBORDER=\"1\" "
        "CELLSPACING=\"0\" CELLPADDING=\"3\"><TR><TD "
        "COLSPAN=\"2\"><B>legend</B></TD></TR>"
        "{}</TABLE>>];\n",
        rows);
  }

  const Snapshot& snap_;
  std::span<const Socket* const> sockets_;
  const GraphOptions& options_;
  std::vector<ProcNode> nodes_;
  std::unordered_map<pid_t, size_t> node_of_;
  std::unordered_map<pid_t, std::string> container_;
  std::set<SharingKind> kinds_seen_;
  bool leaks_ = false;
  bool has_tree_edges_ = false;
};

}  // namespace

std::string dot_text(std::string_view text) { return escape(sanitize(text)); }

std::string graph_dot(const Snapshot& snapshot, std::span<const Socket* const> sockets,
                      const GraphOptions& options) {
  return Builder(snapshot, sockets, options).dot();
}

}  // namespace portrel
