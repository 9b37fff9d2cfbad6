// Rows of `sharing` and `finding` from analysis/. Lists (a finding's pids and
// inodes) are JSON arrays in text, so SQLite's json_each() can join them.
#include "query/derived.h"

#include <array>
#include <string>

#include "analysis/sharing.h"

namespace portrel {
namespace {

constexpr std::array kSharingColumns = {
    DerivedColumn{"netns", "integer", "inode of the network namespace"},
    DerivedColumn{"netns_name", "text", "\"host\", the /run/netns name, or net:[INODE]"},
    DerivedColumn{"port", "integer", "the port number (all protocols together)"},
    DerivedColumn{"kind", "text",
                  "inherited, reuseport, addresses, dual-stack, protocols or connections"},
    DerivedColumn{"inode", "integer", "a socket this kind of sharing involves"},
};

constexpr std::array kFindingColumns = {
    DerivedColumn{"id", "integer", "position in the audit's order (most severe first)"},
    DerivedColumn{"severity", "text", "info, warning or error"},
    DerivedColumn{"kind", "text", "cloexec, leaked, herd, exposed or unowned"},
    DerivedColumn{"summary", "text", "one line"},
    DerivedColumn{"explanation", "text", "one paragraph"},
    DerivedColumn{"fix", "text", "how to fix it"},
    DerivedColumn{"inodes", "text", "the sockets concerned, as a JSON array"},
    DerivedColumn{"pids", "text", "the processes concerned, as a JSON array"},
};

template <typename T, typename F>
std::string json_array(const std::vector<T>& items, F number) {
  std::string out = "[";
  for (const T& item : items) {
    if (out.size() > 1) out += ",";
    out += std::to_string(number(item));
  }
  return out + "]";
}

Value integer(uint64_t v) { return static_cast<int64_t>(v); }

}  // namespace

std::span<const DerivedColumn> sharing_columns() { return kSharingColumns; }
std::span<const DerivedColumn> finding_columns() { return kFindingColumns; }

Rows sharing_rows(const Snapshot& snapshot, std::span<const Socket* const> sockets) {
  Rows rows;
  for (const PortGroup& g : port_groups(snapshot, sockets)) {
    for (const Sharing& s : g.sharing) {
      for (const Socket* socket : s.sockets) {
        rows.push_back({integer(g.netns), netns_label(snapshot, g.netns),
                        integer(g.port), std::string(sharing_kind_name(s.kind)),
                        integer(socket->inode)});
      }
    }
  }
  return rows;
}

Rows finding_rows(const Snapshot& snapshot, std::span<const Socket* const> sockets,
                  const AuditEvidence& evidence) {
  Rows rows;
  int64_t id = 0;
  for (const Finding& f : audit(snapshot, sockets, evidence)) {
    rows.push_back({++id, std::string(severity_name(f.severity)),
                    std::string(finding_kind_name(f.kind)), f.summary, f.explanation,
                    f.fix,
                    json_array(f.sockets, [](const Socket* s) { return s->inode; }),
                    json_array(f.pids, [](pid_t p) { return p; })});
  }
  return rows;
}

}  // namespace portrel
