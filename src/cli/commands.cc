// The query commands: capture, filter, render, print. This is the only layer
// that prints and chooses exit codes.
#include "cli/commands.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

#include "cli/filter.h"
#include "cli/port_spec.h"
#include "output/columns.h"
#include "output/render.h"
#include "output/table.h"
#include "output/views.h"
#include "portrel/capture.h"
#include "util/text.h"

namespace portrel {

bool use_color(const Options& o) {
  if (o.color == "always") return true;
  if (o.color == "never") return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') return false;
  return isatty(STDOUT_FILENO) == 1;
}

namespace {

int usage_error(const std::string& message) {
  fmt::print(stderr, "portrel: {}\n", message);
  return kExitUsage;
}

void print_warnings(const Options& o, const std::vector<std::string>& warnings) {
  bool color = use_color(o) && isatty(STDERR_FILENO) == 1;
  for (const std::string& w : warnings) {
    fmt::print(stderr, "{}\n", styled("portrel: warning: " + sanitize(w), Style::warn, color));
  }
}

// Captures what the filter needs: only the namespaces asked for, and only
// listening sockets unless --all.
Result<Snapshot> capture_for(const Filter& filter) {
  CaptureOptions capture_options;
  capture_options.only_netns = filter.netns;
  capture_options.listening_only = filter.listening_only;
  return capture(capture_options);
}

std::vector<std::string> all_warnings(const Snapshot& snap,
                                      std::span<const Socket* const> sockets) {
  std::vector<std::string> w(snap.warnings().begin(), snap.warnings().end());
  if (std::string u = unowned_warning(snap, sockets); !u.empty()) w.push_back(u);
  return w;
}

// Prints sockets in the chosen format; `human` renders the table.
template <typename Human>
int emit(const Options& o, const Snapshot& snap, const std::vector<const Socket*>& sockets,
         Human human) {
  std::vector<std::string> warnings = all_warnings(snap, sockets);
  switch (o.format) {
    case Format::json:
      fmt::print("{}", sockets_document(snap, sockets, warnings));
      break;
    case Format::csv:
      fmt::print("{}", sockets_csv(snap, sockets));
      print_warnings(o, warnings);
      break;
    case Format::table:
      if (!sockets.empty()) fmt::print("{}", human());
      print_warnings(o, warnings);
      break;
  }
  return sockets.empty() ? kExitNothing : kExitFound;
}

int run_list(const Options& o) {
  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  auto snap = capture_for(*filter);
  if (!snap) return usage_error(snap.error().message);
  auto sockets = select_sockets(*snap, *filter);
  return emit(o, *snap, sockets,
              [&] { return listing_table(*snap, sockets, o.all, use_color(o)); });
}

int run_who(const Options& o) {
  auto spec = parse_port_spec(o.target);
  if (!spec) return usage_error(spec.error().message);
  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  if (spec->proto == Proto::raw) filter->raw = true;
  auto snap = capture_for(*filter);
  if (!snap) return usage_error(snap.error().message);
  auto sockets = select_sockets(*snap, *filter);
  std::erase_if(sockets, [&](const Socket* s) { return !spec->matches(*s); });
  return emit(o, *snap, sockets, [&] { return who_table(*snap, sockets, use_color(o)); });
}

// PIDs named by `of`: a number is a pid, anything else a process name (comm or
// the executable's base name). --tree adds every descendant.
std::vector<pid_t> target_pids(const Snapshot& snap, const Options& o) {
  std::vector<pid_t> pids;
  pid_t pid = 0;
  auto [end, ec] = std::from_chars(o.target.data(), o.target.data() + o.target.size(), pid);
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

int run_of(const Options& o) {
  if (o.target.empty()) return usage_error("of: expected a PID or a process name");
  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  auto snap = capture_for(*filter);
  if (!snap) return usage_error(snap.error().message);
  std::vector<pid_t> pids = target_pids(*snap, o);
  if (pids.empty()) {
    bool numeric = !o.target.empty() &&
                   std::ranges::all_of(o.target, [](char c) { return c >= '0' && c <= '9'; });
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
  return emit(o, *snap, sockets,
              [&] { return of_table(*snap, pids, sockets, use_color(o)); });
}

int run_columns(const Options& o) {
  Table table({"RELATION", "COLUMN", "TYPE", "MEANING"});
  for (const SocketColumn& c : socket_columns()) {
    table.add({{"socket"}, {std::string(c.name)}, {std::string(c.type)},
               {std::string(c.description)}});
  }
  for (const HolderColumn& c : holder_columns()) {
    table.add({{"holder"}, {std::string(c.name)}, {std::string(c.type)},
               {std::string(c.description)}});
  }
  fmt::print("{}", table.render(use_color(o)));
  return kExitFound;
}

constexpr std::array kCommands = {
    Command{"", "listening TCP and bound UDP sockets with their holders (default)",
            run_list},
    Command{"who", "every socket on a port, in every netns, and every process holding it",
            run_who},
    Command{"of", "every socket a process (or processes of that name) holds", run_of},
    Command{"columns", "the columns of the JSON and CSV output, with their meaning",
            run_columns},
};

}  // namespace

std::span<const Command> commands() { return kCommands; }

}  // namespace portrel
