// The lab's scenarios, run inside the first process of the lab's process group.
#pragma once

#include <sys/types.h>

#include <string_view>
#include <vector>

#include "lab/child.h"
#include "lab/lab.h"

namespace portrel::lab::detail {

/// The hidden argument that makes a portrel binary (or any binary linking the lab)
/// run as the cloexec-leak helper: `EXE lab --internal-helper FD LEADER SERVER`.
inline constexpr const char* kHelperFlag = "--internal-helper";

std::vector<std::string_view> scenario_list();

/// Builds scenario NAME in this process and the ones it forks; never returns.
[[noreturn]] void run_scenario(const Ctx& ctx, std::string_view name, const LabOptions& o);

/// Body of the exec'd helper; never returns.
[[noreturn]] void helper_main(int report_fd, pid_t leader, pid_t server);

}  // namespace portrel::lab::detail
