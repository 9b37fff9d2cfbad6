// A cached getpwuid_r: /etc/passwd (or NSS) is asked once per uid per capture,
// however many processes run as that uid.
#include "util/user_names.h"

#include <pwd.h>

#include <cerrno>
#include <vector>

namespace portrel {

const std::string& UserNames::operator()(uid_t uid) {
  auto it = names_.find(uid);
  if (it != names_.end()) return it->second;
  std::string name = std::to_string(uid);
  std::vector<char> scratch(1024);
  for (;;) {
    passwd entry{};
    passwd* found = nullptr;
    int err = getpwuid_r(uid, &entry, scratch.data(), scratch.size(), &found);
    if (err == ERANGE && scratch.size() < (1u << 20)) {
      scratch.resize(scratch.size() * 2);
      continue;
    }
    if (err == 0 && found != nullptr && found->pw_name != nullptr)
      name = found->pw_name;
    break;
  }
  return names_.emplace(uid, std::move(name)).first->second;
}

}  // namespace portrel
