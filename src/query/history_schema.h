// The schema of a history file (`portrel record`): the relation's rows as
// validity intervals. Each table is the live table's columns, generated from
// the column declarations (output/columns.h) like the snapshot's, plus the
// interval: first_seen and last_seen (unix seconds of the first and the last
// read that saw the row; last_seen is null while it lasts), opened_by,
// closed_by and the recorder run that wrote it. A view, port_history, joins
// the three into one row per (socket, holder, process) interval.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "query/relations.h"
#include "query/schema.h"

namespace portrel {

/// The history tables, in the order their rows reference each other.
enum class HistoryTable : uint8_t { process, socket, holding };
inline constexpr HistoryTable kHistoryTables[] = {
    HistoryTable::process, HistoryTable::socket, HistoryTable::holding};

/// "process_history", "socket_history", "holding_history".
std::string_view history_table_name(HistoryTable table);
/// The live table whose columns it repeats.
TableId history_base(HistoryTable table);
/// Columns after the base table's: holding_history's start_time (the process's,
/// to tell a reused pid apart), then the interval's.
std::vector<SchemaColumn> history_extra_columns(HistoryTable table);

/// Every statement that creates the schema of a new history file: the tables,
/// recorder_runs, meta, the indexes and the port_history view.
std::vector<std::string> create_history_sql();

/// The tables and the view with their columns and meaning (for the README and
/// `history --schema`).
std::vector<SchemaRelation> history_schema();

/// finding_history: the audit findings of the recorded sockets as intervals.
/// Made by create_history_sql, and by this statement (IF NOT EXISTS) in a file
/// an earlier portrel made without it.
std::string create_finding_history_sql();

/// Every table of intervals (the three above and finding_history): what a
/// crashed run's closing and the retention go through.
std::vector<std::string_view> interval_tables();

}  // namespace portrel
