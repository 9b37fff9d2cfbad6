// CLI11's errors in one sanitised line: they echo what the user typed.
#include "cli/parse_failure.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <string>

#include "cli/commands.h"
#include "util/text.h"

namespace portrel {

int parse_failure(CLI::App& app, const CLI::ParseError& e, std::string_view program) {
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
  std::string what = e.what();
  while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
  fmt::print(stderr, "{}: {} (see {} --help)\n", program, sanitize(what), program);
  return kExitUsage;
}

}  // namespace portrel
