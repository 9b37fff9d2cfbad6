// `portrel lab ...`: starts a scenario, prints its ground truth, stays up until
// SIGINT/SIGTERM or --for SECONDS and cleans up; `lab herd` runs the benchmark.
// This is the only file of the lab that prints.
#include <signal.h>
#include <sys/resource.h>
#include <time.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/parse_failure.h"
#include "lab/herd.h"
#include "lab/lab.h"
#include "lab/lab_output.h"
#include "util/text.h"

namespace portrel::lab {
namespace {

void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// Waits for SIGINT or SIGTERM (blocked by the caller), or SECONDS when positive.
void wait_for_stop(const sigset_t& stop, double seconds) {
  if (seconds <= 0) {
    int sig = 0;
    while (sigwait(&stop, &sig) != 0) {
    }
    return;
  }
  timespec left{.tv_sec = static_cast<time_t>(seconds),
                .tv_nsec = static_cast<long>(std::fmod(seconds, 1.0) * 1e9)};
  sigtimedwait(&stop, nullptr, &left);
}

int run_scenario_command(const std::string& scenario, const LabOptions& options,
                         const std::string& format, double seconds) {
  sigset_t stop, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop, &old);
  raise_fd_limit();
  Result<Lab> lab = Lab::start(scenario, options);
  if (!lab) {
    fmt::print(stderr, "portrel lab: {}\n", lab.error().message);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    return 1;
  }
  if (format == "json") fmt::print("{}\n", truth_json(lab->truth()).dump(2));
  else fmt::print("{}", truth_table(lab->truth()));
  std::fflush(stdout);
  wait_for_stop(stop, seconds);
  lab->stop();
  fmt::print(stderr, "portrel lab: {} stopped, every process reaped\n", scenario);
  sigprocmask(SIG_SETMASK, &old, nullptr);
  return 0;
}

int run_herd_command(const HerdOptions& options, const std::vector<std::string>& names,
                     const std::string& format) {
  std::vector<HerdStrategy> strategies;
  for (const std::string& name : names) {
    if (name == "all") {
      auto all = herd_strategies();
      strategies.insert(strategies.end(), all.begin(), all.end());
      continue;
    }
    Result<HerdStrategy> s = parse_herd_strategy(name);
    if (!s) {
      fmt::print(stderr, "portrel lab herd: {}\n", s.error().message);
      return 2;
    }
    strategies.push_back(*s);
  }
  std::vector<HerdResult> results;
  for (HerdStrategy s : strategies) {
    Result<HerdResult> r = run_herd(s, options);
    if (!r) {
      fmt::print(stderr, "portrel lab herd {}: {}\n", herd_strategy_name(s),
                 r.error().message);
      return 1;
    }
    results.push_back(*r);
  }
  if (format == "json") fmt::print("{}\n", herd_json(results).dump(2));
  else fmt::print("{}", herd_table(results));
  return 0;
}

}  // namespace

int run_lab(int argc, char** argv) {
  CLI::App app{"Start real processes holding sockets in known configurations, print "
               "what was built (ground truth) and clean up on exit",
               "portrel lab"};
  app.require_subcommand(1);
  LabOptions options;
  std::string format = "table";
  double seconds = 0;
  std::string chosen;
  const std::vector<std::pair<std::string, std::string>> helps = {
      {"multi-port", "one process, one event loop, several TCP and UDP ports"},
      {"prefork", "a master listens, N forked workers inherit the socket"},
      {"reuseport", "N processes, each its own SO_REUSEPORT socket on one port"},
      {"addresses", "one port on 127.0.0.1, 127.0.0.2 and ::1, one process each"},
      {"protocols", "TCP and UDP on one port number, one process each"},
      {"cloexec-leak", "a listener without FD_CLOEXEC leaks into an exec'd helper"},
      {"time-wait", "server-closed connections leave TIME_WAIT on the port"},
      {"crowd", "N processes x M sockets of mixed kinds (load generator)"},
  };
  for (const auto& [name, help] : helps) {
    CLI::App* sub = app.add_subcommand(name, help);
    sub->add_option("--port", options.port, "port to use (default: a free one)");
    if (name == "prefork" || name == "reuseport")
      sub->add_option("--workers", options.workers, "number of workers")->check(CLI::Range(1, 4096));
    if (name == "time-wait")
      sub->add_option("--workers", options.workers, "connections to close")->check(CLI::Range(1, 4096));
    if (name == "cloexec-leak")
      sub->add_flag("--fixed", options.fixed, "set FD_CLOEXEC on the listener");
    if (name == "crowd") {
      sub->add_option("--procs", options.procs, "member processes")->check(CLI::Range(0, 30000));
      sub->add_option("--per-proc", options.per_proc, "sockets per member")->check(CLI::Range(0, 100000));
    }
    sub->add_flag("--netns", options.private_netns, "run in a private network namespace");
    sub->add_option("--format", format, "table or json")->check(CLI::IsMember({"table", "json"}));
    sub->add_option("--for", seconds, "stop by itself after SECONDS");
    sub->callback([&chosen, name = name] { chosen = name; });
  }
  HerdOptions herd;
  std::vector<std::string> strategies = {"all"};
  CLI::App* herd_cmd = app.add_subcommand(
      "herd", "measure the thundering herd: wakeups per accepted connection by strategy");
  herd_cmd->add_option("--workers", herd.workers, "worker processes")->check(CLI::Range(1, 1024));
  herd_cmd->add_option("--connections", herd.connections, "connections to make")
      ->check(CLI::Range(1, 1000000));
  herd_cmd->add_option("--port", herd.port, "port to use (default: a free one)");
  herd_cmd->add_option("--strategy", strategies,
                       "blocking-accept, epoll, epoll-exclusive, reuseport, accept-mutex "
                       "or all (repeatable)");
  herd_cmd->add_option("--format", format, "table or json")->check(CLI::IsMember({"table", "json"}));
  herd_cmd->callback([&chosen] { chosen = "herd"; });
  std::vector<CLI::App*> subs = app.get_subcommands({});
  if (argc > 1 && argv[1][0] != '-' &&
      std::ranges::none_of(subs, [&](CLI::App* sub) { return sub->check_name(argv[1]); })) {
    std::string known;
    for (const CLI::App* sub : subs) known += (known.empty() ? "" : ", ") + sub->get_name();
    fmt::print(stderr, "portrel lab: unknown scenario '{}' (one of: {})\n", sanitize(argv[1]),
               known);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return parse_failure(app, e, "portrel lab");
  }
  if (chosen == "herd") return run_herd_command(herd, strategies, format);
  return run_scenario_command(chosen, options, format, seconds);
}

}  // namespace portrel::lab
