// Everything the command line can ask for, in one struct passed down to the
// commands; there are no global option flags.
#pragma once

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "portrel/model.h"

namespace portrel {

enum class Format { table, json, csv };

struct Options {
  Format format = Format::table;
  std::string format_name = "table";  ///< as given to --format, checked by the parser
  std::string color = "auto";  ///< auto | always | never
  /// The protocols a selector (-t, -u, --vsock, ...) named, by Proto; none:
  /// the default ones.
  std::array<bool, kProtoCount> protocols{};
  bool any_protocol() const {
    return std::ranges::any_of(protocols, [](bool b) { return b; });
  }
  bool ipv4 = false, ipv6 = false;
  bool all = false;        ///< every state, not just listening/bound
  bool listening = false;  ///< the default, stated explicitly
  std::string netns;       ///< inode, /run/netns name, "pid:N" or a pid; "" = all
  std::string user;        ///< user name or uid; "" = any
  std::string container;   ///< --container NAME|ID|POD|UNIT; "" = any
  std::string sort;        ///< --sort KEY; "" = by port
  bool ss_habit = false;   ///< -p, -n: accepted as ss has them, change nothing
  bool verbose = false;
  bool probe_sockopts = false;  ///< exact options via pidfd_getfd + getsockopt
  std::string source = "auto";  ///< auto | bpf | procfs: where fd tables come from
  std::string target;  ///< `who PORT` / `of PID|NAME` / `sql QUERY` / `snapshot FILE`
  bool tree = false;   ///< `of --tree`, `graph --tree`
  std::string graph_of;  ///< `graph --of PID|NAME|PATH`; "" = every holder
  std::string db;       ///< `sql --db FILE`: query a saved snapshot
  bool schema = false;  ///< `sql --schema`
  bool force = false;   ///< `snapshot --force`: replace a file that is not a snapshot
  std::vector<std::string> bind_args;  ///< `why-busy [tcp|udp] ADDR:PORT`
  bool reuseaddr = false, reuseport = false, v6only = false;  ///< `why-busy` options
  bool try_bind = false;  ///< `why-busy --try`: also bind for real
  bool yes = false;            ///< `free --yes`: act without asking
  bool dry_run = false;        ///< `free --dry-run`: the plan only
  double timeout_s = 5;        ///< `free --timeout`: seconds to wait for exits
  bool force_kill = false;     ///< `free --force`: SIGKILL after the timeout
  bool connections = false;    ///< `free --connections`: close connections instead
  std::string listen = "127.0.0.1:9813";  ///< `serve --listen ADDR:PORT`
  std::string textfile;        ///< `serve --textfile DIR`
  double min_interval_s = 5;   ///< `serve --min-interval`
  size_t max_series = 10000;   ///< `serve --max-series`
  double sql_max_seconds = 30;      ///< `sql --max-seconds`
  size_t sql_max_rows = 1'000'000;  ///< `sql --max-rows`
  size_t sql_limit_mib = 1024;      ///< `sql --max-memory` (MiB)
  std::vector<std::string> ignore;  ///< `audit --ignore RULE`
  std::string audit_config;         ///< `audit --config FILE`; "" = the default file
  double interval_s = 1;            ///< `watch --interval`
  size_t watch_count = 0;           ///< `watch --count`: reads, 0 = until stopped
  bool no_initial = false;          ///< `watch --no-initial`
  std::vector<std::string> history_args;  ///< `history PORT` / `history of PID|NAME`
  std::string at, since, until;     ///< `history --at`, `--since`, `--until`
  double keep_days = 30;            ///< `record --keep-days`
  size_t max_size_mb = 1024;        ///< `record --max-size-mb`
  double batch_s = 1;               ///< `record --batch`: seconds between commits
};

/// Whether to colour output on stdout under these options (honours NO_COLOR).
bool use_color(const Options& options);

}  // namespace portrel
