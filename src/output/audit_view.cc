// audit_json(), audit_csv() and audit_text(): the same findings in the three
// formats of `portrel audit`.
#include "output/audit_view.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "output/columns.h"
#include "output/render.h"
#include "output/table.h"
#include "util/text.h"

namespace portrel {
namespace {

nlohmann::json finding_object(const Snapshot& snap, const Finding& f) {
  nlohmann::json sockets = nlohmann::json::array();
  for (const Socket* s : f.sockets) {
    sockets.push_back({{"inode", s->inode},
                       {"netns", s->netns},
                       {"netns_name", netns_label(snap, s->netns)},
                       {"proto", proto_name(s->proto)},
                       {"local_address", s->local_addr.to_string()},
                       {"local_port", s->local_port}});
  }
  nlohmann::json processes = nlohmann::json::array();
  for (pid_t pid : f.pids) {
    const Process* p = snap.process(pid);
    processes.push_back({{"pid", pid},
                         {"comm", p ? nlohmann::json(p->comm) : nlohmann::json()},
                         {"exe", p && !p->exe.empty() ? nlohmann::json(p->exe)
                                                      : nlohmann::json()}});
  }
  return {{"kind", finding_kind_name(f.kind)}, {"severity", severity_name(f.severity)},
          {"summary", f.summary},              {"explanation", f.explanation},
          {"fix", f.fix},                      {"sockets", sockets},
          {"processes", processes}};
}

}  // namespace

std::string audit_json(const Snapshot& snap, std::span<const Finding> findings,
                       size_t ignored, std::span<const std::string> warnings) {
  nlohmann::json doc = nlohmann::json::object();
  nlohmann::json list = nlohmann::json::array();
  for (const Finding& f : findings) list.push_back(finding_object(snap, f));
  doc["findings"] = std::move(list);
  doc["ignored"] = ignored;
  doc["warnings"] = std::vector<std::string>(warnings.begin(), warnings.end());
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string audit_csv(std::span<const Finding> findings) {
  std::string out = "severity,kind,summary,inodes,pids\r\n";
  for (const Finding& f : findings) {
    std::string inodes, pid_list;
    for (const Socket* s : f.sockets) {
      inodes += (inodes.empty() ? "" : ";") + std::to_string(s->inode);
    }
    for (pid_t pid : f.pids) pid_list += (pid_list.empty() ? "" : ";") + std::to_string(pid);
    out += fmt::format("{},{},{},{},{}\r\n", severity_name(f.severity), finding_kind_name(f.kind),
                       csv_field(f.summary), inodes, pid_list);
  }
  return out;
}

std::string audit_text(std::span<const Finding> findings, size_t ignored, bool color) {
  std::string out;
  for (const Finding& f : findings) {
    Style style = f.severity >= Severity::warning ? Style::warn : Style::dim;
    out += styled(fmt::format("{:<7} {:<7}", severity_name(f.severity),
                              finding_kind_name(f.kind)),
                  style, color) +
           " " + styled(f.summary, Style::bold, color) + "\n";
    out += "        " + f.explanation + "\n";
    out += "        " + styled("fix:", Style::accent, color) + " " + f.fix + "\n\n";
  }
  size_t warnings = 0;
  for (const Finding& f : findings) warnings += f.severity >= Severity::warning;
  out += fmt::format("{}, {} of severity warning or above\n",
                     plural(findings.size(), "finding", "findings"), with_commas(warnings));
  if (ignored > 0) {
    out += fmt::format("{} by ignore rules\n", plural(ignored, "finding hidden", "findings hidden"));
  }
  return out;
}

}  // namespace portrel
