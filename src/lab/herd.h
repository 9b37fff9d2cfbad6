// The thundering herd, measured: N worker processes accept from one port while a
// client makes C connections on loopback, one at a time, so every connection
// arrives while all workers sleep. Wakeups are counted by the workers themselves.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "portrel/error.h"

namespace portrel::lab {

enum class HerdStrategy : uint8_t {
  blocking_accept,  ///< all block in accept() on one inherited socket
  epoll,            ///< own epoll each on the inherited socket, level-triggered
  epoll_exclusive,  ///< the same with EPOLLEXCLUSIVE
  reuseport,        ///< one SO_REUSEPORT socket per worker, blocking accept()
  accept_mutex,     ///< only the holder of a shared trylock polls, as nginx does
};

std::string_view herd_strategy_name(HerdStrategy strategy);
std::vector<HerdStrategy> herd_strategies();
/// Parses a name as herd_strategy_name() prints it.
Result<HerdStrategy> parse_herd_strategy(std::string_view name);

struct HerdOptions {
  int workers = 4;
  int connections = 200;
  uint16_t port = 0;  ///< 0 = pick a free one
};

struct HerdResult {
  HerdStrategy strategy = HerdStrategy::blocking_accept;
  int workers = 0;
  int connections = 0;
  /// Times a worker was woken from its sleep (accept, epoll_wait, the lock),
  /// from the workers' voluntary context switches.
  uint64_t wakeups = 0;
  /// Returns to user space from epoll_wait() or the blocking accept(). Lower than
  /// wakeups when a woken epoll_wait() finds the queue already emptied by another
  /// worker: it re-polls and sleeps again without returning.
  uint64_t returns = 0;
  uint64_t eagain = 0;   ///< accepts that found the queue empty
  uint64_t accepted = 0;
  double wakeups_per_connection = 0;
  double returns_per_connection = 0;
  double latency_p50_us = 0;  ///< client's connect() return to the worker's accept()
  double latency_p99_us = 0;
  std::vector<uint64_t> per_worker{};  ///< connections accepted by each worker
  /// Jain's fairness index of per_worker: 1 = perfectly even, 1/N = one worker.
  double fairness = 0;
};

/// Runs one strategy; forks workers that die with the caller and are reaped
/// before it returns.
Result<HerdResult> run_herd(HerdStrategy strategy, const HerdOptions& options);

}  // namespace portrel::lab
