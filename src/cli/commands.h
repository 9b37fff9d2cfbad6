// The subcommands, in one table of {name, help, handler}. Handlers return the
// process exit code: 0 found something, 1 found nothing, 2 usage error.
#pragma once

#include <span>

#include "cli/options.h"

namespace portrel {

inline constexpr int kExitFound = 0;
inline constexpr int kExitNothing = 1;
inline constexpr int kExitUsage = 2;

struct Command {
  const char* name;  ///< "" for the default view
  const char* help;
  int (*run)(const Options&);
};

std::span<const Command> commands();

}  // namespace portrel
