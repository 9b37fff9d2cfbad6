// The small helpers of the bind inputs: whether a port is reserved in the
// namespace, and the names of the kernel's UDP SO_REUSEPORT rules.
#include "model/bind_request.h"

namespace portrel {

bool BindEnvironment::is_reserved(uint16_t port) const {
  for (auto [lo, hi] : reserved) {
    if (port >= lo && port <= hi) return true;
  }
  return false;
}

std::string_view udp_reuseport_rule_name(UdpReuseportRule rule) {
  switch (rule) {
    case UdpReuseportRule::unknown: return "unknown";
    case UdpReuseportRule::first_match: return "first_match";
    case UdpReuseportRule::every_match: return "every_match";
  }
  return "unknown";
}

}  // namespace portrel
