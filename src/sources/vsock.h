// A vsock socket row, as vsock_diag and the bpf fd walk both give it.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "portrel/model.h"

namespace portrel {

/// A vsock socket as vsock_diag or the bpf fd walk gives it: CIDs, 32-bit
/// ports and the TCP_* state the kernel keeps for it. An unconnected peer (CID
/// any, port VMADDR_PORT_ANY) reads as no peer: port 0.
inline Socket vsock_socket(uint64_t netns, uint64_t inode, uint64_t cookie, uint8_t state,
                           uint32_t local_cid, uint32_t local_port, uint32_t remote_cid,
                           uint32_t remote_port, uid_t uid) {
  constexpr uint32_t kPortAny = 0xFFFFFFFF;  // VMADDR_PORT_ANY
  Socket s;
  s.inode = inode;
  s.cookie = cookie;
  s.netns = netns;
  s.proto = Proto::vsock;
  s.family = kFamilyVsock;
  s.state = state;
  s.local_addr = Address::vsock(local_cid);
  s.local_port = local_port == kPortAny ? 0 : local_port;
  s.remote_addr = Address::vsock(remote_cid);
  s.remote_port = remote_port == kPortAny ? 0 : remote_port;
  s.uid = uid;
  return s;
}

}  // namespace portrel
