// The relation as Prometheus metrics: listening sockets by address, port and
// process name, holders per listener, ports per process name, audit findings,
// and how the capture went. Labels never carry pids or inodes (each restart
// would make new series); the number of series is bounded and what is dropped
// is counted. The text format (0.0.4) by default, OpenMetrics when asked.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "analysis/audit.h"
#include "portrel/snapshot.h"

namespace portrel {

/// What a scrape reports besides the snapshot.
struct MetricsContext {
  double capture_seconds = 0;      ///< how long the last capture took
  uint64_t captures = 0;           ///< captures since the server started
  uint64_t capture_errors = 0;     ///< captures that failed
  std::string source;              ///< "bpf" or "procfs"
  /// bpf parts: (name, loaded).
  std::vector<std::pair<std::string, bool>> bpf_parts;
  size_t max_series = 10000;       ///< per metric family; the rest is dropped and counted
};

enum class MetricsFormat { prometheus, openmetrics };

/// The content type of FORMAT's text, for the HTTP answer.
const char* metrics_content_type(MetricsFormat format);

/// Renders the metrics of SOCKETS (pointers into SNAPSHOT) and FINDINGS. Label
/// values are sanitised (no control characters) and escaped for the format.
std::string render_metrics(const Snapshot& snapshot, std::span<const Socket* const> sockets,
                           std::span<const Finding> findings, const MetricsContext& context,
                           MetricsFormat format);

}  // namespace portrel
