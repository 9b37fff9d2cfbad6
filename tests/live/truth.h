// Checking a captured Snapshot against the ground truth of a lab scenario: every
// inet socket the lab made is in the relation with exactly the holders it made.
#pragma once

#include <gtest/gtest.h>

#include "lab/lab.h"
#include "portrel/snapshot.h"

namespace portrel::testing {

/// Asserts (gtest failures, not exceptions) that for every inet socket of TRUTH
/// the snapshot has one Socket row with the same proto, family, address, port and
/// netns, whose holders are exactly the truth's (pid, fd, cloexec) rows; and that
/// each lab process holds no other inet socket in the snapshot.
void expect_matches_truth(const Snapshot& snap, const lab::GroundTruth& truth);

/// Captures the live host (every namespace, every state).
Snapshot capture_all();

/// Starts a lab scenario; a scenario that cannot start fails the test and aborts
/// (every later check would be meaningless).
lab::Lab start_lab(std::string_view scenario, lab::LabOptions options = {});

}  // namespace portrel::testing
