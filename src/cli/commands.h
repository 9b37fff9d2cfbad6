// The subcommands, in one table of {name, help, configure, run}. Each command
// lives in its own file; handlers return the process exit code.
#pragma once

#include <span>

#include "cli/options.h"

namespace CLI {
class App;
}

namespace portrel {

inline constexpr int kExitFound = 0;    ///< the query found something
inline constexpr int kExitNothing = 1;  ///< it found nothing
inline constexpr int kExitUsage = 2;    ///< usage error (one line on stderr)
inline constexpr int kExitFindings = 3;  ///< audit: a finding of severity warning or above
inline constexpr int kExitUncertain = 3;  ///< why-busy: uncertain; doctor: degraded
/// The answer may lack rows: portrel could not look everywhere it was asked to
/// (a network namespace it could not enter, fd tables it could not read).
/// What was seen is printed; one line on stderr says what was not.
inline constexpr int kExitPartial = 4;
/// portrel could not look at all (no /proc, no netlink): nothing is printed
/// but one line on stderr.
inline constexpr int kExitFailure = 5;

struct Command {
  const char* name;  ///< "" for the default view
  const char* help;
  /// Adds the command's own arguments and options (binding them to Options).
  void (*configure)(CLI::App& command, Options& options);
  int (*run)(const Options& options);
};

std::span<const Command> commands();

// query_commands.cc
void configure_list(CLI::App&, Options&);
int run_list(const Options&);
void configure_who(CLI::App&, Options&);
int run_who(const Options&);
void configure_of(CLI::App&, Options&);
int run_of(const Options&);
void configure_columns(CLI::App&, Options&);
int run_columns(const Options&);

// sql_command.cc, snapshot_command.cc
void configure_sql(CLI::App&, Options&);
int run_sql(const Options&);
void configure_snapshot(CLI::App&, Options&);
int run_snapshot(const Options&);

// shared_command.cc, audit_command.cc
void configure_shared(CLI::App&, Options&);
int run_shared(const Options&);
void configure_audit(CLI::App&, Options&);
int run_audit(const Options&);

// graph_command.cc
void configure_graph(CLI::App&, Options&);
int run_graph(const Options&);

// why_busy_command.cc
void configure_why_busy(CLI::App&, Options&);
int run_why_busy(const Options&);

// free_command.cc
void configure_free(CLI::App&, Options&);
int run_free(const Options&);

// serve_command.cc
void configure_serve(CLI::App&, Options&);
int run_serve(const Options&);

// watch_command.cc
void configure_watch(CLI::App&, Options&);
int run_watch(const Options&);

// record_command.cc, history_command.cc
void configure_record(CLI::App&, Options&);
int run_record(const Options&);
void configure_history(CLI::App&, Options&);
int run_history(const Options&);
/// Where record and history keep the history when --db is not given.
inline constexpr const char* kDefaultHistoryDb = "/var/lib/portrel/history.db";

// doctor_command.cc
void configure_doctor(CLI::App&, Options&);
int run_doctor(const Options&);

}  // namespace portrel
