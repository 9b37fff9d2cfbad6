// Prometheus and OpenMetrics text. Each family is built as a sorted map from its
// label set to a value, then cut to the series limit, so the output is stable
// between scrapes and its size bounded whatever the host runs.
#include "output/metrics.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "analysis/free_plan.h"
#include "analysis/sharing.h"
#include "output/columns.h"
#include "output/sharing_view.h"
#include "util/text.h"

namespace portrel {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

std::string escape_label(const std::string& raw) {
  std::string out;
  for (char c : sanitize(raw)) {
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  return out;
}

std::string label_text(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    out += (i ? "," : "") + labels[i].first + "=\"" + escape_label(labels[i].second) + "\"";
  }
  return out + "}";
}

struct Family {
  std::string name;  ///< without _total
  std::string type;  ///< gauge or counter
  std::string help;
  std::map<Labels, double> series;
};

class Writer {
 public:
  Writer(MetricsFormat format, size_t max_series) : format_(format), max_(max_series) {}

  void add(const Family& f) {
    bool counter = f.type == "counter";
    std::string sample = counter ? f.name + "_total" : f.name;
    std::string typed = format_ == MetricsFormat::openmetrics || !counter ? f.name : sample;
    out_ += "# HELP " + typed + " " + f.help + "\n";
    out_ += "# TYPE " + typed + " " + f.type + "\n";
    size_t n = 0;
    for (const auto& [labels, value] : f.series) {
      if (n++ == max_) {
        dropped_[f.name] = f.series.size() - max_;
        break;
      }
      out_ += sample + label_text(labels) + " " + fmt::format("{}", value) + "\n";
    }
  }

  std::string finish() {
    Family d{"portrel_series_dropped", "gauge",
             "Series left out of a metric family by the series limit (--max-series)",
             {}};
    for (const auto& [name, n] : dropped_) d.series[{{"metric", name}}] = static_cast<double>(n);
    size_t keep = max_;
    max_ = SIZE_MAX;
    add(d);
    max_ = keep;
    if (format_ == MetricsFormat::openmetrics) out_ += "# EOF\n";
    return std::move(out_);
  }

 private:
  MetricsFormat format_;
  size_t max_;
  std::string out_;
  std::map<std::string, size_t> dropped_;
};

std::string comm_of(const Snapshot& snap, pid_t pid) {
  const Process* p = snap.process(pid);
  return p ? p->comm : "";
}

}  // namespace

const char* metrics_content_type(MetricsFormat format) {
  return format == MetricsFormat::openmetrics
             ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
             : "text/plain; version=0.0.4; charset=utf-8";
}

std::string render_metrics(const Snapshot& snap, std::span<const Socket* const> sockets,
                           std::span<const Finding> findings, const MetricsContext& context,
                           MetricsFormat format) {
  Writer w(format, context.max_series);
  std::vector<const Socket*> listening;
  for (const Socket* s : sockets) {
    if (s->is_listening() && s->local_port != 0) listening.push_back(s);
  }
  std::vector<PortGroup> groups = port_groups(snap, listening);
  std::map<const Socket*, const PortGroup*> group_of;
  for (const PortGroup& g : groups) {
    for (const Socket* s : g.sockets) group_of[s] = &g;
  }

  // One series per (netns, proto, address, port): SO_REUSEPORT siblings count
  // together, as the default view shows them.
  struct Row {
    std::vector<const Socket*> sockets;
    std::set<pid_t> pids;
  };
  std::map<std::tuple<uint64_t, Proto, Address, uint32_t>, Row> rows;
  for (const Socket* s : listening) {
    Row& r = rows[{s->netns, s->proto, s->local_addr, s->local_port}];
    r.sockets.push_back(s);
    for (const Holding& h : snap.holders(*s)) r.pids.insert(h.pid);
  }
  Family sockets_family{"portrel_listening_sockets", "gauge",
                        "Listening TCP and bound UDP sockets, by address, port and the names "
                        "of the processes that hold them",
                        {}};
  Family holders{"portrel_listener_holders", "gauge",
                 "Processes holding the listening sockets of an address and port", {}};
  std::map<std::string, std::set<std::tuple<uint64_t, Proto, uint32_t>>> ports_of;
  for (const auto& [key, r] : rows) {
    const Socket& first = *r.sockets.front();
    std::set<std::string> names, containers;
    for (const Socket* s : r.sockets) {
      for (pid_t root : holder_roots(snap, s->inode)) {
        names.insert(comm_of(snap, root));
        const Process* p = snap.process(root);
        if (auto c = p ? container_of_cgroup(p->cgroup) : std::nullopt) {
          containers.insert(c->first + ":" + c->second.substr(0, 12));
        }
      }
    }
    for (pid_t pid : r.pids) ports_of[comm_of(snap, pid)].insert({first.netns, first.proto, first.local_port});
    auto join = [](const std::set<std::string>& set) {
      std::string out;
      for (const std::string& s : set) out += (out.empty() ? "" : ",") + s;
      return out;
    };
    std::string sharing;
    if (auto it = group_of.find(&first); it != group_of.end()) {
      sharing = kinds_text(it->second->kinds_of(r.sockets));
    }
    Labels base{{"netns", netns_label(snap, first.netns)},
                {"proto", std::string(proto_name(first.proto))},
                {"address", first.local_addr.to_string()},
                {"port", std::to_string(first.local_port)}};
    Labels full = base;
    full.emplace_back("process", join(names));
    full.emplace_back("container", join(containers));
    full.emplace_back("sharing", sharing);
    sockets_family.series[full] = static_cast<double>(r.sockets.size());
    holders.series[base] = static_cast<double>(r.pids.size());
  }
  w.add(sockets_family);
  w.add(holders);

  Family ports{"portrel_process_listening_ports", "gauge",
               "Distinct listening ports held by the processes of one name", {}};
  for (const auto& [name, set] : ports_of) {
    ports.series[{{"process", name}}] = static_cast<double>(set.size());
  }
  w.add(ports);

  Family audit{"portrel_audit_findings", "gauge", "Audit findings, by kind and severity", {}};
  for (const Finding& f : findings) {
    audit.series[{{"kind", std::string(finding_kind_name(f.kind))},
                  {"severity", std::string(severity_name(f.severity))}}] += 1;
  }
  w.add(audit);

  w.add({"portrel_capture_duration_seconds", "gauge", "How long the last capture took",
         {{{}, context.capture_seconds}}});
  w.add({"portrel_captures", "counter", "Captures since the server started",
         {{{}, static_cast<double>(context.captures)}}});
  w.add({"portrel_capture_errors", "counter", "Captures that failed",
         {{{}, static_cast<double>(context.capture_errors)}}});
  Family parts{"portrel_bpf_part_loaded", "gauge",
               "Whether each part of the bpf source is loaded (0: refused, the next best "
               "source is used)",
               {}};
  for (const auto& [name, loaded] : context.bpf_parts) parts.series[{{"part", name}}] = loaded;
  w.add(parts);
  w.add({"portrel_source", "gauge", "Where the processes and fd tables were read from",
         {{{{"source", context.source}}, 1}}});
  return w.finish();
}

}  // namespace portrel
