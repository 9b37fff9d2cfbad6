// Ignore rules for audit findings, parsed from bytes.
#include "analysis/audit_ignore.h"

#include <algorithm>
#include <charconv>

namespace portrel {
namespace {

std::optional<FindingKind> kind_named(std::string_view name) {
  for (FindingKind k : {FindingKind::cloexec, FindingKind::leaked, FindingKind::herd,
                        FindingKind::exposed, FindingKind::unowned}) {
    if (finding_kind_name(k) == name) return k;
  }
  return std::nullopt;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

Result<AuditIgnore> parse_audit_ignore(std::string_view text) {
  std::string_view rule = trim(text);
  AuditIgnore out;
  out.text = std::string(rule);
  size_t colon = rule.find(':');
  std::string_view kind = rule.substr(0, colon);
  if (kind != "*") {
    out.kind = kind_named(kind);
    if (!out.kind) {
      return std::unexpected(Error{"ignore rule '" + out.text + "': unknown kind '" +
                                   std::string(kind) +
                                   "' (cloexec, leaked, herd, exposed, unowned or *)"});
    }
  }
  if (colon == std::string_view::npos) return out;
  std::string_view what = rule.substr(colon + 1);
  if (what.empty()) {
    return std::unexpected(Error{"ignore rule '" + out.text + "': nothing after ':'"});
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(what.data(), what.data() + what.size(), port);
  if (ec == std::errc() && end == what.data() + what.size()) {
    if (port == 0 || port > 65535) {
      return std::unexpected(Error{"ignore rule '" + out.text + "': port out of range"});
    }
    out.port = static_cast<uint32_t>(port);
  } else {
    out.comm = std::string(what);
  }
  return out;
}

Result<std::vector<AuditIgnore>> parse_audit_config(std::string_view text) {
  std::vector<AuditIgnore> rules;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_no;
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    if (line.starts_with("ignore ")) line = trim(line.substr(7));
    auto rule = parse_audit_ignore(line);
    if (!rule) {
      return std::unexpected(
          Error{"line " + std::to_string(line_no) + ": " + rule.error().message});
    }
    rules.push_back(std::move(*rule));
  }
  return rules;
}

bool ignored(const Snapshot& snap, const Finding& f, std::span<const AuditIgnore> rules) {
  return std::ranges::any_of(rules, [&](const AuditIgnore& r) {
    if (r.kind && *r.kind != f.kind) return false;
    if (r.port && std::ranges::none_of(f.sockets, [&](const Socket* s) {
          return s->local_port == *r.port;
        })) {
      return false;
    }
    if (!r.comm.empty() && std::ranges::none_of(f.pids, [&](pid_t pid) {
          const Process* p = snap.process(pid);
          return p != nullptr && p->comm == r.comm;
        })) {
      return false;
    }
    return true;
  });
}

}  // namespace portrel
