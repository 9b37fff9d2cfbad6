// What every command does the same way: capturing for a filter, printing
// warnings and errors, and emitting sockets in the chosen format.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "analysis/published.h"
#include "cli/filter.h"
#include "cli/options.h"
#include "portrel/capture.h"
#include "portrel/snapshot.h"

namespace portrel {

/// Prints "portrel: MESSAGE" on stderr (sanitised: it may echo what the user
/// typed) and returns kExitUsage.
int usage_error(const std::string& message);

/// Prints TEXT (a table) on stdout; on a terminal, each line is cut to its
/// width (the last column, free text such as a command line, loses its end).
void print_fitted(const std::string& text);

/// Prints "portrel: cannot read the host: MESSAGE" and returns kExitFailure.
int capture_failed(const Error& error);

/// Why the answer may lack rows, in one line; "" when portrel looked
/// everywhere it was asked to: a network namespace whose sockets could not be
/// read, or (BLIND_WITHOUT_FD_TABLES, for commands whose rows come from the
/// holders: of, audit) fd tables it could not read.
std::string partial_reason(const Snapshot& snapshot, bool blind_without_fd_tables = false);

/// The exit code of an answer that found something (FOUND) or not: kExitPartial
/// when REASON is not empty (and then one "portrel: partial answer: …" line on
/// stderr), else kExitFound or kExitNothing.
int answer_exit(bool found, const std::string& reason);

/// Prints each warning as one "portrel: warning: …" line on stderr (sanitised).
void print_warnings(const Options& options, std::span<const std::string> warnings);

/// Captures what the filter needs: only its namespaces and protocols, and only
/// listening sockets unless --all. Under --verbose, says how it was read.
/// PORT, when given, keeps only sockets on that local port (filtered in the
/// kernel when the bpf source is used). DETAILS: how much of each holder to
/// read (views that show no cgroup, or no command line, ask for less).
Result<Snapshot> capture_for(
    const Options& options, const Filter& filter, std::optional<uint32_t> port = std::nullopt,
    CaptureOptions::Details details = CaptureOptions::Details::command);

/// The Capturer behind capture_for, kept open by the commands that read again
/// and again (watch, record, serve): the programs load once, the plan is
/// decided once.
Result<Capturer> open_capturer(const Options& options, const Filter& filter,
                               std::optional<uint32_t> port, CaptureOptions::Details details);
/// One read of CAPTURER; under --verbose, says how it was read.
Result<Snapshot> capture_with(const Options& options, Capturer& capturer);

/// The snapshot's warnings plus one about sockets among these with no owner.
std::vector<std::string> all_warnings(const Snapshot& snapshot,
                                      std::span<const Socket* const> sockets);

/// Prints sockets as JSON, CSV, or (for tables) the text HUMAN renders, with the
/// warnings. With CLIENTS (`who PORT -a`), the local sockets connected to the
/// port are printed apart: HUMAN_CLIENTS under the table, "clients" in JSON, a
/// "role" column in CSV. Returns answer_exit(): kExitFound, kExitNothing (one
/// line on stderr, NOTHING, says so), or kExitPartial. PUBLISHED (`who`): the
/// forwarding rules that cover the port; a port only a rule publishes is found.
/// MORE_WARNINGS are printed with the snapshot's.
int emit_sockets(const Options& options, const Snapshot& snapshot,
                 const std::vector<const Socket*>& sockets, const std::string& human,
                 const std::string& nothing = "no socket matches",
                 const std::vector<const Socket*>* clients = nullptr,
                 const std::string& human_clients = "",
                 std::span<const PublishedPort> published = {},
                 std::span<const std::string> more_warnings = {});

}  // namespace portrel
