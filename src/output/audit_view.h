// The findings of `portrel audit` for people and programs: a paragraph each
// with its fix, one JSON document, or CSV lines. The findings come already
// filtered by the ignore rules; how many those hid is passed in.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "analysis/audit.h"
#include "portrel/snapshot.h"

namespace portrel {

/// {"findings": [...], "ignored": N, "warnings": [...]}, indented by two, no
/// trailing newline. A finding is its kind, severity, summary, explanation,
/// fix, its sockets (inode, netns and its name, proto, local address and port)
/// and its processes (pid, comm and exe, null when unknown). Invalid UTF-8
/// from other processes becomes U+FFFD.
std::string audit_json(const Snapshot& snapshot, std::span<const Finding> findings,
                       size_t ignored, std::span<const std::string> warnings);

/// RFC 4180 CSV with CRLF line ends: "severity,kind,summary,inodes,pids", then
/// one line per finding, its inodes and pids joined by ';'.
std::string audit_csv(std::span<const Finding> findings);

/// Per finding: severity, kind and summary on one line, then the explanation
/// and the fix indented; then how many findings are of severity warning or
/// above and, when IGNORED is not 0, how many ignore rules hid.
std::string audit_text(std::span<const Finding> findings, size_t ignored, bool color);

}  // namespace portrel
