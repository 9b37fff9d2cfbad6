// Hand-built snapshots for the analysis tests: processes, sockets and holdings
// written as literals, so each test states exactly the relation it classifies.
#pragma once

#include <string>
#include <vector>

#include "portrel/snapshot.h"

namespace portrel::testing {

inline constexpr uint64_t kHostNs = 4026531840;

inline Process proc(pid_t pid, pid_t ppid, std::string comm, std::string exe = "",
                    uint64_t start = 0) {
  Process p;
  p.pid = pid;
  p.ppid = ppid;
  p.comm = comm;
  p.exe = exe.empty() ? "/usr/bin/" + comm : exe;
  p.start_time = start == 0 ? uint64_t(pid) : start;
  return p;
}

inline Socket sock(uint64_t inode, Proto proto, const char* addr, uint16_t port,
                   uint8_t state = 0, uint64_t netns = kHostNs) {
  Socket s;
  s.inode = inode;
  s.netns = netns;
  s.proto = proto;
  s.local_addr = *Address::parse(addr);
  s.family = s.local_addr.family;
  s.local_port = port;
  s.state = state != 0 ? state : (proto == Proto::tcp ? kStateListen : kStateClose);
  s.remote_addr = s.family == 4 ? *Address::parse("0.0.0.0") : *Address::parse("::");
  return s;
}

inline Snapshot snapshot(std::vector<Process> procs, std::vector<Socket> socks,
                         std::vector<Holding> holds, std::vector<EpollWatch> epoll = {}) {
  return Snapshot(std::move(procs), std::move(socks), std::move(holds),
                  {Netns{kHostNs, "", true, true, {}}}, {}, Unowned::hidden, std::move(epoll));
}

inline std::vector<const Socket*> all(const Snapshot& snap) {
  std::vector<const Socket*> out;
  for (const Socket& s : snap.sockets()) out.push_back(&s);
  return out;
}

}  // namespace portrel::testing
