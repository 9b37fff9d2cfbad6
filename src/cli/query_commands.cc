// The query commands: the default listing, `who PORT`, `of PID|NAME` and
// `columns`. Each captures, filters and renders; report.h prints.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <set>

#include "cli/commands.h"
#include "cli/filter.h"
#include "cli/port_spec.h"
#include "cli/report.h"
#include "output/columns.h"
#include "output/table.h"
#include "output/views.h"
#include "util/text.h"

namespace portrel {

void configure_list(CLI::App&, Options&) {}

void configure_who(CLI::App& app, Options& o) {
  app.add_option("PORT", o.target,
                 "8080, tcp/8080, udp/53, 127.0.0.1:8080, [::1]:8080 or a service name")
      ->required();
}

void configure_of(CLI::App& app, Options& o) {
  app.add_option("PID|NAME", o.target, "a pid, or a process name (comm or exe)")
      ->required();
  app.add_flag("--tree", o.tree, "include every descendant process");
}

void configure_columns(CLI::App&, Options&) {}

int run_list(const Options& o) {
  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  // The table shows names and pids only: no exe, cmdline or cgroup to read.
  auto snap = capture_for(o, *filter, std::nullopt,
                          o.format == Format::table ? CaptureOptions::Details::none
                                                    : CaptureOptions::Details::command);
  if (!snap) return usage_error(snap.error().message);
  auto sockets = select_sockets(*snap, *filter);
  return emit_sockets(o, *snap, sockets,
                      o.format == Format::table
                          ? listing_table(*snap, sockets, o.all, use_color(o))
                          : "");
}

int run_who(const Options& o) {
  auto spec = parse_port_spec(o.target);
  if (!spec) return usage_error(spec.error().message);
  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  if (spec->proto == Proto::raw) filter->raw = true;
  auto snap = capture_for(o, *filter, spec->port);
  if (!snap) return usage_error(snap.error().message);
  auto sockets = select_sockets(*snap, *filter);
  std::erase_if(sockets, [&](const Socket* s) { return !spec->matches(*s); });
  return emit_sockets(
      o, *snap, sockets,
      o.format == Format::table ? who_table(*snap, sockets, use_color(o)) : "");
}

namespace {

// PIDs named by `of`: a number is a pid, anything else a process name (comm or
// the executable's base name). --tree adds every descendant.
std::vector<pid_t> target_pids(const Snapshot& snap, const Options& o) {
  std::vector<pid_t> pids;
  pid_t pid = 0;
  auto [end, ec] =
      std::from_chars(o.target.data(), o.target.data() + o.target.size(), pid);
  if (ec == std::errc() && end == o.target.data() + o.target.size()) {
    if (snap.process(pid)) pids.push_back(pid);
  } else {
    for (const Process& p : snap.processes()) {
      std::string_view base = p.exe;
      if (auto slash = base.rfind('/'); slash != std::string_view::npos) {
        base = base.substr(slash + 1);
      }
      if (p.comm == o.target || base == o.target) pids.push_back(p.pid);
    }
  }
  if (o.tree) {
    for (size_t i = 0; i < pids.size(); ++i) {
      for (pid_t child : snap.children(pids[i])) {
        if (std::ranges::find(pids, child) == pids.end()) pids.push_back(child);
      }
    }
  }
  std::ranges::sort(pids);
  return pids;
}

}  // namespace

int run_of(const Options& o) {
  if (o.target.empty()) return usage_error("of: expected a PID or a process name");
  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  auto snap = capture_for(o, *filter);
  if (!snap) return usage_error(snap.error().message);
  std::vector<pid_t> pids = target_pids(*snap, o);
  if (pids.empty()) {
    bool numeric = !o.target.empty() && std::ranges::all_of(o.target, [](char c) {
      return c >= '0' && c <= '9';
    });
    fmt::print(stderr, "portrel: {}\n",
               numeric ? "no process with pid " + o.target
                       : "no process named '" + sanitize(o.target) + "'");
    return kExitNothing;
  }
  std::set<uint64_t> held;
  for (pid_t pid : pids) {
    for (const Holding& h : snap->held_by(pid)) held.insert(h.inode);
  }
  auto sockets = select_sockets(*snap, *filter);
  std::erase_if(sockets, [&](const Socket* s) { return !held.contains(s->inode); });
  return emit_sockets(
      o, *snap, sockets,
      o.format == Format::table ? of_table(*snap, pids, sockets, use_color(o)) : "");
}

int run_columns(const Options& o) {
  Table table({"RELATION", "COLUMN", "TYPE", "MEANING"});
  for (const SocketColumn& c : socket_columns()) {
    table.add({{"socket"},
               {std::string(c.name)},
               {std::string(c.type)},
               {std::string(c.description)}});
  }
  for (const HolderColumn& c : holder_columns()) {
    table.add({{"holder"},
               {std::string(c.name)},
               {std::string(c.type)},
               {std::string(c.description)}});
  }
  fmt::print("{}", table.render(use_color(o)));
  return kExitFound;
}

}  // namespace portrel
