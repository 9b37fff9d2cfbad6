#include "util/beside.h"

#include <gtest/gtest.h>

#include <memory>
#include <thread>

namespace portrel {
namespace {

TEST(RunBeside, RunsOnAnotherThreadAndHandsBackTheResult) {
  auto caller = std::this_thread::get_id();
  auto result = run_beside([&] { return std::this_thread::get_id() != caller ? 42 : -1; });
  EXPECT_EQ(result.get(), 42);
}

TEST(RunBeside, CarriesReferencesAndMoveOnlyResults) {
  int seen = 0;
  auto result = run_beside([&seen] {
    seen = 7;
    return std::make_unique<int>(5);
  });
  EXPECT_EQ(*result.get(), 5);
  EXPECT_EQ(seen, 7);
}

}  // namespace
}  // namespace portrel
