// Parsers for /proc/PID texts. Every input is untrusted bytes: comm is chosen by
// the process itself and may imitate the fields that follow it, so stat is split
// at the last ')', and every number is checked to be wholly numeric.
#include "sources/procfs.h"

#include <charconv>

#include "sources/workload.h"

namespace portrel::procfs {
namespace {

Error parse_error(std::string_view what) { return Error{std::string(what), 0}; }

template <typename T>
std::optional<T> parse_number(std::string_view text, int base = 10) {
  if (text.empty() || text.front() == '-' || text.front() == '+') return std::nullopt;
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The value of the first line starting with KEY (which includes its colon), with
// leading blanks removed and cut at the first blank after it.
std::optional<std::string_view> field(std::string_view text, std::string_view key) {
  size_t at = 0;
  while (at < text.size()) {
    size_t eol = text.find('\n', at);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(at, eol - at);
    if (line.starts_with(key)) {
      line.remove_prefix(key.size());
      size_t start = line.find_first_not_of(" \t");
      if (start == std::string_view::npos) return std::string_view();
      line.remove_prefix(start);
      return line.substr(0, line.find_first_of(" \t"));
    }
    at = eol + 1;
  }
  return std::nullopt;
}

}  // namespace

std::optional<uint64_t> parse_decimal(std::string_view text) {
  return parse_number<uint64_t>(text);
}

Result<Stat> parse_stat(std::string_view text) {
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open ||
      open < 2 || text[open - 1] != ' ') {
    return std::unexpected(parse_error("stat: no \"PID (COMM)\""));
  }
  Stat stat;
  auto pid = parse_number<pid_t>(text.substr(0, open - 1));
  if (!pid) return std::unexpected(parse_error("stat: pid is not a number"));
  stat.pid = *pid;
  stat.comm.assign(text.substr(open + 1, close - open - 1));

  // Fields from 3 (state) on, split on single spaces as the kernel writes them.
  std::string_view tail = text.substr(close + 1);
  if (!tail.starts_with(' ')) return std::unexpected(parse_error("stat: truncated after comm"));
  tail.remove_prefix(1);
  constexpr int kFirst = 3, kPpid = 4, kThreads = 20, kStartTime = 22;
  int index = kFirst;
  while (index <= kStartTime) {
    size_t end = tail.find_first_of(" \n");
    std::string_view token = tail.substr(0, end);
    if (token.empty()) break;
    if (index == kFirst) {
      if (token.size() != 1) return std::unexpected(parse_error("stat: bad state"));
      stat.state = token[0];
    } else if (index == kPpid) {
      auto ppid = parse_number<pid_t>(token);
      if (!ppid) return std::unexpected(parse_error("stat: ppid is not a number"));
      stat.ppid = *ppid;
    } else if (index == kThreads) {
      stat.threads = parse_number<uint32_t>(token).value_or(1);
    } else if (index == kStartTime) {
      auto start = parse_number<uint64_t>(token);
      if (!start) return std::unexpected(parse_error("stat: start time is not a number"));
      stat.start_time = *start;
    }
    ++index;
    if (end == std::string_view::npos) break;
    tail.remove_prefix(end + 1);
  }
  if (index <= kStartTime) return std::unexpected(parse_error("stat: truncated"));
  return stat;
}

Result<Status> parse_status(std::string_view text) {
  Status status;
  auto uid_text = field(text, "Uid:");
  std::optional<uid_t> uid;
  if (uid_text) uid = parse_number<uid_t>(*uid_text);
  if (!uid) return std::unexpected(parse_error("status: no numeric Uid: line"));
  status.uid = *uid;
  if (auto tgid_text = field(text, "Tgid:")) status.tgid = parse_number<pid_t>(*tgid_text);
  return status;
}

Result<FdInfo> parse_fdinfo(std::string_view text) {
  constexpr uint32_t kCloexec = 02000000;  // O_CLOEXEC on every Linux architecture
  FdInfo info;                              // that portrel builds for.
  auto flags_text = field(text, "flags:");
  std::optional<uint32_t> flags;
  if (flags_text) flags = parse_number<uint32_t>(*flags_text, 8);
  if (!flags) return std::unexpected(parse_error("fdinfo: no octal flags: line"));
  info.flags = *flags;
  info.cloexec = (*flags & kCloexec) != 0;
  if (auto ino_text = field(text, "ino:")) info.ino = parse_number<uint64_t>(*ino_text);
  return info;
}

std::optional<uint64_t> parse_ns_link(std::string_view link, std::string_view type) {
  if (!link.starts_with(type)) return std::nullopt;
  link.remove_prefix(type.size());
  if (!link.starts_with(":[") || !link.ends_with(']')) return std::nullopt;
  return parse_number<uint64_t>(link.substr(2, link.size() - 3));
}

std::optional<uint64_t> parse_socket_link(std::string_view link) {
  return parse_ns_link(link, "socket");
}

std::string join_cmdline(std::string_view raw) {
  if (raw.ends_with('\0')) raw.remove_suffix(1);
  std::string joined(raw);
  for (char& c : joined) {
    if (c == '\0') c = ' ';
  }
  return joined;
}

std::optional<std::string> parse_cgroup(std::string_view text) {
  if (Workload w = workload_of_cgroup_text(text); w.kind != WorkloadKind::none) {
    return w.cgroup;
  }
  size_t at = 0;
  while (at < text.size()) {
    size_t eol = text.find('\n', at);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(at, eol - at);
    if (line.starts_with("0::")) return std::string(line.substr(3));
    at = eol + 1;
  }
  return std::nullopt;
}

}  // namespace portrel::procfs
