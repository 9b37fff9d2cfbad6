/* The records the bpf iterators of portrel.bpf.c write with bpf_seq_write, shared
 * with the loader (bpf_source.cc): fixed-size, native byte order, no padding
 * holes, so user space reads them as an array. */
#ifndef PORTREL_BPF_H
#define PORTREL_BPF_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* One thread-group leader (iter/task). */
struct portrel_task_rec {
  __u32 tgid;
  __u32 ppid;
  __u32 uid;       /* real uid */
  __u32 pad;
  __u64 start_ns;  /* start_boottime, ns after boot */
  __u64 netns;     /* inode of the task's network namespace; 0 for a zombie */
  __u64 pidns;     /* inode of its active pid namespace */
  __u64 exe_id;    /* identity of mm->exe_file (equal for forks sharing it); 0: none */
  char comm[16];
};

enum {
  PORTREL_CLOEXEC = 1,
  PORTREL_REUSEPORT = 2,
  PORTREL_V6ONLY = 4,
};

/* One inet socket: a held fd (iter/task_file: tgid, fd set) or a socket of a
 * protocol table (iter/tcp, iter/udp: tgid = 0, fd = -1). */
struct portrel_sock_rec {
  __u64 inode;
  __u64 cookie;
  __u64 netns;   /* inode of the socket's network namespace */
  __u32 tgid;
  __s32 fd;
  __u16 port;    /* local port, host order */
  __u16 protocol;
  __u8 family;   /* AF_INET or AF_INET6 */
  __u8 state;
  __u8 reuse;    /* skc_reuse: SO_REUSEADDR (SK_CAN_REUSE = 1) */
  __u8 flags;    /* PORTREL_* */
};

/* A reader's filter (the portrel_filter map, keyed by pid_tgid of the reading
 * thread). */
struct portrel_filter {
  __u32 filter_ports;    /* emit only sockets whose local port is wanted */
  __u32 listening_only;  /* drop TCP sockets that are not listening */
  __u32 stop_after_listeners;  /* iter/tcp: end the walk at the first non-listener */
  __u32 pad;
  __u8 wanted_ports[65536 / 8];
};

/* Threads that may read at once before stale entries are collected. */
#define PORTREL_MAX_READERS 1024

#endif
