// `portrel watch [PORT] [--of PID|NAME]`: the relation's changes as they happen.
// Each read is a full capture diffed with the last (diff_relation), so what is
// printed is exactly what two captures differ in. Reads come every --interval,
// and at once (20 ms after) when the kernel's process events (fork, exec,
// exit: the proc connector) say that something may have changed; events lost
// to a full buffer only make the next read come sooner, since a read looks at
// everything. A read that an event brought is followed by two more, 100 ms and
// then 300 ms later (a new program binds its ports after its exec).
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <chrono>
#include <memory>
#include <cmath>
#include <cstdio>
#include <thread>

#include "analysis/relation_diff.h"
#include "cli/commands.h"
#include "cli/filter.h"
#include "cli/port_spec.h"
#include "cli/report.h"
#include "output/changes.h"
#include "sources/proc_events.h"
#include "util/text.h"

namespace portrel {
namespace {

volatile sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

// SIGINT and SIGTERM end the watch between reads; poll() returns at once.
void catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a waiting poll() returns EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

using Clock = std::chrono::steady_clock;

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

// Prints CHANGES, one line each; false when stdout is gone.
bool print(const Options& o, const std::vector<Change>& changes, const Snapshot& snap,
           bool initial) {
  auto now = std::chrono::system_clock::now();
  bool color = use_color(o);
  for (const Change& c : changes) {
    std::string line = o.format == Format::json ? change_json(c, snap, now, initial).dump()
                                                : change_line(c, snap, now, color, initial);
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
  std::optional<uint16_t> port;
  if (scope.port && filter->listening_only) port = scope.port->port;

  Options quiet = o;
  quiet.verbose = false;
  auto first = capture_for(o, *filter, port, CaptureOptions::Details::command);
  if (!first) return capture_failed(first.error());
  Snapshot last = std::move(*first);

  auto events = ProcEvents::open();
  if (o.verbose || !events) {
    fmt::print(stderr, "portrel: watching{}; a read every {} s{}\n",
               scope.port ? " " + sanitize(o.target) : "", o.interval_s,
               events ? " and on process events (fork, exec, exit)"
                      : ", no process events (" + events.error().message + ")");
  }
  if (!o.no_initial && !print(o, diff_relation(Snapshot(), last, diff), last, true)) return 0;
  catch_stop_signals();
  signal(SIGPIPE, SIG_IGN);  // a closed pipe ends the watch through fputs' error

  const auto interval = std::chrono::duration<double>(o.interval_s);
  const auto settle = std::chrono::milliseconds(20);   // let a burst of events land
  const auto min_gap = std::chrono::milliseconds(50);  // reads at most this often
  // After an event-driven read, the next two come this soon after the one before.
  static constexpr std::chrono::milliseconds kFollowUps[] = {std::chrono::milliseconds(100),
                                                            std::chrono::milliseconds(300)};
  size_t follow_ups = 0;  // of kFollowUps still to come
  size_t lost = 0;        // times the process events overflowed
  auto next = Clock::now() + std::chrono::duration_cast<Clock::duration>(interval);
  auto last_read = Clock::now();
  size_t reads = 1;
  while (!g_stop && (o.watch_count == 0 || reads < o.watch_count)) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
    pollfd pfd{events ? events->fd() : -1, POLLIN, 0};
    int ready = poll(&pfd, 1, static_cast<int>(std::max<int64_t>(0, wait.count())));
    if (g_stop) break;
    bool hinted = false;
    if (ready > 0 && events) {
      std::this_thread::sleep_for(settle);
      ProcEvents::Drained got = events->drain();
      // Only portrel's own threads, or threads of others: no read.
      if (got.events == 0 && !got.lost) continue;
      if (got.lost) {
        ++lost;
        fmt::print(stderr,
                   "portrel: process events were lost (the kernel's buffer was full, {} "
                   "time{}): the read that follows looks at everything\n",
                   lost, lost == 1 ? "" : "s");
      }
      hinted = true;
      auto since = Clock::now() - last_read;
      if (since < min_gap) std::this_thread::sleep_for(min_gap - since);
    } else if (ready == 0 || (ready < 0 && errno != EINTR)) {
      // the tick
    } else {
      continue;
    }
    auto snap = capture_for(quiet, *filter, port, CaptureOptions::Details::command);
    last_read = Clock::now();
    // A program just started binds its ports a little after its exec: two
    // more reads soon after an event-driven one see them.
    follow_ups = hinted ? std::size(kFollowUps) : follow_ups;
    Clock::duration after = std::chrono::duration_cast<Clock::duration>(interval);
    if (!hinted && follow_ups > 0) --follow_ups;
    if (follow_ups > 0) {
      after = std::min(after, Clock::duration(kFollowUps[std::size(kFollowUps) - follow_ups]));
    }
    next = last_read + after;
    ++reads;
    if (!snap) {
      fmt::print(stderr, "portrel: a read failed, the next one follows: {}\n",
                 sanitize(snap.error().message));
      continue;
    }
    if (!print(o, diff_relation(last, *snap, diff), *snap, false)) return 0;
    last = std::move(*snap);
  }
  return 0;
}

}  // namespace portrel
