// What FindingWatch keeps of a finding, and the two set differences between
// one read's findings and the next: cleared first, then appeared, each in the
// audit's order (severity, kind, port).
#include "analysis/finding_diff.h"

#include <algorithm>

namespace portrel {

namespace {

SeenFinding seen(const Finding& f) {
  SeenFinding s{f.kind, f.severity, {}, f.pids, f.summary, 0};
  for (const Socket* socket : f.sockets) s.inodes.push_back(socket->inode);
  std::ranges::sort(s.inodes);
  std::ranges::sort(s.pids);
  if (!f.sockets.empty()) s.port = f.sockets.front()->local_port;
  return s;
}

}  // namespace

std::vector<FindingChange> FindingWatch::read(const Snapshot& snapshot,
                                              const DiffOptions& diff) {
  std::vector<const Socket*> sockets;
  for (const Socket& s : snapshot.sockets()) {
    if (diff.listening_only && !s.is_listening()) continue;
    if (diff.select && !diff.select(snapshot, s)) continue;
    sockets.push_back(&s);
  }
  return update(audit(snapshot, sockets, AuditEvidence{}));
}

std::vector<FindingChange> FindingWatch::update(std::span<const Finding> findings) {
  decltype(last_) now;
  std::vector<FindingChange> appeared;
  for (const Finding& f : findings) {
    SeenFinding s = seen(f);
    auto key = s.key();
    if (!last_.contains(key) && !now.contains(key)) appeared.push_back({true, s});
    now.emplace(key, std::move(s));
  }
  std::vector<FindingChange> out;
  for (const auto& [key, s] : last_) {
    if (!now.contains(key)) out.push_back({false, s});
  }
  std::ranges::move(appeared, std::back_inserter(out));
  last_ = std::move(now);
  return out;
}

}  // namespace portrel
