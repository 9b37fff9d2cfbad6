// The audit rules, one function each. They see only the relation and the wait
// evidence: a rule that would need to guess (who created a socket) states the
// evidence it used in its explanation instead of claiming a fact.
#include "analysis/audit.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "analysis/sharing.h"
#include "util/text.h"

namespace portrel {
namespace {

std::string where(const Socket& s) {
  std::string addr = s.local_addr.to_string();
  if (s.family == 6) addr = "[" + addr + "]";
  return std::string(proto_name(s.proto)) + " " + addr + ":" + std::to_string(s.local_port);
}

std::string who(const Snapshot& snap, pid_t pid) {
  const Process* p = snap.process(pid);
  return (p ? sanitize(p->comm) + " " : std::string()) + std::to_string(pid);
}

std::string who_list(const Snapshot& snap, std::span<const pid_t> pids) {
  std::string out;
  constexpr size_t kShown = 5;
  for (size_t i = 0; i < pids.size() && i < kShown; ++i) {
    out += (i ? ", " : "") + who(snap, pids[i]);
  }
  if (pids.size() > kShown) out += " and " + with_commas(pids.size() - kShown) + " more";
  return out;
}

std::vector<pid_t> sorted(std::set<pid_t> pids) { return {pids.begin(), pids.end()}; }

// Processes the kernel wakes when this socket becomes readable, by epoll watch:
// pid -> whether every one of its watches is EPOLLEXCLUSIVE.
std::map<pid_t, bool> epoll_waiters(const Snapshot& snap, const Socket& s,
                                    std::span<const EpollWatch> extra) {
  std::set<pid_t> holders;
  for (const Holding& h : snap.holders(s.inode)) holders.insert(h.pid);
  std::map<pid_t, bool> out;
  auto note = [&](const EpollWatch& w) {
    if (w.inode != s.inode || !holders.contains(w.pid)) return;
    bool exclusive = (w.events & (1u << 28)) != 0;
    auto [it, fresh] = out.emplace(w.pid, exclusive);
    if (!fresh) it->second = it->second && exclusive;
  };
  for (const EpollWatch& w : snap.watchers(s.inode)) note(w);
  for (const EpollWatch& w : extra) note(w);
  return out;
}

// Servers that keep their listeners inheritable across exec by design, by
// comm: the finding stays, as information, with the reason.
struct Deliberate {
  std::string_view comm;
  std::string_view why;
};
constexpr Deliberate kDeliberateInheritance[] = {
    {"nginx",
     "nginx keeps its listeners open across exec on purpose: its binary upgrade "
     "(SIGUSR2) executes the new nginx with them, passed in the NGINX environment "
     "variable, so the port never closes."},
    {"haproxy",
     "haproxy keeps its listeners open across exec on purpose: a reload (-sf/-x) "
     "hands them to the new process, so the port never closes."},
};

// The design reason when every process of PIDS is the same server of
// kDeliberateInheritance; "" otherwise.
std::string_view deliberate(const Snapshot& snap, std::span<const pid_t> pids) {
  for (const Deliberate& d : kDeliberateInheritance) {
    bool all = !pids.empty() && std::ranges::all_of(pids, [&](pid_t pid) {
      const Process* p = snap.process(pid);
      return p != nullptr && p->comm == d.comm;
    });
    if (all) return d.why;
  }
  return "";
}

void cloexec(const Snapshot& snap, const Socket& s, std::vector<Finding>& out) {
  std::set<pid_t> open;
  for (const Holding& h : snap.holders(s.inode)) {
    if (!h.cloexec) open.insert(h.pid);
  }
  if (open.empty()) return;
  Finding f{FindingKind::cloexec, Severity::warning, {&s}, sorted(open), "", "", ""};
  f.summary = where(s) + ": held without FD_CLOEXEC by " + who_list(snap, f.pids);
  f.explanation =
      "A descriptor without the close-on-exec flag survives execve(): any program "
      "these processes execute (a helper script, a log rotator, a restarted child) "
      "inherits the listening socket and keeps the port bound after the server "
      "itself exits, so the next start fails with \"Address already in use\". "
      "Forked workers that do not exec are not affected, but the flag is per "
      "descriptor and travels with every fork.";
  f.fix =
      "Create listeners with SOCK_CLOEXEC (or fcntl(fd, F_SETFD, FD_CLOEXEC)); clear "
      "the flag only on a socket deliberately handed to an exec'd program (socket "
      "activation, binary upgrade), just before that exec.";
  if (std::string_view why = deliberate(snap, f.pids); !why.empty()) {
    f.severity = Severity::info;
    f.explanation = std::string(why) + " " + f.explanation;
    f.fix = "Nothing, if the binary upgrade is what these listeners are kept for; "
            "otherwise: " + f.fix;
  }
  out.push_back(std::move(f));
}

// Findings of one kind and severity about the same processes, one per socket,
// become one finding about all those sockets: nginx's four listeners without
// FD_CLOEXEC are one thing to fix, not four.
void group_cloexec(const Snapshot& snap, std::vector<Finding>& findings) {
  std::vector<Finding> out;
  std::map<std::pair<Severity, std::vector<pid_t>>, size_t> index;
  for (Finding& f : findings) {
    if (f.kind != FindingKind::cloexec) {
      out.push_back(std::move(f));
      continue;
    }
    auto [it, fresh] = index.try_emplace({f.severity, f.pids}, out.size());
    if (fresh) {
      out.push_back(std::move(f));
      continue;
    }
    Finding& group = out[it->second];
    group.sockets.insert(group.sockets.end(), f.sockets.begin(), f.sockets.end());
  }
  for (Finding& f : out) {
    if (f.kind != FindingKind::cloexec || f.sockets.size() < 2) continue;
    // Each address once (SO_REUSEPORT siblings share one), with its count.
    std::vector<std::pair<std::string, size_t>> places;
    for (const Socket* s : f.sockets) {
      std::string w = where(*s);
      auto it = std::ranges::find(places, w, &std::pair<std::string, size_t>::first);
      if (it == places.end()) {
        places.emplace_back(w, 1);
      } else {
        ++it->second;
      }
    }
    std::string list;
    for (size_t i = 0; i < places.size() && i < 6; ++i) {
      list += (i ? ", " : "") + places[i].first +
              (places[i].second > 1 ? " (\u00d7" + std::to_string(places[i].second) + ")" : "");
    }
    if (places.size() > 6) list += " and " + with_commas(places.size() - 6) + " more";
    f.summary = plural(f.sockets.size(), "listener", "listeners") +
                " held without FD_CLOEXEC by " + who_list(snap, f.pids) + ": " + list;
  }
  findings = std::move(out);
}

void leaked(const Snapshot& snap, const Socket& s, const AuditEvidence& ev,
            std::vector<Finding>& out) {
  auto holders = snap.holders(s.inode);
  if (holders.empty()) return;
  std::set<pid_t> pids;
  for (const Holding& h : holders) pids.insert(h.pid);

  // (a) Another program: a holder whose executable differs from the holder it
  // inherited the socket from (its nearest ancestor holding it), or, among
  // unrelated holders, from the oldest one's. PID 1 passing sockets to the
  // services it starts is socket activation, not a leak.
  std::set<pid_t> foreign;
  std::vector<pid_t> roots = holder_roots(snap, s.inode);
  auto exe_of = [&](pid_t pid) -> std::string {
    const Process* p = snap.process(pid);
    return p ? p->exe : "";
  };
  for (pid_t pid : pids) {
    const Process* p = snap.process(pid);
    for (int depth = 0; p != nullptr && depth < 4096; ++depth) {
      if (p->ppid <= 1 || p->ppid == p->pid) break;
      if (pids.contains(p->ppid)) {
        std::string mine = exe_of(pid), theirs = exe_of(p->ppid);
        if (!mine.empty() && !theirs.empty() && mine != theirs) foreign.insert(pid);
        break;
      }
      p = snap.process(p->ppid);
    }
  }
  if (roots.size() > 1) {
    auto oldest = std::ranges::min_element(roots, {}, [&](pid_t pid) {
      const Process* p = snap.process(pid);
      return std::make_pair(p ? p->start_time : UINT64_MAX, pid);
    });
    std::string reference = exe_of(*oldest);
    for (pid_t pid : roots) {
      if (pid == 1 || *oldest == 1) continue;
      std::string mine = exe_of(pid);
      if (!reference.empty() && !mine.empty() && mine != reference) foreign.insert(pid);
    }
  }
  if (!foreign.empty()) {
    Finding f{FindingKind::leaked, Severity::warning, {&s}, sorted(foreign), "", "", ""};
    f.summary = where(s) + ": held by " + who_list(snap, f.pids) +
                ", a different program from the process it came from";
    f.explanation =
        "These holders run a different executable from the process they got the "
        "listening socket from: it crossed an execve() because it was not "
        "close-on-exec. The new program does not know it holds the socket, never "
        "accepts on it, and keeps the port bound (with connections queueing "
        "unanswered) for as long as it lives, including after the server that "
        "created it has exited.";
    f.fix =
        "Stop or restart the listed processes to release the port now; set "
        "FD_CLOEXEC on the listener in the program that creates it so it stops "
        "leaking into programs it executes.";
    out.push_back(std::move(f));
    return;
  }

  // (b) Creator gone: a TCP listener that crossed an exec in every holder (no
  // FD_CLOEXEC anywhere) and that no holder serves: none blocked in accept() on
  // it, none watching it with epoll. Judged only when waits were read.
  if (!ev.waits_read || s.proto != Proto::tcp) return;
  bool all_open = std::ranges::none_of(holders, &Holding::cloexec);
  bool served = !epoll_waiters(snap, s, ev.epoll).empty() ||
                std::ranges::any_of(ev.accept_waits, [&](const AcceptWait& w) {
                  return w.inode == s.inode && pids.contains(w.pid);
                });
  if (!all_open || served) return;
  Finding f{FindingKind::leaked, Severity::warning, {&s}, sorted(pids), "", "", ""};
  f.summary = where(s) + ": held only by " + who_list(snap, f.pids) +
              ", which never accept on it (its creator is gone)";
  f.explanation =
      "Every holder has the listening socket open without FD_CLOEXEC, and none of "
      "them serves it: no thread is blocked in accept() on it and no epoll set "
      "watches it. This is what a socket looks like after the server that created "
      "it exited while a child it had started kept the inherited descriptor: the "
      "port stays bound (\"Address already in use\" on restart) and the kernel "
      "keeps completing handshakes that nobody accepts. A holder that serves it "
      "with poll(), select() or io_uring would look the same; check before "
      "killing it.";
  f.fix =
      "Stop the listed processes to release the port; in the server, create the "
      "listener with SOCK_CLOEXEC so children it executes do not inherit it.";
  out.push_back(std::move(f));
}

void herd(const Snapshot& snap, const Socket& s, const AuditEvidence& ev,
          std::vector<Finding>& out) {
  std::set<pid_t> holders;
  for (const Holding& h : snap.holders(s.inode)) holders.insert(h.pid);
  if (holders.size() < 2) return;
  std::set<pid_t> plain;
  for (const auto& [pid, exclusive] : epoll_waiters(snap, s, ev.epoll)) {
    if (!exclusive) plain.insert(pid);
  }
  if (plain.size() < 2) return;
  Finding f{FindingKind::herd, Severity::warning, {&s}, sorted(plain), "", "", ""};
  f.summary = where(s) + ": " + with_commas(plain.size()) +
              " processes wait on one socket through epoll without EPOLLEXCLUSIVE (" +
              who_list(snap, f.pids) + ")";
  f.explanation =
      "The socket is one accept queue shared by these processes, and each watches "
      "it from its own epoll set without EPOLLEXCLUSIVE. Every incoming connection "
      "then wakes all of them; one wins the accept() and the others find the queue "
      "empty (EAGAIN) and go back to sleep: the thundering herd, which costs CPU "
      "and latency in proportion to the number of workers. (Processes that share "
      "one epoll instance created before fork are counted once each, so they may "
      "be reported here too.)";
  f.fix =
      "Add the listener with EPOLLEXCLUSIVE (epoll_ctl(EPOLL_CTL_ADD, EPOLLIN | "
      "EPOLLEXCLUSIVE)), or give each worker its own SO_REUSEPORT socket, or "
      "serialise accepting with an accept mutex (nginx: accept_mutex on).";
  out.push_back(std::move(f));
}

void exposed(const Snapshot& snap, std::span<const Socket* const> listeners,
             std::vector<Finding>& out) {
  std::map<std::tuple<Proto, uint8_t, uint32_t>, std::vector<const Socket*>> groups;
  for (const Socket* s : listeners) {
    const Netns* ns = snap.netns(s->netns);
    if (ns == nullptr || !ns->is_host || !s->local_addr.is_wildcard()) continue;
    if (s->bound_dev != 0) continue;  // bound to one interface: not every address
    // vsock's CID any is reached from the hypervisor only, not from a network.
    if (s->family == kFamilyVsock) continue;
    groups[{s->proto, s->family, s->local_port}].push_back(s);
  }
  for (auto& [key, sockets] : groups) {
    std::set<pid_t> pids;
    for (const Socket* s : sockets) {
      for (const Holding& h : snap.holders(s->inode)) pids.insert(h.pid);
    }
    Finding f{FindingKind::exposed, Severity::info, sockets, sorted(pids), "", "", ""};
    f.summary = where(*sockets.front()) + ": listening on every address of the host" +
                (f.pids.empty() ? std::string() : " (" + who_list(snap, f.pids) + ")");
    f.explanation =
        "A wildcard address (0.0.0.0 or ::) in the host's network namespace accepts "
        "traffic on every interface, including public ones, unless a firewall stops "
        "it. That is right for a public service and a surprise for anything meant "
        "to be local (a database, a debug port, a metrics endpoint).";
    f.fix =
        "If it should be local, bind 127.0.0.1 or ::1 (or one interface's "
        "address); otherwise make sure a firewall rule covers the port.";
    out.push_back(std::move(f));
  }
}

void unowned(const Snapshot& snap, std::span<const Socket* const> sockets,
             std::vector<Finding>& out) {
  std::map<Unowned, std::vector<const Socket*>> by_reason;
  for (const Socket* s : sockets) {
    Unowned why = snap.why_unowned(*s);
    if (why != Unowned::none && why != Unowned::no_file) by_reason[why].push_back(s);
  }
  for (auto& [why, list] : by_reason) {
    Finding f{FindingKind::unowned, Severity::info, list, {}, "", "", ""};
    f.summary = with_commas(list.size()) + (list.size() == 1 ? " socket" : " sockets") +
                " with no visible holder (first: " + where(*list.front()) + "): " +
                std::string(unowned_reason(why));
    switch (why) {
      case Unowned::not_privileged:
        f.explanation =
            "Some processes' fd tables could not be read without privilege, so the "
            "sockets they hold cannot be attributed to them.";
        f.fix = "Run portrel as root.";
        break;
      case Unowned::unreadable:
        f.explanation =
            "Some fd tables were unreadable even as root (a protected or hidden "
            "process, or one in another user namespace); its sockets stay in the "
            "relation without an owner.";
        f.fix =
            "Look for the holder from inside its container or user namespace "
            "(nsenter -t PID -a portrel who PORT).";
        break;
      default:
        f.explanation =
            "Every fd table visible here was read and none holds these sockets: "
            "their holder lives in another pid namespace (a container with its own "
            "/proc), is hidden from this /proc, or exited during the scan.";
        f.fix =
            "Run portrel inside the container's pid namespace, or on the host's "
            "/proc, to see the holder; a socket gone from the next run belonged to "
            "a process that exited.";
        break;
    }
    out.push_back(std::move(f));
  }
}

}  // namespace

std::string_view severity_name(Severity severity) {
  switch (severity) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::error: return "error";
  }
  return "?";
}

std::string_view finding_kind_name(FindingKind kind) {
  switch (kind) {
    case FindingKind::cloexec: return "cloexec";
    case FindingKind::leaked: return "leaked";
    case FindingKind::herd: return "herd";
    case FindingKind::exposed: return "exposed";
    case FindingKind::unowned: return "unowned";
  }
  return "?";
}

std::vector<Finding> audit(const Snapshot& snap, std::span<const Socket* const> sockets,
                           const AuditEvidence& evidence) {
  std::vector<const Socket*> listeners;
  for (const Socket* s : sockets) {
    if (s->is_listening() && s->local_port != 0) listeners.push_back(s);
  }
  std::vector<Finding> out;
  for (const Socket* s : listeners) {
    cloexec(snap, *s, out);
    leaked(snap, *s, evidence, out);
    herd(snap, *s, evidence, out);
  }
  group_cloexec(snap, out);
  exposed(snap, listeners, out);
  unowned(snap, sockets, out);
  std::ranges::stable_sort(out, [](const Finding& a, const Finding& b) {
    auto port = [](const Finding& f) {
      return f.sockets.empty() ? uint32_t{0} : f.sockets.front()->local_port;
    };
    return std::make_tuple(-int(a.severity), a.kind, port(a)) <
           std::make_tuple(-int(b.severity), b.kind, port(b));
  });
  return out;
}

bool has_warnings(std::span<const Finding> findings) {
  return std::ranges::any_of(
      findings, [](const Finding& f) { return f.severity >= Severity::warning; });
}

}  // namespace portrel
