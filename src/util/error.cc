// The one helper of the error type: an Error that names a failed system call.
#include "portrel/error.h"

#include <cstring>

namespace portrel {

Error system_error(std::string what, int errno_value) {
  return Error{what + ": " + std::strerror(errno_value), errno_value};
}

}  // namespace portrel
