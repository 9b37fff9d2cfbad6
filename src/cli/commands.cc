// The table of subcommands. A new command adds one line here and a file of its
// own with its configure and run functions.
#include "cli/commands.h"

#include <array>

namespace portrel {
namespace {

constexpr std::array kCommands = {
    Command{"", "listening TCP and bound UDP sockets with their holders (default)",
            configure_list, run_list},
    Command{"who",
            "every socket on a port, in every netns, and every process holding it",
            configure_who, run_who},
    Command{"of", "every socket a process (or processes of that name) holds",
            configure_of, run_of},
    Command{"columns", "the columns of the JSON and CSV output, with their meaning",
            configure_columns, run_columns},
};

}  // namespace

std::span<const Command> commands() { return kCommands; }

}  // namespace portrel
