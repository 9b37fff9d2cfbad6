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

namespace portrel {

/// Creates the schema in DB (an empty database) and fills it from RELATIONS;
/// META becomes the rows of the meta table. One transaction.
Result<void> store_relations(Database& db, const Relations& relations,
                             const std::vector<std::pair<std::string, std::string>>& meta);

/// Writes a new snapshot file at PATH: built beside it and renamed into place, so
/// PATH is either the old file or the complete new one, never half-written.
Result<void> write_snapshot_file(
    const std::string& path, const Relations& relations,
    const std::vector<std::pair<std::string, std::string>>& meta);

}  // namespace portrel
