// `portrel free [tcp|udp] [ADDR:]PORT`: plans (analysis/free_plan.h), shows the
// plan, asks on a terminal, acts through pidfds (sources/port_freeing.h) and
// checks the port again. Exit 0 only when a plain bind() on the port would now
// succeed; 3 when only TIME_WAIT sockets are left (whether SO_REUSEADDR passes
// them is said); 1 when the port is still held, nothing was done, or the user
// said no.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "analysis/bind_rules.h"
#include "analysis/free_plan.h"
#include "cli/commands.h"
#include "cli/filter.h"
#include "cli/port_spec.h"
#include "cli/report.h"
#include "output/columns.h"
#include "output/free_view.h"
#include "output/table.h"
#include "output/views.h"
#include "sources/netns.h"
#include "sources/port_freeing.h"
#include "util/text.h"

namespace portrel {
namespace {

// "tcp/8080", "udp 127.0.0.1:53": the port the user named.
Result<PortSpec> parse_free_target(const Options& o) {
  auto spec = parse_proto_and_port(o.bind_args, "free");
  if (!spec) return std::unexpected(spec.error());
  if (spec->port == 0) return std::unexpected(Error{"free: port 0 is never held"});
  return spec;
}

std::string running_for(const Process* p) {
  if (p == nullptr) return "?";
  std::ifstream uptime("/proc/uptime");
  double up = 0;
  if (!(uptime >> up)) return "?";
  double started = static_cast<double>(p->start_time) / static_cast<double>(sysconf(_SC_CLK_TCK));
  auto s = static_cast<long>(up - started);
  if (s < 0) return "?";
  if (s < 120) return fmt::format("{} s", s);
  if (s < 7200) return fmt::format("{} min", s / 60);
  if (s < 172800) return fmt::format("{} h {} min", s / 3600, s % 3600 / 60);
  return fmt::format("{} days", s / 86400);
}

std::string sockets_text(std::span<const Socket* const> sockets) {
  std::vector<std::string> seen;
  for (const Socket* s : sockets) {
    std::string e = std::string(proto_name(s->proto)) + " " +
                    local_endpoint(*s);
    if (std::ranges::find(seen, e) == seen.end()) seen.push_back(e);
  }
  std::string out;
  for (const std::string& e : seen) out += (out.empty() ? "" : ", ") + e;
  return out;
}

std::string plan_table(const Snapshot& snap, const FreePlan& plan, bool color) {
  // CHILDREN: holders of the same sockets that descend from it and go with it.
  Table table({">PID", "USER", "RUNNING FOR", ">CHILDREN", "FREES", "ALSO FREES", "COMMAND"});
  for (const FreeTarget& t : plan.targets) {
    const Process* p = snap.process(t.pid);
    table.add({{std::to_string(t.pid), Style::accent},
               {p ? sanitize(p->user) : "?"},
               {running_for(p)},
               {std::to_string(t.children)},
               {sockets_text(t.sockets)},
               {t.also.empty() ? "-" : sockets_text(t.also),
                t.also.empty() ? Style::plain : Style::warn},
               {p ? sanitize(p->cmdline.empty() ? p->comm : p->cmdline) : "?"}});
  }
  return table.render(color);
}

// Asks on the terminal; false when there is none or the answer is not yes.
bool confirm(const std::string& question) {
  if (isatty(STDIN_FILENO) != 1) return false;
  fmt::print(stderr, "{} [y/N] ", question);
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

// Closes each connection with SOCK_DESTROY in its own namespace; one line each.
bool destroy_connections(const Snapshot& snap, const FreePlan& plan) {
  bool all = true;
  for (const Socket* s : plan.connections) {
    std::string path;
    if (const Netns* n = snap.netns(s->netns); n && n->is_host) {
      path = "/proc/self/ns/net";
    } else if (n && !n->name.empty()) {
      path = "/run/netns/" + n->name;
    } else if (auto holders = snap.holders(*s); !holders.empty()) {
      path = "/proc/" + std::to_string(holders.front().pid) + "/ns/net";
    }
    Result<void> done = std::unexpected(Error{"no way into its network namespace"});
    if (!path.empty()) {
      std::thread([&] {
        auto entered = enter_netns(path, s->netns);
        done = entered ? destroy_socket(*s) : Result<void>(std::unexpected(entered.error()));
      }).join();
    }
    std::string what = std::string(proto_name(s->proto)) + " " +
                       endpoint(s->local_addr, s->local_port) + " <-> " +
                       endpoint(s->remote_addr, s->remote_port);
    if (done) {
      fmt::print("closed {}\n", what);
    } else {
      all = false;
      fmt::print("not closed {}: {}\n", what, sanitize(done.error().message));
    }
  }
  return all;
}

// After acting: is the port free? Prints what is left and returns the exit code.
// The children of a process that exited (workers killed by their parent's
// death) close their sockets a moment later: the port is looked at again for
// up to --timeout (2 s at most) before it is called still held.
int verify(const Options& o, const Filter& filter, const PortSpec& spec, const OnPort& on_port) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::duration<double>(std::min(o.timeout_s, 2.0));
  Result<Snapshot> snap = std::unexpected(Error{"not read"});
  std::vector<const Socket*> held, time_wait;
  for (;;) {
    snap = capture_for(o, filter, spec.port, CaptureOptions::Details::command);
    if (!snap) return capture_failed(snap.error());
    held.clear();
    time_wait.clear();
    for (const Socket& s : snap->sockets()) {
      if (!on_port(s)) continue;
      (s.state == kStateTimeWait || s.inode == 0 ? time_wait : held).push_back(&s);
    }
    if (held.empty() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!held.empty()) {
    fmt::print(stderr, "portrel: port {} is still held: {}\n", spec.port, sockets_text(held));
    return kExitNothing;
  }
  if (time_wait.empty()) {
    fmt::print("port {} is free\n", spec.port);
    return kExitFound;
  }
  // TIME_WAIT: a plain bind fails on it, one with SO_REUSEADDR passes (TCP).
  BindRequest r;
  r.proto = time_wait.front()->proto;
  r.family = time_wait.front()->family;
  r.address = spec.addresses.empty() ? (r.family == 6 ? *Address::parse("::") : *Address::parse("0.0.0.0"))
                                      : spec.addresses.front();
  r.family = r.address.family;
  r.port = spec.port;
  r.uid = geteuid();
  BindEnvironment env;
  std::vector<const Socket*> table(time_wait.begin(), time_wait.end());
  BindPrediction plain = predict_bind(r, table, env);
  r.reuseaddr = true;
  BindPrediction reuse = predict_bind(r, table, env);
  fmt::print("port {}: {} left in TIME_WAIT (the kernel keeps them up to 60 s); ",
             spec.port, plural(time_wait.size(), "connection", "connections"));
  if (plain.outcome == BindOutcome::succeeds) {
    fmt::print("a bind would succeed now\n");
    return kExitFound;
  }
  // A TIME_WAIT socket keeps the SO_REUSEADDR of the socket it was: both sides
  // need it for a bind to pass.
  fmt::print("{}\n",
             reuse.outcome == BindOutcome::succeeds
                 ? "a server that sets SO_REUSEADDR binds now, one that does not fails until "
                   "they expire"
             : reuse.outcome == BindOutcome::uncertain
                 ? "a server that sets SO_REUSEADDR binds now only if the closed sockets had "
                   "SO_REUSEADDR too; one that does not fails until they expire"
                 : "a bind fails until they expire, also with SO_REUSEADDR");
  return kExitFindings;
}

}  // namespace

void configure_free(CLI::App& app, Options& o) {
  app.add_option("ARGS", o.bind_args, "[tcp|udp] [ADDR:]PORT (8080, tcp/8080, 127.0.0.1:8080)")
      ->required()
      ->expected(1, 2);
  app.add_flag("-y,--yes", o.yes, "act without asking (for scripts)");
  app.add_flag("--dry-run", o.dry_run, "show the plan (as JSON with --format json) and do nothing");
  app.add_option("--timeout", o.timeout_s, "seconds to wait for the processes to exit (default 5)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_flag("--force", o.force_kill, "send SIGKILL to those still running after --timeout");
  app.add_flag("--connections", o.connections,
               "close the port's established connections (SOCK_DESTROY, as ss -K) and leave "
               "the listener");
}

int run_free(const Options& o) {
  auto spec = parse_free_target(o);
  if (!spec) return usage_error(spec.error().message);
  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  filter->listening_only = false;
  // Every port, not only this one: the plan says what else its processes hold.
  auto snap = capture_for(o, *filter, std::nullopt, CaptureOptions::Details::all);
  if (!snap) return capture_failed(snap.error());
  OnPort on_port = [&](const Socket& s) {
    return spec->matches(s) && (filter->netns.empty() ||
                                std::ranges::find(filter->netns, s.netns) != filter->netns.end());
  };
  FreePlan plan = plan_free(*snap, on_port, getpid());
  if (plan.nothing) {
    fmt::print("nothing holds port {}\n", spec->port);
    return answer_exit(true, partial_reason(*snap));
  }
  if (o.connections) plan.targets.clear();  // closes connections, signals nobody

  if (o.format == Format::json) {
    fmt::print("{}\n", free_plan_json(*snap, plan));
    if (o.dry_run) return plan.blockers.empty() ? kExitFound : kExitNothing;
  } else {
    bool color = use_color(o);
    if (o.connections) {
      fmt::print("{} to close on port {}\n",
                 plural(plan.connections.size(), "connection", "connections"), spec->port);
    } else if (!plan.targets.empty()) {
      fmt::print("to free port {}, {} would get SIGTERM{}:\n", spec->port,
                 plural(plan.targets.size(), "process", "processes"),
                 o.force_kill ? " (SIGKILL after the timeout)" : "");
      print_fitted(plan_table(*snap, plan, color));
    }
    for (const FreeBlocker& b : plan.blockers) {
      fmt::print("cannot free {} with a signal: {}{}\n", sockets_text(std::span(&b.socket, 1)),
                 b.why, b.command.empty() ? "" : "\n  instead: " + sanitize(b.command));
    }
    if (!plan.time_wait.empty() && !o.connections) {
      fmt::print("{} in TIME_WAIT stay after (no process holds them)\n",
                 plural(plan.time_wait.size(), "connection", "connections"));
    }
    if (o.dry_run) return plan.blockers.empty() ? kExitFound : kExitNothing;
  }
  if (!o.connections && plan.targets.empty()) {
    fmt::print(stderr, "portrel: no process to signal: nothing done\n");
    return kExitNothing;
  }
  if (o.connections && plan.connections.empty()) {
    fmt::print(stderr, "portrel: no established connection on port {}\n", spec->port);
    return kExitNothing;
  }
  // Privilege first: none or all.
  std::vector<std::string> denied;
  for (const FreeTarget& t : plan.targets) {
    if (!may_signal(t.pid)) denied.push_back(std::to_string(t.pid));
  }
  if (!denied.empty()) {
    std::string list;
    for (const std::string& d : denied) list += (list.empty() ? "" : ", ") + d;
    fmt::print(stderr, "portrel: no privilege to signal pid {}: nothing done (run as root or as "
                       "their user)\n", list);
    return kExitNothing;
  }
  if (!o.yes) {
    std::string question = o.connections
                               ? fmt::format("Close {}?", plural(plan.connections.size(),
                                                                  "connection", "connections"))
                               : fmt::format("Send SIGTERM to {}?",
                                             plural(plan.targets.size(), "process", "processes"));
    if (isatty(STDIN_FILENO) != 1) {
      fmt::print(stderr, "portrel: not asked on a terminal: nothing done (--yes acts without asking)\n");
      return kExitNothing;
    }
    if (!confirm(question)) {
      fmt::print(stderr, "portrel: nothing done\n");
      return kExitNothing;
    }
  }
  if (o.connections) {
    bool all = destroy_connections(*snap, plan);
    return all ? kExitFound : kExitNothing;
  }
  std::vector<SignalTarget> targets;
  for (const FreeTarget& t : plan.targets) targets.push_back({t.pid, t.start_time});
  auto timeout = std::chrono::milliseconds(static_cast<long>(o.timeout_s * 1000));
  bool stuck = false;
  for (const SignalOutcome& r : terminate_processes(targets, timeout, o.force_kill)) {
    const Process* p = snap->process(r.pid);
    std::string who = (p ? sanitize(p->comm) + " " : "") + std::to_string(r.pid);
    if (r.state == SignalOutcome::State::still_running) {
      stuck = true;
      fmt::print("{}: SIGTERM sent, still running after {} s{}\n", who, o.timeout_s,
                 o.force_kill ? " and SIGKILL" : " (--force sends SIGKILL)");
    } else {
      fmt::print("{}: {}{}{}\n", who, r.killed ? "SIGTERM, then SIGKILL: " : r.state == SignalOutcome::State::exited ? "SIGTERM: " : "",
                 signal_state_name(r.state), r.detail.empty() ? "" : " (" + r.detail + ")");
    }
  }
  int code = verify(o, *filter, *spec, on_port);
  return stuck && code == kExitFound ? kExitNothing : code;
}

}  // namespace portrel
