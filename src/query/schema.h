// The SQL schema users query, generated from the column declarations of
// output/columns.h: the base tables process, socket and holding, the views
// derived from them, and the meta table of saved snapshots. Nothing here lists a
// base column by hand; a column added to the declarations appears everywhere.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "query/relations.h"

namespace portrel {

/// One column as `portrel sql --schema` shows it.
struct SchemaColumn {
  std::string name;
  std::string type;  ///< "integer", "text", "boolean", "real"
  std::string description;
};

/// A table or view of the schema.
struct SchemaRelation {
  std::string name;
  std::string kind;  ///< "table", "view", "snapshot table"
  std::string description;
  std::vector<SchemaColumn> columns;
  std::string sql;  ///< CREATE statement for a view; the column list for a table
};

/// SQL declared type of a column type: INTEGER, TEXT, BOOLEAN (0/1, rendered as
/// true/false in the output), REAL.
std::string_view sql_type(std::string_view type);

/// "CREATE TABLE <name>(col TYPE, ...)" for a base table.
std::string create_table_sql(TableId table);

/// The tables (process, socket, holding, sharing, finding), the views
/// (listening, port), then `meta`, in the order --schema prints them.
std::vector<SchemaRelation> schema();

/// Every view's CREATE VIEW statement, in dependency order. TEMP makes them
/// connection-local (live queries); without it they are stored in a file.
std::vector<std::string> create_view_sql(bool temp);

/// The meta table of a saved snapshot: (key, value) rows.
inline constexpr std::string_view kCreateMetaSql =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)";

}  // namespace portrel
