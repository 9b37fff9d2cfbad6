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
#include <set>
#include <sstream>

#include "analysis/audit.h"
#include "analysis/audit_ignore.h"
#include "cli/commands.h"
#include "cli/filter.h"
#include "cli/report.h"
#include "output/audit_view.h"
#include "sources/waits.h"

namespace portrel {
namespace {

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
    case Format::json:
      fmt::print("{}\n", audit_json(*snap, findings, dropped, warnings));
      break;
    case Format::csv:
      fmt::print("{}", audit_csv(findings));
      print_warnings(o, warnings);
      break;
    case Format::table:
      fmt::print("{}", audit_text(findings, dropped, use_color(o)));
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
