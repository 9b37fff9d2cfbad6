// SPDX-License-Identifier: GPL-2.0
/* bpf iterators behind the bpf source: every thread-group leader (iter/task),
 * every inet socket fd of every process (iter/task_file, recognised with
 * bpf_sock_from_file) and every TCP/UDP socket of the reader's network namespace
 * (iter/tcp, iter/udp), each as one binary record (portrel_bpf.h). Fields come
 * from direct BTF pointer access, which the verifier checks; CO-RE relocates
 * them to the running kernel. A reader's entry in the portrel_filter map filters
 * rows in the kernel. A sleepable twin of the fd walk (iter.s/task_file, kernel
 * 5.18 and later) also writes each holder's exe path and cmdline, which
 * otherwise take a readlink and an open/read/close of /proc per process. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "portrel_bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set before loading (.rodata: the verifier sees a constant and prunes the
 * branch not taken). Cleared where the verifier refuses bpf_d_path on the exe
 * file, which some kernels see as untrusted when reached through task->mm: the
 * holder record then says PORTREL_EXE_UNREAD and the reader takes the path from
 * /proc/PID/exe. */
const volatile bool portrel_exe_d_path = true;

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define SOCK_STREAM 1
#define TCP_LISTEN 10
#define TCP_TIME_WAIT 6
#define TCP_NEW_SYN_RECV 12
#define TCP_SYN_RECV 3
#define IPPROTO_UDP 17
#define AF_VSOCK 40

/* The fields of a vsock socket portrel reads, relocated by name to the
 * running kernel's struct vsock_sock (vmlinux's, or the vsock module's BTF).
 * A kernel without vsock has no such type: bpf_core_type_exists() is then
 * false, and the verifier drops the code that reads them. */
struct sockaddr_vm___portrel {
  unsigned int svm_port;
  unsigned int svm_cid;
} __attribute__((preserve_access_index));
struct vsock_sock___portrel {
  struct sockaddr_vm___portrel local_addr;
  struct sockaddr_vm___portrel remote_addr;
} __attribute__((preserve_access_index));

/* What the reading thread wants, keyed by its bpf_get_current_pid_tgid(): the
 * programs stay loaded (pinned) across runs of portrel, so a filter cannot live
 * in .bss; each reader writes its own entry before it reads and deletes it after.
 * No entry: every socket. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(max_entries, PORTREL_MAX_READERS);
  __type(key, __u64);
  __type(value, struct portrel_filter);
} portrel_filter SEC(".maps");

static __always_inline struct portrel_filter *reader_filter(void) {
  __u64 key = bpf_get_current_pid_tgid();
  return bpf_map_lookup_elem(&portrel_filter, &key);
}

static __always_inline int port_wanted(const struct portrel_filter *f, __u16 port) {
  if (!f || !f->filter_ports) return 1;
  return (f->wanted_ports[port >> 3] >> (port & 7)) & 1;
}

/* Fills the struct sock part of a record; 0 when SK is not an inet socket or is
 * filtered out by F, the reader's entry. */
static __always_inline int fill_sock(struct portrel_sock_rec *rec, struct sock *sk,
                                     const struct portrel_filter *f) {
  __u16 family = sk->__sk_common.skc_family;
  if (family != AF_INET && family != AF_INET6) return 0;
  rec->head.kind = PORTREL_REC_SOCK;
  rec->head.size = sizeof *rec;
  rec->port = sk->__sk_common.skc_num;
  if (!port_wanted(f, rec->port)) return 0;
  rec->family = family;
  rec->protocol = sk->sk_protocol;
  rec->state = sk->__sk_common.skc_state;
  if (f && f->listening_only && rec->protocol == IPPROTO_TCP && sk->sk_type == SOCK_STREAM &&
      rec->state != TCP_LISTEN) {
    return 0;
  }
  rec->reuse = BPF_CORE_READ_BITFIELD(&sk->__sk_common, skc_reuse);
  if (BPF_CORE_READ_BITFIELD(&sk->__sk_common, skc_reuseport)) rec->flags |= PORTREL_REUSEPORT;
  if (BPF_CORE_READ_BITFIELD(&sk->__sk_common, skc_ipv6only)) rec->flags |= PORTREL_V6ONLY;
  rec->netns = sk->__sk_common.skc_net.net->ns.inum;
  return 1;
}

static __always_inline void fill_task(struct portrel_task_rec *rec, struct task_struct *task) {
  rec->tgid = task->tgid;
  /* Direct loads (the verifier's checked pointer walks) cost a load each; a
   * BPF_CORE_READ is a helper call per pointer. A NULL on the way reads 0. */
  rec->ppid = task->real_parent->tgid;
  rec->uid = task->real_cred->uid.val;
  /* A thread with an fd table of its own holds for its process: the process's
   * start time and name, as the task pass reads them from the leader. */
  struct task_struct *leader = task->group_leader;
  rec->start_ns = leader->start_boottime;
  rec->netns = task->nsproxy->net_ns->ns.inum;
  /* Only compared for equality in user space: forks share one exe file. */
  rec->exe_id = (__u64)task->mm->exe_file;
  struct pid *pid = task->thread_pid;
  unsigned int level = pid->level;
  struct upid upid = {};
  if (pid && level < 32) {
    bpf_probe_read_kernel(&upid, sizeof upid, &pid->numbers[level]);
    rec->pidns = BPF_CORE_READ(upid.ns, ns.inum);
  }
  bpf_probe_read_kernel_str(rec->comm, sizeof rec->comm, leader->comm);
}

SEC("iter/task")
int portrel_tasks(struct bpf_iter__task *ctx) {
  struct task_struct *task = ctx->task;
  if (!task || task->pid != task->tgid) return 0;
  struct portrel_task_rec rec = {};
  fill_task(&rec, task);
  bpf_seq_write(ctx->meta->seq, &rec, sizeof rec);
  return 0;
}

static __always_inline int fd_cloexec(struct task_struct *task, __u32 fd) {
  unsigned long *coe = task->files->fdt->close_on_exec;
  unsigned long word = 0;
  if (coe) bpf_probe_read_kernel(&word, sizeof word, coe + fd / 64);
  return (word >> (fd % 64)) & 1;
}

/* Writes the record of the vsock socket SK, held as fd FD of TASK through
 * FILE; what bpf_seq_write returned (0 when the kernel has no vsock). The
 * reader's port filter is for inet ports: vsock sockets, few, all come. */
static __always_inline int emit_vsock(struct seq_file *seq, struct task_struct *task,
                                      struct file *file, __u32 fd, struct sock *sk) {
  if (!bpf_core_type_exists(struct vsock_sock___portrel)) return 0;
  struct vsock_sock___portrel *vsk = (void *)sk;
  struct portrel_vsock_rec rec = {};
  rec.head.kind = PORTREL_REC_VSOCK;
  rec.head.size = sizeof rec;
  rec.tgid = task->tgid;
  rec.fd = fd;
  rec.inode = file->f_inode->i_ino;
  rec.netns = sk->__sk_common.skc_net.net->ns.inum;
  rec.uid = sk->sk_uid.val;
  rec.state = sk->__sk_common.skc_state;
  rec.type = sk->sk_type;
  rec.local_cid = BPF_CORE_READ(vsk, local_addr.svm_cid);
  rec.local_port = BPF_CORE_READ(vsk, local_addr.svm_port);
  rec.remote_cid = BPF_CORE_READ(vsk, remote_addr.svm_cid);
  rec.remote_port = BPF_CORE_READ(vsk, remote_addr.svm_port);
  if (fd_cloexec(task, fd)) rec.flags |= PORTREL_CLOEXEC;
  return bpf_seq_write(seq, &rec, sizeof rec);
}

/* Fills REC for the socket fd FD of TASK: PORTREL_REC_SOCK for an inet socket
 * kept by the filter, PORTREL_REC_VSOCK (REC untouched, the socket in *VSOCK)
 * for a vsock socket, 0 for anything else. The reader's entry, looked up only
 * for sockets, goes to *F. */
static __always_inline int fill_held_sock(struct portrel_sock_rec *rec, struct task_struct *task,
                                          struct file *file, __u32 fd,
                                          struct portrel_filter **f, struct sock **vsock) {
  /* The iterator skips threads that share their leader's fd table; one that
   * visits has a table of its own (unshare(CLONE_FILES)): its fds are held by
   * the process too. Threads sharing one such table give each fd once each
   * (the reader drops the repeats). */
  struct socket *sock = bpf_sock_from_file(file);
  if (!sock) return 0;
  *f = reader_filter();
  if (*f && (*f)->lean && sock->type == SOCK_STREAM) {
    /* The family from the socket's operations, which all sockets of a kind
     * share: the struct sock, a cache miss per socket, is not touched. The
     * reader has the rest from the TCP table. */
    __u16 family = sock->ops->family;
    if (family == AF_VSOCK && sock->sk) {
      *vsock = sock->sk;
      return PORTREL_REC_VSOCK;
    }
    if (family != AF_INET && family != AF_INET6) return 0;
    rec->head.kind = PORTREL_REC_SOCK;
    rec->head.size = sizeof *rec;
    rec->family = family;
    rec->flags |= PORTREL_LEAN;
  } else {
    struct sock *sk = sock->sk;
    if (!sk) return 0;
    if (!fill_sock(rec, sk, *f)) {
      if (sk->__sk_common.skc_family != AF_VSOCK) return 0;
      *vsock = sk;
      return PORTREL_REC_VSOCK;
    }
  }
  rec->tgid = task->tgid;
  rec->fd = fd;
  rec->inode = file->f_inode->i_ino;
  if (fd_cloexec(task, fd)) rec->flags |= PORTREL_CLOEXEC;
  return PORTREL_REC_SOCK;
}

SEC("iter/task_file")
int portrel_task_files(struct bpf_iter__task_file *ctx) {
  struct task_struct *task = ctx->task;
  struct file *file = ctx->file;
  if (!task || !file) return 0;
  struct portrel_sock_rec rec = {};
  struct portrel_filter *f;
  struct sock *vsock = 0;
  int kind = fill_held_sock(&rec, task, file, ctx->fd, &f, &vsock);
  if (kind == PORTREL_REC_SOCK) bpf_seq_write(ctx->meta->seq, &rec, sizeof rec);
  if (kind == PORTREL_REC_VSOCK && vsock) emit_vsock(ctx->meta->seq, task, file, ctx->fd, vsock);
  return 0;
}

/* Writes the holder record of TASK into SEQ from the reader's entry F (whose
 * exe and cmdline buffers it fills); returns what bpf_seq_write returned. */
static __always_inline int emit_holder(struct seq_file *seq, struct task_struct *task,
                                       struct portrel_filter *f) {
  struct portrel_holder_rec rec = {};
  fill_task(&rec.task, task);
  struct mm_struct *mm = task->mm;
  struct file *exe = mm ? mm->exe_file : 0;
  /* The exe file whose path the reader has from this record or an earlier
   * one; not one whose path could not be made. */
  __u64 known = 0;
  if (exe && (__u64)exe == f->last_exe) {
    rec.flags |= PORTREL_EXE_AS_BEFORE;
    known = (__u64)exe;
  } else if (exe && portrel_exe_d_path) {
    long n = bpf_d_path((struct path *)&exe->f_path, f->exe, PORTREL_EXE_MAX);
    if (n > 0 && n <= PORTREL_EXE_MAX) {
      rec.exe_len = n - 1; /* without its NUL */
      known = (__u64)exe;
    } else {
      rec.flags |= PORTREL_EXE_UNREAD;
    }
  } else if (exe) {
    rec.flags |= PORTREL_EXE_UNREAD;
  }
  if (mm) {
    /* As /proc/PID/cmdline: the bytes of [arg_start, arg_end), unless the last
     * one is no longer NUL (setproctitle), which /proc reads otherwise. */
    unsigned long start = mm->arg_start, end = mm->arg_end;
    unsigned long len = end - start;
    if (end < start || len >= PORTREL_CMDLINE_MAX) {
      rec.flags |= PORTREL_CMDLINE_UNREAD;
    } else if (len > 0) {
      if (bpf_copy_from_user_task(f->cmdline, len & (PORTREL_CMDLINE_MAX - 1), (void *)start,
                                  task, 0) != 0 ||
          f->cmdline[(len - 1) & (PORTREL_CMDLINE_MAX - 1)] != 0) {
        rec.flags |= PORTREL_CMDLINE_UNREAD;
      } else {
        rec.cmdline_len = len;
      }
    }
  }
  __u32 text = rec.exe_len + rec.cmdline_len;
  rec.head.kind = PORTREL_REC_HOLDER;
  rec.head.size = (sizeof rec + text + 7) & ~7u;
  int err = bpf_seq_write(seq, &rec, sizeof rec);
  if (!err && rec.exe_len) err = bpf_seq_write(seq, f->exe, rec.exe_len & (PORTREL_EXE_MAX - 1));
  if (!err && rec.cmdline_len) {
    err = bpf_seq_write(seq, f->cmdline, rec.cmdline_len & (PORTREL_CMDLINE_MAX - 1));
  }
  __u64 zero = 0;
  __u32 pad = rec.head.size - sizeof rec - text;
  if (!err && pad) err = bpf_seq_write(seq, &zero, pad & 7);
  if (!err) f->last_exe = known;
  return err;
}

/* The fd walk with each holder's exe and cmdline (when the reader asks for them
 * in holder_details): a holder record goes before the first socket record of
 * each process. A write that overflows the read's buffer drops this object's
 * output, and the kernel shows the object again in the next read(), so the
 * last holder is remembered only once both records are written. */
SEC("iter.s/task_file")
int portrel_task_files_holders(struct bpf_iter__task_file *ctx) {
  struct task_struct *task = ctx->task;
  struct file *file = ctx->file;
  if (!task || !file) return 0;
  struct portrel_sock_rec rec = {};
  struct portrel_filter *f = 0;
  struct sock *vsock = 0;
  int kind = fill_held_sock(&rec, task, file, ctx->fd, &f, &vsock);
  if (!kind) return 0;
  struct seq_file *seq = ctx->meta->seq;
  int err = 0;
  __u64 last_exe = f ? f->last_exe : 0;
  __u32 tgid = task->tgid;
  if (f && f->holder_details && f->last_tgid != tgid) err = emit_holder(seq, task, f);
  if (!err && kind == PORTREL_REC_SOCK) err = bpf_seq_write(seq, &rec, sizeof rec);
  if (!err && kind == PORTREL_REC_VSOCK && vsock) {
    err = emit_vsock(seq, task, file, ctx->fd, vsock);
  }
  if (f) {
    if (!err) {
      f->last_tgid = tgid;
    } else {
      f->last_exe = last_exe;
    }
  }
  return 0;
}

static __always_inline void emit_table_sock(struct seq_file *seq, struct sock *sk,
                                            const struct portrel_filter *f) {
  struct portrel_sock_rec rec = {};
  if (!fill_sock(&rec, sk, f)) return;
  rec.tgid = 0;
  rec.fd = -1;
  rec.inode = sk->sk_socket->file->f_inode->i_ino;
  bpf_seq_write(seq, &rec, sizeof rec);
}

SEC("iter/tcp")
int portrel_tcp(struct bpf_iter__tcp *ctx) {
  struct sock_common *skc = ctx->sk_common;
  if (!skc) return 0;
  const struct portrel_filter *f = reader_filter();
  /* Listeners come first (lhash2, then ehash): a reader that wants listeners
   * only ends the walk here. Returning 1 makes the kernel stop this read. */
  if (skc->skc_state != TCP_LISTEN && f && f->stop_after_listeners) return 1;
  /* TIME_WAIT and request sockets have no file and no options of their own. */
  if (skc->skc_state == TCP_TIME_WAIT || skc->skc_state == TCP_NEW_SYN_RECV) return 0;
  struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
  if (!tp) return 0;
  emit_table_sock(ctx->meta->seq, (struct sock *)tp, f);
  return 0;
}

SEC("iter/udp")
int portrel_udp(struct bpf_iter__udp *ctx) {
  struct udp_sock *udp = ctx->udp_sk;
  if (!udp) return 0;
  emit_table_sock(ctx->meta->seq, (struct sock *)udp, reader_filter());
  return 0;
}

/* The rows: every socket of the reader's namespace as sock_diag gives it (the
 * same fields, read from the same places), with the options of full sockets,
 * in one pass over each table. */

/* The fields every table entry has (struct sock_common); 0 when filtered out
 * or not inet. */
static __always_inline int fill_row(struct portrel_row_rec *rec, struct sock_common *skc,
                                    const struct portrel_filter *f) {
  __u16 family = skc->skc_family;
  if (family != AF_INET && family != AF_INET6) return 0;
  rec->local_port = skc->skc_num;
  if (!port_wanted(f, rec->local_port)) return 0;
  rec->head.kind = PORTREL_REC_ROW;
  rec->head.size = sizeof *rec;
  rec->family = family;
  rec->remote_port = __builtin_bswap16(skc->skc_dport);
  rec->bound_dev = skc->skc_bound_dev_if;
  if (family == AF_INET6) {
    __builtin_memcpy(rec->local_addr, &skc->skc_v6_rcv_saddr, 16);
    __builtin_memcpy(rec->remote_addr, &skc->skc_v6_daddr, 16);
  } else {
    __builtin_memcpy(rec->local_addr, &skc->skc_rcv_saddr, 4);
    __builtin_memcpy(rec->remote_addr, &skc->skc_daddr, 4);
  }
  rec->cookie = bpf_get_socket_cookie(skc);
  return 1;
}

/* The part of a full socket: inode (sock_i_ino), uid, options. */
static __always_inline void fill_row_full(struct portrel_row_rec *rec, struct sock *sk, uid_t uid) {
  rec->uid = uid;
  struct socket *sock = sk->sk_socket;
  if (sock) rec->inode = BPF_CORE_READ((struct socket_alloc *)sock, vfs_inode.i_ino);
  rec->reuse = BPF_CORE_READ_BITFIELD(&sk->__sk_common, skc_reuse);
  rec->flags |= PORTREL_ROW_OPTIONS;
  if (BPF_CORE_READ_BITFIELD(&sk->__sk_common, skc_reuseport)) rec->flags |= PORTREL_REUSEPORT;
  if (BPF_CORE_READ_BITFIELD(&sk->__sk_common, skc_ipv6only)) rec->flags |= PORTREL_V6ONLY;
}

SEC("iter/tcp")
int portrel_tcp_rows(struct bpf_iter__tcp *ctx) {
  struct sock_common *skc = ctx->sk_common;
  if (!skc) return 0;
  const struct portrel_filter *f = reader_filter();
  __u8 state = skc->skc_state;
  /* Listeners come first: a reader that wants only them ends the walk here. */
  if (f && f->listening_only && state != TCP_LISTEN) return f->stop_after_listeners ? 1 : 0;
  struct portrel_row_rec rec = {};
  if (!fill_row(&rec, skc, f)) return 0;
  rec.protocol = IPPROTO_TCP;
  rec.state = state;
  if (state == TCP_TIME_WAIT) {
    struct tcp_timewait_sock *tw = bpf_skc_to_tcp_timewait_sock(skc);
    if (tw) rec.state = tw->tw_sk.tw_substate;
  } else if (state == TCP_NEW_SYN_RECV) {
    rec.state = TCP_SYN_RECV;
  } else {
    struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
    if (!tp) return 0;
    struct sock *sk = (struct sock *)tp;
    fill_row_full(&rec, sk, ctx->uid);
    /* As tcp_diag_get_info(). */
    if (state == TCP_LISTEN) {
      rec.rx_queue = sk->sk_ack_backlog;
      rec.tx_queue = sk->sk_max_ack_backlog;
    } else {
      int unread = (int)(tp->rcv_nxt - tp->copied_seq);
      rec.rx_queue = unread > 0 ? unread : 0;
      rec.tx_queue = tp->write_seq - tp->snd_una;
    }
  }
  bpf_seq_write(ctx->meta->seq, &rec, sizeof rec);
  return 0;
}

SEC("iter/udp")
int portrel_udp_rows(struct bpf_iter__udp *ctx) {
  struct udp_sock *udp = ctx->udp_sk;
  if (!udp) return 0;
  struct sock *sk = (struct sock *)udp;
  struct portrel_row_rec rec = {};
  if (!fill_row(&rec, &sk->__sk_common, reader_filter())) return 0;
  rec.protocol = IPPROTO_UDP;
  rec.state = sk->__sk_common.skc_state;
  fill_row_full(&rec, sk, ctx->uid);
  /* As udp_diag_get_info(): udp_rqueue_get() and sk_wmem_alloc_get(). */
  rec.rx_queue = sk->sk_backlog.rmem_alloc.counter - udp->forward_deficit;
  rec.tx_queue = sk->sk_wmem_alloc.refs.counter - 1;
  bpf_seq_write(ctx->meta->seq, &rec, sizeof rec);
  return 0;
}
