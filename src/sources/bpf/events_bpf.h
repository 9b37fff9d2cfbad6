/* The record events.bpf.c writes into its ring buffer, shared with user space
 * (socket_events.cc). */
#ifndef PORTREL_EVENTS_BPF_H
#define PORTREL_EVENTS_BPF_H

enum {
  PORTREL_EVENT_LISTEN = 1,   /* a TCP socket began to listen */
  PORTREL_EVENT_UNLISTEN = 2, /* a TCP listener closed (or shut down) */
  PORTREL_EVENT_BIND = 3,     /* an inet socket was bound */
  PORTREL_EVENT_UNBIND = 4,   /* a bound UDP socket left its table */
};

struct portrel_event {
  __u32 tgid; /* the process that did it (its thread group) */
  __u16 port; /* host order */
  __u8 kind;
  __u8 pad;
};

#endif
