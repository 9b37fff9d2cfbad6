// `portrel record [--db FILE]`: keeps the relation's history in a SQLite file,
// as a service would (packaging/portrel-record.service). The capture loop of
// watch (cli/capture_loop.h) reads; the diff engine says what changed; the
// history store (query/history_store.h) turns that into validity intervals,
// committed once per --batch seconds. SIGTERM or SIGINT stop it cleanly; a
// killed recorder loses at most its last batch, and the next run closes what
// it left open at its last committed heartbeat (closed_by 'crash').
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "analysis/relation_diff.h"
#include "cli/capture_loop.h"
#include "cli/commands.h"
#include "cli/filter.h"
#include "cli/port_spec.h"
#include "cli/report.h"
#include "query/history_store.h"
#include "util/text.h"
#include "util/time_text.h"

#ifndef PORTREL_VERSION
#define PORTREL_VERSION "unknown"
#endif

namespace portrel {
namespace {

constexpr double kPruneEvery = 600;      // seconds between retention passes
constexpr size_t kBatchChanges = 10000;  // a batch commits early at this many changes

std::string host_name() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

}  // namespace

void configure_record(CLI::App& app, Options& o) {
  app.add_option("PORT", o.target,
                 "only this port (8080, tcp/8080, 127.0.0.1:8080, a service name)");
  app.add_option("--db", o.db,
                 std::string("the history file (SQLite, mode 0600; default ") +
                     kDefaultHistoryDb + ")");
  app.add_option("--interval", o.interval_s,
                 "seconds between reads when no process event comes (default 1)")
      ->check(CLI::Range(0.05, 3600.0));
  app.add_option("--batch", o.batch_s, "seconds between commits (default 1)")
      ->check(CLI::Range(0.05, 3600.0));
  app.add_option(
         "--keep-days", o.keep_days,
         "delete intervals that ended more than this many days ago (default 30)")
      ->check(CLI::Range(0.0001, 36500.0));
  app.add_option(
         "--max-size-mb", o.max_size_mb,
         "delete the oldest ended intervals while the file is larger (default 1024)")
      ->check(CLI::Range(1, 1 << 24));
  app.add_option("--count", o.watch_count,
                 "stop after this many reads (0: until stopped)");
}

int run_record(const Options& o) {
  if (o.format != Format::table) return usage_error("record: --format does not apply");
  std::string path = o.db.empty() ? kDefaultHistoryDb : o.db;
  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  if (o.db.empty()) {  // systemd's StateDirectory= makes it; by hand, make it private
    std::error_code ec;
    auto dir = std::filesystem::path(path).parent_path();
    if (!std::filesystem::exists(dir, ec) && mkdir(dir.c_str(), 0700) != 0 &&
        errno != EEXIST) {
      return usage_error("record: cannot make " + dir.string() + ": " +
                         std::strerror(errno));
    }
  }
  auto store = HistoryStore::open(path);
  if (!store) return usage_error("record: " + sanitize(store.error().message));
  auto crashed = store->begin_run(now_unix(), host_name(), PORTREL_VERSION, getpid());
  if (!crashed) return usage_error("record: " + sanitize(crashed.error().message));
  if (*crashed > 0) {
    fmt::print(
        stderr,
        "portrel: the last run did not stop cleanly: {} intervals it left open end at "
        "its last committed heartbeat (closed_by 'crash')\n",
        with_commas(*crashed));
  }
  Retention retention{o.keep_days, uint64_t{o.max_size_mb} << 20};

  std::optional<PortSpec> spec;
  std::optional<uint32_t> port;  // read from the kernel for this port only
  if (!o.target.empty()) {
    auto parsed = parse_port_spec(o.target);
    if (!parsed) return usage_error(parsed.error().message);
    if (parsed->proto) filter->want(*parsed->proto);
    spec = *parsed;
    if (filter->listening_only) port = spec->port;
  }
  DiffOptions diff;
  diff.listening_only = filter->listening_only;
  const Filter& keep = *filter;
  diff.select = [&keep, &spec](const Snapshot& snap, const Socket& s) {
    return keep.keeps(snap, s) && (!spec || spec->matches(s));
  };
  // Every holder's details: the history keeps cgroups (containers) too.
  // One capturer for every read: the programs load once.
  auto capturer = open_capturer(o, *filter, port, CaptureOptions::Details::all);
  if (!capturer) return capture_failed(capturer.error());
  auto capture = [&](const Options& with) { return capture_with(with, *capturer); };
  auto first = capture(o);
  if (!first) return capture_failed(first.error());
  double read_at = now_unix();
  auto failed = [&](const Error& e) {
    fmt::print(stderr, "portrel: record: {}: {}\n", sanitize(path),
               sanitize(e.message));
    return kExitFailure;
  };
  if (auto ok = store->apply(diff_relation(Snapshot(), *first, diff), Snapshot(),
                             *first, read_at);
      !ok) {
    return failed(ok.error());
  }
  FindingWatch findings;
  if (auto ok = store->apply_findings(findings.read(*first, diff), read_at, true); !ok) {
    return failed(ok.error());
  }
  if (auto ok = store->prune(read_at, retention); !ok) return failed(ok.error());
  print_warnings(o, first->warnings());

  CaptureLoop loop(o.interval_s, o.watch_count);
  fmt::print(stderr, "portrel: recording into {} (run {}); a read every {} s{}\n",
             sanitize(path), store->run(), o.interval_s,
             loop.describe());
  CaptureLoop::catch_stop_signals();
  Options quiet = o;
  quiet.verbose = false;
  double last_commit = read_at, last_prune = read_at;
  std::optional<Error> error;
  loop.run(
      std::move(*first), [&] { return capture(quiet); },
      [&](const Snapshot& before, const Snapshot& after) {
        double now = now_unix();
        // Findings first: a cleared one ends at the read before, as the store
        // still knows it until apply().
        auto ok = store->apply_findings(findings.read(after, diff), now, false);
        if (ok) ok = store->apply(diff_relation(before, after, diff), before, after, now);
        // A tick lands a little before or after the batch's second: 50 ms of slack.
        if (ok && (now - last_commit + 0.05 >= o.batch_s ||
                   store->pending() >= kBatchChanges)) {
          ok = store->commit();
          last_commit = now;
        }
        if (ok && now - last_prune >= kPruneEvery) {
          auto pruned = store->prune(now, retention);
          if (!pruned) ok = std::unexpected(pruned.error());
          last_prune = now;
        }
        if (!ok) error = ok.error();
        return ok.has_value();
      });
  if (error) return failed(*error);
  if (auto ok = store->end_run(now_unix()); !ok) return failed(ok.error());
  if (o.verbose)
    fmt::print(stderr, "portrel: recording stopped (run {})\n", store->run());
  return kExitFound;
}

}  // namespace portrel
