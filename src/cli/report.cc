// Shared behaviour of the commands: one way to capture, to warn, to fail and to
// print sockets in every format.
#include "cli/report.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "cli/commands.h"
#include "output/render.h"
#include "output/table.h"
#include "output/views.h"
#include "portrel/capture.h"
#include "util/text.h"

namespace portrel {

bool use_color(const Options& o) {
  if (o.color == "always") return true;
  if (o.color == "never") return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') return false;
  return isatty(STDOUT_FILENO) == 1;
}

int usage_error(const std::string& message) {
  fmt::print(stderr, "portrel: {}\n", message);
  return kExitUsage;
}

void print_warnings(const Options& o, std::span<const std::string> warnings) {
  bool color = use_color(o) && isatty(STDERR_FILENO) == 1;
  for (const std::string& w : warnings) {
    fmt::print(stderr, "{}\n",
               styled("portrel: warning: " + sanitize(w), Style::warn, color));
  }
}

Result<Snapshot> capture_for(const Options& o, const Filter& filter,
                             std::optional<uint16_t> port,
                             CaptureOptions::Details details) {
  CaptureOptions capture_options;
  capture_options.only_netns = filter.netns;
  capture_options.listening_only = filter.listening_only;
  if (filter.tcp) capture_options.protocols.push_back(Proto::tcp);
  if (filter.udp) capture_options.protocols.push_back(Proto::udp);
  if (filter.udplite) capture_options.protocols.push_back(Proto::udplite);
  if (filter.raw) capture_options.protocols.push_back(Proto::raw);
  capture_options.probe_sockopts = o.probe_sockopts;
  capture_options.port = port;
  capture_options.process_details = details;
  capture_options.source = o.source == "bpf"      ? CaptureOptions::Source::bpf
                           : o.source == "procfs" ? CaptureOptions::Source::procfs
                                                  : CaptureOptions::Source::automatic;
  auto start = std::chrono::steady_clock::now();
  CaptureInfo info;
  auto snap = capture(capture_options, &info);
  if (o.verbose && !info.fallback_reason.empty()) {
    fmt::print(stderr, "portrel: bpf source unavailable ({}); reading /proc instead\n",
               sanitize(info.fallback_reason));
  }
  if (o.verbose && !info.bpf_programs.empty()) {
    fmt::print(stderr, "portrel: bpf programs {}\n", sanitize(info.bpf_programs));
    for (const std::string& part : info.bpf_parts_missing) {
      fmt::print(stderr, "portrel: bpf part {}\n", sanitize(part));
    }
  }
  if (snap && o.verbose) {
    auto ms = std::chrono::duration<double, std::milli>(
        std::chrono::steady_clock::now() - start);
    size_t dumped = 0;
    for (const Netns& n : snap->namespaces()) dumped += n.dumped;
    fmt::print(
        stderr,
        "portrel: read {} processes and {} socket fds {}, {} sockets from "
        "{} in {} of {} network namespaces, in {:.1f} ms\n",
        with_commas(snap->processes().size()), with_commas(snap->holdings().size()),
        info.used == CaptureOptions::Source::bpf ? "with bpf iterators" : "from /proc",
        with_commas(snap->sockets().size()),
        info.used == CaptureOptions::Source::bpf && info.table_rows
            ? "the kernel's tables (TCP, UDP) and sock_diag"
            : "sock_diag",
        dumped, snap->namespaces().size(),
        ms.count());
  }
  return snap;
}

std::vector<std::string> all_warnings(const Snapshot& snap,
                                      std::span<const Socket* const> sockets) {
  std::vector<std::string> w(snap.warnings().begin(), snap.warnings().end());
  if (std::string u = unowned_warning(snap, sockets); !u.empty()) w.push_back(u);
  return w;
}

int emit_sockets(const Options& o, const Snapshot& snap,
                 const std::vector<const Socket*>& sockets, const std::string& human) {
  std::vector<std::string> warnings = all_warnings(snap, sockets);
  switch (o.format) {
    case Format::json:
      write_sockets_document(stdout, snap, sockets, warnings);
      break;
    case Format::csv:
      fmt::print("{}", sockets_csv(snap, sockets));
      print_warnings(o, warnings);
      break;
    case Format::table:
      if (!sockets.empty()) fmt::print("{}", human);
      print_warnings(o, warnings);
      break;
  }
  return sockets.empty() ? kExitNothing : kExitFound;
}

}  // namespace portrel
