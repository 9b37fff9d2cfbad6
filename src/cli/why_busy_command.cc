// `portrel why-busy [tcp|udp] ADDR:PORT`: would this bind succeed now, which
// sockets block it (with holders, state and options), and what would change the
// answer. The rules live in analysis/bind_rules; this file gathers their inputs
// from the target namespace (a thread that setns()s there reads its sysctls,
// addresses and the kernel's socket order) and hands the verdict to
// output/why_busy_view.h to print.
#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <thread>

#include "analysis/bind_rules.h"
#include "cli/commands.h"
#include "cli/filter.h"
#include "cli/port_spec.h"
#include "cli/report.h"
#include "output/views.h"
#include "output/why_busy_view.h"
#include "sources/bind_env.h"
#include "sources/sockopt_probe.h"
#include "sources/kernel_bind_rules.h"
#include "sources/bind_probe.h"
#include "sources/netns.h"
#include "sources/sock_diag.h"
#include "util/text.h"

namespace portrel {
namespace {


struct Target {
  BindRequest request;
  uint64_t netns = 0;
  std::string netns_path;  // where a thread can setns() to reach it
  std::string netns_label;
};

Result<uid_t> resolve_uid(const std::string& user) {
  if (user.empty()) return geteuid();
  uid_t uid = 0;
  auto [end, ec] = std::from_chars(user.data(), user.data() + user.size(), uid);
  if (ec == std::errc() && end == user.data() + user.size()) return uid;
  passwd entry;
  passwd* found = nullptr;
  char buf[4096];
  if (getpwnam_r(user.c_str(), &entry, buf, sizeof buf, &found) != 0 || !found) {
    return std::unexpected(Error{"unknown user '" + user + "'"});
  }
  return found->pw_uid;
}

Result<Target> parse_target(const Options& o) {
  Target t;
  BindRequest& r = t.request;
  auto selected = [&](Proto p) { return o.protocols[static_cast<size_t>(p)]; };
  r.proto = selected(Proto::udp) && !selected(Proto::tcp) ? Proto::udp : Proto::tcp;
  auto spec = parse_proto_and_port(o.bind_args, "why-busy");
  if (!spec) return std::unexpected(spec.error());
  if (spec->proto) r.proto = *spec->proto;
  r.address = spec->addresses.empty() ? *Address::parse("0.0.0.0") : spec->addresses.front();
  r.family = r.address.family;
  r.port = static_cast<uint16_t>(spec->port);  // an IP protocol's: 16 bits
  r.reuseaddr = o.reuseaddr;
  r.reuseport = o.reuseport;
  r.v6only = o.v6only;
  if (r.v6only && r.family != 6) {
    return std::unexpected(Error{"why-busy: --v6only needs an IPv6 address"});
  }
  auto uid = resolve_uid(o.user);
  if (!uid) return std::unexpected(uid.error());
  r.uid = *uid;
  r.can_bind_service = *uid == 0;
  std::string spec_ns = o.netns.empty() ? "host" : o.netns;
  auto inode = resolve_netns(spec_ns);
  if (!inode) return std::unexpected(inode.error());
  t.netns = *inode;
  t.netns_label = spec_ns;
  return t;
}

// A path through which a thread can enter the namespace with this inode.
std::string netns_path(const std::string& spec, uint64_t inode, const Snapshot& snap) {
  if (spec == "host") return "/proc/self/ns/net";
  if (spec.find('/') != std::string::npos) return spec;
  for (const Netns& n : snap.namespaces()) {
    if (n.inode == inode && !n.name.empty()) return "/run/netns/" + n.name;
  }
  for (const Process& p : snap.processes()) {
    if (p.netns == inode) return "/proc/" + std::to_string(p.pid) + "/ns/net";
  }
  return "";
}

struct NetnsView {
  BindEnvironment env;
  std::vector<uint64_t> cookie_order;  // sock_diag order: the kernel's chains
  std::string warning;
};

NetnsView read_netns(const Target& t) {
  NetnsView view;
  std::thread worker([&] {
    auto entered = enter_netns(t.netns_path, t.netns);
    if (!entered) {
      view.warning = "cannot enter the network namespace: " + entered.error().message;
      return;
    }
    if (auto env = read_bind_environment()) {
      view.env = *env;
    } else {
      view.warning = env.error().message;
    }
    if (auto rows = dump_current_netns(t.netns, SocketQuery{})) {
      for (const Socket& s : *rows) view.cookie_order.push_back(s.cookie);
    }
  });
  worker.join();
  return view;
}

// What would change the answer: the same bind with one thing different.
std::vector<std::string> alternatives(const BindRequest& r, const BindPrediction& p,
                                      std::span<const Socket* const> table,
                                      const BindEnvironment& env, const Snapshot& snap) {
  std::vector<std::string> out;
  if (p.outcome == BindOutcome::succeeds || p.error != EADDRINUSE) return out;
  auto verdict = [&](const BindRequest& v) { return predict_bind(v, table, env).outcome; };
  auto offer = [&](BindRequest v, const std::string& what) {
    BindOutcome o = verdict(v);
    if (o != BindOutcome::fails) {
      out.push_back(what + (o == BindOutcome::succeeds ? ": would succeed"
                                                       : ": might succeed (depends on "
                                                         "unknown options)"));
    }
  };
  BindRequest v = r;
  if (!r.reuseaddr) {
    v.reuseaddr = true;
    offer(v, "with SO_REUSEADDR");
  }
  v = r;
  if (!r.reuseport) {
    v.reuseport = true;
    offer(v, "with SO_REUSEPORT");
  }
  v = r;
  v.reuseaddr = v.reuseport = true;
  if (!r.reuseaddr || !r.reuseport) offer(v, "with SO_REUSEADDR and SO_REUSEPORT");
  if (r.family == 6 && r.address.is_wildcard() && !r.v6only) {
    v = r;
    v.v6only = true;
    offer(v, "with IPV6_V6ONLY (leave IPv4 to the IPv4 sockets)");
  }
  for (const BindConflict& c : p.conflicts) {
    const Socket& s = *c.socket;
    if (s.uid != r.uid && s.state != kStateTimeWait && s.reuseport != Tristate::no) {
      v = r;
      v.uid = s.uid;
      v.reuseport = true;
      if (verdict(v) != BindOutcome::fails) {
        out.push_back(fmt::format("as uid {} with SO_REUSEPORT (the uid of {})", s.uid,
                                  endpoint(s.local_addr, s.local_port)));
        break;
      }
    }
  }
  std::vector<const Socket*> rest;
  std::vector<std::string> who;
  for (const Socket* s : table) {
    bool blocking = std::ranges::any_of(p.conflicts, [&](const BindConflict& c) {
      return c.socket == s;
    });
    if (!blocking) {
      rest.push_back(s);
    } else if (s->state == kStateTimeWait) {
      who.push_back("TIME_WAIT " + endpoint(s->local_addr, s->local_port) +
                    " to expire (up to 60 s)");
    } else {
      who.push_back(fmt::format("{} {} held by {}", state_name(s->proto, s->state),
                                endpoint(s->local_addr, s->local_port),
                                blocker_holders(snap, *s)));
    }
  }
  if (predict_bind(r, rest, env).outcome == BindOutcome::succeeds && !who.empty()) {
    std::string text = "once these are gone:";
    for (const std::string& w : who) text += "\n      " + w;
    out.push_back(text);
  }
  for (uint32_t port = r.port + 1; port <= 65535 && port <= r.port + 1000u; ++port) {
    v = r;
    v.port = static_cast<uint16_t>(port);
    if (!env.is_reserved(v.port) && verdict(v) == BindOutcome::succeeds) {
      out.push_back(fmt::format("another port: {} is free", port));
      break;
    }
  }
  return out;
}

// The sockets whose unknown options leave P uncertain, with those options read
// from a duplicate of a holder's fd; ASKED counts the sockets tried. A socket
// no visible process holds cannot be read this way.
std::vector<Socket> probe_deciding_options(const BindPrediction& p, const Snapshot& snap,
                                           size_t& asked) {
  std::vector<Socket> deciding;
  std::vector<Holding> holdings;
  for (const BindConflict& c : p.conflicts) {
    const Socket& s = *c.socket;
    bool unknown = s.reuseaddr == Tristate::unknown || s.reuseport == Tristate::unknown ||
                   (s.family == 6 && s.v6only == Tristate::unknown);
    if (c.blocks != Tristate::unknown || !unknown || snap.holders(s.inode).empty()) continue;
    if (std::ranges::find(deciding, s.inode, &Socket::inode) != deciding.end()) continue;
    deciding.push_back(s);
    for (const Holding& h : snap.holders(s.inode)) holdings.push_back(h);
  }
  asked = deciding.size();
  if (deciding.empty()) return {};
  std::vector<std::string> problems;
  probe_socket_options(deciding, holdings, problems);
  std::erase_if(deciding, [](const Socket& s) { return s.reuseport_from != OptSource::probe; });
  return deciding;
}

}  // namespace

void configure_why_busy(CLI::App& app, Options& o) {
  app.add_option("ARGS", o.bind_args,
                 "[tcp|udp|udplite] ADDR:PORT (127.0.0.1:8080, [::]:80, 0.0.0.0:0; a "
                 "bare PORT means 0.0.0.0)")
      ->required()
      ->expected(1, 2);
  app.add_flag("--reuseaddr", o.reuseaddr, "the socket would set SO_REUSEADDR");
  app.add_flag("--reuseport", o.reuseport, "the socket would set SO_REUSEPORT");
  app.add_flag("--v6only", o.v6only, "the socket would set IPV6_V6ONLY");
  app.add_flag("--try", o.try_bind,
               "also bind for real in the target netns (closed at once) and show the "
               "kernel's answer");
}

int run_why_busy(const Options& o) {
  auto target = parse_target(o);
  if (!target) return usage_error(target.error().message);
  Filter filter;
  filter.netns = {target->netns};
  filter.listening_only = false;
  auto snap = capture_for(o, filter);
  if (!snap) return capture_failed(snap.error());
  target->netns_path = netns_path(target->netns_label, target->netns, *snap);
  if (target->netns_path.empty()) {
    return usage_error("no way into network namespace " + target->netns_label);
  }
  NetnsView view = read_netns(*target);
  const BindRequest& r = target->request;

  std::vector<const Socket*> table;
  for (const Socket& s : snap->sockets()) {
    if (s.netns == target->netns && s.proto == r.proto) table.push_back(&s);
  }
  std::unordered_map<uint64_t, size_t> rank;
  for (size_t i = 0; i < view.cookie_order.size(); ++i) rank.emplace(view.cookie_order[i], i);
  std::ranges::stable_sort(table, [&](const Socket* a, const Socket* b) {
    auto ra = rank.find(a->cookie), rb = rank.find(b->cookie);
    size_t x = ra == rank.end() ? SIZE_MAX : ra->second;
    size_t y = rb == rank.end() ? SIZE_MAX : rb->second;
    return x < y;
  });
  {
    std::string how;
    view.env.kernel = kernel_bind_rules_of_this_kernel(&how);
    if (o.verbose) {
      fmt::print(stderr, "portrel: this kernel's bind rules: {} ({})\n",
                 describe(view.env.kernel), sanitize(how));
    }
  }
  BindPrediction p = predict_bind(r, table, view.env, TableOrder::chain_per_family);
  // Options no source gave, of the few sockets that decide: read just those.
  std::vector<Socket> probed;
  if (p.outcome == BindOutcome::uncertain && geteuid() == 0) {
    size_t asked = 0;
    probed = probe_deciding_options(p, *snap, asked);
    if (!probed.empty()) {
      for (const Socket*& s : table) {
        auto it = std::ranges::find(probed, s->inode, &Socket::inode);
        if (it != probed.end()) s = &*it;
      }
      p = predict_bind(r, table, view.env, TableOrder::chain_per_family);
    }
    if (o.verbose && asked > 0) {
      fmt::print(stderr,
                 "portrel: read the options of {} of {} sockets that decide the verdict "
                 "from a holder's fd (pidfd_getfd + getsockopt): no bpf part gave them\n",
                 probed.size(), asked);
    }
  }
  std::vector<std::string> changes = alternatives(r, p, table, view.env, *snap);

  std::optional<int> kernel;
  std::string try_error;
  if (o.try_bind) {
    std::optional<uid_t> as;
    if (r.uid != geteuid()) as = r.uid;
    auto result = try_bind_in(target->netns_path, target->netns, r, as);
    if (result) {
      kernel = *result;
    } else {
      try_error = result.error().message;
    }
  }
  std::vector<std::string> warnings(snap->warnings().begin(), snap->warnings().end());
  if (!view.warning.empty()) warnings.push_back(view.warning);

  WhyBusyAnswer answer{r, target->netns, target->netns_label, p, std::move(changes), kernel};
  if (o.format == Format::json) {
    fmt::print("{}\n", why_busy_json(*snap, answer, warnings));
  } else {
    fmt::print("{}", why_busy_text(*snap, answer));
    print_warnings(o, warnings);
  }
  if (!try_error.empty()) fmt::print(stderr, "portrel: --try: {}\n", sanitize(try_error));
  switch (p.outcome) {
    case BindOutcome::succeeds: return kExitFound;
    case BindOutcome::fails: return kExitNothing;
    case BindOutcome::uncertain: return kExitUncertain;
  }
  return kExitUncertain;
}

}  // namespace portrel
