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
  PORTREL_ROW_OPTIONS = 8, /* a table row: reuse, REUSEPORT and V6ONLY are known */
  PORTREL_LEAN = 16,       /* a held TCP socket whose struct sock was not read:
                              no port, state, namespace or options */
};

/* Every record starts with its kind and its whole size in bytes (a multiple of
 * 8), so that one stream can carry records of several kinds. */
enum {
  PORTREL_REC_SOCK = 1,
  PORTREL_REC_HOLDER = 2,
  PORTREL_REC_ROW = 3,
  PORTREL_REC_VSOCK = 4,
};
struct portrel_rec_head {
  __u16 kind;
  __u16 size;
};

/* One inet socket: a held fd (iter/task_file: tgid, fd set) or a socket of a
 * protocol table (iter/tcp, iter/udp: tgid = 0, fd = -1). */
struct portrel_sock_rec {
  struct portrel_rec_head head;
  __u32 tgid;
  __u64 inode;
  __u64 netns;   /* inode of the socket's network namespace */
  __s32 fd;
  __u16 port;    /* local port, host order */
  __u16 protocol;
  __u8 family;   /* AF_INET or AF_INET6 */
  __u8 state;
  __u8 reuse;    /* skc_reuse: SO_REUSEADDR (SK_CAN_REUSE = 1) */
  __u8 flags;    /* PORTREL_* */
  __u32 pad;
};

/* One held vsock socket (iter/task_file): what vsock_diag would say of it,
 * for kernels without vsock_diag. CIDs and ports in host order. */
struct portrel_vsock_rec {
  struct portrel_rec_head head;
  __u32 tgid;
  __u64 inode;
  __u64 netns;
  __s32 fd;
  __u32 uid;        /* sk_uid: who made the socket */
  __u32 local_cid;
  __u32 local_port;
  __u32 remote_cid;
  __u32 remote_port;
  __u8 state;       /* TCP_* as vsock keeps it: LISTEN, ESTABLISHED, CLOSE, ... */
  __u8 type;        /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
  __u8 flags;       /* PORTREL_CLOEXEC */
  __u8 pad[5];
};

/* One socket of a protocol table as sock_diag lists it (iter/tcp and iter/udp
 * in the reader's network namespace), with its options when it is a full
 * socket (PORTREL_ROW_OPTIONS): TIME_WAIT and request sockets have none. */
struct portrel_row_rec {
  struct portrel_rec_head head;
  __u8 family;     /* AF_INET or AF_INET6 */
  __u8 protocol;   /* IPPROTO_TCP or IPPROTO_UDP */
  __u8 state;      /* as sock_diag says it: TIME_WAIT's substate, SYN_RECV for requests */
  __u8 flags;      /* PORTREL_REUSEPORT, PORTREL_V6ONLY, PORTREL_ROW_OPTIONS */
  __u16 local_port;   /* host order */
  __u16 remote_port;  /* host order */
  __u8 reuse;      /* skc_reuse, with PORTREL_ROW_OPTIONS */
  __u8 pad[3];
  __u32 uid;
  __u32 bound_dev;
  __u32 rx_queue;
  __u32 tx_queue;
  __u64 inode;     /* 0 for sockets with no file */
  __u64 cookie;
  __u8 local_addr[16];   /* an IPv4 address in its first 4 bytes */
  __u8 remote_addr[16];
};

/* What /proc/PID/exe and /proc/PID/cmdline would say of a holder, written by
 * the sleepable fd walk just before the first socket record of each process it
 * emits: exe_len bytes of the exe path, then cmdline_len bytes of the raw
 * cmdline (NUL-separated), then padding up to head.size. */
enum {
  PORTREL_EXE_AS_BEFORE = 1,   /* the exe file of the last record that gave a path: none */
  PORTREL_EXE_UNREAD = 2,      /* the path did not fit or could not be made: ask /proc */
  PORTREL_CMDLINE_UNREAD = 4,  /* too long, rewritten by setproctitle, or unreadable */
};
#define PORTREL_EXE_MAX 4096      /* PATH_MAX, with the NUL */
#define PORTREL_CMDLINE_MAX 16384 /* longer cmdlines (from this length on) are read from /proc */
struct portrel_holder_rec {
  struct portrel_rec_head head;
  __u32 flags;        /* PORTREL_EXE_*, PORTREL_CMDLINE_UNREAD */
  __u32 exe_len;
  __u32 cmdline_len;
  struct portrel_task_rec task;
};

/* A reader's entry in the portrel_filter map, keyed by pid_tgid of the reading
 * thread: what it wants, written before each read, and what the programs keep
 * while that read goes on. */
struct portrel_filter {
  __u32 filter_ports;    /* emit only sockets whose local port is wanted */
  __u32 listening_only;  /* drop TCP sockets that are not listening */
  __u32 stop_after_listeners;  /* iter/tcp: end the walk at the first non-listener */
  __u32 holder_details;  /* sleepable fd walk: emit portrel_holder_rec */
  __u32 lean;            /* fd walk: leave TCP sockets' struct sock unread */
  __u32 pad0;
  __u8 wanted_ports[65536 / 8];
  /* Kept by the sleepable fd walk (zero at the start of a read). */
  __u32 last_tgid;       /* the process of the last holder record */
  __u32 pad;
  __u64 last_exe;        /* its exe file */
  char exe[PORTREL_EXE_MAX];
  char cmdline[PORTREL_CMDLINE_MAX];
};

/* Threads that may read at once before stale entries are collected. */
#define PORTREL_MAX_READERS 1024

#endif
