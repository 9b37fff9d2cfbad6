// The changes of `portrel watch` as people and log shippers read them: one
// line each, with the time it was seen.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "analysis/finding_diff.h"
#include "analysis/relation_diff.h"

namespace portrel {

/// "21:30:05.123  opened   tcp 0.0.0.0:8080 LISTEN   nginx[123], nginx[124]".
/// NOW is when the change was seen; SNAPSHOT names network namespaces. With
/// INITIAL, the socket is one that was there when watching began ("present").
std::string change_line(const Change& change, const Snapshot& snapshot,
                        std::chrono::system_clock::time_point now, bool color,
                        bool initial = false);

/// The same as one JSON object (a line of --format json): time (RFC 3339 with
/// milliseconds, UTC), event, netns, proto, family, local address and port,
/// state, inode, holders [{pid, comm, uid}], and what the kind adds (how, fd,
/// old_state, old_comm, old_kinds/new_kinds).
nlohmann::json change_json(const Change& change, const Snapshot& snapshot,
                           std::chrono::system_clock::time_point now, bool initial = false);

/// An audit finding that appeared (or, with !APPEARED, cleared):
/// "21:30:05.123  finding  warning cloexec  port 8080: …"; INITIAL: there when
/// watching began.
std::string finding_line(const FindingChange& change, std::chrono::system_clock::time_point now,
                         bool color, bool initial = false);

/// The same as JSON: time, event (finding-appeared, finding-cleared,
/// finding-present), kind, severity, port, summary, inodes, pids.
nlohmann::json finding_json(const FindingChange& change,
                            std::chrono::system_clock::time_point now, bool initial = false);

}  // namespace portrel
