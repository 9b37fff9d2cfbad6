// The man page portrel(1) and the bash, zsh and fish completions, printed by the
// hidden `portrel --generate KIND`. They are made by walking the CLI::App that
// parses the command line (its subcommands, options and help texts), so they
// cannot drift from what the binary accepts; the build runs it to install them.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace portrel {

/// Adds the hidden option `--generate man|bash|zsh|fish` to APP, bound to KIND.
void add_generate_option(CLI::App& app, std::string& kind);

/// Prints the document KIND for APP (with every subcommand added) to stdout and
/// returns the exit code.
int run_generate(const CLI::App& app, const std::string& kind);

}  // namespace portrel
