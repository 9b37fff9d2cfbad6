// Renderers for the lab: ground truth as JSON or tables, herd results as JSON or a
// table plus a bar chart. The strings the lab prints are all its own (roles,
// addresses it formatted), so nothing here needs sanitising.
#include "lab/lab_output.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "util/text.h"

namespace portrel::lab {

nlohmann::json truth_json(const GroundTruth& truth) {
  nlohmann::json processes = nlohmann::json::array();
  for (const LabProcess& p : truth.processes)
    processes.push_back({{"pid", p.pid}, {"ppid", p.ppid}, {"role", p.role}});
  nlohmann::json sockets = nlohmann::json::array();
  for (const LabSocket& s : truth.sockets) {
    sockets.push_back({{"pid", s.pid},
                       {"fd", s.fd},
                       {"inode", s.inode},
                       {"proto", s.family == 0 ? "unix" : std::string(proto_name(s.proto))},
                       {"family", s.family},
                       {"address", s.address},
                       {"port", s.port},
                       {"listening", s.listening},
                       {"cloexec", s.cloexec},
                       {"reuseport", s.reuseport},
                       {"reuseaddr", s.reuseaddr}});
  }
  return {{"scenario", truth.scenario}, {"netns", truth.netns},
          {"processes", processes},     {"sockets", sockets},
          {"notes", truth.notes}};
}

std::string truth_table(const GroundTruth& truth, size_t max_rows) {
  // Sockets are counted once each; the rows below are holdings (pid, fd).
  std::set<uint64_t> inodes;
  for (const LabSocket& sk : truth.sockets) inodes.insert(sk.inode);
  std::string out = fmt::format(
      "lab {}: {}, {} ({}), netns {}\n", truth.scenario,
      plural(truth.processes.size(), "process", "processes"),
      plural(inodes.size(), "socket", "sockets"),
      plural(truth.sockets.size(), "holding", "holdings"), truth.netns);
  if (truth.processes.size() > max_rows || truth.sockets.size() > max_rows) {
    std::map<std::string, int> roles, kinds;
    for (const LabProcess& p : truth.processes) ++roles[p.role];
    for (const LabSocket& s : truth.sockets) {
      std::string kind = s.family == 0 ? "unix" : fmt::format("{}{}", proto_name(s.proto),
                                                              s.family);
      ++kinds[kind + (s.listening ? " listening" : "")];
    }
    for (const auto& [role, n] : roles) out += fmt::format("  {:>8} x {}\n", n, role);
    for (const auto& [kind, n] : kinds) out += fmt::format("  {:>8} x {}\n", n, kind);
    out += "(summarised; --format json prints every row)\n";
  } else {
    out += fmt::format("\n{:>8} {:>8}  {}\n", "PID", "PPID", "ROLE");
    for (const LabProcess& p : truth.processes)
      out += fmt::format("{:>8} {:>8}  {}\n", p.pid, p.ppid, p.role);
    out += fmt::format("\n{:>8} {:>4} {:>10} {:<5} {:<24} {:>6}  {}\n", "PID", "FD", "INODE",
                       "PROTO", "ADDRESS", "PORT", "FLAGS");
    for (const LabSocket& s : truth.sockets) {
      std::string flags;
      if (s.listening) flags += "listening ";
      if (s.cloexec) flags += "cloexec ";
      if (s.reuseport) flags += "reuseport ";
      if (s.reuseaddr) flags += "reuseaddr ";
      if (!flags.empty()) flags.pop_back();
      std::string address = s.family == 6 ? "[" + s.address + "]" : s.address;
      out += fmt::format("{:>8} {:>4} {:>10} {:<5} {:<24} {:>6}  {}\n", s.pid, s.fd, s.inode,
                         s.family == 0 ? "unix" : proto_name(s.proto), address, s.port,
                         flags);
    }
  }
  for (const std::string& note : truth.notes) out += fmt::format("note: {}\n", note);
  return out;
}

nlohmann::json herd_json(std::span<const HerdResult> results) {
  nlohmann::json out = nlohmann::json::array();
  for (const HerdResult& r : results) {
    out.push_back({{"strategy", herd_strategy_name(r.strategy)},
                   {"workers", r.workers},
                   {"connections", r.connections},
                   {"wakeups", r.wakeups},
                   {"wakeups_per_connection", r.wakeups_per_connection},
                   {"returns", r.returns},
                   {"returns_per_connection", r.returns_per_connection},
                   {"eagain", r.eagain},
                   {"accepted", r.accepted},
                   {"latency_p50_us", r.latency_p50_us},
                   {"latency_p99_us", r.latency_p99_us},
                   {"per_worker", r.per_worker},
                   {"fairness", r.fairness}});
  }
  return out;
}

std::string herd_table(std::span<const HerdResult> results) {
  std::string out = fmt::format("{:<16} {:>8} {:>12} {:>12} {:>8} {:>9} {:>9} {:>9}  {}\n",
                                "STRATEGY", "WAKEUPS", "WAKEUPS/CONN", "RETURNS/CONN",
                                "EAGAIN", "P50(us)", "P99(us)", "FAIRNESS", "PER WORKER");
  double widest = 1;
  for (const HerdResult& r : results) widest = std::max(widest, r.wakeups_per_connection);
  for (const HerdResult& r : results) {
    out += fmt::format("{:<16} {:>8} {:>12.2f} {:>12.2f} {:>8} {:>9.1f} {:>9.1f} {:>9.2f}  {}\n",
                       herd_strategy_name(r.strategy), r.wakeups, r.wakeups_per_connection,
                       r.returns_per_connection, r.eagain, r.latency_p50_us, r.latency_p99_us, r.fairness,
                       fmt::join(r.per_worker, " "));
  }
  out += "\nwakeups per accepted connection (workers' sleeps ended, from their voluntary "
         "context switches; RETURNS counts only those that left epoll_wait/accept)\n";
  for (const HerdResult& r : results) {
    int width = static_cast<int>(40.0 * r.wakeups_per_connection / widest + 0.5);
    std::string bar;
    for (int i = 0; i < width; ++i) bar += "█";
    out += fmt::format("{:<16} {} {:.2f}\n", herd_strategy_name(r.strategy), bar,
                       r.wakeups_per_connection);
  }
  return out;
}

}  // namespace portrel::lab
