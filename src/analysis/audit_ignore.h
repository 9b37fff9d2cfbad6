// Accepting a known state: rules that drop audit findings, from `--ignore`
// and from a config file, so that monitoring alerts only on what is new. A
// rule is KIND, KIND:PORT or KIND:NAME (a process's comm), or * for any kind.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/audit.h"
#include "portrel/error.h"

namespace portrel {

struct AuditIgnore {
  std::optional<FindingKind> kind;  ///< none: any kind (*)
  std::optional<uint32_t> port;     ///< a socket of the finding is on this port
  std::string comm;                 ///< a process of the finding has this comm
  std::string text;                 ///< the rule as written, for messages
};

/// Parses one rule ("cloexec", "exposed:22", "cloexec:nginx", "*:8080");
/// errors name the rule and what is wrong.
Result<AuditIgnore> parse_audit_ignore(std::string_view rule);
/// Parses a config file's text: one rule per line, "ignore RULE" or "RULE";
/// blank lines and "#" comments skipped. Errors say which line.
Result<std::vector<AuditIgnore>> parse_audit_config(std::string_view text);

/// Whether RULES drop F.
bool ignored(const Snapshot& snapshot, const Finding& f, std::span<const AuditIgnore> rules);

}  // namespace portrel
