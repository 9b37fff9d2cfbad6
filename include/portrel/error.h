// The library's one error mechanism: functions return std::expected<T, Error>.
// The library never throws and never prints; callers add context.
#pragma once

#include <expected>
#include <string>

namespace portrel {

struct Error {
  std::string message;  ///< one line, no trailing newline
  int errno_value = 0;  ///< errno when the cause was a system call, else 0
};

template <typename T>
using Result = std::expected<T, Error>;

/// An Error whose message ends with strerror(errno_value).
Error system_error(std::string what, int errno_value);

}  // namespace portrel
