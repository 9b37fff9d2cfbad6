// How a command line that does not parse ends: help and version as CLI11 prints
// them (exit 0); anything else as one line in portrel's words on stderr and
// the usage exit code, never CLI11's own exit codes or its internals.
#pragma once

#include <string_view>

namespace CLI {
class App;
class ParseError;
}  // namespace CLI

namespace portrel {

/// Prints what went wrong (or the help) and returns the exit code.
int parse_failure(CLI::App& app, const CLI::ParseError& error, std::string_view program);

}  // namespace portrel
