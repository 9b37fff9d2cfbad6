// A sock_diag dump reply as the kernel would send it (several nlmsghdr, each
// an inet_diag_msg with attributes, or a vsock_diag_msg), for every protocol: parsing must end in
// rows or an error, never read past the buffer.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "sources/sock_diag.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portrel;
  // A copy aligned as netlink buffers are.
  std::vector<uint32_t> aligned((size + 3) / 4);
  if (size) __builtin_memcpy(aligned.data(), data, size);
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(aligned.data()), size);
  // Every protocol of the table: vsock's replies are vsock_diag_msg, SCTP's
  // carry association attributes.
  for (const ProtoInfo& info : protocols()) {
    Proto proto = info.proto;
    std::vector<Socket> out;
    (void)parse_diag_dump(bytes, proto, 1, out);
    (void)parse_diag_msg(bytes, proto, 1);
  }
  return 0;
}
