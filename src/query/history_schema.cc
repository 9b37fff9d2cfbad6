// Builds the history schema from the column declarations, as schema.cc does for
// the live one. An interval that is still open (last_seen null) ends, for the
// view, at its run's last committed heartbeat: what a reader can vouch for.
#include "query/history_schema.h"

#include <fmt/format.h>

namespace portrel {
namespace {

const std::vector<SchemaColumn> kIntervalColumns = {
    {"first_seen", "real", "unix seconds of the first read that saw the row"},
    {"last_seen", "real",
     "unix seconds of the last read that saw it; null while it lasts (the run's "
     "heartbeat "
     "says until when that is known)"},
    {"opened_by", "text",
     "how it began: present (there when the run began), opened, state, fork, started, "
     "received, dup, exec"},
    {"closed_by", "text",
     "how it ended: closed, exited, exec, released (the process holds no recorded "
     "socket "
     "any more), state, stopped (the recorder stopped), crash (the recorder did not "
     "stop "
     "cleanly: closed at its last committed heartbeat); null while open"},
    {"run", "integer", "the recorder run that wrote it (recorder_runs.run)"},
};

const std::vector<SchemaColumn> kFindingColumns = {
    {"kind", "text", "cloexec, leaked, exposed, unowned (as portrel audit names them)"},
    {"severity", "text", "info, warning or error"},
    {"port", "integer", "the local port of its first socket; null when it names none"},
    {"summary", "text", "the one line audit gives (untrusted bytes: names in it)"},
    {"pids", "text", "the processes it names, comma-separated"},
    {"inodes", "text", "the sockets it names (inodes), comma-separated"},
};

const std::vector<SchemaColumn> kRunColumns = {
    {"run", "integer", "run number"},
    {"started", "real", "unix seconds when the recorder started"},
    {"heartbeat", "real", "unix seconds of the last read committed by this run"},
    {"stopped", "real",
     "unix seconds when it stopped (its last heartbeat after a crash)"},
    {"clean", "boolean", "it stopped cleanly (false while it runs and after a crash)"},
    {"pid", "integer", "the recorder's pid"},
    {"host", "text", "host name"},
    {"portrel_version", "text", "the recorder's version"},
};

std::string column_list(const std::vector<SchemaColumn>& columns) {
  std::vector<std::string> out;
  for (const auto& c : columns)
    out.push_back(fmt::format("{} {}", c.name, sql_type(c.type)));
  return fmt::format("{}", fmt::join(out, ", "));
}

std::vector<SchemaColumn> all_columns(HistoryTable table) {
  std::vector<SchemaColumn> out;
  TableId base = history_base(table);
  for (size_t i = 0; i < column_count(base); ++i) {
    out.push_back({std::string(column_name(base, i)), std::string(column_type(base, i)),
                   std::string(column_description(base, i))});
  }
  for (auto& c : history_extra_columns(table)) out.push_back(std::move(c));
  return out;
}

// The end of an interval as far as it is known: last_seen, or the heartbeat of
// the run that keeps it open.
std::string until(std::string_view alias) {
  return fmt::format(
      "coalesce({0}.last_seen, (SELECT heartbeat FROM recorder_runs AS r WHERE r.run = "
      "{0}.run))",
      alias);
}

std::string port_history_sql() {
  std::string s_until = until("s"), h_until = until("h"), p_until = until("p");
  std::string first =
      "max(s.first_seen, coalesce(h.first_seen, s.first_seen), "
      "coalesce(p.first_seen, s.first_seen))";
  std::string last = fmt::format("min({0}, coalesce({1}, {0}), coalesce({2}, {0}))",
                                 s_until, h_until, p_until);
  return fmt::format(
      "CREATE VIEW port_history AS SELECT s.netns AS netns, s.netns_name AS "
      "netns_name, "
      "s.proto AS proto, s.family AS family, s.local_address AS local_address, "
      "s.local_port AS local_port, s.state AS state, s.inode AS inode, h.pid AS pid, "
      "h.start_time AS start_time, h.fd AS fd, h.cloexec AS cloexec, p.comm AS comm, "
      "p.exe AS exe, p.cmdline AS cmdline, p.user AS user, p.uid AS uid, p.ppid AS "
      "ppid, "
      "p.workload AS workload, p.container_name AS container_name, p.unit AS unit, "
      "{0} AS first_seen, {1} AS last_seen, "
      "coalesce(s.last_seen, h.last_seen, p.last_seen) IS NULL AS open, "
      "CASE WHEN h.closed_by IS NOT NULL AND h.last_seen <= {1} THEN h.closed_by "
      "WHEN p.closed_by IS NOT NULL AND p.last_seen <= {1} THEN p.closed_by "
      "ELSE s.closed_by END AS closed_by "
      "FROM socket_history AS s "
      "LEFT JOIN holding_history AS h ON h.inode = s.inode AND s.inode != 0 "
      "AND h.first_seen <= {2} AND {3} >= s.first_seen "
      "LEFT JOIN process_history AS p ON p.pid = h.pid AND p.start_time = h.start_time "
      "AND p.first_seen <= min({2}, {3}) AND {4} >= max(s.first_seen, h.first_seen)",
      first, last, s_until, h_until, p_until);
}

}  // namespace

std::string_view history_table_name(HistoryTable table) {
  switch (table) {
    case HistoryTable::process:
      return "process_history";
    case HistoryTable::socket:
      return "socket_history";
    case HistoryTable::holding:
      return "holding_history";
  }
  return "";
}

TableId history_base(HistoryTable table) {
  switch (table) {
    case HistoryTable::process:
      return TableId::process;
    case HistoryTable::socket:
      return TableId::socket;
    case HistoryTable::holding:
      return TableId::holding;
  }
  return TableId::process;
}

std::vector<SchemaColumn> history_extra_columns(HistoryTable table) {
  std::vector<SchemaColumn> out;
  if (table == HistoryTable::holding) {
    out.push_back({"start_time", "integer",
                   "the holder's start time in clock ticks after boot (with pid, the "
                   "process_history row)"});
  }
  out.insert(out.end(), kIntervalColumns.begin(), kIntervalColumns.end());
  return out;
}

std::vector<std::string> create_history_sql() {
  std::vector<std::string> out;
  for (HistoryTable t : kHistoryTables) {
    out.push_back(fmt::format("CREATE TABLE {}({})", history_table_name(t),
                              column_list(all_columns(t))));
  }
  // run is the rowid: intervals name their run by it.
  std::string runs = column_list(kRunColumns);
  runs.replace(0, std::string_view("run INTEGER").size(), "run INTEGER PRIMARY KEY");
  out.push_back(fmt::format("CREATE TABLE recorder_runs({})", runs));
  out.push_back(create_finding_history_sql());
  out.push_back("CREATE INDEX finding_history_last_seen ON finding_history(last_seen)");
  out.push_back(std::string(kCreateMetaSql));
  for (std::string_view index :
       {"process_history(pid, start_time)", "process_history(comm)",
        "process_history(last_seen)", "socket_history(local_port)",
        "socket_history(inode)", "socket_history(last_seen)", "holding_history(inode)",
        "holding_history(pid, start_time)", "holding_history(last_seen)"}) {
    std::string name(index);
    for (char& c : name) {
      if (c == '(' || c == ',' || c == ' ' || c == ')') c = '_';
    }
    while (name.ends_with('_')) name.pop_back();
    out.push_back(fmt::format("CREATE INDEX {} ON {}", name, index));
  }
  out.push_back(port_history_sql());
  return out;
}

std::vector<SchemaRelation> history_schema() {
  std::vector<SchemaRelation> out;
  for (HistoryTable t : kHistoryTables) {
    out.push_back(
        {std::string(history_table_name(t)), "history table",
         fmt::format("the {} rows as validity intervals", table_name(history_base(t))),
         all_columns(t), ""});
  }
  std::vector<SchemaColumn> findings = kFindingColumns;
  findings.insert(findings.end(), kIntervalColumns.begin(), kIntervalColumns.end());
  out.push_back({"finding_history", "history table",
                 "the audit findings of the recorded sockets as validity intervals "
                 "(opened_by present or appeared; closed_by cleared, stopped or crash)",
                 findings, ""});
  out.push_back({"recorder_runs", "history table",
                 "each run of portrel record: when, and whether it stopped cleanly",
                 kRunColumns, ""});
  out.push_back({"port_history",
                 "view",
                 "one row per (socket, holder, process) interval: the socket's "
                 "columns, the holder's "
                 "pid and fd and the process's name and command line; first_seen and "
                 "last_seen bound "
                 "the time all three were seen together (an open row ends at its run's "
                 "heartbeat)",
                 {},
                 port_history_sql()});
  return out;
}

std::string create_finding_history_sql() {
  std::vector<SchemaColumn> columns = kFindingColumns;
  columns.insert(columns.end(), kIntervalColumns.begin(), kIntervalColumns.end());
  return fmt::format("CREATE TABLE IF NOT EXISTS finding_history({})", column_list(columns));
}

std::vector<std::string_view> interval_tables() {
  std::vector<std::string_view> out;
  for (HistoryTable t : kHistoryTables) out.push_back(history_table_name(t));
  out.push_back("finding_history");
  return out;
}

}  // namespace portrel
