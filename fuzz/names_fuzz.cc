// Names portrel prints but does not choose: process names and command lines,
// /run/netns names, container and unit names. Whatever their bytes, what
// sanitize() gives is valid UTF-8 with no control character, and a table line
// cut to a width stays within it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "util/text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portrel;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string safe = sanitize(bytes);
  for (size_t i = 0; i < safe.size();) {
    Utf8Step step = utf8_step(safe, i);
    if (!step.valid) std::abort();
    char32_t c = step.codepoint;
    if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) std::abort();
    if (c == 0x202e || c == 0x2028 || c == 0x2029 || c == 0x200b) std::abort();
    i += step.length;
  }
  for (size_t width : {size_t{1}, size_t{8}, size_t{80}}) {
    std::string cut = fit_lines(safe, width);
    for (size_t at = 0; at <= cut.size();) {
      size_t end = cut.find('\n', at);
      if (end == std::string::npos) end = cut.size();
      if (display_width(std::string_view(cut).substr(at, end - at)) > width) std::abort();
      at = end + 1;
    }
  }
  return 0;
}
