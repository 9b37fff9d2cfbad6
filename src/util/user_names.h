// uid -> user name, looked up once per uid (getpwuid_r), for the sources that
// fill Process::user.
#pragma once

#include <sys/types.h>

#include <string>
#include <unordered_map>

namespace portrel {

/// Not thread-safe: one instance per thread.
class UserNames {
 public:
  /// The user's name, or the uid as text when it has none.
  const std::string& operator()(uid_t uid);

 private:
  std::unordered_map<uid_t, std::string> names_;
};

}  // namespace portrel
