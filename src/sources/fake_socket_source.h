// An in-memory SocketSource for tests of the join and the analysis: it returns
// canned sockets as if each namespace had been dumped, and can pretend that some
// namespaces cannot be entered.
#pragma once

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sources/sources.h"

namespace portrel {

class FakeSocketSource : public SocketSource {
 public:
  /// `sockets` are served by their Socket::netns.
  explicit FakeSocketSource(std::vector<Socket> sockets) : sockets_(std::move(sockets)) {}

  /// scan() will report namespace `inode` as not enterable (a warning).
  void make_unreachable(uint64_t inode) { unreachable_.push_back(inode); }
  /// scan() will fail outright, as when no namespace could be dumped.
  void fail_with(Error error) { error_ = std::move(error); }

  /// Returns the sockets of each requested namespace, filtered as the kernel
  /// filters for query.listening_only (TCP LISTEN; other protocols CLOSE or
  /// ESTABLISHED; RAW unfiltered) and query.port. An empty list means every
  /// canned socket.
  Result<SocketScan> scan(const std::vector<NetnsHandle>& namespaces,
                          const SocketQuery& query) override {
    std::lock_guard lock(mutex_);  // capture_from() scans from two threads
    ++scans_;
    last_query_ = query;
    if (error_) return std::unexpected(*error_);
    SocketScan scan;
    std::vector<uint64_t> wanted;
    if (namespaces.empty()) {
      for (const Socket& s : sockets_) wanted.push_back(s.netns);
    }
    for (const NetnsHandle& h : namespaces) {
      if (std::ranges::find(unreachable_, h.inode) != unreachable_.end()) {
        scan.warnings.push_back("netns " + std::to_string(h.inode) +
                                " not dumped, its sockets are not listed: unreachable");
        continue;
      }
      wanted.push_back(h.inode);
    }
    for (uint64_t inode : wanted) {
      if (std::ranges::find(scan.dumped_netns, inode) == scan.dumped_netns.end()) {
        scan.dumped_netns.push_back(inode);
      }
    }
    for (const Socket& s : sockets_) {
      if (std::ranges::find(scan.dumped_netns, s.netns) == scan.dumped_netns.end()) continue;
      if (query.listening_only && !kept_by_listening_filter(s)) continue;
      if (query.port && s.local_port != *query.port) continue;
      scan.sockets.push_back(s);
    }
    return scan;
  }

  int scans() const { return scans_; }
  const SocketQuery& last_query() const { return last_query_; }

 private:
  static bool kept_by_listening_filter(const Socket& s) {
    switch (s.proto) {
      case Proto::tcp: return s.state == kStateListen;
      case Proto::raw: return true;
      default: return s.state == kStateClose || s.state == kStateEstablished;
    }
  }

  std::vector<Socket> sockets_;
  std::vector<uint64_t> unreachable_;
  std::optional<Error> error_;
  int scans_ = 0;
  SocketQuery last_query_;
  std::mutex mutex_;
};

}  // namespace portrel
