// `portrel sql QUERY`: SQL over the live relation (virtual tables captured on
// first use) or over a saved snapshot (`--db FILE`, opened read-only), and
// `--schema`, the tables, views and columns with their meaning.
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/filter.h"
#include "cli/report.h"
#include "query/database.h"
#include "query/live_tables.h"
#include "query/result_output.h"
#include "query/schema.h"
#include "sources/capture.h"
#include "sources/procfs_source.h"
#include "sources/waits.h"

namespace portrel {
namespace {

// A socket source with nothing in it, for queries that read only `process`.
class NoSockets : public SocketSource {
 public:
  Result<SocketScan> scan(const std::vector<NetnsHandle>&, const SocketQuery&) override {
    return SocketScan{};
  }
};

bool keep_filtered(const void* filter, const Snapshot& snap, const Socket& socket) {
  return static_cast<const Filter*>(filter)->keeps(snap, socket);
}

int print_result(const Options& o, const std::vector<ResultSet>& results,
                 std::span<const std::string> warnings) {
  ResultSet empty;
  const ResultSet& r = results.empty() ? empty : results.front();
  switch (o.format) {
    case Format::json:
      fmt::print("{}", result_json(r, warnings));
      break;
    case Format::csv:
      if (!r.columns.empty()) fmt::print("{}", result_csv(r));
      print_warnings(o, warnings);
      break;
    case Format::table:
      if (!r.rows.empty()) fmt::print("{}", result_table(r, use_color(o)));
      print_warnings(o, warnings);
      break;
  }
  return r.rows.empty() ? kExitNothing : kExitFound;
}

int print_schema(const Options& o) {
  ResultSet r{{"relation", "kind", "column", "type", "meaning"}, {}};
  for (const SchemaRelation& rel : schema()) {
    r.rows.push_back({rel.name, rel.kind, std::string(""), std::string(""),
                      rel.description});
    for (const SchemaColumn& c : rel.columns) {
      r.rows.push_back({rel.name, std::string(""), c.name, c.type, c.description});
    }
  }
  return print_result(o, {r}, {});
}

bool any_filter(const Options& o) {
  return o.any_protocol() || o.ipv4 || o.ipv6 || o.all || o.listening ||
         !o.netns.empty() || !o.user.empty();
}

}  // namespace

namespace {

QueryLimits limits_of(const Options& o) {
  return QueryLimits{o.sql_max_seconds, o.sql_max_rows,
                     static_cast<int64_t>(o.sql_limit_mib) << 20};
}

}  // namespace

void configure_sql(CLI::App& app, Options& o) {
  app.add_option("QUERY", o.target,
                 "SQL (SQLite): one or more statements, read-only; at most one "
                 "may return rows");
  app.add_option("--db", o.db,
                 "query a file written by `portrel snapshot` instead of the live host");
  app.add_flag("--schema", o.schema, "print every table, view and column with its meaning");
  app.add_option("--max-seconds", o.sql_max_seconds,
                 "stop a query that runs longer (default 30)")
      ->check(CLI::Range(0.001, 86400.0));
  app.add_option("--max-rows", o.sql_max_rows, "stop a query that returns more rows "
                 "(default 1000000)")
      ->check(CLI::Range(1, 1000000000));
  app.add_option("--max-memory", o.sql_limit_mib,
                 "MiB of memory a query may use (default 1024)")
      ->check(CLI::Range(16, 1 << 20));
}

int run_sql(const Options& o) {
  if (o.schema) return print_schema(o);
  if (o.target.empty()) return usage_error("sql: expected a QUERY (or --schema)");

  if (!o.db.empty()) {
    if (any_filter(o)) {
      return usage_error("sql --db: filters apply when capturing; use WHERE instead");
    }
    auto db = Database::open_readonly(o.db);
    if (!db) return usage_error("sql: " + db.error().message);
    auto results = db->query(o.target, {}, limits_of(o));
    if (!results) return usage_error("sql: " + results.error().message);
    return print_result(o, *results, {});
  }

  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  LiveTables tables(
      [&](const LiveTables::Scope& scope) -> Result<Snapshot> {
        if (scope.with_sockets) {
          return capture_for(o, *filter, scope.port, CaptureOptions::Details::all);
        }
        ProcfsSource processes;
        NoSockets none;
        CapturePlan plan;
        plan.socket_netns = CapturePlan::SocketNetns::not_sought;
        return capture_from({processes, none}, plan, {});
      },
      keep_filtered, &*filter, [](std::span<const pid_t> pids) { return read_waits(pids); });
  auto db = Database::open_memory();
  if (!db) return usage_error("sql: " + db.error().message);
  if (auto ok = tables.install(db->handle()); !ok) {
    return usage_error("sql: " + ok.error().message);
  }
  for (const std::string& view : create_view_sql(true)) {
    if (auto ok = db->exec(view); !ok) return usage_error("sql: " + ok.error().message);
  }
  auto results = db->query(o.target, [&] { return tables.take_restart(); }, limits_of(o));
  if (!results) return usage_error("sql: " + results.error().message);
  std::vector<std::string> warnings;
  if (const Snapshot* snap = tables.snapshot()) {
    warnings.assign(snap->warnings().begin(), snap->warnings().end());
  }
  return print_result(o, *results, warnings);
}

}  // namespace portrel
