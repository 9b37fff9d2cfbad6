// An nftables rule dump as the kernel would send it (NFT_MSG_NEWRULE messages
// with nested expressions, registers and xtables target bytes): reading the
// port forwards must end in forwards and warnings, never read past the buffer.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "sources/port_forwards.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portrel;
  // A copy aligned as netlink buffers are.
  std::vector<uint32_t> aligned((size + 3) / 4);
  if (size) __builtin_memcpy(aligned.data(), data, size);
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(aligned.data()), size);
  ForwardScan scan = parse_forward_dump(bytes);
  for (const PortForward& f : scan.forwards) {
    (void)f.to_port(f.port_lo);
    (void)f.to_port(f.port_hi);
  }
  return 0;
}
