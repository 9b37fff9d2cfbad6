// `portrel snapshot FILE.db`: captures the relation (under the usual filters)
// and writes it, with a meta table saying where, when and by which version,
// into a SQLite file that `portrel sql --db` and ATTACH can read later. Only an
// earlier snapshot (or, with --force, a regular file) at FILE is replaced.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <ctime>

#include "cli/commands.h"
#include "cli/filter.h"
#include "cli/report.h"
#include "query/relations.h"
#include "query/store.h"
#include "sources/waits.h"
#include "util/text.h"

#ifndef PORTREL_VERSION
#define PORTREL_VERSION "unknown"
#endif

namespace portrel {
namespace {

bool keep_filtered(const void* filter, const Snapshot& snap, const Socket& socket) {
  return static_cast<const Filter*>(filter)->keeps(snap, socket);
}

std::vector<std::pair<std::string, std::string>> meta(const Filter& filter) {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  time_t now = time(nullptr);
  tm utc{};
  gmtime_r(&now, &utc);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return {{"host", host},
          {"time", when},
          {"unix_time", std::to_string(now)},
          {"portrel_version", PORTREL_VERSION},
          {"states", filter.listening_only ? "listening" : "all"}};
}

}  // namespace

void configure_snapshot(CLI::App& app, Options& o) {
  app.add_option("FILE", o.target,
                 "the SQLite file to write (mode 0600); an earlier snapshot there is "
                 "replaced, anything else is refused")
      ->required()
      ->type_name("FILE");
  app.add_flag("--force", o.force,
               "also replace a regular file that is not a snapshot (never a symbolic "
               "link, device or fifo)");
}

int run_snapshot(const Options& o) {
  // Refused before the capture, and checked again when the file is renamed.
  if (auto target = check_snapshot_target(o.target, o.force); !target) {
    return usage_error("snapshot: " + sanitize(target.error().message));
  }
  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  auto snap = capture_for(o, *filter, std::nullopt, CaptureOptions::Details::all);
  if (!snap) return capture_failed(snap.error());
  Relations relations(*snap, keep_filtered, &*filter);
  relations.set_wait_reader([](std::span<const pid_t> pids) { return read_waits(pids); });
  if (auto ok = write_snapshot_file(o.target, relations, meta(*filter), o.force); !ok) {
    return usage_error("snapshot: " + sanitize(ok.error().message));
  }
  print_warnings(o, snap->warnings());
  fmt::print(stderr, "portrel: wrote {}: {} processes, {} sockets, {} holdings\n",
             sanitize(o.target), with_commas(relations.size(TableId::process)),
             with_commas(relations.size(TableId::socket)),
             with_commas(relations.size(TableId::holding)));
  return kExitFound;
}

}  // namespace portrel
