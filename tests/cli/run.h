// Runs the portrel binary as a user would and captures what it printed.
#pragma once

#include <string>
#include <vector>

namespace portrel::testing {

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs PORTREL_BINARY with ARGS (no shell), with an optional environment
/// addition such as "NO_COLOR=1"; fails the test on a crash signal.
CliRun run_portrel(const std::vector<std::string>& args,
                   const std::vector<std::string>& env = {});

/// Runs the binary as user nobody (setpriv drops every privilege).
CliRun run_portrel_as_nobody(const std::vector<std::string>& args);

/// Runs ARGV (argv[0] is a path) the same way.
CliRun run_program(std::vector<std::string> argv,
                   const std::vector<std::string>& env = {});

}  // namespace portrel::testing
