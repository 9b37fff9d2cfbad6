// The state portrel keeps between runs (the bpf verdict file) and the list of
// bpf parts to turn off (PORTREL_BPF_FAILURES): text a root-owned file or the
// environment hands it, parsed into a verdict or an error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sources/bpf/bpf_parts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portrel;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto verdict = parse_verdict(text)) {
    // What is read back is what would be written: a round trip is stable.
    auto again = parse_verdict(format_verdict(*verdict));
    if (!again || format_verdict(*again) != format_verdict(*verdict)) __builtin_trap();
  }
  (void)parse_bpf_failures(text);
  return 0;
}
