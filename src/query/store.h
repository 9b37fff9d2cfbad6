// Writing the relation into a SQLite file: the three base tables with their
// indexes, the views, and a meta table, so the file can be queried later with
// `portrel sql --db FILE` or ATTACHed beside a live query.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "portrel/error.h"
#include "query/database.h"
#include "query/relations.h"
#include "util/replace_file.h"

namespace portrel {

/// Creates the schema in DB (an empty database) and fills it from RELATIONS;
/// META becomes the rows of the meta table. One transaction.
Result<void> store_relations(Database& db, const Relations& relations,
                             const std::vector<std::pair<std::string, std::string>>& meta);

/// What is at PATH when a snapshot may be written there: nothing, or a regular
/// file that is a portrel snapshot (a SQLite file whose meta table names a
/// portrel version), or with FORCE any regular file. Anything else (a symbolic
/// link, a device, a fifo, a directory, or without FORCE a file portrel did not
/// write) is an error saying what is there; it is never opened for writing.
Result<PathEntry> check_snapshot_target(const std::string& path, bool force);

/// Writes a new snapshot file at PATH, which check_snapshot_target must accept:
/// built beside it with mode 0600 (command lines may carry secrets) and renamed
/// into place only if PATH still holds what was checked, so PATH is either the
/// old file or the complete new one, never half-written.
Result<void> write_snapshot_file(
    const std::string& path, const Relations& relations,
    const std::vector<std::pair<std::string, std::string>>& meta, bool force = false);

}  // namespace portrel
