// The bpf iterators' record streams (task records; the fd walk's socket and
// holder records with their texts; protocol table rows) as a kernel might
// emit them: decoding must end in records or an error, never read past the
// bytes. The first byte picks the stream.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sources/bpf/bpf_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portrel;
  if (size == 0) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: (void)decode_tasks(bytes); break;
    case 1: (void)decode_walk(bytes); break;
    case 2: (void)decode_sockets(bytes); break;
    case 3: (void)decode_rows(bytes, 1); break;
  }
  return 0;
}
