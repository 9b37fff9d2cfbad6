// portrel: which processes hold which ports, and how. The command line is
// parsed here with CLI11 from the command table; everything else is a command.
#include <fmt/format.h>
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <string_view>

#include "cli/commands.h"
#include "cli/options.h"
#include "lab/lab.h"

namespace {

void add_filters(CLI::App& app, portrel::Options& o) {
  app.add_flag("-t,--tcp", o.tcp, "TCP sockets");
  app.add_flag("-u,--udp", o.udp, "UDP and UDPLite sockets");
  app.add_flag("-w,--raw", o.raw, "RAW sockets");
  app.add_flag("-4,--ipv4", o.ipv4, "IPv4 only");
  app.add_flag("-6,--ipv6", o.ipv6, "IPv6 only");
  CLI::Option* all =
      app.add_flag("-a,--all", o.all,
                   "every state (established, TIME_WAIT, ...), not just listening");
  app.add_flag("-l,--listening", o.listening,
               "listening and bound sockets only (the default)")
      ->excludes(all);
  app.add_option(
      "-n,--netns", o.netns,
      "one network namespace: inode, /run/netns name, host, or a pid's (pid:N)");
  app.add_option("--user", o.user,
                 "sockets created by, or held by processes of, this user");
  app.add_option("-f,--format", o.format, "output format")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, portrel::Format>{{"table", portrel::Format::table},
                                                 {"json", portrel::Format::json},
                                                 {"csv", portrel::Format::csv}}));
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
  portrel::Options options;
  CLI::App app{"portrel: which processes hold which ports, and how they share them",
               "portrel"};
  app.set_version_flag("--version", "portrel 0.1.0");
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
  }
  app.add_subcommand(
      "lab",
      "start real processes that share ports in known ways (see: portrel lab --help)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "portrel: {} (see portrel --help)\n", e.what());
    return portrel::kExitUsage;
  }
  return chosen->run(options);
}
