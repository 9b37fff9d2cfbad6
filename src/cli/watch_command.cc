// `portrel watch [PORT] [--of PID|NAME]`: the relation's changes as they happen.
// Each read of the capture loop (cli/capture_loop.h: every --interval, and soon
// after the kernel's process events) is a full capture diffed with the last
// (diff_relation), so what is printed is exactly what two captures differ in;
// then the audit findings of the watched sockets that appeared or cleared.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <array>
#include <memory>
#include <cstdio>

#include "analysis/audit.h"
#include "analysis/finding_diff.h"
#include "analysis/relation_diff.h"
#include "cli/capture_loop.h"
#include "cli/commands.h"
#include "cli/filter.h"
#include "cli/port_spec.h"
#include "cli/report.h"
#include "output/changes.h"
#include "util/text.h"

namespace portrel {
namespace {

// What the watch is scoped to.
struct Scope {
  std::optional<PortSpec> port;
  std::string of;  // --of PID|NAME|PATH
  bool tree = false;
};

// The predicate the diff keeps sockets by: the filter, the port, the processes
// (named again in each snapshot: a name may match new processes).
std::function<bool(const Snapshot&, const Socket&)> scope_predicate(const Filter& filter,
                                                                    const Scope& scope) {
  struct Named {
    const Process* key = nullptr;  // the snapshot's process table, while it lives
    std::vector<pid_t> pids;
  };
  auto cache = std::make_shared<std::array<Named, 2>>();
  return [filter, scope, cache](const Snapshot& snap, const Socket& s) {
    if (!filter.keeps(snap, s)) return false;
    if (scope.port && !scope.port->matches(s)) return false;
    if (scope.of.empty()) return true;
    const Process* key = snap.processes().data();
    Named* named = (*cache)[0].key == key ? &(*cache)[0] : &(*cache)[1];
    if (named->key != key) {
      std::swap((*cache)[0], (*cache)[1]);
      named = &(*cache)[0];
      *named = {key, named_pids(snap, scope.of, scope.tree)};
    }
    for (const Holding& h : snap.holders(s)) {
      if (std::ranges::binary_search(named->pids, h.pid)) return true;
    }
    return false;
  };
}

// Prints CHANGES, then FINDINGS, one line each; false when stdout is gone.
bool print(const Options& o, const std::vector<Change>& changes,
           const std::vector<FindingChange>& findings, const Snapshot& snap, bool initial) {
  auto now = std::chrono::system_clock::now();
  bool color = use_color(o);
  for (const Change& c : changes) {
    std::string line = o.format == Format::json ? change_json(c, snap, now, initial).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                                                : change_line(c, snap, now, color, initial);
    if (std::fputs((line + "\n").c_str(), stdout) == EOF) return false;
  }
  for (const FindingChange& f : findings) {
    std::string line = o.format == Format::json
                           ? finding_json(f, now, initial).dump(
                                 -1, ' ', false, nlohmann::json::error_handler_t::replace)
                           : finding_line(f, now, color, initial);
    if (std::fputs((line + "\n").c_str(), stdout) == EOF) return false;
  }
  return std::fflush(stdout) == 0;
}

}  // namespace

void configure_watch(CLI::App& app, Options& o) {
  app.add_option("PORT", o.target,
                 "only this port (8080, tcp/8080, udp/53, 127.0.0.1:8080, a service name)");
  app.add_option("--of", o.graph_of,
                 "only the sockets of these processes: a pid, a name or an executable's path");
  app.add_flag("--tree", o.tree, "with --of: and of every descendant");
  app.add_option("--interval", o.interval_s,
                 "seconds between reads when no process event comes (default 1)")
      ->check(CLI::Range(0.05, 3600.0));
  app.add_option("--count", o.watch_count, "stop after this many reads (0: until stopped)");
  app.add_flag("--no-initial", o.no_initial,
               "do not print the sockets present when watching begins");
}

int run_watch(const Options& o) {
  if (o.format == Format::csv) return usage_error("watch: --format is table or json");
  if (o.tree && o.graph_of.empty()) return usage_error("watch: --tree goes with --of");
  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  Scope scope{std::nullopt, o.graph_of, o.tree};
  if (!o.target.empty()) {
    auto spec = parse_port_spec(o.target);
    if (!spec) return usage_error(spec.error().message);
    if (spec->proto) filter->want(*spec->proto);
    scope.port = *spec;
  }
  DiffOptions diff;
  diff.listening_only = filter->listening_only;
  diff.select = scope_predicate(*filter, scope);
  std::optional<uint32_t> port;
  if (scope.port && filter->listening_only) port = scope.port->port;

  Options quiet = o;
  quiet.verbose = false;
  // One capturer for every read: the programs load once.
  auto capturer = open_capturer(o, *filter, port, CaptureOptions::Details::command);
  if (!capturer) return capture_failed(capturer.error());
  auto first = capture_with(o, *capturer);
  if (!first) return capture_failed(first.error());
  Snapshot last = std::move(*first);

  CaptureLoop loop(o.interval_s, o.watch_count);
  if (o.verbose || !loop.events_error().empty() || !loop.socket_events_error().empty()) {
    fmt::print(stderr, "portrel: watching{}; a read every {} s{}\n",
               scope.port ? " " + sanitize(o.target) : "", o.interval_s, loop.describe());
  }
  FindingWatch findings;
  auto initial_findings = findings.read(last, diff);
  if (!o.no_initial &&
      !print(o, diff_relation(Snapshot(), last, diff), initial_findings, last, true)) {
    return 0;
  }
  CaptureLoop::catch_stop_signals();  // a closed pipe ends the watch through fputs' error
  loop.run(
      std::move(last),
      [&] { return capture_with(quiet, *capturer); },
      [&](const Snapshot& before, const Snapshot& after) {
        return print(o, diff_relation(before, after, diff), findings.read(after, diff),
                     after, false);
      });
  return 0;
}

}  // namespace portrel
