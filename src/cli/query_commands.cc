// The query commands: the default listing, `who PORT`, `of PID|NAME` and
// `columns`. Each captures, filters and renders; report.h prints.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <set>

#include "cli/commands.h"
#include "cli/filter.h"
#include "cli/port_spec.h"
#include "cli/report.h"
#include "output/columns.h"
#include "output/table.h"
#include "output/views.h"
#include "sources/netns.h"
#include "sources/port_forwards.h"
#include "sources/procfs_source.h"
#include "util/text.h"

namespace portrel {

void configure_list(CLI::App&, Options&) {}

void configure_who(CLI::App& app, Options& o) {
  app.add_option("PORT", o.target,
                 "8080, tcp/8080, udp/53, 127.0.0.1:8080, [::1]:8080, localhost:8080 "
                 "(/etc/hosts) or a service name; with -a also the local clients "
                 "connected to it")
      ->required();
}

void configure_of(CLI::App& app, Options& o) {
  app.add_option("PID|NAME|PATH", o.target,
                 "a pid, a process name (comm or the exe's base name), an executable's "
                 "path (/usr/sbin/nginx), or container:NAME (a container, pod or unit)")
      ->required();
  app.add_flag("--tree", o.tree, "include every descendant process");
}

void configure_columns(CLI::App&, Options&) {}

int run_list(const Options& o) {
  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  // The table shows names and pids only: no exe, cmdline or cgroup to read.
  auto snap = capture_for(o, *filter, std::nullopt,
                          o.format == Format::table ? CaptureOptions::Details::none
                                                    : CaptureOptions::Details::command);
  if (!snap) return capture_failed(snap.error());
  auto sockets = select_sockets(*snap, *filter);
  return emit_sockets(o, *snap, sockets,
                      o.format == Format::table
                          ? listing_table(*snap, sockets, o.all, use_color(o),
                                          container_labels(*snap, sockets))
                          : "",
                      o.all ? "no socket matches" : "no listening socket matches");
}

namespace {

// A local socket connected to the port SPEC asks about: its remote side is
// the port (and one of the addresses, when given).
bool client_of(const PortSpec& spec, const Socket& s) {
  if (s.remote_port != spec.port || (spec.proto && s.proto != *spec.proto)) return false;
  if (spec.addresses.empty()) return true;
  Socket remote = s;  // the peer's side, to ask whether the spec covers it
  remote.local_addr = s.remote_addr;
  remote.local_port = s.remote_port;
  return std::ranges::any_of(spec.addresses, [&](const Address& a) {
    PortSpec exact{spec.proto, {a}, spec.port};
    return exact.matches(remote) && !remote.local_addr.is_wildcard();
  });
}

}  // namespace

namespace {

// The forwarding rules (nftables DNAT and REDIRECT, from the kernel) that
// cover the port SPEC asks about; why they could not be read in WARNINGS.
std::vector<PortForward> forwards_of(const PortSpec& spec, std::vector<std::string>& warnings) {
  auto read = read_port_forwards();
  if (!read) {
    warnings.push_back("port forwards (nftables rules) not read: " + read.error().message +
                       (read.error().errno_value == EPERM ? " (run as root)" : ""));
    return {};
  }
  warnings.insert(warnings.end(), read->warnings.begin(), read->warnings.end());
  std::vector<PortForward> out;
  for (const PortForward& f : read->forwards) {
    if (spec.proto && f.proto != *spec.proto) continue;
    bool covers = spec.addresses.empty()
                      ? f.matches(f.proto, spec.port, std::nullopt)
                      : std::ranges::any_of(spec.addresses, [&](const Address& a) {
                          return f.matches(f.proto, spec.port, a);
                        });
    if (covers) out.push_back(f);
  }
  return out;
}

// Each rule followed to its far end: the namespace that has the destination
// address and what listens there.
std::vector<PublishedPort> follow(const Snapshot& snap, const PortSpec& spec,
                                  std::span<const PortForward> forwards,
                                  std::vector<std::string>& warnings) {
  if (forwards.empty()) return {};
  auto host = current_netns_inode();
  auto handles = netns_handles("/proc", snap.processes());
  auto addresses = interface_addresses(handles, warnings);
  std::optional<Address> address;
  if (spec.addresses.size() == 1) address = spec.addresses.front();
  return follow_forwards(snap, forwards, addresses, host ? *host : 0, std::nullopt, spec.port,
                         address);
}

}  // namespace

int run_who(const Options& o) {
  auto spec = parse_port_spec(o.target);
  if (!spec) return usage_error(spec.error().message);
  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  if (spec->proto) filter->want(*spec->proto);
  // A port a rule forwards is answered at both ends: the capture then takes
  // every port, for the far end's listeners.
  std::vector<std::string> forward_warnings;
  std::vector<PortForward> forwards;
  if (spec->proto != Proto::raw) forwards = forwards_of(*spec, forward_warnings);
  // With --all the port's local clients are asked for too: their own port is
  // any, so the kernel cannot filter by it.
  // The holders' cgroups too: the CONTAINER column and the workload columns.
  bool every_port = o.all || !forwards.empty();
  auto snap = capture_for(o, *filter, every_port ? std::nullopt : std::optional(spec->port),
                          CaptureOptions::Details::all);
  if (!snap) return capture_failed(snap.error());
  auto published = follow(*snap, *spec, forwards, forward_warnings);
  auto sockets = select_sockets(*snap, *filter);
  std::vector<const Socket*> clients;
  if (o.all) {
    for (const Socket* s : sockets) {
      if (!spec->matches(*s) && client_of(*spec, *s)) clients.push_back(s);
    }
  }
  std::erase_if(sockets, [&](const Socket* s) { return !spec->matches(*s); });
  std::string nothing = "nothing " + std::string(o.all ? "uses" : "listens on") + " port " +
                        std::to_string(spec->port);
  bool table = o.format == Format::table;
  std::string human_clients;
  if (table && !clients.empty()) {
    human_clients = "\n" +
                    styled(plural(clients.size(), "local client", "local clients") +
                               " of port " + std::to_string(spec->port) +
                               " (connected to it from this host):",
                           Style::bold, use_color(o)) +
                    "\n" + who_table(*snap, clients, use_color(o), false);
  }
  return emit_sockets(o, *snap, sockets,
                      table ? who_table(*snap, sockets, use_color(o), true, published) : "",
                      nothing, o.all ? &clients : nullptr, human_clients, published,
                      forward_warnings);
}

namespace {

// Why the sockets of PIDS may be missing: their fd tables could not be read.
std::string unread_fd_tables(const std::vector<pid_t>& pids) {
  std::vector<pid_t> unread;
  for (pid_t pid : pids) {
    if (!fd_table_readable(pid)) unread.push_back(pid);
  }
  if (unread.empty()) return "";
  std::string list;
  for (size_t i = 0; i < unread.size() && i < 5; ++i) {
    list += (i ? ", " : "") + std::to_string(unread[i]);
  }
  if (unread.size() > 5) list += ", …";
  return std::string(unread.size() == 1 ? "the fd table of pid " : "the fd tables of pids ") +
         list + (unread.size() == 1 ? " could not be read" : " could not be read") +
         (geteuid() == 0 ? " (protected or hidden)" : ": run as root");
}

}  // namespace

int run_of(const Options& o) {
  if (o.target.empty()) return usage_error("of: expected a PID, a process name or a path");
  auto filter = make_filter(o);
  if (!filter) return usage_error(filter.error().message);
  auto snap = capture_for(o, *filter, std::nullopt, CaptureOptions::Details::all);
  if (!snap) return capture_failed(snap.error());
  std::vector<pid_t> pids = named_pids(*snap, o.target, o.tree);
  if (pids.empty()) {
    bool numeric = !o.target.empty() && std::ranges::all_of(o.target, [](char c) {
      return c >= '0' && c <= '9';
    });
    // A process /proc shows that the capture did not see is hidden from it:
    // "not found" would be a lie.
    if (numeric && access(("/proc/" + o.target).c_str(), F_OK) == 0) {
      return answer_exit(false, "pid " + o.target +
                                    " exists but is hidden from portrel's view of the "
                                    "processes: its sockets cannot be read");
    }
    fmt::print(stderr, "portrel: {}\n",
               numeric ? "no process with pid " + o.target
               : o.target.find('/') != std::string::npos
                   ? "no process runs '" + sanitize(o.target) + "'"
                   : "no process named '" + sanitize(o.target) + "'");
    return kExitNothing;
  }
  std::set<uint64_t> held;
  for (pid_t pid : pids) {
    for (const Holding& h : snap->held_by(pid)) held.insert(h.inode);
  }
  auto sockets = select_sockets(*snap, *filter);
  std::erase_if(sockets, [&](const Socket* s) { return !held.contains(s->inode); });
  std::string reason = unread_fd_tables(pids);
  int code = emit_sockets(
      o, *snap, sockets,
      o.format == Format::table ? of_table(*snap, pids, sockets, use_color(o)) : "",
      plural(pids.size(), "process holds", "processes hold") + " no " +
          (o.all ? "socket" : "listening socket") + " that matches");
  if (code == kExitPartial || reason.empty()) return code;
  return answer_exit(!sockets.empty(), reason);
}

int run_columns(const Options& o) {
  Table table({"RELATION", "COLUMN", "TYPE", "MEANING"});
  for (const SocketColumn& c : socket_columns()) {
    table.add({{"socket"},
               {std::string(c.name)},
               {std::string(c.type)},
               {std::string(c.description)}});
  }
  for (const HolderColumn& c : holder_columns()) {
    table.add({{"holder"},
               {std::string(c.name)},
               {std::string(c.type)},
               {std::string(c.description)}});
  }
  fmt::print("{}", table.render(use_color(o)));
  return kExitFound;
}

}  // namespace portrel
