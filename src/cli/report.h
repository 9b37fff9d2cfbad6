// What every command does the same way: capturing for a filter, printing
// warnings and errors, and emitting sockets in the chosen format.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cli/filter.h"
#include "cli/options.h"
#include "portrel/capture.h"
#include "portrel/snapshot.h"

namespace portrel {

/// Prints "portrel: MESSAGE" on stderr and returns kExitUsage.
int usage_error(const std::string& message);

/// Prints each warning as one "portrel: warning: …" line on stderr (sanitised).
void print_warnings(const Options& options, std::span<const std::string> warnings);

/// Captures what the filter needs: only its namespaces and protocols, and only
/// listening sockets unless --all. Under --verbose, says how it was read.
/// PORT, when given, keeps only sockets on that local port (filtered in the
/// kernel when the bpf source is used). DETAILS: how much of each holder to
/// read (views that show no cgroup, or no command line, ask for less).
Result<Snapshot> capture_for(
    const Options& options, const Filter& filter, std::optional<uint16_t> port = std::nullopt,
    CaptureOptions::Details details = CaptureOptions::Details::command);

/// The snapshot's warnings plus one about sockets among these with no owner.
std::vector<std::string> all_warnings(const Snapshot& snapshot,
                                      std::span<const Socket* const> sockets);

/// Prints sockets as JSON, CSV, or (for tables) the text HUMAN renders, with the
/// warnings; returns kExitFound, or kExitNothing when there are no sockets.
int emit_sockets(const Options& options, const Snapshot& snapshot,
                 const std::vector<const Socket*>& sockets, const std::string& human);

}  // namespace portrel
