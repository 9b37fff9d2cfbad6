// Shared behaviour of the commands: one way to capture, to warn, to fail and to
// print sockets in every format.
#include "cli/report.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "cli/commands.h"
#include "output/columns.h"
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
  fmt::print(stderr, "portrel: {}\n", sanitize(message));
  return kExitUsage;
}

void print_fitted(const std::string& text) {
  winsize size{};
  if (isatty(STDOUT_FILENO) == 1 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 &&
      size.ws_col > 0) {
    fmt::print("{}", fit_lines(text, size.ws_col));
  } else {
    fmt::print("{}", text);
  }
}

int capture_failed(const Error& error) {
  fmt::print(stderr, "portrel: cannot read the host: {}\n", sanitize(error.message));
  return kExitFailure;
}

std::string partial_reason(const Snapshot& snap, bool blind_without_fd_tables) {
  std::vector<std::string> missing;
  for (const Netns& n : snap.namespaces()) {
    if (!n.dumped) missing.push_back(netns_label(snap, n.inode));
  }
  if (!missing.empty()) {
    std::string names;
    for (size_t i = 0; i < missing.size() && i < 3; ++i) names += (i ? ", " : "") + missing[i];
    if (missing.size() > 3) names += ", …";
    std::string why = geteuid() == 0 ? "" : ": run as root";
    // A low ulimit -n, not privilege, when the reads failed with EMFILE.
    bool exhausted = std::ranges::any_of(snap.warnings(), [](const std::string& w) {
      return w.find(strerror(EMFILE)) != std::string::npos ||
             w.find("ran out of file descriptors") != std::string::npos;
    });
    if (exhausted) {
      rlimit limit{};
      getrlimit(RLIMIT_NOFILE, &limit);
      why = ": portrel ran out of file descriptors (ulimit -n is " +
            std::to_string(limit.rlim_cur) + "; raise it)";
    }
    return "the sockets of " + plural(missing.size(), "network namespace", "network namespaces") +
           " could not be read (" + names + ")" + why;
  }
  for (const Netns& n : snap.namespaces()) {
    if (n.unlisted.empty()) continue;
    std::string names;
    for (Proto p : n.unlisted) names += (names.empty() ? "" : ", ") + std::string(proto_name(p));
    return names + " sockets could not be listed here (portrel doctor says why)";
  }
  if (blind_without_fd_tables) {
    for (const Socket& s : snap.sockets()) {
      Unowned why = snap.why_unowned(s);
      if (why == Unowned::not_privileged) {
        return "other users' fd tables could not be read, so their sockets are not in this "
               "answer: run as root";
      }
    }
  }
  return "";
}

int answer_exit(bool found, const std::string& reason) {
  if (!reason.empty()) {
    fmt::print(stderr, "portrel: partial answer: {}\n", sanitize(reason));
    return kExitPartial;
  }
  return found ? kExitFound : kExitNothing;
}

void print_warnings(const Options& o, std::span<const std::string> warnings) {
  bool color = use_color(o) && isatty(STDERR_FILENO) == 1;
  for (const std::string& w : warnings) {
    fmt::print(stderr, "{}\n",
               styled("portrel: warning: " + sanitize(w), Style::warn, color));
  }
}

Result<Capturer> open_capturer(const Options& o, const Filter& filter,
                               std::optional<uint32_t> port, CaptureOptions::Details details) {
  CaptureOptions capture_options;
  capture_options.only_netns = filter.netns;
  capture_options.listening_only = filter.listening_only;
  for (const ProtoInfo& p : protocols()) {
    // MPTCP's subflows are TCP sockets: read to be folded into their MPTCP socket.
    bool subflows = p.proto == Proto::tcp && filter.wants(Proto::mptcp);
    if (filter.wants(p.proto) || subflows) capture_options.protocols.push_back(p.proto);
  }
  capture_options.probe_sockopts = o.probe_sockopts;
  capture_options.port = port;
  // --container asks each holder's cgroup.
  capture_options.process_details =
      filter.container.empty() ? details : CaptureOptions::Details::all;
  capture_options.source = o.source == "bpf"      ? CaptureOptions::Source::bpf
                           : o.source == "procfs" ? CaptureOptions::Source::procfs
                                                  : CaptureOptions::Source::automatic;
  return Capturer::open(capture_options);
}

Result<Snapshot> capture_with(const Options& o, Capturer& capturer) {
  auto start = std::chrono::steady_clock::now();
  auto snap = capturer.capture();
  if (!o.verbose) return snap;
  // The plan as this read left it (a bpf read that failed fell back to /proc).
  const CapturePlan& plan = capturer.plan();
  if (!plan.fallback_reason.empty()) {
    fmt::print(stderr, "portrel: bpf source unavailable ({}); reading /proc instead\n",
               sanitize(plan.fallback_reason));
  }
  if (!plan.bpf_programs.empty()) {
    fmt::print(stderr, "portrel: bpf programs {}\n", sanitize(plan.bpf_programs));
    for (const std::string& part : plan.bpf_parts_missing) {
      fmt::print(stderr, "portrel: bpf part {}\n", sanitize(part));
    }
  }
  for (const SocketPart& part : plan.sockets) {
    if (part.reason.empty()) continue;
    fmt::print(stderr, "portrel: {} sockets: {}\n", proto_name(part.proto),
               sanitize(describe(part)));
  }
  if (snap) {
    auto ms = std::chrono::duration<double, std::milli>(
        std::chrono::steady_clock::now() - start);
    size_t dumped = 0;
    for (const Netns& n : snap->namespaces()) dumped += n.dumped;
    fmt::print(
        stderr,
        "portrel: read {} processes and {} socket fds {}, {} sockets from "
        "{} in {} of {} network namespaces, in {:.1f} ms\n",
        with_commas(snap->processes().size()), with_commas(snap->holdings().size()),
        plan.used == CaptureOptions::Source::bpf ? "with bpf iterators" : "from /proc",
        with_commas(snap->sockets().size()),
        plan.used == CaptureOptions::Source::bpf && plan.table_rows
            ? "the kernel's tables (TCP, UDP) and sock_diag"
            : "sock_diag",
        dumped, snap->namespaces().size(),
        ms.count());
  }
  return snap;
}

Result<Snapshot> capture_for(const Options& o, const Filter& filter,
                             std::optional<uint32_t> port,
                             CaptureOptions::Details details) {
  auto start = std::chrono::steady_clock::now();
  auto capturer = open_capturer(o, filter, port, details);
  if (!capturer) return std::unexpected(capturer.error());
  auto snap = capture_with(o, *capturer);
  if (snap && o.verbose) {
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
    fmt::print(stderr, "portrel: with loading the programs and planning the read: {:.1f} ms\n",
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
                 const std::vector<const Socket*>& sockets, const std::string& human,
                 const std::string& nothing, const std::vector<const Socket*>* clients,
                 const std::string& human_clients, std::span<const PublishedPort> published,
                 std::span<const std::string> more_warnings) {
  std::vector<std::string> warnings = all_warnings(snap, sockets);
  warnings.insert(warnings.end(), more_warnings.begin(), more_warnings.end());
  bool found = !sockets.empty() || !published.empty() ||
               (clients != nullptr && !clients->empty());
  switch (o.format) {
    case Format::json:
      write_sockets_document(stdout, snap, sockets, warnings, clients, published);
      break;
    case Format::csv:
      fmt::print("{}", sockets_csv(snap, sockets, clients));
      print_warnings(o, warnings);
      break;
    case Format::table:
      // On a terminal an empty answer keeps its header, so the columns show.
      if (!sockets.empty() || !published.empty() || isatty(STDOUT_FILENO) == 1) {
        print_fitted(human);
      }
      if (clients != nullptr && !clients->empty()) print_fitted(human_clients);
      print_warnings(o, warnings);
      break;
  }
  if (!found) fmt::print(stderr, "portrel: {}\n", sanitize(nothing));
  return answer_exit(found, partial_reason(snap));
}

}  // namespace portrel
