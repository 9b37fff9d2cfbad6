// change_line() and change_json(): the verb first (what happened), then the
// socket as the listing shows it, then who.
#include "output/changes.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "output/columns.h"
#include "output/table.h"
#include "output/views.h"
#include "util/text.h"

namespace portrel {
namespace {

std::string verb(const Change& c, bool initial) {
  if (initial) return "present";
  switch (c.kind) {
    case ChangeKind::port_opened:
    case ChangeKind::socket_opened: return "opened";
    case ChangeKind::socket_state: return "state";
    case ChangeKind::socket_closed:
    case ChangeKind::port_closed: return "closed";
    case ChangeKind::holder_joined: return "joined";
    case ChangeKind::holder_left: return "left";
    case ChangeKind::holder_exec: return "exec";
    case ChangeKind::sharing_changed: return "sharing";
  }
  return "changed";
}

Style style_of(const Change& c, bool initial) {
  if (initial) return Style::dim;
  switch (c.kind) {
    case ChangeKind::port_opened:
    case ChangeKind::socket_opened:
    case ChangeKind::holder_joined: return Style::accent;
    case ChangeKind::port_closed:
    case ChangeKind::socket_closed:
    case ChangeKind::holder_left: return Style::warn;
    default: return Style::bold;
  }
}

std::string who(const ChangeHolder& h) {
  return sanitize(h.comm.empty() ? "?" : h.comm) + "[" + std::to_string(h.pid) + "]";
}

std::string holders_text(const std::vector<ChangeHolder>& holders) {
  if (holders.empty()) return "no visible holder";
  std::string out;
  size_t shown = std::min<size_t>(holders.size(), 4);
  for (size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + who(holders[i]);
  if (holders.size() > shown) out += fmt::format(" and {} more", holders.size() - shown);
  return out;
}

std::string kinds_text(const std::vector<SharingKind>& kinds) {
  if (kinds.empty()) return "not shared";
  std::string out;
  for (SharingKind k : kinds) out += (out.empty() ? "" : ", ") + std::string(sharing_kind_name(k));
  return out;
}

// What the line says after the socket.
std::string detail(const Change& c, bool initial) {
  const Socket& s = c.socket;
  switch (c.kind) {
    case ChangeKind::port_opened:
    case ChangeKind::socket_opened:
      return holders_text(c.holders) +
             (c.kind == ChangeKind::port_opened && !initial ? "  (port opened)" : "");
    case ChangeKind::socket_state:
      return fmt::format("{} → {}  {}", state_name(s.proto, c.old_state),
                         state_name(s.proto, s.state), holders_text(c.holders));
    case ChangeKind::socket_closed:
    case ChangeKind::port_closed:
      return "held by " + holders_text(c.holders) +
             (c.kind == ChangeKind::port_closed ? "  (port closed)" : "");
    case ChangeKind::holder_joined:
    case ChangeKind::holder_left:
      return fmt::format("{} fd {} ({})", who(c.holders.at(0)), c.fd, holder_how_name(c.how));
    case ChangeKind::holder_exec:
      return fmt::format("pid {} ran {} (was {})", c.holders.at(0).pid,
                         sanitize(c.holders.at(0).comm), sanitize(c.old_comm));
    case ChangeKind::sharing_changed:
      return kinds_text(c.old_kinds) + " → " + kinds_text(c.new_kinds);
  }
  return "";
}

std::string time_text(std::chrono::system_clock::time_point now, bool utc_date) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  if (utc_date) {
    gmtime_r(&t, &tm);
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", tm, ms.count());
  }
  localtime_r(&t, &tm);
  return fmt::format("{:%H:%M:%S}.{:03d}", tm, ms.count());
}

nlohmann::json holder_json(const ChangeHolder& h) {
  return {{"pid", h.pid}, {"comm", h.comm}, {"uid", h.uid}};
}

}  // namespace

std::string change_line(const Change& c, const Snapshot& snapshot,
                        std::chrono::system_clock::time_point now, bool color, bool initial) {
  const Socket& s = c.socket;
  std::string where = c.kind == ChangeKind::sharing_changed
                          ? "port " + std::to_string(s.local_port)
                          : fmt::format("{} {}", local_endpoint(s),
                                        state_name(s.proto, s.state));
  std::string ns = netns_label(snapshot, s.netns);
  std::string line = fmt::format(
      "{}  {}  {:<4} {:<28} {}", time_text(now, false),
      styled(fmt::format("{:<7}", verb(c, initial)), style_of(c, initial), color),
      c.kind == ChangeKind::sharing_changed ? "" : std::string(proto_name(s.proto)), where,
      detail(c, initial));
  if (ns != "host") line += "  netns " + sanitize(ns);
  return line;
}

nlohmann::json change_json(const Change& c, const Snapshot& snapshot,
                           std::chrono::system_clock::time_point now, bool initial) {
  const Socket& s = c.socket;
  nlohmann::json j = {
      {"time", time_text(now, true)},
      {"event", initial ? "present" : std::string(change_kind_name(c.kind))},
      {"netns", netns_label(snapshot, s.netns)},
      {"netns_inode", s.netns},
      {"proto", proto_name(s.proto)},
      {"port", s.local_port},
  };
  if (c.kind != ChangeKind::sharing_changed) {
    j["family"] = s.family;
    j["local_addr"] = s.local_addr.to_string();
    j["state"] = state_name(s.proto, s.state);
    j["inode"] = s.inode;
  }
  nlohmann::json holders = nlohmann::json::array();
  for (const ChangeHolder& h : c.holders) holders.push_back(holder_json(h));
  if (c.kind != ChangeKind::sharing_changed) j["holders"] = holders;
  switch (c.kind) {
    case ChangeKind::socket_state:
      j["old_state"] = state_name(s.proto, c.old_state);
      break;
    case ChangeKind::holder_joined:
    case ChangeKind::holder_left:
      j["how"] = holder_how_name(c.how);
      j["fd"] = c.fd;
      break;
    case ChangeKind::holder_exec:
      j["old_comm"] = c.old_comm;
      break;
    case ChangeKind::sharing_changed: {
      nlohmann::json was = nlohmann::json::array(), now_kinds = nlohmann::json::array();
      for (SharingKind k : c.old_kinds) was.push_back(sharing_kind_name(k));
      for (SharingKind k : c.new_kinds) now_kinds.push_back(sharing_kind_name(k));
      j["old_kinds"] = was;
      j["new_kinds"] = now_kinds;
      break;
    }
    default:
      break;
  }
  return j;
}

std::string finding_line(const FindingChange& c, std::chrono::system_clock::time_point now,
                         bool color, bool initial) {
  const char* verb = initial ? "finding" : c.appeared ? "finding" : "cleared";
  Style style = !c.appeared                         ? Style::dim
                : c.finding.severity == Severity::info ? Style::plain
                                                       : Style::warn;
  return fmt::format("{}  {}  {} {}  {}", time_text(now, false),
                     styled(fmt::format("{:<7}", verb), style, color),
                     severity_name(c.finding.severity), finding_kind_name(c.finding.kind),
                     sanitize(c.finding.summary));
}

nlohmann::json finding_json(const FindingChange& c, std::chrono::system_clock::time_point now,
                            bool initial) {
  return {{"time", time_text(now, true)},
          {"event", initial ? "finding-present"
                    : c.appeared ? "finding-appeared"
                                 : "finding-cleared"},
          {"kind", finding_kind_name(c.finding.kind)},
          {"severity", severity_name(c.finding.severity)},
          {"port", c.finding.port},
          {"summary", c.finding.summary},
          {"inodes", c.finding.inodes},
          {"pids", c.finding.pids}};
}

}  // namespace portrel
