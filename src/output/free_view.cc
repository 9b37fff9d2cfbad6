// free_plan_json(): the plan of `portrel free` as the JSON document that
// --format json prints before acting (and alone with --dry-run).
#include "output/free_view.h"

#include <nlohmann/json.hpp>
#include <span>

namespace portrel {

std::string free_plan_json(const Snapshot& snap, const FreePlan& plan) {
  auto sockets = [](std::span<const Socket* const> list) {
    nlohmann::json out = nlohmann::json::array();
    for (const Socket* s : list) {
      out.push_back({{"inode", s->inode}, {"proto", proto_name(s->proto)},
                     {"state", state_name(s->proto, s->state)},
                     {"local_address", s->local_addr.to_string()}, {"local_port", s->local_port},
                     {"remote_address", s->remote_addr.to_string()},
                     {"remote_port", s->remote_port}, {"netns", s->netns}});
    }
    return out;
  };
  nlohmann::json targets = nlohmann::json::array();
  for (const FreeTarget& t : plan.targets) {
    const Process* p = snap.process(t.pid);
    targets.push_back({{"pid", t.pid},
                       {"comm", p ? nlohmann::json(p->comm) : nlohmann::json()},
                       {"cmdline", p ? nlohmann::json(p->cmdline) : nlohmann::json()},
                       {"user", p ? nlohmann::json(p->user) : nlohmann::json()},
                       {"start_time", t.start_time},
                       {"children", t.children},
                       {"frees", sockets(t.sockets)},
                       {"also_holds", sockets(t.also)}});
  }
  nlohmann::json blockers = nlohmann::json::array();
  for (const FreeBlocker& b : plan.blockers) {
    blockers.push_back({{"socket", sockets(std::span(&b.socket, 1))[0]},
                        {"why", b.why},
                        {"command", b.command.empty() ? nlohmann::json() : nlohmann::json(b.command)}});
  }
  nlohmann::json doc = {{"targets", targets},
                        {"blockers", blockers},
                        {"connections", sockets(plan.connections)},
                        {"time_wait", sockets(plan.time_wait)}};
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace portrel
