// The cgroup text and conmon command line parsers of workload.h: any bytes,
// as a /proc/PID/cgroup text, a single path and a command line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sources/workload.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portrel;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Workload w = workload_of_cgroup_text(text);
  // The path an answer came from is one of the input's.
  if (w.kind != WorkloadKind::none && text.find(w.cgroup) == std::string_view::npos) {
    std::abort();
  }
  if (!w.id.empty() && w.id.size() != 64) std::abort();
  (void)workload_of_cgroup_path(text);
  (void)conmon_args(text);
  return 0;
}
