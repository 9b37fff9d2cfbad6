// Inference of socket options from the sockets alone. Linux refuses a second
// listener on an address:port that overlaps a listening one unless both set
// SO_REUSEPORT (inet_csk_bind_conflict: SO_REUSEADDR does not help against a
// socket in LISTEN), so two such listeners prove both options.
#include "model/sockopts.h"

#include <algorithm>
#include <tuple>
#include <vector>

namespace portrel {
namespace {

bool addresses_overlap(const Address& a, const Address& b) {
  if (a.family != b.family) return false;
  return a == b || a.is_wildcard() || b.is_wildcard();
}

bool devices_conflict(uint32_t a, uint32_t b) { return a == 0 || b == 0 || a == b; }

}  // namespace

void infer_socket_options(std::span<Socket> sockets) {
  std::vector<Socket*> listeners;
  for (Socket& s : sockets) {
    if (s.proto == Proto::tcp && s.state == kStateListen && s.local_port != 0) {
      listeners.push_back(&s);
    }
  }
  std::ranges::sort(listeners, [](const Socket* a, const Socket* b) {
    return std::tie(a->netns, a->local_port) < std::tie(b->netns, b->local_port);
  });
  for (size_t i = 0; i < listeners.size();) {
    size_t j = i;
    while (j < listeners.size() && listeners[j]->netns == listeners[i]->netns &&
           listeners[j]->local_port == listeners[i]->local_port) {
      ++j;
    }
    // Only a listener whose option is not yet known better can learn it: with
    // exact options (bpf) a group of thousands of SO_REUSEPORT siblings costs
    // nothing here, and otherwise the cost is (unknown × group), not group².
    for (size_t a = i; a < j; ++a) {
      Socket& x = *listeners[a];
      if (x.reuseport_from >= OptSource::inferred) continue;
      for (size_t b = i; b < j; ++b) {
        const Socket& y = *listeners[b];
        if (b == a || (x.inode == y.inode && x.inode != 0)) continue;
        if (addresses_overlap(x.local_addr, y.local_addr) &&
            devices_conflict(x.bound_dev, y.bound_dev)) {
          offer_option(x.reuseport, x.reuseport_from, Tristate::yes, OptSource::inferred);
          break;
        }
      }
    }
    i = j;
  }
}

}  // namespace portrel
