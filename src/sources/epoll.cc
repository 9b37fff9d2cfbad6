// Parser of epoll fdinfo. The kernel prints each watch as
//   tfd:  FD events: HEX data: HEX  pos:N ino:HEX sdev:HEX
// (fs/eventpoll.c, ep_show_fdinfo) with variable padding; fields are found by
// name, so padding and added fields do not matter.
#include "sources/epoll.h"

#include <charconv>
#include <optional>
#include <string>

namespace portrel {
namespace {

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// The number right after NAME (skipping blanks), in BASE; nullopt when absent.
template <typename T>
std::optional<T> field(std::string_view line, std::string_view name, int base) {
  size_t at = 0;
  for (;;) {
    at = line.find(name, at);
    if (at == std::string_view::npos) return std::nullopt;
    // Only at the start of a word: "ino:" must not match inside "xino:".
    if (at == 0 || line[at - 1] == ' ' || line[at - 1] == '\t') break;
    at += name.size();
  }
  std::string_view rest = trim_left(line.substr(at + name.size()));
  T value{};
  auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value, base);
  if (ec != std::errc() || ptr == rest.data()) return std::nullopt;
  if (ptr != rest.data() + rest.size() && *ptr != ' ' && *ptr != '\t') return std::nullopt;
  return value;
}

}  // namespace

bool is_epoll_link(std::string_view link) { return link == "anon_inode:[eventpoll]"; }

Result<std::vector<EpollTarget>> parse_epoll_fdinfo(std::string_view text) {
  std::vector<EpollTarget> targets;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.starts_with("tfd:")) continue;
    auto fd = field<int>(line, "tfd:", 10);
    auto events = field<uint32_t>(line, "events:", 16);
    auto ino = field<uint64_t>(line, "ino:", 16);
    if (!fd || *fd < 0 || !events || !ino) {
      return std::unexpected(Error{"malformed epoll fdinfo line: " + std::string(line)});
    }
    targets.push_back(EpollTarget{*fd, *events, *ino});
  }
  return targets;
}

}  // namespace portrel
