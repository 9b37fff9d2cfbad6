// The thundering herd benchmark at CI size: the ordering of wakeups between
// strategies (the physics), never absolute times.
#include "lab/herd.h"

#include <map>
#include <numeric>

#include <gtest/gtest.h>

#include "lab/lab_output.h"

namespace portrel::lab {
namespace {

constexpr HerdOptions kSmall{.workers = 4, .connections = 200};

std::map<HerdStrategy, HerdResult> run_all() {
  std::map<HerdStrategy, HerdResult> out;
  for (HerdStrategy s : herd_strategies()) {
    Result<HerdResult> r = run_herd(s, kSmall);
    EXPECT_TRUE(r) << herd_strategy_name(s) << ": " << r.error().message;
    if (r) out[s] = *r;
  }
  return out;
}

TEST(Herd, NamesRoundTrip) {
  for (HerdStrategy s : herd_strategies())
    EXPECT_EQ(parse_herd_strategy(herd_strategy_name(s)).value(), s);
  EXPECT_FALSE(parse_herd_strategy("spin"));
}

TEST(Herd, EveryConnectionIsAcceptedOnce) {
  for (auto& [s, r] : run_all()) {
    EXPECT_EQ(r.accepted, 200u) << herd_strategy_name(s);
    EXPECT_EQ(std::accumulate(r.per_worker.begin(), r.per_worker.end(), uint64_t{0}), 200u);
    EXPECT_GE(r.returns, r.accepted) << herd_strategy_name(s);
    EXPECT_GT(r.latency_p50_us, 0) << herd_strategy_name(s);
    EXPECT_GE(r.latency_p99_us, r.latency_p50_us) << herd_strategy_name(s);
  }
}

TEST(Herd, EpollWithoutExclusiveWakesTheHerd) {
  auto r = run_all();
  ASSERT_EQ(r.size(), 5u);
  const HerdResult& epoll = r[HerdStrategy::epoll];
  for (HerdStrategy one : {HerdStrategy::blocking_accept, HerdStrategy::epoll_exclusive,
                           HerdStrategy::reuseport, HerdStrategy::accept_mutex}) {
    EXPECT_GT(epoll.wakeups_per_connection, r[one].wakeups_per_connection + 0.5)
        << herd_table(std::vector<HerdResult>{epoll, r[one]});
  }
  // A woken epoll_wait() that finds the queue emptied sleeps again in the kernel, so
  // the herd shows in wakeups, and hardly at all in EAGAIN returns.
  EXPECT_LT(epoll.eagain, epoll.wakeups - epoll.accepted);
  // At most one sleeper per connection: the kernel wakes exactly one, or one
  // holds the lock. Fewer when a worker finds the next connection already queued
  // and accepts without sleeping (the lock holder of accept-mutex often does).
  EXPECT_LE(r[HerdStrategy::blocking_accept].wakeups_per_connection, 1.1);
  EXPECT_LE(r[HerdStrategy::reuseport].wakeups_per_connection, 1.1);
  EXPECT_LE(r[HerdStrategy::accept_mutex].wakeups_per_connection, 1.1);
  EXPECT_LT(r[HerdStrategy::epoll_exclusive].wakeups_per_connection, 1.5);
}

TEST(Herd, OutputCarriesEveryStrategy) {
  HerdResult a{.strategy = HerdStrategy::epoll, .workers = 2, .connections = 4, .wakeups = 8,
               .eagain = 4, .accepted = 4, .wakeups_per_connection = 2.0,
               .latency_p50_us = 10, .latency_p99_us = 20, .per_worker = {3, 1},
               .fairness = 0.8};
  HerdResult b = a;
  b.strategy = HerdStrategy::reuseport;
  b.wakeups_per_connection = 1.0;
  std::vector<HerdResult> both = {a, b};
  std::string table = herd_table(both);
  EXPECT_NE(table.find("epoll"), std::string::npos);
  EXPECT_NE(table.find("reuseport"), std::string::npos);
  EXPECT_NE(table.find("2.00"), std::string::npos);
  auto json = herd_json(both);
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0]["strategy"], "epoll");
  EXPECT_EQ(json[1]["wakeups_per_connection"], 1.0);
}

}  // namespace
}  // namespace portrel::lab
