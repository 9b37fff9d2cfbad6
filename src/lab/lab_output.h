// Rendering the lab's ground truth and herd results for people (tables, a bar
// chart) and for programs (JSON).
#pragma once

#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "lab/herd.h"
#include "lab/lab.h"

namespace portrel::lab {

nlohmann::json truth_json(const GroundTruth& truth);
/// Processes and sockets as aligned tables; large truths (crowd) are summarised.
std::string truth_table(const GroundTruth& truth, size_t max_rows = 200);

nlohmann::json herd_json(std::span<const HerdResult> results);
/// One row per strategy, then a bar chart of wakeups per connection.
std::string herd_table(std::span<const HerdResult> results);

}  // namespace portrel::lab
