// Machine-readable renderings of a set of sockets with their holders: JSON (the
// documented contract) and CSV, both driven by the column declarations.
#pragma once

#include <nlohmann/json.hpp>
#include <cstdio>
#include <span>
#include <string>

#include "output/columns.h"
#include "portrel/snapshot.h"

namespace portrel {

/// One JSON object per socket: every socket column plus `holders`, an array of
/// holder objects (every holder column).
nlohmann::json socket_json(const Snapshot& snapshot, const Socket& socket);

/// Writes {"sockets": [...], "ports": [...], "warnings": [...]} to OUT as it
/// goes, one socket per line, so memory does not grow with the output; invalid
/// UTF-8 from other processes is replaced, never thrown on.
void write_sockets_document(std::FILE* out, const Snapshot& snapshot,
                            std::span<const Socket* const> sockets,
                            std::span<const std::string> warnings);

/// The same document as a string.
std::string sockets_document(const Snapshot& snapshot,
                             std::span<const Socket* const> sockets,
                             std::span<const std::string> warnings);

/// RFC 4180 CSV: a header of socket columns plus "holders" ("pid/fd" joined by
/// ';'), one line per socket.
std::string sockets_csv(const Snapshot& snapshot,
                        std::span<const Socket* const> sockets);

/// Quotes a CSV field when it needs it.
std::string csv_field(const std::string& text);

/// A JSON value for a cell.
nlohmann::json value_json(const Value& value);

}  // namespace portrel
