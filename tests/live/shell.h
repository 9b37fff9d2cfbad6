// Small helpers for live tests that drive real programs: a named network
// namespace that removes itself, and a background command killed by its pid.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include <string>

namespace portrel::testing {

/// Runs a shell command; returns its exit status (or -1).
int sh(const std::string& command);

/// `ip netns add NAME` on construction, `ip netns del NAME` on destruction.
class NamedNetns {
 public:
  explicit NamedNetns(std::string name);
  ~NamedNetns();
  NamedNetns(const NamedNetns&) = delete;
  NamedNetns& operator=(const NamedNetns&) = delete;
  const std::string& name() const { return name_; }
  bool ok() const { return ok_; }

 private:
  std::string name_;
  bool ok_ = false;
};

/// A free TCP port on 127.0.0.1 (bound to port 0 and closed: free until someone
/// takes it).
uint16_t free_loopback_port();

/// The whole text of a file, "" when it cannot be read.
std::string read_text(const std::string& path);

/// Waits up to SECONDS for FILE to contain TEXT; false when it never did.
bool wait_for(const std::string& file, const std::string& text, double seconds);

/// A directory of the test's own under /tmp, removed with all it holds.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }  ///< "" when it could not be made

 private:
  std::string path_;
};

/// A command started with /bin/sh -c in the background; it prints one line when
/// ready (e.g. its port), which line() returns. Killed and reaped on destruction.
class Background {
 public:
  explicit Background(const std::string& command);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  pid_t pid() const { return pid_; }
  /// The first line the command printed (waits up to 10 s); "" if none.
  const std::string& line() const { return line_; }

 private:
  pid_t pid_ = -1;
  std::string line_;
};

}  // namespace portrel::testing
