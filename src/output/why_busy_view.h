// The answer of `portrel why-busy` for people and programs: the bind asked
// about, the verdict with its errno and reason, the sockets that block it (with
// holders and options), notes, what would change the answer and, with --try,
// what the kernel said.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "analysis/bind_rules.h"
#include "portrel/snapshot.h"

namespace portrel {

/// One why-busy answer, computed; the blockers in `prediction` point into the
/// snapshot it is rendered with.
struct WhyBusyAnswer {
  BindRequest request;
  uint64_t netns = 0;       ///< the namespace the bind is judged in (inode)
  std::string netns_label;  ///< as the user named it: "host", a name or a path
  BindPrediction prediction;
  std::vector<std::string> changes;  ///< what would change the answer, one each
  std::optional<int> kernel;         ///< --try: bind()'s errno, 0 when it succeeded
};

/// Who holds a blocking socket (summarize_holders()), or why nobody visible
/// does, in parentheses: "(held by hidden processes)".
std::string blocker_holders(const Snapshot& snapshot, const Socket& socket);

/// {"request", "verdict", "error", "reason", "blockers", "notes", "changes",
/// "kernel" (with --try), "warnings"}, indented by two, no trailing newline. A
/// blocker is its socket (inode, state, family, address, port, uid, options as
/// true/false/null, bound device, holders with fd and comm) plus whether it
/// certainly blocks, the rule and the options it depends on. Invalid UTF-8
/// becomes U+FFFD.
std::string why_busy_json(const Snapshot& snapshot, const WhyBusyAnswer& answer,
                          std::span<const std::string> warnings);

/// "tcp 0.0.0.0:8080 as uid 0 in netns host: would fail: EADDRINUSE (…)", the
/// reason, then the blockers with their rules, the notes, what would change
/// the answer and the kernel's answer to --try. Names are sanitised.
std::string why_busy_text(const Snapshot& snapshot, const WhyBusyAnswer& answer);

}  // namespace portrel
