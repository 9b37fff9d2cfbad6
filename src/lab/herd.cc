// Thundering-herd benchmark. Workers are forked processes sharing a counters page
// (MAP_SHARED); each counts its own returns from the call it sleeps in. The client
// connects one connection at a time and waits for the worker's one-byte reply, so
// every connection meets an idle herd: the count of wakeups per connection is then
// the number of sleepers the kernel woke for it.
#include "lab/herd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "lab/child.h"

namespace portrel::lab {
namespace {

constexpr const char* kNames[] = {"blocking-accept", "epoll", "epoll-exclusive", "reuseport",
                                  "accept-mutex"};

constexpr int kAcceptMutexDelayMs = 500;  // nginx's default accept_mutex_delay

struct Counters {
  std::atomic<uint64_t> wakeups{0};
  std::atomic<uint64_t> eagain{0};
  std::atomic<uint64_t> accepted{0};
};

struct Shared {
  std::atomic<int> ready{0};
  std::atomic<int64_t> sent_at{0};  ///< when the client began its current connect()
  pthread_mutex_t mutex;
};

// The page shared by the workers and the parent: header, counters, then each
// worker's latency samples (at most `connections` each).
class Arena {
 public:
  Arena(int workers, int connections) : workers_(workers), connections_(connections) {
    size_ = sizeof(Shared) + workers * sizeof(Counters) +
            size_t(workers) * connections * sizeof(int64_t);
    void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    base_ = p == MAP_FAILED ? nullptr : static_cast<char*>(p);
    if (base_ == nullptr) return;
    new (shared()) Shared();
    for (int i = 0; i < workers; ++i) new (&counters(i)) Counters();
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&shared()->mutex, &attr);
    pthread_mutexattr_destroy(&attr);
  }
  ~Arena() {
    if (base_ != nullptr) munmap(base_, size_);
  }
  bool ok() const { return base_ != nullptr; }
  Shared* shared() { return reinterpret_cast<Shared*>(base_); }
  Counters& counters(int i) {
    return reinterpret_cast<Counters*>(base_ + sizeof(Shared))[i];
  }
  int64_t* samples(int i) {
    return reinterpret_cast<int64_t*>(base_ + sizeof(Shared) + workers_ * sizeof(Counters)) +
           size_t(i) * connections_;
  }
  int connections() const { return connections_; }

 private:
  int workers_;
  int connections_;
  size_t size_ = 0;
  char* base_ = nullptr;
};

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Records the latency and answers; never sleeps, so a worker's voluntary context
// switches are its sleeps in accept()/epoll_wait() (and the lock, for accept-mutex).
void serve(Arena& arena, int index, int conn, int64_t accepted_at) {
  Counters& c = arena.counters(index);
  uint64_t slot = c.accepted.load();
  if (slot < uint64_t(arena.connections()))
    arena.samples(index)[slot] =
        std::max<int64_t>(0, accepted_at - arena.shared()->sent_at.load());
  c.accepted.fetch_add(1);
  char ack = 'k';
  if (write(conn, &ack, 1) < 0) {
  }
  close(conn);
}

// Accepts once from a non-blocking listener and counts an empty queue.
void try_accept(Arena& arena, int index, int listener) {
  int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  int64_t at = now_ns();
  if (conn >= 0) serve(arena, index, conn, at);
  else if (errno == EAGAIN || errno == EWOULDBLOCK) arena.counters(index).eagain.fetch_add(1);
}

[[noreturn]] void worker(HerdStrategy strategy, Arena& arena, int index, int listener,
                         uint16_t port) {
  Counters& c = arena.counters(index);
  if (strategy == HerdStrategy::reuseport) {
    listener = detail::make_socket({.port = port, .reuseport = true});
    if (listener < 0) _exit(1);
  }
  int ep = -1;
  if (strategy == HerdStrategy::epoll || strategy == HerdStrategy::epoll_exclusive ||
      strategy == HerdStrategy::accept_mutex) {
    ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{.events = EPOLLIN, .data = {.fd = listener}};
    if (strategy == HerdStrategy::epoll_exclusive) ev.events |= EPOLLEXCLUSIVE;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) != 0) _exit(1);
  }
  int idle = epoll_create1(EPOLL_CLOEXEC);
  arena.shared()->ready.fetch_add(1);
  for (;;) {
    epoll_event ev;
    switch (strategy) {
      case HerdStrategy::blocking_accept:
      case HerdStrategy::reuseport: {
        int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        int64_t at = now_ns();
        c.wakeups.fetch_add(1);
        if (conn >= 0) serve(arena, index, conn, at);
        else if (errno == EAGAIN) c.eagain.fetch_add(1);
        break;
      }
      case HerdStrategy::epoll:
      case HerdStrategy::epoll_exclusive:
        if (epoll_wait(ep, &ev, 1, -1) > 0) {
          c.wakeups.fetch_add(1);
          try_accept(arena, index, listener);
        }
        break;
      case HerdStrategy::accept_mutex:
        // nginx: only the lock holder polls the listener; the others sleep on a
        // timer of accept_mutex_delay and try the lock again.
        if (pthread_mutex_trylock(&arena.shared()->mutex) == 0) {
          int n = epoll_wait(ep, &ev, 1, kAcceptMutexDelayMs);
          c.wakeups.fetch_add(1);
          int conn = n > 0 ? accept4(listener, nullptr, nullptr, SOCK_CLOEXEC) : -1;
          int64_t at = now_ns();
          if (n > 0 && conn < 0) c.eagain.fetch_add(1);
          pthread_mutex_unlock(&arena.shared()->mutex);
          if (conn >= 0) serve(arena, index, conn, at);
        } else {
          epoll_wait(idle, &ev, 1, kAcceptMutexDelayMs);
          c.wakeups.fetch_add(1);
        }
        break;
    }
  }
}

Result<void> run_client(Arena& arena, uint16_t port, int connections) {
  sockaddr_in sin{.sin_family = AF_INET, .sin_port = htons(port),
                  .sin_addr = {htonl(INADDR_LOOPBACK)}, .sin_zero = {}};
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  for (int i = 0; i < connections; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::unexpected(system_error("socket", errno));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    arena.shared()->sent_at.store(now_ns());
    char ack = 0;
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0 &&
              read(fd, &ack, 1) == 1;
    int err = errno;
    close(fd);
    if (!ok) return std::unexpected(system_error(fmt::format("herd connection {}", i), err));
  }
  return {};
}

// The kernel's count of times the process went to sleep: each is one wakeup that
// ended in sleeping again, whether or not the sleeping call returned to user space.
uint64_t voluntary_switches(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string key;
  uint64_t value = 0;
  while (in >> key) {
    if (key == "voluntary_ctxt_switches:" && in >> value) return value;
  }
  return 0;
}

double percentile(std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t at = std::min(sorted.size() - 1, size_t(q * double(sorted.size())));
  return double(sorted[at]) / 1000.0;
}

}  // namespace

std::string_view herd_strategy_name(HerdStrategy strategy) {
  return kNames[static_cast<int>(strategy)];
}

std::vector<HerdStrategy> herd_strategies() {
  return {HerdStrategy::blocking_accept, HerdStrategy::epoll, HerdStrategy::epoll_exclusive,
          HerdStrategy::reuseport, HerdStrategy::accept_mutex};
}

Result<HerdStrategy> parse_herd_strategy(std::string_view name) {
  for (HerdStrategy s : herd_strategies())
    if (herd_strategy_name(s) == name) return s;
  return std::unexpected(Error{fmt::format("unknown herd strategy '{}'", name), 0});
}

Result<HerdResult> run_herd(HerdStrategy strategy, const HerdOptions& options) {
  if (options.workers < 1 || options.connections < 1)
    return std::unexpected(Error{"herd: workers and connections must be positive", 0});
  Arena arena(options.workers, options.connections);
  if (!arena.ok()) return std::unexpected(system_error("mmap", errno));
  uint16_t port = options.port ? options.port : detail::pick_free_port();
  if (port == 0) return std::unexpected(Error{"herd: no free port", EADDRINUSE});
  int listener = -1;
  if (strategy != HerdStrategy::reuseport) {
    bool nonblock = strategy != HerdStrategy::blocking_accept;
    listener = detail::make_socket({.port = port, .nonblock = nonblock});
    if (listener < 0) return std::unexpected(system_error("herd listener", -listener));
  }

  std::vector<pid_t> pids;
  pid_t parent = getpid();
  for (int i = 0; i < options.workers; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(0);
      worker(strategy, arena, i, listener, port);
    }
    if (pid > 0) pids.push_back(pid);
  }
  auto reap = [&] {
    for (pid_t pid : pids) kill(pid, SIGKILL);
    for (pid_t pid : pids) waitpid(pid, nullptr, 0);
    if (listener >= 0) close(listener);
  };
  for (int i = 0; i < 5000 && arena.shared()->ready.load() < options.workers; ++i)
    usleep(1000);
  if (int(pids.size()) != options.workers || arena.shared()->ready.load() < options.workers) {
    reap();
    return std::unexpected(Error{"herd: workers did not start", 0});
  }
  usleep(50 * 1000);  // let every worker reach its sleep
  std::vector<uint64_t> before;
  for (pid_t pid : pids) before.push_back(voluntary_switches(pid));
  Result<void> client = run_client(arena, port, options.connections);
  usleep(50 * 1000);  // let the losers of the last connection count their EAGAIN
  HerdResult r{.strategy = strategy, .workers = options.workers,
               .connections = options.connections};
  std::vector<int64_t> samples;
  for (int i = 0; i < options.workers; ++i) {
    Counters& c = arena.counters(i);
    r.returns += c.wakeups.load();
    r.wakeups += voluntary_switches(pids[i]) - before[i];
    r.eagain += c.eagain.load();
    uint64_t accepted = c.accepted.load();
    r.accepted += accepted;
    r.per_worker.push_back(accepted);
    int64_t* s = arena.samples(i);
    samples.insert(samples.end(), s, s + std::min<uint64_t>(accepted, options.connections));
  }
  reap();
  if (!client) return std::unexpected(client.error());
  std::sort(samples.begin(), samples.end());
  r.wakeups_per_connection = double(r.wakeups) / double(options.connections);
  r.returns_per_connection = double(r.returns) / double(options.connections);
  r.latency_p50_us = percentile(samples, 0.50);
  r.latency_p99_us = percentile(samples, 0.99);
  double sum = 0, squares = 0;
  for (uint64_t n : r.per_worker) sum += double(n), squares += double(n) * double(n);
  r.fairness = squares > 0 ? sum * sum / (double(r.per_worker.size()) * squares) : 0;
  return r;
}

}  // namespace portrel::lab
