// Work on the other core: the machine portrel is measured on has two, and a
// capture or a view often has two independent halves.
#pragma once

#include <future>
#include <system_error>
#include <type_traits>
#include <utility>

namespace portrel {

/// Runs WORK on a new thread and returns its future. When no thread can be
/// started, WORK runs on the caller's thread when the future is waited on.
template <typename Work>
std::future<std::invoke_result_t<Work>> run_beside(Work work) {
  try {
    return std::async(std::launch::async, work);
  } catch (const std::system_error&) {
    return std::async(std::launch::deferred, std::move(work));
  }
}

}  // namespace portrel
