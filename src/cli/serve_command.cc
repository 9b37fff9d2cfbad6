// `portrel serve`: a Prometheus exporter. /metrics captures the host again when
// the last capture is older than --min-interval (else serves the last text), so
// scrapes from several Prometheus servers cost one capture; captures run one at
// a time under a lock while the HTTP library's worker threads serve, with read
// and write timeouts so a slow or silent client cannot hold a capture up.
// `--textfile DIR` writes the same text once, atomically, for node_exporter's
// textfile collector. The HTTP server is cpp-httplib's.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <httplib.h>
#include <mutex>
#include <optional>
#include <thread>

#include "analysis/audit.h"
#include "cli/commands.h"
#include "cli/filter.h"
#include "cli/report.h"
#include "output/metrics.h"
#include "sources/bpf/bpf_loader.h"
#include "sources/waits.h"
#include "util/state_file.h"
#include "util/text.h"

namespace portrel {
namespace {

// The last capture's text, and how captures have gone.
class Exporter {
 public:
  Exporter(const Options& o, Filter filter) : options_(o), filter_(std::move(filter)) {}

  std::string metrics(MetricsFormat format) {
    std::lock_guard lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    bool fresh = captured_once_ && now - last_ < std::chrono::duration<double>(options_.min_interval_s);
    if (!fresh || format != last_format_) refresh(format);
    return text_;
  }

 private:
  void refresh(MetricsFormat format) {
    auto start = std::chrono::steady_clock::now();
    Options quiet = options_;
    quiet.verbose = false;
    // One capturer for every scrape: the programs load once.
    Result<Snapshot> snap = std::unexpected(Error{"not read"});
    if (!capturer_) {
      CaptureOptions::Details details = CaptureOptions::Details::all;  // cgroup: containers
      auto opened = open_capturer(quiet, filter_, std::nullopt, details);
      if (opened) {
        capturer_.emplace(std::move(*opened));
      } else {
        snap = std::unexpected(opened.error());
      }
    }
    if (capturer_) snap = capture_with(quiet, *capturer_);
    ++context_.captures;
    last_ = std::chrono::steady_clock::now();
    captured_once_ = true;
    last_format_ = format;
    context_.capture_seconds = std::chrono::duration<double>(last_ - start).count();
    if (!snap) {
      ++context_.capture_errors;
      // The last good text stays, with the error counted.
      return;
    }
    std::vector<const Socket*> sockets = select_sockets(*snap, filter_);
    std::vector<pid_t> holders;
    for (const Socket* s : sockets) {
      if (!s->is_listening()) continue;
      for (const Holding& h : snap->holders(*s)) holders.push_back(h.pid);
    }
    std::vector<Finding> findings = audit(*snap, sockets, read_waits(holders));
    context_.source = source_of(*snap);
    text_ = render_metrics(*snap, sockets, findings, context_, format);
  }

  std::string source_of(const Snapshot&) {
    if (context_.bpf_parts.empty()) {
      BpfLoadReport report;
      auto loaded = load_bpf_iterators(BpfFilter{}, &report);
      for (const BpfPartStatus& p : report.parts) {
        context_.bpf_parts.emplace_back(std::string(bpf_part_name(p.part)),
                                        p.state == BpfPartState::loaded);
      }
      bpf_usable_ = loaded.has_value() && options_.source != "procfs";
    }
    return bpf_usable_ ? "bpf" : "procfs";
  }

  const Options& options_;
  Filter filter_;
  std::optional<Capturer> capturer_;
  std::mutex mutex_;
  MetricsContext context_;
  std::chrono::steady_clock::time_point last_;
  bool captured_once_ = false;
  bool bpf_usable_ = false;
  MetricsFormat last_format_ = MetricsFormat::prometheus;
  std::string text_;

 public:
  void set_max_series(size_t n) { context_.max_series = n; }
};

constexpr const char* kIndex =
    "<!doctype html><html><head><title>portrel</title></head><body>"
    "<h1>portrel</h1><p>Which processes hold which network ports, and how they share "
    "them: a Prometheus exporter.</p><p><a href=\"/metrics\">/metrics</a></p></body></html>\n";

// "127.0.0.1:9813", "[::1]:9813", ":9813" (every address).
Result<std::pair<std::string, int>> parse_listen(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return std::unexpected(Error{"--listen: expected ADDR:PORT, not '" + text + "'"});
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  int port = 0;
  try {
    port = std::stoi(text.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port <= 0 || port > 65535) return std::unexpected(Error{"--listen: bad port in '" + text + "'"});
  return std::pair{host, port};
}

}  // namespace

void configure_serve(CLI::App& app, Options& o) {
  app.add_option("--listen", o.listen, "ADDR:PORT to serve /metrics on (default 127.0.0.1:9813)");
  app.add_option("--textfile", o.textfile,
                 "write DIR/portrel.prom once (atomically) for node_exporter's textfile "
                 "collector, instead of serving");
  app.add_option("--min-interval", o.min_interval_s,
                 "seconds a capture is reused for before a scrape captures again (default 5)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--max-series", o.max_series,
                 "series per metric family at most; the rest is dropped and counted in "
                 "portrel_series_dropped (default 10000)")
      ->check(CLI::Range(1, 10000000));
}

int run_serve(const Options& o) {
  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  Exporter exporter(o, *filter);
  exporter.set_max_series(o.max_series);
  if (!o.textfile.empty()) {
    std::string text = exporter.metrics(MetricsFormat::prometheus);
    std::string path = o.textfile + "/portrel.prom";
    if (auto ok = write_file_atomically(path, text, 0644); !ok) {
      return usage_error("serve --textfile: " + ok.error().message);
    }
    return kExitFound;
  }
  auto listen = parse_listen(o.listen);
  if (!listen) return usage_error(listen.error().message);

  httplib::Server server;
  server.set_read_timeout(5, 0);
  server.set_write_timeout(5, 0);
  server.set_keep_alive_max_count(10);
  server.Get("/metrics", [&](const httplib::Request& req, httplib::Response& res) {
    MetricsFormat format = req.get_header_value("Accept").find("application/openmetrics-text") !=
                                   std::string::npos
                               ? MetricsFormat::openmetrics
                               : MetricsFormat::prometheus;
    res.set_content(exporter.metrics(format), metrics_content_type(format));
  });
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kIndex, "text/html; charset=utf-8");
  });
  if (!server.bind_to_port(listen->first, listen->second)) {
    fmt::print(stderr, "portrel: serve: cannot listen on {}: {}\n", sanitize(o.listen),
               strerror(errno));
    return kExitFailure;
  }
  // SIGTERM and SIGINT stop the server; the signal is taken by a thread.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::jthread waiter([&] {
    int sig = 0;
    sigwait(&stop, &sig);
    server.stop();
  });
  fmt::print(stderr, "portrel: serving /metrics on http://{}\n", sanitize(o.listen));
  server.listen_after_bind();
  pthread_kill(waiter.native_handle(), SIGTERM);  // a stop from elsewhere: end the waiter
  return kExitFound;
}

}  // namespace portrel
