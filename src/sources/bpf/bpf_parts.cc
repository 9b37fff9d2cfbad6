// The bpf parts' names and fallbacks, the verdict file kept for the boot, and
// the two environment switches of the loader. The verdict is a cache: whatever
// is wrong with it (absent, foreign, malformed) only means loading again.
#include "sources/bpf/bpf_parts.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/state_file.h"

namespace portrel {
namespace {

struct PartInfo {
  std::string_view name, gives, fallback;
};

constexpr std::array<PartInfo, kBpfParts> kParts = {{
    {"tasks", "every process (iter/task)", "/proc/PID/stat"},
    {"task_files", "the fd -> socket join table with options (iter/task_file)",
     "/proc/PID/fd and fdinfo"},
    {"tcp", "options of TCP sockets no visible process holds (iter/tcp)",
     "unknown (inferred where the kernel's rules allow)"},
    {"udp", "options of UDP sockets no visible process holds (iter/udp)",
     "unknown (inferred where the kernel's rules allow)"},
    {"task_files_holders", "holders' exe and cmdline in the fd walk (iter.s/task_file)",
     "/proc/PID/exe and /proc/PID/cmdline, per holder"},
    {"tcp_rows", "TCP sockets with options from the kernel's table (iter/tcp)",
     "sock_diag, options from the fd walk"},
    {"udp_rows", "UDP sockets with options from the kernel's table (iter/udp)",
     "sock_diag, options from the fd walk"},
    {"exe_path", "holders' exe path in the fd walk (bpf_d_path)",
     "/proc/PID/exe, once per executable file"},
}};

std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

}  // namespace

std::string_view bpf_part_name(BpfPart part) { return kParts[static_cast<size_t>(part)].name; }
std::string_view bpf_part_gives(BpfPart part) { return kParts[static_cast<size_t>(part)].gives; }
std::string_view bpf_part_fallback(BpfPart part) {
  return kParts[static_cast<size_t>(part)].fallback;
}

std::optional<BpfPart> bpf_part_named(std::string_view name) {
  for (size_t i = 0; i < kParts.size(); ++i) {
    if (kParts[i].name == name) return static_cast<BpfPart>(i);
  }
  return std::nullopt;
}

bool bpf_part_required(BpfPart part) {
  return part == BpfPart::tasks || part == BpfPart::task_files;
}

std::string_view bpf_part_state_name(BpfPartState state) {
  switch (state) {
    case BpfPartState::loaded: return "loaded";
    case BpfPartState::refused: return "refused";
    case BpfPartState::disabled: return "disabled";
    case BpfPartState::untried: return "untried";
  }
  return "?";
}

const std::string* BpfVerdict::refusal(BpfPart part) const {
  for (const auto& [p, why] : refused) {
    if (p == part) return &why;
  }
  return nullptr;
}

std::string format_verdict(const BpfVerdict& v) {
  std::string out = "portrel-bpf-verdict 1\n";
  out += "boot " + one_line(v.boot_id) + "\n";
  out += "kernel " + one_line(v.kernel) + "\n";
  out += "object " + one_line(v.object) + "\n";
  if (!v.failed.empty()) out += "failed " + one_line(v.failed) + "\n";
  for (const auto& [part, why] : v.refused) {
    out += "refused " + std::string(bpf_part_name(part)) + " " + one_line(why) + "\n";
  }
  return out;
}

Result<BpfVerdict> parse_verdict(std::string_view text) {
  BpfVerdict v;
  bool header = false, boot = false, kernel = false, object = false;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    if (end == std::string_view::npos) return std::unexpected(Error{"verdict: last line unended"});
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    ++line_no;
    size_t space = line.find(' ');
    std::string_view key = line.substr(0, space);
    std::string_view value = space == std::string_view::npos ? "" : line.substr(space + 1);
    auto bad = [&](const std::string& why) {
      return std::unexpected(Error{"verdict line " + std::to_string(line_no) + ": " + why});
    };
    if (line_no == 1) {
      if (line != "portrel-bpf-verdict 1") return bad("not a verdict of this version");
      header = true;
    } else if (key == "boot") {
      v.boot_id = value, boot = true;
    } else if (key == "kernel") {
      v.kernel = value, kernel = true;
    } else if (key == "object") {
      v.object = value, object = true;
    } else if (key == "failed") {
      if (value.empty()) return bad("failed without a reason");
      v.failed = value;
    } else if (key == "refused") {
      size_t sep = value.find(' ');
      auto part = bpf_part_named(value.substr(0, sep));
      if (!part) return bad("unknown part");
      v.refused.emplace_back(*part, sep == std::string_view::npos ? "" : value.substr(sep + 1));
    } else {
      return bad("unknown key");
    }
  }
  if (!header || !boot || !kernel || !object) return std::unexpected(Error{"verdict: incomplete"});
  return v;
}

BpfVerdict current_verdict_key(std::string object) {
  BpfVerdict v;
  v.boot_id = boot_id();
  v.kernel = kernel_build();
  v.object = std::move(object);
  return v;
}

std::string verdict_path() { return state_file("bpf-verdict"); }

std::optional<BpfVerdict> read_verdict(const std::string& path) {
  auto text = read_trusted_file(path);
  if (!text) return std::nullopt;
  auto v = parse_verdict(*text);
  if (!v) return std::nullopt;
  return *v;
}

std::string write_verdict(const std::string& path, const BpfVerdict& verdict) {
  return write_private_file(path, format_verdict(verdict));
}

std::string verifier_reason(std::string_view log) {
  std::string_view reason;
  while (!log.empty()) {
    size_t end = log.find('\n');
    std::string_view line = log.substr(0, end);
    log.remove_prefix(end == std::string_view::npos ? log.size() : end + 1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty() || line.starts_with("processed ") || line.starts_with("verification time") ||
        line.starts_with("stack depth") || line.starts_with("-- END")) {
      continue;
    }
    reason = line;
  }
  return std::string(reason);
}

bool BpfFailures::any() const {
  if (all) return true;
  for (bool p : parts) {
    if (p) return true;
  }
  return false;
}

Result<BpfFailures> parse_bpf_failures(std::string_view value) {
  BpfFailures f;
  if (value.empty()) return f;
  if (value == "1" || value == "all") {
    f.all = true;
    return f;
  }
  std::string unknown;
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view name = value.substr(0, comma);
    value.remove_prefix(comma == std::string_view::npos ? value.size() : comma + 1);
    if (name.empty()) continue;
    if (auto part = bpf_part_named(name)) {
      f.parts[static_cast<size_t>(*part)] = true;
    } else {
      unknown += (unknown.empty() ? "" : ", ") + std::string(name);
    }
  }
  if (!unknown.empty()) {
    std::string known;
    for (const PartInfo& p : kParts) known += (known.empty() ? "" : ", ") + std::string(p.name);
    return std::unexpected(Error{std::string(kBpfFailEnv) + ": unknown part " + unknown +
                                 " (parts: all, " + known + ")"});
  }
  return f;
}

bool has_bpf_privilege() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return geteuid() == 0;
  auto has = [&](int cap) { return (data[cap / 32].effective >> (cap % 32)) & 1u; };
  constexpr int kCapPerfmon = 38, kCapBpf = 39;  // older headers lack them
  return has(CAP_SYS_ADMIN) || (has(kCapBpf) && has(kCapPerfmon));
}

}  // namespace portrel
