// A /proc/net socket table (raw, icmp and their v6 forms) as a kernel might
// write it: parsing must end in rows or a one-line error, never read past the
// text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sources/proc_net.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portrel;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (Proto proto : {Proto::raw, Proto::icmp}) {
    for (uint8_t family : {uint8_t{4}, uint8_t{6}}) (void)parse_proc_net(text, proto, family, 1);
  }
  return 0;
}
