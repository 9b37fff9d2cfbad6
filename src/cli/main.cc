// portrel: which processes hold which ports, and how. The command line is
// parsed here with CLI11 from the command table; everything else is a command.
#include <fmt/format.h>
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "cli/docs_command.h"
#include "cli/options.h"
#include "cli/parse_failure.h"
#include "lab/lab.h"
#include "sources/bpf/bpf_loader.h"

namespace {

// An option given with an empty value ("--user ''") is a mistake, not "any".
const CLI::Validator kNotEmpty(
    [](std::string& value) { return value.empty() ? std::string("must not be empty") : ""; },
    "", "not empty");

void add_filters(CLI::App& app, portrel::Options& o) {
  // One flag per selector of the protocol table; protocols that share one
  // (-u: UDP and UDPLite) are selected together.
  std::vector<std::string_view> added;
  for (const portrel::ProtoInfo& p : portrel::protocols()) {
    if (std::ranges::find(added, p.selector) != added.end()) continue;
    added.push_back(p.selector);
    app.add_flag_callback(
        std::string(p.selector),
        [&o, selector = p.selector] {
          for (const portrel::ProtoInfo& q : portrel::protocols()) {
            if (q.selector == selector) o.protocols[static_cast<size_t>(q.proto)] = true;
          }
        },
        std::string(p.selector_help));
  }
  CLI::Option* v4 = app.add_flag("-4,--ipv4", o.ipv4, "IPv4 only");
  app.add_flag("-6,--ipv6", o.ipv6, "IPv6 only")->excludes(v4);
  // ss's habits: holders are always shown and numbers are always numeric.
  app.add_flag("-p,--processes", o.ss_habit, "accepted as ss has it: holders are always shown");
  app.add_flag("-n,--numeric", o.ss_habit, "accepted as ss has it: numbers are always numeric");
  CLI::Option* all =
      app.add_flag("-a,--all", o.all,
                   "every state (established, TIME_WAIT, ...), not just listening");
  app.add_flag("-l,--listening", o.listening,
               "listening and bound sockets only (the default)")
      ->excludes(all);
  app.add_option(
      "-N,--netns", o.netns,
      "one network namespace (as ss -N): inode, /run/netns name, host, a pid's (pid:N), "
      "or a container's (container:NAME)")
      ->check(kNotEmpty);
  app.add_option("--user", o.user,
                 "sockets created by, or held by processes of, this user")
      ->check(kNotEmpty);
  app.add_option("--container", o.container,
                 "sockets held by processes of this container (name or id prefix), pod "
                 "(NAME or NAMESPACE/NAME) or systemd unit (nginx.service)")
      ->check(kNotEmpty);
  // A command whose output is of another kind (graph: dot, svg, png) defines
  // its own --format.
  if (app.get_option_no_throw("--format") == nullptr) {
    app.add_option("-f,--format", o.format_name, "output format: table, json or csv")
        ->check(CLI::IsMember({"table", "json", "csv"}));
  }
  app.add_option("--sort", o.sort,
                 "order of the rows: port (default), address, proto, state, user, pid or "
                 "command")
      ->check(CLI::IsMember({"port", "address", "proto", "state", "user", "pid", "command"}));
  app.add_option("--color", o.color,
                 "colour: auto (on a terminal, unless NO_COLOR), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  app.add_flag("-v,--verbose", o.verbose, "say more about how the answer was obtained");
  app.add_flag("--probe-sockopts", o.probe_sockopts,
               "read SO_REUSEADDR/SO_REUSEPORT/IPV6_V6ONLY exactly, with getsockopt on a "
               "pidfd_getfd duplicate of a holder's fd (closed at once)");
  app.add_option("--source", o.source,
                 "where the process-socket map comes from: auto (bpf iterators when "
                 "they load, else /proc), bpf, procfs")
      ->check(CLI::IsMember({"auto", "bpf", "procfs"}));
}

}  // namespace

int main(int argc, char** argv) {
  // A run builds and drops large vectors (the walk's records, the socket rows,
  // the document) and exits: keep freed memory for reuse rather than handing it
  // back, so that it is not faulted in again (each page fault costs ~2 µs on a
  // VM). About 2,000 fewer faults at 17,000 sockets. One arena: the helper
  // threads' blocks are reused too.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  mallopt(M_ARENA_MAX, 1);
  if (argc > 1 && std::string_view(argv[1]) == "lab") {
    return portrel::lab::run_lab(argc - 1, argv + 1);
  }
  // lsof's habit: `-p PID` asks for the sockets of that process, which is `of PID`.
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "-p" && !args[i + 1].empty() &&
        args[i + 1].find_first_not_of("0123456789") == std::string::npos) {
      args[i] = "of";
      break;
    }
  }
  portrel::Options options;
  CLI::App app{"portrel: which processes hold which ports, and how they share them",
               "portrel"};
  app.set_version_flag("--version",
                       fmt::format("portrel {} (bpf source: {})", PORTREL_VERSION,
                                   portrel::bpf_built_in() ? "built in" : "not built in"));
  std::string generate;  // hidden: the man page or a completion, from this App
  portrel::add_generate_option(app, generate);
  app.footer(
      "Environment:\n"
      "  NO_COLOR           no colour on a terminal either\n"
      "  PORTREL_BPF_PINS   where the loaded bpf programs are pinned for later runs\n"
      "                     (default /sys/fs/bpf/portrel, when a bpffs is mounted there),\n"
      "                     or off to load them every time\n"
      "  PORTREL_STATE      where what was learned about this kernel is kept for the\n"
      "                     boot (bpf parts it refuses, its UDP bind rule; default\n"
      "                     /run/portrel), or off\n"
      "  PORTREL_BPF_FAIL   1: do not use bpf; PART,...: refuse those bpf parts (tests)");
  add_filters(app, options);
  app.require_subcommand(0, 1);

  const portrel::Command* chosen = nullptr;
  for (const portrel::Command& c : portrel::commands()) {
    if (*c.name == '\0') {
      chosen = &c;
      continue;
    }
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    sub->fallthrough();
    sub->callback([&chosen, &c] { chosen = &c; });
    c.configure(*sub, options);
    // The options every command takes, also after its name (and in its --help).
    add_filters(*sub, options);
  }
  app.add_subcommand(
      "lab",
      "start real processes that share ports in known ways (see: portrel lab --help)");

  try {
    std::reverse(args.begin(), args.end());  // CLI11 takes them last first
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return portrel::parse_failure(app, e, "portrel");
  }
  if (!generate.empty()) return portrel::run_generate(app, generate);
  options.format = options.format_name == "json"  ? portrel::Format::json
                   : options.format_name == "csv" ? portrel::Format::csv
                                                  : portrel::Format::table;
  try {
    return chosen->run(options);
  } catch (const std::bad_alloc&) {
    // Out of memory (a low ulimit -v or cgroup limit): one line, not an abort.
    std::fputs("portrel: out of memory: the answer could not be built\n", stderr);
    return portrel::kExitFailure;
  }
}
