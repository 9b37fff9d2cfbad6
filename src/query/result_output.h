// Query results in the three output formats every command offers: an aligned
// table (sanitised cells), JSON ({"columns", "rows", "warnings"}) and CSV.
#pragma once

#include <span>
#include <string>

#include "query/database.h"

namespace portrel {

/// Columns as headers, numeric columns right-aligned, null as an empty cell.
std::string result_table(const ResultSet& result, bool color);

/// {"columns": [...], "rows": [{column: value, ...}], "warnings": [...]}; rows
/// keep the column order. Invalid UTF-8 is replaced, never thrown on.
std::string result_json(const ResultSet& result, std::span<const std::string> warnings);

/// RFC 4180: a header line of column names, then one line per row.
std::string result_csv(const ResultSet& result);

/// Text of a cell: "" for null, true/false, reals with up to 15 digits.
std::string sql_value_text(const SqlValue& value);

}  // namespace portrel
