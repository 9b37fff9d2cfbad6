// Capturer: the plan, decided once (which source walks processes, which
// reader lists each protocol, what runs beside what), and each capture():
// processes and fd tables (they also reveal the network namespaces) while our
// own namespace is dumped beside them, then one dump per other namespace,
// then the join. A socket born or closed while the two reads
// overlap shows without a holder (as if its holder exited), or leaves a
// holding with no socket, which the join drops.
#include "sources/capture.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <future>
#include <optional>
#include <unordered_set>

#include "model/sockopts.h"
#include "sources/bpf/bpf_source.h"
#include "sources/netns.h"
#include "sources/procfs_source.h"
#include "sources/sock_diag.h"
#include "sources/sockopt_probe.h"
#include "util/beside.h"

namespace portrel {
namespace {

uint64_t own_netns() {
  struct stat st;
  if (stat("/proc/self/ns/net", &st) != 0) return 0;
  return st.st_ino;
}

// Exact options (bpf) replace whatever sock_diag or nothing said, by inode, in
// the sockets whose options are not exact yet (with the kernel's table rows,
// only UDP-Lite and RAW): those are few, so they are looked up, not OPTIONS.
void apply_exact_options(const std::vector<ExactOptions>& options,
                         std::vector<Socket>& sockets) {
  std::vector<std::pair<uint64_t, uint32_t>> wanted;  // (inode, socket)
  for (uint32_t i = 0; i < sockets.size(); ++i) {
    const Socket& s = sockets[i];
    if (s.inode != 0 && s.reuseport_from != OptSource::bpf) wanted.emplace_back(s.inode, i);
  }
  if (wanted.empty() || options.empty()) return;
  std::ranges::sort(wanted);
  auto tri = [](bool b) { return b ? Tristate::yes : Tristate::no; };
  for (const ExactOptions& o : options) {
    auto it = std::ranges::lower_bound(wanted, o.inode, {}, &std::pair<uint64_t, uint32_t>::first);
    for (; it != wanted.end() && it->first == o.inode; ++it) {
      Socket& s = sockets[it->second];
      s.reuseaddr = tri(o.reuseaddr);
      s.reuseport = tri(o.reuseport);
      s.reuseaddr_from = s.reuseport_from = OptSource::bpf;
      if (s.family == 6) {
        s.v6only = tri(o.v6only);
        s.v6only_from = OptSource::bpf;
      }
    }
  }
}

// The source's options (already applied) cover the sockets it saw held. For
// the rest (a hidden holder, or a kernel socket), it may read its protocol
// tables: only in their namespaces, protocols and ports, and only through the
// listeners when all are listeners, as walking every table of every namespace
// costs about as much as the sock_diag dump itself.
void add_unheld_options(OptionSource& source, const std::vector<NetnsHandle>& wanted,
                        std::vector<Socket>& sockets, std::vector<std::string>& warnings) {
  TableQuery query{.ports = {}, .tcp = false, .udp = false, .tcp_listeners_only = true};
  std::unordered_set<uint64_t> namespaces;
  for (const Socket& s : sockets) {
    bool in_tables = s.proto == Proto::tcp || s.proto == Proto::udp;
    if (s.inode == 0 || !in_tables || s.reuseport_from == OptSource::bpf) continue;
    query.ports.push_back(static_cast<uint16_t>(s.local_port));  // TCP's or UDP's
    namespaces.insert(s.netns);
    if (s.proto == Proto::udp) query.udp = true;
    if (s.proto == Proto::tcp) {
      query.tcp = true;
      query.tcp_listeners_only = query.tcp_listeners_only && s.is_listening();
    }
  }
  if (namespaces.empty()) return;
  auto& ports = query.ports;
  std::ranges::sort(ports);
  ports.erase(std::ranges::unique(ports).begin(), ports.end());
  std::vector<NetnsHandle> handles;
  for (const NetnsHandle& h : wanted) {
    if (namespaces.erase(h.inode) != 0) handles.push_back(h);  // one path each
  }
  std::vector<ExactOptions> options;
  source.read(handles, query, options, warnings);
  apply_exact_options(options, sockets);
}

// One scan from two dumps (ours, the others); an error only when both failed.
Result<SocketScan> merge_scans(Result<SocketScan> own, Result<SocketScan> others) {
  if (!own && !others) return own;
  if (!own) {
    others->warnings.push_back("own network namespace not dumped: " + own.error().message);
    return others;
  }
  if (!others) {
    own->warnings.push_back("other network namespaces not dumped: " + others.error().message);
    return own;
  }
  for (Socket& s : others->sockets) own->sockets.push_back(std::move(s));
  own->dumped_netns.insert(own->dumped_netns.end(), others->dumped_netns.begin(),
                           others->dumped_netns.end());
  for (std::string& w : others->warnings) own->warnings.push_back(std::move(w));
  return own;
}

// Held IP sockets no dump listed may live in a namespace nothing else leads
// to (the walk did not say each socket's namespace). Where the dumps left
// states or ports out, the holders' namespaces are first dumped in every
// state (one dump costs less than a question per socket: most of those held
// sockets are connections there). Each fd still unlisted is asked what it
// is, without touching the socket, and each IP socket of a protocol QUERY
// reads, where it lives (SIOCGSKNS). Returns the handles of the namespaces
// not in KNOWN, their fds kept in FDS.
std::vector<NetnsHandle> namespaces_of_unlisted(SocketSource& sockets, const SocketQuery& query,
                                                const ProcessScan& ps,
                                                const std::vector<Socket>& listed,
                                                const std::vector<NetnsHandle>& known,
                                                std::vector<UniqueFd>& fds) {
  std::vector<NetnsHandle> out;
  std::unordered_set<uint64_t> seen;  // listed sockets, then those asked
  for (const Socket& s : listed) seen.insert(s.inode);
  std::vector<const Holding*> unlisted;
  std::unordered_set<pid_t> holders;
  for (const Holding& h : ps.holdings) {
    if (!seen.insert(h.inode).second) continue;
    unlisted.push_back(&h);
    holders.insert(h.pid);
  }
  if (unlisted.empty()) return out;
  if (query.listening_only || query.port) {
    std::unordered_set<uint64_t> namespaces;
    for (const Process& p : ps.processes) {
      if (holders.contains(p.pid)) namespaces.insert(p.netns);
    }
    std::vector<NetnsHandle> theirs;
    for (const NetnsHandle& h : known) {
      if (namespaces.erase(h.inode) != 0) theirs.push_back(h);
    }
    auto every_state = theirs.empty()
                           ? Result<SocketScan>(SocketScan{})
                           : sockets.scan(theirs, SocketQuery{.listening_only = false,
                                                              .protocols = query.protocols,
                                                              .port = {}});
    if (every_state) {
      std::unordered_set<uint64_t> there;
      for (const Socket& s : every_state->sockets) there.insert(s.inode);
      std::erase_if(unlisted, [&](const Holding* h) { return there.contains(h->inode); });
    }
  }
  auto reads = [&](Proto p) {
    return query.protocols.empty() || std::ranges::find(query.protocols, p) != query.protocols.end();
  };
  std::unordered_set<uint64_t> reached;
  for (const NetnsHandle& h : known) reached.insert(h.inode);
  for (const Holding* h : unlisted) {
    auto proto = ip_socket_proto(h->pid, h->fd);
    if (!proto || !reads(*proto)) continue;
    auto fd = netns_of_socket(*h);
    struct stat st {};
    if (!fd || fstat(fd->get(), &st) != 0 || !reached.insert(st.st_ino).second) continue;
    out.push_back(NetnsHandle{st.st_ino, "/proc/self/fd/" + std::to_string(fd->get()), ""});
    fds.push_back(std::move(*fd));
  }
  return out;
}

// Whether OPTIONS narrow the protocols to some by name (--vsock, a vsock
// port), not the default view's.
bool named_protocols(const CaptureOptions& options) {
  if (options.protocols.empty()) return false;
  for (const ProtoInfo& info : protocols()) {
    bool read = std::ranges::find(options.protocols, info.proto) != options.protocols.end();
    if (read != info.by_default) return true;
  }
  return false;
}

// The sockets of protocols the plan reads from the fd walk that the dumps
// did not list, as QUERY narrows them; then what cannot be listed, said when
// the protocol was asked for by name (in the default view this is no news on
// every run: doctor says it). Returns the protocols whose sockets, asked for
// by name, could not be listed.
std::vector<Proto> add_held_sockets(const CapturePlan& plan, const CaptureOptions& options,
                                    const ProcessScan& ps, const SocketQuery& query,
                                    const std::function<bool(uint64_t)>& asked,
                                    SocketScan& scan) {
  std::vector<Proto> unlisted;
  bool named = named_protocols(options);
  for (const SocketPart& part : plan.sockets) {
    if (part.reader == SocketReader::none && named) {
      unlisted.push_back(part.proto);
      scan.warnings.push_back(std::string(proto_name(part.proto)) +
                              " sockets not listed: " + part.reason);
    }
    if (part.reader != SocketReader::fd_walk) continue;
    std::unordered_set<uint64_t> listed;
    for (const Socket& s : scan.sockets) {
      if (s.proto == part.proto) listed.insert(s.inode);
    }
    for (const Socket& s : ps.held_sockets) {
      if (s.proto != part.proto || !asked(s.netns) || listed.contains(s.inode)) continue;
      if (query.listening_only && !s.is_listening()) continue;
      if (query.port && s.local_port != *query.port) continue;
      listed.insert(s.inode);
      scan.sockets.push_back(s);
    }
    if (named) {
      std::string name(proto_name(part.proto));
      scan.warnings.push_back("this kernel has no " + name + "_diag: " + name +
                              " sockets are listed only where a process portrel can see "
                              "holds them (from the bpf fd walk)");
    }
  }
  return unlisted;
}

// What the thread beside the process scan reads: our own namespace's dump
// and, where the plan says, its TCP listeners' options.
struct HostRead {
  Result<SocketScan> dump;
  std::optional<std::vector<ExactOptions>> listeners;
};

// Our own namespace needs nothing from the process scan: its dump runs beside
// it, on the other core, after the part of the scan that may go there (scan()
// does that part itself if it has not begun). Where the plan reads options of
// unheld sockets, those of our own namespace's TCP listeners are read there
// too, after the dump: the sockets no process holds are nearly always
// listeners there (a hidden daemon's), and the walk then costs nothing on the
// way.
std::future<HostRead> read_own_namespace_beside(const CaptureParts& parts,
                                                const CapturePlan& plan,
                                                const SocketQuery& query, uint64_t host) {
  OptionSource* listener_options = plan.own_listener_options ? parts.options : nullptr;
  return run_beside([&parts, listener_options, &query, host] {
    if (parts.beside) parts.beside();
    NetnsHandle own{host, "/proc/self/ns/net", ""};
    HostRead read{parts.sockets.scan({own}, query), std::nullopt};
    // In the snapshot's order now, while the walk still runs.
    if (read.dump) order_sockets(read.dump->sockets);
    // Not when the dump came with the listeners' options.
    auto unknown = [](const Socket& s) {
      return s.proto == Proto::tcp && s.is_listening() && s.reuseport_from != OptSource::bpf;
    };
    if (listener_options != nullptr && read.dump &&
        std::ranges::any_of(read.dump->sockets, unknown)) {
      TableQuery listeners{.ports = {}, .tcp = true, .udp = false, .tcp_listeners_only = true};
      if (query.port) listeners.ports.push_back(static_cast<uint16_t>(*query.port));
      std::vector<ExactOptions> found;
      std::vector<std::string> problems;
      listener_options->read({own}, listeners, found, problems);
      if (problems.empty()) read.listeners = std::move(found);
    }
    return read;
  });
}

// A namespace only a held socket leads to is entered through that socket: a
// handle for each is added to PS's, its fd returned, to be kept open until the
// dumps are done.
std::vector<UniqueFd> enter_unreached(ProcessScan& ps,
                                      const std::function<bool(uint64_t)>& asked) {
  std::vector<UniqueFd> fds;
  for (const auto& [inode, holding] : ps.unreached_netns) {
    if (!asked(inode)) continue;
    auto fd = netns_of_socket(holding);
    if (!fd) {
      ps.warnings.push_back("netns " + std::to_string(inode) + ", where pid " +
                            std::to_string(holding.pid) + " holds a socket and no process "
                            "lives, could not be entered (" + fd.error().message +
                            "): its sockets are not listed");
      continue;
    }
    ps.netns.push_back(NetnsHandle{inode, "/proc/self/fd/" + std::to_string(fd->get()), ""});
    fds.push_back(std::move(*fd));
  }
  return fds;
}

// The namespaces of the snapshot: each one WANTED, whether its dump succeeded,
// and the protocols it could not list.
std::vector<Netns> namespace_rows(const std::vector<NetnsHandle>& wanted, uint64_t host,
                                  const SocketScan& socks, const std::vector<Proto>& unlisted) {
  std::vector<Netns> namespaces;
  for (const NetnsHandle& h : wanted) {
    Netns n{h.inode, h.name, h.inode == host, false, {}};
    n.dumped = std::ranges::find(socks.dumped_netns, h.inode) != socks.dumped_netns.end();
    if (n.dumped) n.unlisted = unlisted;
    namespaces.push_back(std::move(n));
  }
  return namespaces;
}

}  // namespace

Result<Snapshot> capture_from(const CaptureParts& parts, const CapturePlan& plan,
                              const CaptureOptions& options) {
  SocketSource& socket_source = parts.sockets;
  std::function<bool(uint64_t)> asked = [&](uint64_t inode) {
    return options.only_netns.empty() ||
           std::ranges::find(options.only_netns, inode) != options.only_netns.end();
  };
  SocketQuery query{.listening_only = options.listening_only,
                    .protocols = options.protocols,
                    .port = options.port};
  // Our own namespace beside the process scan; the rest are known only once
  // processes are read.
  uint64_t host = own_netns();
  std::future<HostRead> host_read;
  if (host != 0 && asked(host)) host_read = read_own_namespace_beside(parts, plan, query, host);
  auto procs = parts.processes.scan();
  if (!procs) return std::unexpected(procs.error());
  ProcessScan& ps = *procs;
  std::vector<UniqueFd> reached_by_socket = enter_unreached(ps, asked);

  std::vector<NetnsHandle> wanted, others;
  bool host_listed = false;
  for (const NetnsHandle& h : ps.netns) {
    if (h.inode == host) host_listed = true;
    if (!asked(h.inode)) continue;
    wanted.push_back(h);
    if (h.inode != host) others.push_back(h);
  }
  if (!host_listed && host_read.valid()) {
    wanted.push_back(NetnsHandle{host, "/proc/self/ns/net", ""});
  }
  auto others_dump =
      others.empty() ? Result<SocketScan>() : socket_source.scan(others, query);
  HostRead own = host_read.valid() ? host_read.get() : HostRead{Result<SocketScan>(), {}};
  auto socks = merge_scans(std::move(own.dump), std::move(others_dump));
  if (!socks) return std::unexpected(socks.error());
  if (plan.socket_netns == CapturePlan::SocketNetns::ask_unlisted) {
    std::vector<NetnsHandle> found;
    for (NetnsHandle& h : namespaces_of_unlisted(socket_source, query, ps, socks->sockets,
                                                 ps.netns, reached_by_socket)) {
      if (asked(h.inode)) found.push_back(std::move(h));
    }
    if (!found.empty()) {
      wanted.insert(wanted.end(), found.begin(), found.end());
      socks = merge_scans(std::move(socks), socket_source.scan(found, query));
    }
  }
  std::vector<Proto> unlisted = add_held_sockets(plan, options, ps, query, asked, *socks);
  if (options.port) {
    std::erase_if(socks->sockets,
                  [&](const Socket& s) { return s.local_port != *options.port; });
  }
  // What the holders' fds and our listeners gave, at once; then the tables are
  // walked only for what is still unknown.
  if (own.listeners) {
    ps.options.insert(ps.options.end(), own.listeners->begin(), own.listeners->end());
  }
  apply_exact_options(ps.options, socks->sockets);
  if (plan.unheld_options && parts.options != nullptr) {
    add_unheld_options(*parts.options, wanted, socks->sockets, ps.warnings);
  }

  std::vector<std::string> warnings = std::move(ps.warnings);
  for (std::string& w : socks->warnings) warnings.push_back(std::move(w));
  if (options.probe_sockopts) probe_socket_options(socks->sockets, ps.holdings, warnings);
  infer_socket_options(socks->sockets);
  return Snapshot(std::move(ps.processes), std::move(socks->sockets),
                  std::move(ps.holdings), namespace_rows(wanted, host, *socks, unlisted),
                  std::move(warnings),
                  ps.fd_unreadable == 0 ? Unowned::hidden
                  : geteuid() == 0      ? Unowned::unreadable
                                        : Unowned::not_privileged,
                  std::move(ps.epoll));
}

std::string_view socket_reader_name(SocketReader reader) {
  switch (reader) {
    case SocketReader::tables: return "the kernel's tables (bpf iterators)";
    case SocketReader::sock_diag: return "sock_diag";
    case SocketReader::proc_net: return "/proc/net in each namespace";
    case SocketReader::fd_walk: return "the bpf fd walk";
    case SocketReader::none: return "nothing: its sockets cannot be listed";
    case SocketReader::absent: return "nothing to list";
  }
  return "?";
}

std::string describe(const SocketPart& part) {
  std::string text(socket_reader_name(part.reader));
  if (part.reader == SocketReader::proc_net) {
    text = "/proc/net/" + std::string(proto_name(part.proto)) + "{,6} in each namespace";
  }
  if (!part.reason.empty()) text += " (" + part.reason + ")";
  return text;
}

const SocketPart* CapturePlan::part(Proto proto) const {
  auto it = std::ranges::find(sockets, proto, &SocketPart::proto);
  return it == sockets.end() ? nullptr : &*it;
}

struct Capturer::Impl {
  CaptureOptions options;
  CapturePlan plan;
  std::unique_ptr<BpfSource> bpf;
  ProcfsSource procfs;
  std::optional<SockDiagSource> sockets;

  std::vector<Proto> protocols() const {
    if (!options.protocols.empty()) return options.protocols;
    std::vector<Proto> every;
    for (const ProtoInfo& info : portrel::protocols()) every.push_back(info.proto);
    return every;
  }

  // TCP and UDP rows from the kernel's tables, with their options, where it
  // loaded the programs: a third of sock_diag's cost per socket, and no
  // separate walk for the options of sockets no visible process holds.
  // One thread per namespace: our own is read beside the fd walk, which
  // keeps the other core busy, and a third thread only slows the walk down.
  void plan_bpf() {
    using Netns = CapturePlan::SocketNetns;
    bool rows = bpf->has_table_rows();
    plan.used = CaptureOptions::Source::bpf;
    plan.sockets = plan_socket_parts(
        protocols(), ReadersAvailable{.table_rows = rows, .fd_walk = true,
                                      .port_asked = options.port.has_value()});
    plan.table_rows = rows && !options.port;
    plan.tasks_beside = bpf->tasks_can_run_beside();
    plan.own_listener_options = plan.unheld_options = true;
    plan.socket_netns = Netns::from_walk;
    TableLister tables;
    if (rows) {
      tables = [source = bpf.get()](Proto proto, uint64_t netns) {
        return source->table_rows(proto, netns);
      };
    }
    sockets.emplace(0, SocketReaders::from(plan.sockets, std::move(tables)), 1);
  }

  void plan_procfs(std::string why) {
    plan.used = CaptureOptions::Source::procfs;
    plan.fallback_reason = std::move(why);
    plan.sockets = plan_socket_parts(
        protocols(), ReadersAvailable{.table_rows = false, .fd_walk = false,
                                      .port_asked = options.port.has_value()});
    plan.table_rows = plan.tasks_beside = false;
    plan.own_listener_options = plan.unheld_options = false;
    plan.socket_netns = CapturePlan::SocketNetns::ask_unlisted;
    sockets.emplace(0, SocketReaders::from(plan.sockets));
  }
};

Capturer::Capturer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Capturer::Capturer(Capturer&&) noexcept = default;
Capturer& Capturer::operator=(Capturer&&) noexcept = default;
Capturer::~Capturer() = default;

Result<Capturer> Capturer::open(const CaptureOptions& asked) {
  using Source = CaptureOptions::Source;
  auto impl = std::make_unique<Impl>();
  // Only vsock has ports past 16 bits: the IP protocols are not read for one.
  CaptureOptions& options = impl->options = asked;
  if (options.port && *options.port > UINT16_MAX) options.protocols = {Proto::vsock};
  if (options.source == Source::procfs) {
    impl->plan_procfs("");
    return Capturer(std::move(impl));
  }
  BpfSourceOptions bpf_options;
  if (options.port && *options.port <= UINT16_MAX) {
    bpf_options.filter.ports.push_back(static_cast<uint16_t>(*options.port));
  }
  bpf_options.filter.listening_only = options.listening_only;
  // TCP comes from the table rows, with its options, unless a port is asked
  // for; a listeners-only walk reads each socket's state anyway.
  bpf_options.filter.lean_walk = !options.port && !options.listening_only;
  bpf_options.process_details = options.process_details;
  auto bpf = BpfSource::open(std::move(bpf_options));
  if (!bpf) {
    if (options.source == Source::bpf) {
      return std::unexpected(Error{"bpf source: " + bpf.error().message});
    }
    impl->plan_procfs(bpf.error().message);
    return Capturer(std::move(impl));
  }
  impl->bpf = std::move(*bpf);
  impl->plan.bpf_programs = impl->bpf->origin();
  for (const BpfPartStatus& part : impl->bpf->parts()) {
    if (part.state == BpfPartState::loaded) continue;
    impl->plan.bpf_parts_missing.push_back(
        std::string(bpf_part_name(part.part)) + " " + std::string(bpf_part_state_name(part.state)) +
        " (" + part.reason + "); instead: " + std::string(bpf_part_fallback(part.part)));
  }
  impl->plan_bpf();
  return Capturer(std::move(impl));
}

Result<Snapshot> Capturer::capture() {
  Impl& c = *impl_;
  if (c.bpf) {
    CaptureParts parts{*c.bpf, *c.sockets, c.bpf.get(),
                       c.plan.tasks_beside ? c.bpf->task_pass_beside() : std::function<void()>()};
    auto snap = capture_from(parts, c.plan, c.options);
    if (snap) return snap;
    if (c.options.source == CaptureOptions::Source::bpf) {
      return std::unexpected(Error{"bpf source: " + snap.error().message});
    }
    // A read the programs loaded for cannot give (another pid namespace's
    // pids): /proc from now on.
    c.bpf.reset();
    c.plan_procfs(snap.error().message);
  }
  return capture_from(CaptureParts{c.procfs, *c.sockets}, c.plan, c.options);
}

const CapturePlan& Capturer::plan() const { return impl_->plan; }

Result<Snapshot> capture(const CaptureOptions& options, CapturePlan* plan) {
  auto capturer = Capturer::open(options);
  if (!capturer) return std::unexpected(capturer.error());
  auto snap = capturer->capture();
  if (plan != nullptr) *plan = capturer->plan();
  return snap;
}

}  // namespace portrel
