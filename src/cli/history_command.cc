// `portrel history PORT [--at T | --since T --until T]` and `history of
// PID|NAME`: what a history file (`portrel record`) says held a port, or which
// ports a process held, at a moment or during a span. A table like `who`'s with
// first and last seen in local time; --format json|csv gives the rows with
// unix seconds.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <charconv>

#include "cli/commands.h"
#include "cli/port_spec.h"
#include "cli/report.h"
#include "output/table.h"
#include "query/history_query.h"
#include "query/history_schema.h"
#include "query/result_output.h"
#include "util/text.h"
#include "util/time_text.h"

namespace portrel {
namespace {

// The columns of query_history()'s rows that the table shows.
enum Col : size_t {
  kNetns,
  kProto,
  kAddress,
  kPort,
  kState,
  kPid,
  kFd,
  kComm,
  kUser,
  kFirst,
  kLast,
  kOpen,
  kClosedBy,
  kCmdline,
  kExe
};

std::string text(const SqlValue& v) { return sanitize(sql_value_text(v)); }

double real(const SqlValue& v) {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  return 0;
}

std::string render(const ResultSet& r, bool color) {
  bool netns = false;
  for (const auto& row : r.rows) netns = netns || text(row[kNetns]) != "host";
  std::vector<std::string> headers{"PROTO", "LOCAL",  "STATE",      ">PID",
                                   ">FD",   "USER",   "FIRST SEEN", "LAST SEEN",
                                   "ENDED", "COMMAND"};
  if (netns) headers.insert(headers.begin(), "NETNS");
  Table table(headers);
  for (const auto& row : r.rows) {
    std::string address = text(row[kAddress]);
    if (address.find(':') != std::string::npos) address = "[" + address + "]";
    bool open = row[kOpen] == SqlValue(true) || row[kOpen] == SqlValue(int64_t{1});
    bool held = !std::holds_alternative<std::monostate>(row[kPid]);
    std::string command = held ? text(row[kComm]) : "(no visible holder)";
    std::string cmdline = text(row[kCmdline]);
    if (!cmdline.empty()) command += "  " + cmdline;
    std::vector<Cell> cells{
        {text(row[kProto])},
        {address + ":" + text(row[kPort])},
        {text(row[kState])},
        {text(row[kPid])},
        {text(row[kFd])},
        {text(row[kUser])},
        {format_time(real(row[kFirst]))},
        {format_time(real(row[kLast])), open ? Style::dim : Style::plain},
        {open ? "(still held)" : text(row[kClosedBy])},
        {command}};
    if (netns) cells.insert(cells.begin(), {text(row[kNetns])});
    table.add(std::move(cells));
  }
  return table.render(color);
}

bool any_filter(const Options& o) {
  return o.any_protocol() || o.ipv4 || o.ipv6 || o.all || o.listening ||
         !o.netns.empty() || !o.user.empty() || !o.container.empty();
}

// "PORT", or "of PID|NAME": the query, or a usage error's message.
Result<HistoryQuery> what(const std::vector<std::string>& args,
                          std::optional<PortSpec>& spec) {
  HistoryQuery q;
  if (args.size() == 2 && args[0] == "of") {
    const std::string& who = args[1];
    pid_t pid = 0;
    auto [end, ec] = std::from_chars(who.data(), who.data() + who.size(), pid);
    if (ec == std::errc() && end == who.data() + who.size() && pid > 0) {
      q.pid = pid;
    } else if (!who.empty()) {
      q.name = who;
    }
    return q;
  }
  if (!args.empty() && args[0] == "of") {
    return std::unexpected(Error{"history of: expected a PID or a NAME"});
  }
  if (args.size() != 1) {
    return std::unexpected(Error{"history: expected PORT or `of PID|NAME`"});
  }
  auto parsed = parse_port_spec(args[0]);
  if (!parsed) return std::unexpected(parsed.error());
  spec = *parsed;
  q.port = spec->port;
  q.proto = spec->proto;
  return q;
}

}  // namespace

void configure_history(CLI::App& app, Options& o) {
  app.add_option(
         "PORT", o.history_args,
         "a port (8080, tcp/8080, 127.0.0.1:8080, a service name), or `of PID|NAME`")
      ->expected(1, 2);
  app.add_option("--db", o.db,
                 std::string("the history file `portrel record` keeps (default ") +
                     kDefaultHistoryDb + ")");
  auto* at = app.add_option("--at", o.at,
                            "at this time: \"2026-12-05 03:00\", 03:00 (today), ISO "
                            "8601, unix seconds, -10m, "
                            "\"1h ago\"");
  app.add_flag("--schema", o.schema,
               "print the history file's tables, view and columns with their meaning");
  app.add_option("--since", o.since, "from this time (same forms as --at)")
      ->excludes(at);
  app.add_option("--until", o.until, "until this time (same forms as --at)")
      ->excludes(at);
}

int run_history(const Options& o) {
  if (o.schema) {
    ResultSet r{{"relation", "kind", "column", "type", "meaning"}, {}};
    for (const SchemaRelation& rel : history_schema()) {
      r.rows.push_back(
          {rel.name, rel.kind, std::string(""), std::string(""), rel.description});
      for (const SchemaColumn& c : rel.columns) {
        r.rows.push_back({rel.name, std::string(""), c.name, c.type, c.description});
      }
    }
    if (o.format == Format::json) {
      fmt::print("{}", result_json(r, {}));
    } else if (o.format == Format::csv) {
      fmt::print("{}", result_csv(r));
    } else {
      fmt::print("{}", result_table(r, use_color(o)));
    }
    return kExitFound;
  }
  if (any_filter(o)) {
    return usage_error(
        "history: filters apply when recording; name the port as tcp/8080 or "
        "127.0.0.1:8080");
  }
  std::optional<PortSpec> spec;
  auto query = what(o.history_args, spec);
  if (!query) return usage_error(query.error().message);
  double now = now_unix();
  for (auto [given, into] : {std::pair{&o.at, 0}, {&o.since, 1}, {&o.until, 2}}) {
    if (given->empty()) continue;
    auto t = parse_time(*given, now);
    if (!t) return usage_error("history: " + t.error().message);
    if (into == 0 || into == 1) query->since = *t;
    if (into == 0 || into == 2) query->until = *t;
  }
  if (query->since > query->until)
    return usage_error("history: --since is after --until");

  std::string path = o.db.empty() ? kDefaultHistoryDb : o.db;
  auto db = Database::open_readonly(path);
  if (!db) return usage_error("history: " + db.error().message);
  auto rows = query_history(*db, *query);
  if (!rows)
    return usage_error("history: " + sanitize(path) + ": " + rows.error().message);
  // An address narrows to the sockets that would receive for it.
  if (spec && !spec->addresses.empty()) {
    std::erase_if(rows->rows, [&](const std::vector<SqlValue>& row) {
      Socket s;
      auto address = Address::parse(sql_value_text(row[kAddress]));
      if (!address) return true;
      s.local_addr = *address;
      s.family = address->family;
      s.local_port = spec->port;
      if (auto p = parse_proto(sql_value_text(row[kProto]))) s.proto = *p;
      return !spec->matches(s);
    });
  }
  std::vector<std::string> warnings;
  if (!o.at.empty()) {
    auto covered = history_covers(*db, query->since);
    if (covered && !*covered) {
      warnings.push_back("no recorder ran at " + format_time(query->since) +
                         ": the history knows nothing of that moment");
    }
  }
  switch (o.format) {
    case Format::json:
      fmt::print("{}", result_json(*rows, warnings));
      break;
    case Format::csv:
      fmt::print("{}", result_csv(*rows));
      print_warnings(o, warnings);
      break;
    case Format::table:
      if (!rows->rows.empty()) print_fitted(render(*rows, use_color(o)));
      print_warnings(o, warnings);
      break;
  }
  if (rows->rows.empty()) {
    std::string subject = query->port ? "port " + sanitize(o.history_args[0])
                                      : "process " + sanitize(o.history_args[1]);
    fmt::print(stderr, "portrel: the history holds nothing for {} {}\n", subject,
               o.at.empty() ? "in that span" : "at that time");
    return kExitNothing;
  }
  return kExitFound;
}

}  // namespace portrel
