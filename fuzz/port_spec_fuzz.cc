// The port and address spec of who, free, why-busy and watch, with the input
// also standing in for /etc/hosts: parsing must end in a spec or an error
// message that prints as one line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cli/port_spec.h"
#include "util/text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portrel;
  std::string_view all(reinterpret_cast<const char*>(data), size);
  size_t cut = all.find('\0');
  std::string_view spec = all.substr(0, cut);
  std::string_view hosts = cut == std::string_view::npos ? "" : all.substr(cut + 1);
  auto parsed = parse_port_spec(spec, hosts);
  // An error may echo the input; printed through sanitize(), it is one line.
  if (!parsed && sanitize(parsed.error().message).find('\n') != std::string::npos) std::abort();
  (void)hosts_addresses(hosts, spec);
  return 0;
}
