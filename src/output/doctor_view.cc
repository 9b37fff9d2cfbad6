// doctor_json() and doctor_page(): the HostReport of `portrel doctor` as one
// JSON document or as a page of labelled lines and two tables.
#include "output/doctor_view.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "output/table.h"
#include "sources/kernel_bind_rules.h"
#include "util/text.h"

namespace portrel {
namespace {

std::string yes_no(bool b) { return b ? "yes" : "no"; }

// true, false, or null when unknown.
nlohmann::json json_of(Tristate t) {
  return t == Tristate::unknown ? nlohmann::json() : nlohmann::json(t == Tristate::yes);
}

}  // namespace

std::string doctor_json(const HostReport& r, bool degraded) {
  nlohmann::json doc;
  doc["kernel"] = r.kernel;
  doc["btf"] = {{"available", r.btf}, {"bytes", r.btf_bytes}};
  nlohmann::json caps = nlohmann::json::object();
  for (const Capability& c : r.capabilities) caps[c.name] = c.effective;
  doc["privilege"] = {{"euid", r.euid}, {"capabilities", caps}};
  nlohmann::json parts = nlohmann::json::array();
  for (const BpfPartStatus& p : r.bpf_parts) {
    parts.push_back({{"part", bpf_part_name(p.part)},
                     {"state", bpf_part_state_name(p.state)},
                     {"gives", bpf_part_gives(p.part)},
                     {"reason", p.reason.empty() ? nlohmann::json() : nlohmann::json(p.reason)},
                     {"instead", p.state == BpfPartState::loaded
                                     ? nlohmann::json()
                                     : nlohmann::json(bpf_part_fallback(p.part))}});
  }
  doc["bpf"] = {{"built_in", r.bpf_built_in},
                {"object", r.bpf_object},
                {"usable", r.bpf_usable},
                {"error", r.bpf_error.empty() ? nlohmann::json() : nlohmann::json(r.bpf_error)},
                {"origin", r.bpf_origin},
                {"parts", parts},
                {"verdict", r.bpf_verdict},
                {"bpffs_mounted", r.bpffs_mounted}};
  nlohmann::json diag = nlohmann::json::array();
  for (const DiagFamily& f : r.diag) {
    diag.push_back({{"family", f.name},
                    {"available", f.available},
                    {"reason", f.detail.empty() ? nlohmann::json() : nlohmann::json(f.detail)},
                    {"portrel_reads", f.portrel_reads}});
  }
  doc["sock_diag"] = diag;
  doc["bind_rules"] = {
      {"udp_reuseport", udp_reuseport_rule_name(r.bind_rules.udp_reuseport)},
      {"tcp_mapped_any_found", json_of(r.bind_rules.tcp_mapped_any_found)},
      {"tcp_first_bind_sets_shortcut", json_of(r.bind_rules.tcp_first_bind_sets_shortcut)},
      {"how", r.bind_rules_how}};
  doc["socket_events"] = {
      {"hooks", r.socket_events.empty() ? nlohmann::json() : nlohmann::json(r.socket_events)},
      {"error", r.socket_events_error.empty() ? nlohmann::json()
                                              : nlohmann::json(r.socket_events_error)}};
  doc["pid_namespace"] = {{"inode", r.pidns}, {"initial", r.initial_pidns}};
  doc["fd_tables"] = {{"processes", r.processes},
                      {"unreadable", r.fd_unreadable},
                      {"unreadable_examples", r.fd_unreadable_examples}};
  doc["degraded"] = degraded;
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string doctor_page(const HostReport& r, bool color) {
  std::string out;
  auto line = [&out](std::string_view label, const std::string& text) {
    out += fmt::format("{:<14}{}\n", label, sanitize(text));
  };
  line("kernel", r.kernel);
  line("BTF", r.btf ? fmt::format("/sys/kernel/btf/vmlinux ({} KiB)", with_commas(r.btf_bytes / 1024))
                    : "none: the bpf source cannot load (every command reads /proc)");
  std::string caps = fmt::format("euid {}", r.euid);
  for (const Capability& c : r.capabilities) caps += fmt::format("; {} {}", c.name, yes_no(c.effective));
  line("privilege", caps);
  line("pid namespace",
       r.initial_pidns ? fmt::format("the host's (pid:[{}])", r.pidns)
                       : fmt::format("pid:[{}], not the host's: processes outside it are not "
                                     "seen, and the bpf source cannot be used",
                                     r.pidns));
  std::string examples;
  for (pid_t p : r.fd_unreadable_examples) examples += (examples.empty() ? "" : ", ") + std::to_string(p);
  line("fd tables",
       r.fd_unreadable == 0
           ? fmt::format("all {} processes' fd tables readable", with_commas(r.processes))
           : fmt::format("{} of {} processes' fd tables unreadable (pid {}{}): their sockets "
                         "show no owner",
                         with_commas(r.fd_unreadable), with_commas(r.processes), examples,
                         r.fd_unreadable > r.fd_unreadable_examples.size() ? ", …" : ""));
  line("bpffs", r.bpffs_mounted ? "mounted at /sys/fs/bpf: loaded programs are pinned"
                                : "not mounted at /sys/fs/bpf: every run loads the programs");

  out += "\n";
  if (!r.bpf_built_in) {
    line("bpf source", "not built in: " + r.bpf_error);
  } else if (r.bpf_usable) {
    line("bpf source", r.bpf_origin);
  } else {
    line("bpf source", "cannot be used: " + r.bpf_error + " (every command reads /proc)");
  }
  if (!r.bpf_verdict.empty()) line("", "verdict " + r.bpf_verdict);
  if (!r.bpf_parts.empty()) {
    Table parts({"PART", "STATE", "GIVES", "WHY NOT / INSTEAD"});
    for (const BpfPartStatus& p : r.bpf_parts) {
      bool ok = p.state == BpfPartState::loaded;
      parts.add({{std::string(bpf_part_name(p.part))},
                 {std::string(bpf_part_state_name(p.state)), ok ? Style::plain : Style::warn},
                 {std::string(bpf_part_gives(p.part))},
                 {ok ? "" : sanitize(p.reason) + "; instead: " +
                                std::string(bpf_part_fallback(p.part))}});
    }
    out += parts.render(color);
  }

  out += "\n";
  Table diag({"SOCK_DIAG", "DUMPS", "WHY NOT", "PORTREL READS"});
  for (const DiagFamily& f : r.diag) {
    diag.add({{f.name}, {yes_no(f.available), f.available ? Style::plain : Style::dim},
              {sanitize(f.detail)}, {sanitize(f.portrel_reads)}});
  }
  out += diag.render(color);
  out += "\n";
  line("bind rules", describe(r.bind_rules) + " (" + r.bind_rules_how + ")");
  line("socket events",
       r.socket_events_error.empty()
           ? r.socket_events + " (watch and record read at once on them)"
           : "none (" + r.socket_events_error +
                 "): watch and record see a port a running process opens at their tick");
  return out;
}

}  // namespace portrel
