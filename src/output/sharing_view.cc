// Renderings of the sharing classification. The analysis says which kinds apply
// and to which sockets; here they become words ("inherited by nginx 1201 and its
// 8 children: one accept queue"), table cells and JSON.
#include "output/sharing_view.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include "output/columns.h"
#include "output/holders.h"
#include "output/table.h"
#include "output/views.h"
#include "util/json_writer.h"
#include "util/text.h"

namespace portrel {
namespace {

std::string where(const Socket& s) {
  return std::string(proto_name(s.proto)) + " " +
         local_endpoint(s);
}

std::string who(const Snapshot& snap, pid_t pid) {
  const Process* p = snap.process(pid);
  return (p ? sanitize(p->comm) + " " : std::string()) + std::to_string(pid);
}

std::string queue(const Socket& s) {
  return s.proto == Proto::tcp ? "one accept queue" : "one receive queue";
}

std::string inherited_sentence(const Snapshot& snap, const Socket& s) {
  std::set<pid_t> pids;
  for (const Holding& h : snap.holders(s.inode)) pids.insert(h.pid);
  std::vector<pid_t> roots = holder_roots(snap, s.inode);
  std::string head = "one socket (" + where(s) + ") ";
  if (roots.size() == 1) {
    size_t others = pids.size() - 1;
    bool direct = std::ranges::all_of(pids, [&](pid_t pid) {
      const Process* p = snap.process(pid);
      return pid == roots[0] || (p && p->ppid == roots[0]);
    });
    return head + "inherited by " + who(snap, roots[0]) + " and its " + with_commas(others) +
           (direct ? (others == 1 ? " child" : " children")
                   : (others == 1 ? " descendant" : " descendants")) +
           ": " + queue(s);
  }
  std::string names;
  for (size_t i = 0; i < roots.size() && i < 4; ++i) {
    names += (i ? ", " : "") + who(snap, roots[i]);
  }
  if (roots.size() > 4) names += ", …";
  return head + "held by " + with_commas(pids.size()) + " processes in " +
         with_commas(roots.size()) + " unrelated trees (" + names +
         "): passed with SCM_RIGHTS, or inherited from a process that has exited; " +
         queue(s);
}

// "0.0.0.0 ×3, [::] ×2" for sockets grouped by endpoint.
std::string endpoints_counted(std::span<const Socket* const> sockets) {
  std::map<std::string, size_t> count;
  std::vector<std::string> order;
  for (const Socket* s : sockets) {
    std::string e = where(*s);
    if (count[e]++ == 0) order.push_back(e);
  }
  std::string out;
  for (const std::string& e : order) {
    out += (out.empty() ? "" : ", ") + e;
    if (count[e] > 1) out += " \u00d7" + with_commas(count[e]);
  }
  return out;
}

std::string names(std::span<const Socket* const> sockets, auto&& key) {
  std::vector<std::string> seen;
  std::unordered_set<std::string> known;
  for (const Socket* s : sockets) {
    std::string k = key(*s);
    if (known.insert(k).second) seen.push_back(std::move(k));
  }
  std::string out;
  for (const std::string& k : seen) out += (out.empty() ? "" : ", ") + k;
  return out;
}

}  // namespace

std::string kinds_text(std::span<const SharingKind> kinds) {
  std::string out;
  for (SharingKind k : kinds) out += (out.empty() ? "" : ",") + std::string(sharing_kind_name(k));
  return out;
}

std::vector<std::string> sharing_sentences(const Snapshot& snap, const PortGroup& group) {
  std::vector<std::string> out;
  for (const Sharing& sh : group.sharing) {
    const auto& socks = sh.sockets;
    switch (sh.kind) {
      case SharingKind::inherited:
        for (const Socket* s : socks) out.push_back(inherited_sentence(snap, *s));
        break;
      case SharingKind::reuseport:
        out.push_back(with_commas(socks.size()) + " sockets on one address (" +
                      endpoints_counted(socks) +
                      "): SO_REUSEPORT, the kernel spreads " +
                      (socks.front()->proto == Proto::tcp ? "connections" : "datagrams") +
                      " across them by a hash of the peer");
        break;
      case SharingKind::addresses:
        out.push_back("sockets on different local addresses (" +
                      names(socks, [](const Socket& s) {
                        return local_endpoint(s);
                      }) +
                      "): each receives only what is addressed to it");
        break;
      case SharingKind::dual_stack:
        out.push_back("IPv4 and IPv6 sockets (" +
                      names(socks, [](const Socket& s) {
                        return std::string(proto_name(s.proto));
                      }) +
                      "): independent, one per address family");
        break;
      case SharingKind::protocols:
        out.push_back(names(socks, [](const Socket& s) {
                        return std::string(proto_name(s.proto));
                      }) + " on one port number: independent, one per protocol");
        break;
      case SharingKind::connections: {
        size_t conns = std::ranges::count_if(
            socks, [](const Socket* s) { return !s->is_listening(); });
        out.push_back(with_commas(conns) + " connected socket" + (conns == 1 ? "" : "s") +
                      " on the listener's port: accepted connections, a normal server");
        break;
      }
    }
  }
  return out;
}

void write_ports_json(JsonWriter& json, const Snapshot& snap,
                      std::span<const PortGroup> groups,
                      std::span<const std::vector<std::string>> explanations) {
  json.begin_array();
  for (size_t i = 0; i < groups.size(); ++i) {
    const PortGroup& g = groups[i];
    NetnsLabelBuffer label;
    json.begin_object();
    json.key("netns").integer(g.netns);
    json.key("netns_name").string(netns_label(snap, g.netns, label));
    json.key("port").integer(g.port);
    std::vector<Proto> protos;
    for (const Socket* s : g.sockets) {
      if (std::ranges::find(protos, s->proto) == protos.end()) protos.push_back(s->proto);
    }
    json.key("protos").begin_array();
    for (Proto p : protos) json.string(proto_name(p));
    json.end_array().key("sockets").begin_array();
    for (const Socket* s : g.sockets) json.integer(s->inode);
    json.end_array().key("pids").begin_array();
    for (pid_t pid : g.pids) json.integer(pid);
    json.end_array().key("shared").boolean(g.shared());
    json.key("sharing").begin_array();
    for (SharingKind k : g.kinds()) json.string(sharing_kind_name(k));
    json.end_array().key("explanation").begin_array();
    if (i < explanations.size()) {
      for (const std::string& sentence : explanations[i]) json.string(sentence);
    } else {
      for (const std::string& sentence : sharing_sentences(snap, g)) json.string(sentence);
    }
    json.end_array().end_object();
  }
  json.end_array();
}

std::string shared_table(const Snapshot& snap, std::span<const PortGroup> groups, bool color) {
  // As in the other views: always when a port is not the host's.
  bool netns_col = std::ranges::any_of(groups,
                                       [&](const PortGroup& g) {
                                         const Netns* n = snap.netns(g.netns);
                                         return n == nullptr || !n->is_host;
                                       }) ||
                   std::ranges::adjacent_find(groups, [](const PortGroup& a, const PortGroup& b) {
                     return a.netns != b.netns;
                   }) != groups.end();
  std::vector<std::string> headers{">PORT"};
  if (netns_col) headers.push_back("NETNS");
  for (const char* h : {"PROTO", ">SOCKETS", ">PROCS", "SHARING", "HOW"}) headers.push_back(h);
  Table table(headers);
  for (const PortGroup& g : groups) {
    std::vector<std::string> sentences = sharing_sentences(snap, g);
    std::vector<Cell> row{{std::to_string(g.port), Style::accent}};
    if (netns_col) row.push_back({sanitize(netns_label(snap, g.netns))});
    row.push_back({names(g.sockets, [](const Socket& s) { return std::string(proto_name(s.proto)); })});
    row.push_back({with_commas(g.sockets.size())});
    row.push_back({with_commas(g.pids.size())});
    row.push_back({kinds_text(g.kinds()), Style::bold});
    row.push_back({sentences.empty() ? "" : sentences.front()});
    table.add(std::move(row));
    for (size_t i = 1; i < sentences.size(); ++i) {
      std::vector<Cell> more(headers.size() - 1, Cell{""});
      more.push_back({sentences[i]});
      table.add(std::move(more));
    }
  }
  return table.render(color);
}

}  // namespace portrel
