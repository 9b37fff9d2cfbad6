// why_busy_json() and why_busy_text(): one verdict of the bind rules, with the
// sockets that decide it, as a JSON document or as lines for people.
#include "output/why_busy_view.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "output/holders.h"
#include "output/views.h"
#include "util/text.h"

namespace portrel {
namespace {

std::string errno_text(int e) {
  switch (e) {
    case 0: return "success";
    case EADDRINUSE: return "EADDRINUSE (Address already in use)";
    case EACCES: return "EACCES (Permission denied)";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL (Cannot assign requested address)";
    case EINVAL: return "EINVAL (Invalid argument)";
    default: return strerror(e);
  }
}

nlohmann::json socket_json(const Snapshot& snap, const Socket& s) {
  nlohmann::json holders = nlohmann::json::array();
  for (const Holding& h : snap.holders(s.inode)) {
    const Process* p = snap.process(h.pid);
    holders.push_back({{"pid", h.pid}, {"fd", h.fd}, {"cloexec", h.cloexec},
                       {"comm", p ? sanitize(p->comm) : ""}});
  }
  auto tri = [](Tristate t) -> nlohmann::json {
    if (t == Tristate::unknown) return nullptr;
    return t == Tristate::yes;
  };
  return {{"inode", s.inode}, {"state", state_name(s.proto, s.state)},
          {"family", s.family}, {"local_address", s.local_addr.to_string()},
          {"local_port", s.local_port},
          {"uid", s.uid == kUnknownUid ? nlohmann::json() : nlohmann::json(s.uid)},
          {"reuseaddr", tri(s.reuseaddr)},
          {"reuseport", tri(s.reuseport)}, {"v6only", tri(s.v6only)},
          {"bound_dev", s.bound_dev}, {"holders", holders}};
}

}  // namespace

std::string blocker_holders(const Snapshot& snap, const Socket& s) {
  std::vector<pid_t> pids;
  for (const Holding& h : snap.holders(s.inode)) pids.push_back(h.pid);
  if (pids.empty()) return "(" + std::string(unowned_reason(snap.why_unowned(s))) + ")";
  return summarize_holders(snap, pids);
}

std::string why_busy_json(const Snapshot& snap, const WhyBusyAnswer& a,
                          std::span<const std::string> warnings) {
  const BindRequest& r = a.request;
  const BindPrediction& p = a.prediction;
  nlohmann::json doc;
  doc["request"] = {{"proto", proto_name(r.proto)}, {"family", r.family},
                    {"address", r.address.to_string()}, {"port", r.port},
                    {"reuseaddr", r.reuseaddr}, {"reuseport", r.reuseport},
                    {"v6only", r.v6only}, {"uid", r.uid}, {"netns", a.netns}};
  doc["verdict"] = bind_outcome_name(p.outcome);
  doc["error"] = p.outcome == BindOutcome::succeeds ? "" : errno_text(p.error);
  doc["reason"] = p.reason;
  nlohmann::json blockers = nlohmann::json::array();
  for (const BindConflict& c : p.conflicts) {
    nlohmann::json b = socket_json(snap, *c.socket);
    b["certain"] = c.blocks == Tristate::yes;
    b["rule"] = c.rule;
    b["depends_on"] = c.depends_on;
    blockers.push_back(b);
  }
  doc["blockers"] = blockers;
  doc["notes"] = p.notes;
  doc["changes"] = a.changes;
  if (a.kernel) doc["kernel"] = *a.kernel == 0 ? "success" : errno_text(*a.kernel);
  doc["warnings"] = std::vector<std::string>(warnings.begin(), warnings.end());
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string why_busy_text(const Snapshot& snap, const WhyBusyAnswer& a) {
  const BindRequest& r = a.request;
  const BindPrediction& p = a.prediction;
  std::string what = fmt::format("{} {}", proto_name(r.proto), endpoint(r.address, r.port));
  std::string verdict = p.outcome == BindOutcome::succeeds ? "would succeed"
                        : p.outcome == BindOutcome::fails
                            ? "would fail: " + errno_text(p.error)
                            : "uncertain: may fail with " + errno_text(p.error);
  std::string out = fmt::format("{} as uid {} in netns {}: {}\n  {}\n", what, r.uid,
                                sanitize(a.netns_label), verdict, p.reason);
  if (!p.conflicts.empty()) {
    out += "blocked by:\n";
    for (const BindConflict& c : p.conflicts) {
      const Socket& s = *c.socket;
      out += fmt::format("  {}{} {}  uid {}  reuseaddr={} reuseport={}{}{}  held by {}\n",
                         c.blocks == Tristate::yes ? "" : "maybe: ",
                         state_name(s.proto, s.state), endpoint(s.local_addr, s.local_port),
                         s.uid == kUnknownUid ? "-" : std::to_string(s.uid),
                         tristate_name(s.reuseaddr), tristate_name(s.reuseport),
                         s.family == 6 ? " v6only=" + std::string(tristate_name(s.v6only)) : "",
                         s.bound_dev ? fmt::format(" dev {}", s.bound_dev) : "",
                         blocker_holders(snap, s));
      out += fmt::format("    why: {}\n", c.rule);
      for (const std::string& d : c.depends_on) out += fmt::format("    depends on: {}\n", d);
    }
  }
  for (const std::string& n : p.notes) out += fmt::format("note: {}\n", n);
  if (!a.changes.empty()) {
    out += "what would change the answer:\n";
    for (const std::string& c : a.changes) out += fmt::format("  - {}\n", c);
  }
  if (a.kernel) {
    int kernel = *a.kernel;
    bool agrees = (kernel == 0) == (p.outcome == BindOutcome::succeeds) &&
                  (kernel == 0 || kernel == p.error);
    out += fmt::format("kernel (--try): {} — {}\n", errno_text(kernel),
                       p.outcome == BindOutcome::uncertain ? "settles the uncertain verdict"
                       : agrees                            ? "agrees with the prediction"
                                                           : "DISAGREES with the prediction");
  }
  return out;
}

}  // namespace portrel
