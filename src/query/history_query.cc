// The history command's queries over port_history, with the span as an
// overlap test on each interval: first_seen <= until and last_seen >= since.
#include "query/history_query.h"

#include <fmt/format.h>

#include <cmath>
#include <vector>

namespace portrel {
namespace {

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

std::string number(double v) {
  if (std::isinf(v)) return v < 0 ? "-1e308" : "1e308";
  return fmt::format("{:.6f}", v);
}

}  // namespace

Result<ResultSet> query_history(Database& db, const HistoryQuery& q) {
  std::vector<std::string> where;
  if (q.port) where.push_back(fmt::format("local_port = {}", *q.port));
  if (q.proto) where.push_back(fmt::format("proto = '{}'", proto_name(*q.proto)));
  if (q.pid) where.push_back(fmt::format("pid = {}", *q.pid));
  if (!q.name.empty()) {
    std::string n = quoted(q.name);
    where.push_back(
        fmt::format("(comm = {0} OR exe = {0} OR exe LIKE '%/' || {0})", n));
  }
  where.push_back(fmt::format("first_seen <= {}", number(q.until)));
  where.push_back(fmt::format("last_seen >= {}", number(q.since)));
  std::string sql = fmt::format(
      "SELECT netns_name, proto, local_address, local_port, state, pid, fd, comm, "
      "user, "
      "first_seen, last_seen, open, closed_by, cmdline, exe, inode, start_time, "
      "cloexec, "
      "netns, family FROM port_history WHERE {} ORDER BY first_seen, pid, fd, inode",
      fmt::join(where, " AND "));
  auto rows = db.query(sql);
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return ResultSet{};
  return std::move(rows->front());
}

Result<bool> history_covers(Database& db, double t) {
  auto rows = db.query(
      fmt::format("SELECT count(*) FROM recorder_runs WHERE started <= {0} AND "
                  "coalesce(stopped, heartbeat) >= {0}",
                  number(t)));
  if (!rows) return std::unexpected(rows.error());
  return !rows->empty() && !rows->front().rows.empty() &&
         rows->front().rows[0][0] != SqlValue(int64_t{0});
}

}  // namespace portrel
