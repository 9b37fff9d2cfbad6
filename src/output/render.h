// Machine-readable renderings of a set of sockets with their holders: JSON (the
// documented contract) and CSV, both driven by the column declarations.
#pragma once

#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "analysis/published.h"
#include "output/columns.h"
#include "portrel/snapshot.h"

namespace portrel {

/// Writes {"sockets": [...], "ports": [...], "warnings": [...]} to OUT as it
/// goes, one socket per line, so memory does not grow with the output. A socket
/// is an object of every socket column, in column order, plus `holders`, an
/// array of objects of every holder column. Invalid UTF-8 from other processes
/// becomes U+FFFD.
/// With CLIENTS, a "clients" array (the same objects) follows "sockets": the
/// local sockets whose remote port is the one asked about. With PUBLISHED, a
/// "published" array: each forwarding rule that covers the port asked about.
void write_sockets_document(std::FILE* out, const Snapshot& snapshot,
                            std::span<const Socket* const> sockets,
                            std::span<const std::string> warnings,
                            const std::vector<const Socket*>* clients = nullptr,
                            std::span<const PublishedPort> published = {});

/// The same document as a string.
std::string sockets_document(const Snapshot& snapshot,
                             std::span<const Socket* const> sockets,
                             std::span<const std::string> warnings);

/// RFC 4180 CSV: a header of socket columns plus "holders" ("pid/fd" joined by
/// ';'), one line per socket. With CLIENTS, a last column "role" says "port"
/// for SOCKETS and "client" for the CLIENTS that follow them.
std::string sockets_csv(const Snapshot& snapshot,
                        std::span<const Socket* const> sockets,
                        const std::vector<const Socket*>* clients = nullptr);

/// Quotes a CSV field when it needs it.
std::string csv_field(const std::string& text);

}  // namespace portrel
