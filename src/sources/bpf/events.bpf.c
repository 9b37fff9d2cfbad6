// SPDX-License-Identifier: GPL-2.0
/* Hints for `portrel watch` and `portrel record`: a TCP socket began or
 * stopped listening (the inet_sock_set_state tracepoint, BTF-typed: no tracefs
 * needed), an inet socket was bound (fexit of inet_bind and inet6_bind, or
 * kretprobes where the kernel refuses trampolines), a bound UDP socket left its
 * table (fentry or kprobe of udp_lib_unhash). Each is one small
 * record in a ring buffer. User space only counts them and reads the relation
 * again, so what it prints is still exactly what two captures differ in; a
 * record the full ring could not take is counted in portrel_events_lost. */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "events_bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define TCP_LISTEN 10

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} portrel_events SEC(".maps");

__u64 portrel_events_lost = 0;

static __always_inline void emit(__u8 kind, __u16 port) {
  struct portrel_event *e = bpf_ringbuf_reserve(&portrel_events, sizeof *e, 0);
  if (!e) {
    __sync_fetch_and_add(&portrel_events_lost, 1);
    return;
  }
  e->tgid = bpf_get_current_pid_tgid() >> 32;
  e->port = port;
  e->kind = kind;
  e->pad = 0;
  bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(portrel_set_state, const struct sock *sk, const int oldstate, const int newstate) {
  if (oldstate != TCP_LISTEN && newstate != TCP_LISTEN) return 0;
  emit(newstate == TCP_LISTEN ? PORTREL_EVENT_LISTEN : PORTREL_EVENT_UNLISTEN,
       sk->__sk_common.skc_num);
  return 0;
}

SEC("fexit/inet_bind")
int BPF_PROG(portrel_inet_bind, struct socket *sock, struct sockaddr *uaddr, int addr_len,
             int ret) {
  if (ret == 0 && sock->sk) emit(PORTREL_EVENT_BIND, sock->sk->__sk_common.skc_num);
  return 0;
}

SEC("fexit/inet6_bind")
int BPF_PROG(portrel_inet6_bind, struct socket *sock, struct sockaddr *uaddr, int addr_len,
             int ret) {
  if (ret == 0 && sock->sk) emit(PORTREL_EVENT_BIND, sock->sk->__sk_common.skc_num);
  return 0;
}

SEC("fentry/udp_lib_unhash")
int BPF_PROG(portrel_udp_unhash, struct sock *sk) {
  emit(PORTREL_EVENT_UNBIND, sk->__sk_common.skc_num);
  return 0;
}

/* The same hooks as kprobes, for kernels that refuse trampolines (fentry and
 * fexit): the port is not read at a return probe, and is not needed. */
SEC("kretprobe/inet_bind")
int BPF_KRETPROBE(portrel_inet_bind_k, int ret) {
  if (ret == 0) emit(PORTREL_EVENT_BIND, 0);
  return 0;
}

SEC("kretprobe/inet6_bind")
int BPF_KRETPROBE(portrel_inet6_bind_k, int ret) {
  if (ret == 0) emit(PORTREL_EVENT_BIND, 0);
  return 0;
}

SEC("kprobe/udp_lib_unhash")
int BPF_KPROBE(portrel_udp_unhash_k) {
  emit(PORTREL_EVENT_UNBIND, 0);
  return 0;
}
