// Builds the SQL schema from the column declarations. The views are written in
// SQL over the base tables, so a live query (virtual tables) and a saved
// snapshot (real tables) answer them identically; sharing and finding are tables
// whose rows come from analysis/, not SQL approximations of it.
#include "query/schema.h"

#include <fmt/format.h>

#include <algorithm>

namespace portrel {
namespace {

std::vector<SchemaColumn> base_columns(TableId table) {
  std::vector<SchemaColumn> out;
  for (size_t i = 0; i < column_count(table); ++i) {
    out.push_back({std::string(column_name(table, i)), std::string(column_type(table, i)),
                   std::string(column_description(table, i))});
  }
  return out;
}

// listening: every listening socket joined to each holder and its process. The
// select list is generated: every socket column, then the holding's and the
// process's columns whose names the socket does not already use.
SchemaRelation listening_view() {
  SchemaRelation v{"listening", "view",
                   "every listening TCP / bound UDP socket, one row per holder (a "
                   "socket with no visible holder has one row with null pid)",
                   {}, ""};
  std::vector<std::string> select;
  auto add = [&](const char* alias, const SchemaColumn& c) {
    if (std::ranges::any_of(v.columns, [&](const auto& x) { return x.name == c.name; }))
      return;
    v.columns.push_back(c);
    select.push_back(fmt::format("{}.{}", alias, c.name));
  };
  for (const auto& c : base_columns(TableId::socket)) add("s", c);
  for (const auto& c : base_columns(TableId::holding)) add("h", c);
  for (const auto& c : base_columns(TableId::process)) add("p", c);
  v.sql = fmt::format(
      "SELECT {} FROM socket AS s LEFT JOIN holding AS h ON h.inode = s.inode "
      "LEFT JOIN process AS p ON p.pid = h.pid "
      "WHERE s.state IN ('LISTEN', 'UNCONN')",
      fmt::join(select, ", "));
  return v;
}

SchemaRelation port_view() {
  return {
      "port",
      "view",
      "one row per (netns, proto, port) with its socket and holder counts",
      {{"netns", "integer", "inode of the network namespace"},
       {"netns_name", "text", "\"host\", the /run/netns name, or net:[INODE]"},
       {"proto", "text", "tcp, udp, udplite or raw"},
       {"port", "integer", "local port"},
       {"sockets", "integer", "sockets on this port (any address, any state kept)"},
       {"holders", "integer", "distinct processes holding any of them"},
       {"listening", "integer", "1 when any of them listens (or is bound, for UDP)"},
       {"pids", "text", "the holders' pids, comma-separated"}},
      "SELECT s.netns AS netns, s.netns_name AS netns_name, s.proto AS proto, "
      "s.local_port AS port, count(DISTINCT s.rowid) AS sockets, "
      "count(DISTINCT h.pid) AS holders, "
      "max(s.state IN ('LISTEN', 'UNCONN')) AS listening, "
      "group_concat(DISTINCT h.pid) AS pids "
      "FROM socket AS s LEFT JOIN holding AS h ON h.inode = s.inode "
      "GROUP BY s.netns, s.proto, s.local_port"};
}

}  // namespace

std::string_view sql_type(std::string_view type) {
  if (type == "integer") return "INTEGER";
  if (type == "boolean") return "BOOLEAN";
  if (type == "real") return "REAL";
  return "TEXT";
}

std::string create_table_sql(TableId table) {
  std::vector<std::string> cols;
  for (size_t i = 0; i < column_count(table); ++i) {
    cols.push_back(fmt::format("{} {}", column_name(table, i),
                               sql_type(column_type(table, i))));
  }
  return fmt::format("CREATE TABLE {}({})", table_name(table), fmt::join(cols, ", "));
}

std::vector<SchemaRelation> schema() {
  std::vector<SchemaRelation> out;
  const char* about[] = {
      "one row per process",
      "one row per inet socket (listening/bound only, unless captured with --all)",
      "the join table: process PID holds socket INODE as descriptor FD",
      "how ports are shared (as `portrel shared`): one row per port, kind and "
      "socket involved",
      "what is wrong with how ports are held (as `portrel audit`): one row per "
      "finding"};
  static_assert(std::size(about) == std::size(kTables));
  for (TableId t : kTables) {
    out.push_back({std::string(table_name(t)), "table", about[size_t(t)],
                   base_columns(t), create_table_sql(t)});
  }
  out.push_back(listening_view());
  out.push_back(port_view());
  out.push_back({"meta",
                 "snapshot table",
                 "in files written by `portrel snapshot` only: what was captured, "
                 "where and when",
                 {{"key", "text", "host, time (UTC, ISO 8601), unix_time, "
                                  "portrel_version, states (listening or all)"},
                  {"value", "text", "its value"}},
                 std::string(kCreateMetaSql)});
  return out;
}

std::vector<std::string> create_view_sql(bool temp) {
  std::vector<std::string> out;
  for (const SchemaRelation& r : schema()) {
    if (r.kind != "view") continue;
    out.push_back(fmt::format("CREATE {}VIEW {} AS {}", temp ? "TEMP " : "", r.name,
                              r.sql));
  }
  return out;
}

}  // namespace portrel
