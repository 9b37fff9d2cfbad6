// `portrel audit`: captures, reads who waits on each listener (threads blocked in
// accept, epoll interest lists) for the listeners' holders only, and prints the
// findings, less those an ignore rule accepts (--ignore, /etc/portrel/audit.conf
// or --config). Exit 3 when any finding left is a warning or worse, so it can
// run in monitoring; 4 when portrel could not see every holder (not root); 0
// otherwise.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "analysis/audit.h"
#include "analysis/audit_ignore.h"
#include "cli/commands.h"
#include "cli/filter.h"
#include "cli/report.h"
#include "output/columns.h"
#include "output/render.h"
#include "output/table.h"
#include "output/views.h"
#include "sources/waits.h"
#include "util/text.h"

namespace portrel {
namespace {

nlohmann::json finding_json(const Snapshot& snap, const Finding& f) {
  nlohmann::json sockets = nlohmann::json::array();
  for (const Socket* s : f.sockets) {
    sockets.push_back({{"inode", s->inode},
                       {"netns", s->netns},
                       {"netns_name", netns_label(snap, s->netns)},
                       {"proto", proto_name(s->proto)},
                       {"local_address", s->local_addr.to_string()},
                       {"local_port", s->local_port}});
  }
  nlohmann::json processes = nlohmann::json::array();
  for (pid_t pid : f.pids) {
    const Process* p = snap.process(pid);
    processes.push_back({{"pid", pid},
                         {"comm", p ? nlohmann::json(p->comm) : nlohmann::json()},
                         {"exe", p && !p->exe.empty() ? nlohmann::json(p->exe)
                                                      : nlohmann::json()}});
  }
  return {{"kind", finding_kind_name(f.kind)}, {"severity", severity_name(f.severity)},
          {"summary", f.summary},              {"explanation", f.explanation},
          {"fix", f.fix},                      {"sockets", sockets},
          {"processes", processes}};
}

std::string findings_text(const std::vector<Finding>& findings, bool color) {
  std::string out;
  for (const Finding& f : findings) {
    Style style = f.severity >= Severity::warning ? Style::warn : Style::dim;
    out += styled(fmt::format("{:<7} {:<7}", severity_name(f.severity),
                              finding_kind_name(f.kind)),
                  style, color) +
           " " + styled(f.summary, Style::bold, color) + "\n";
    out += "        " + f.explanation + "\n";
    out += "        " + styled("fix:", Style::accent, color) + " " + f.fix + "\n\n";
  }
  size_t warnings = 0;
  for (const Finding& f : findings) warnings += f.severity >= Severity::warning;
  out += fmt::format("{}, {} of severity warning or above\n",
                     plural(findings.size(), "finding", "findings"), with_commas(warnings));
  return out;
}

constexpr const char* kAuditConfig = "/etc/portrel/audit.conf";

// The ignore rules of --ignore and of the config file (--config, else
// /etc/portrel/audit.conf when it exists).
Result<std::vector<AuditIgnore>> ignore_rules(const Options& o) {
  std::vector<AuditIgnore> rules;
  for (const std::string& text : o.ignore) {
    auto rule = parse_audit_ignore(text);
    if (!rule) return std::unexpected(rule.error());
    rules.push_back(std::move(*rule));
  }
  std::string path = o.audit_config.empty() ? kAuditConfig : o.audit_config;
  std::ifstream file(path);
  if (!file) {
    if (!o.audit_config.empty()) {
      return std::unexpected(Error{"cannot read " + path + ": " + strerror(errno)});
    }
    return rules;
  }
  std::stringstream text;
  text << file.rdbuf();
  auto from_file = parse_audit_config(text.str());
  if (!from_file) return std::unexpected(Error{path + ": " + from_file.error().message});
  rules.insert(rules.end(), from_file->begin(), from_file->end());
  return rules;
}

}  // namespace

void configure_audit(CLI::App& app, Options& o) {
  app.add_option("--ignore", o.ignore,
                 "accept a known finding: KIND, KIND:PORT or KIND:NAME (a process name); "
                 "KIND is cloexec, leaked, herd, exposed, unowned or * (repeatable)");
  app.add_option("--config", o.audit_config,
                 std::string("a file of ignore rules, one per line (default ") + kAuditConfig +
                     " when it exists)");
}

int run_audit(const Options& o) {
  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  auto rules = ignore_rules(o);
  if (!rules) return usage_error("audit: " + rules.error().message);
  auto snap = capture_for(o, *filter);
  if (!snap) return capture_failed(snap.error());
  std::vector<const Socket*> sockets = select_sockets(*snap, *filter);
  std::set<pid_t> holders;
  for (const Socket* s : sockets) {
    if (!s->is_listening()) continue;
    for (const Holding& h : snap->holders(s->inode)) holders.insert(h.pid);
  }
  std::vector<pid_t> pids(holders.begin(), holders.end());
  std::vector<Finding> findings = audit(*snap, sockets, read_waits(pids));
  size_t before = findings.size();
  std::erase_if(findings, [&](const Finding& f) { return ignored(*snap, f, *rules); });
  size_t dropped = before - findings.size();
  std::vector<std::string> warnings(snap->warnings().begin(), snap->warnings().end());

  switch (o.format) {
    case Format::json: {
      nlohmann::json doc = nlohmann::json::object();
      nlohmann::json list = nlohmann::json::array();
      for (const Finding& f : findings) list.push_back(finding_json(*snap, f));
      doc["findings"] = std::move(list);
      doc["ignored"] = dropped;
      doc["warnings"] = warnings;
      fmt::print("{}\n", doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
      break;
    }
    case Format::csv:
      fmt::print("severity,kind,summary,inodes,pids\r\n");
      for (const Finding& f : findings) {
        std::string inodes, pid_list;
        for (const Socket* s : f.sockets) {
          inodes += (inodes.empty() ? "" : ";") + std::to_string(s->inode);
        }
        for (pid_t pid : f.pids) pid_list += (pid_list.empty() ? "" : ";") + std::to_string(pid);
        fmt::print("{},{},{},{},{}\r\n", severity_name(f.severity), finding_kind_name(f.kind),
                   csv_field(f.summary), inodes, pid_list);
      }
      print_warnings(o, warnings);
      break;
    case Format::table:
      fmt::print("{}", findings_text(findings, use_color(o)));
      if (dropped > 0) {
        fmt::print("{} by ignore rules\n", plural(dropped, "finding hidden", "findings hidden"));
      }
      print_warnings(o, warnings);
      break;
  }
  // Blind to other users' processes, an audit cannot say "nothing wrong".
  if (std::string reason = partial_reason(*snap, true); !reason.empty()) {
    return answer_exit(true, reason);
  }
  return has_warnings(findings) ? kExitFindings : kExitFound;
}

}  // namespace portrel
