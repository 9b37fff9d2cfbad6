// Live kernel: the bpf source loses one part at a time, never all at once. Each
// part the kernel may refuse alone is refused in turn (PORTREL_BPF_FAIL=PART):
// the relation still equals the /proc one and the options stay exact where
// another part gives them. What loading found is remembered for the boot.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "../cli/run.h"
#include "sources/bpf/bpf_loader.h"
#include "sources/bpf/bpf_parts.h"
#include "shell.h"
#include "truth.h"
#include "util/state_file.h"

namespace portrel::testing {
namespace {

using Source = CaptureOptions::Source;

// Sets an environment variable for the scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

bool mentions(const std::vector<std::string>& lines, const std::string& text) {
  for (const std::string& l : lines) {
    if (l.find(text) != std::string::npos) return true;
  }
  return false;
}

class BpfPartFails : public ::testing::TestWithParam<BpfPart> {};

TEST_P(BpfPartFails, RelationEqualsProcfsAndOptionsStayExact) {
  REQUIRE_BPF();
  const std::string name(bpf_part_name(GetParam()));
  // TCP and UDP on one port, and an inherited listener: both protocols' rows
  // and the holders' texts are exercised.
  lab::Lab protocols = start_lab("protocols", {.procs = 3, .per_proc = 4});
  lab::Lab prefork = start_lab("prefork", {.workers = 2});
  ScopedEnv fail(kBpfFailEnv, name);
  ScopedEnv no_pins(kBpfPinsEnv, "off");
  CapturePlan info;
  Snapshot bpf = capture_from_source(Source::bpf, {}, &info);
  Snapshot procfs = capture_from_source(Source::procfs);
  EXPECT_TRUE(mentions(info.bpf_parts_missing, name + " disabled"))
      << "--verbose must name the part lost; got " << ::testing::PrintToString(info.bpf_parts_missing);

  for (const lab::Lab* lab : {&protocols, &prefork}) {
    const lab::GroundTruth& truth = lab->truth();
    expect_matches_truth(bpf, truth);
    std::set<pid_t> pids;
    for (const lab::LabProcess& p : truth.processes) pids.insert(p.pid);
    EXPECT_EQ(rows_of(bpf, pids), rows_of(procfs, pids));
    expect_same_processes(bpf, procfs, pids);
    for (const lab::LabSocket& s : truth.sockets) {
      if (s.family == 0) continue;
      const Socket* row = bpf.socket(s.inode);
      ASSERT_NE(row, nullptr) << "inode " << s.inode;
      EXPECT_EQ(row->reuseport_from, OptSource::bpf) << name << ": inode " << s.inode;
      EXPECT_EQ(row->reuseaddr == Tristate::yes, s.reuseaddr) << "inode " << s.inode;
      EXPECT_EQ(row->reuseport == Tristate::yes, s.reuseport) << "inode " << s.inode;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EachOptionalPart, BpfPartFails,
                         ::testing::Values(BpfPart::tcp, BpfPart::udp,
                                           BpfPart::task_files_holders, BpfPart::tcp_rows,
                                           BpfPart::udp_rows, BpfPart::exe_path),
                         [](const auto& info) { return std::string(bpf_part_name(info.param)); });

TEST(BpfPartFailsRequired, WithoutTasksOrTheFdWalkEverythingComesFromProcfs) {
  REQUIRE_BPF();
  for (BpfPart part : {BpfPart::tasks, BpfPart::task_files}) {
    const std::string name(bpf_part_name(part));
    ScopedEnv fail(kBpfFailEnv, name);
    ScopedEnv no_pins(kBpfPinsEnv, "off");
    CapturePlan info;
    auto snap = capture(CaptureOptions{}, &info);
    ASSERT_TRUE(snap) << snap.error().message;
    EXPECT_EQ(info.used, Source::procfs);
    EXPECT_NE(info.fallback_reason.find(name), std::string::npos) << info.fallback_reason;
    CaptureOptions only_bpf;
    only_bpf.source = Source::bpf;
    auto refused = capture(only_bpf);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find(name), std::string::npos) << refused.error().message;
  }
}

TEST(BpfPartFailsCli, UnknownPartIsAClearErrorAndVerboseNamesTheLostPart) {
  REQUIRE_BPF();
  CliRun bad = run_portrel({"--source", "bpf"}, {std::string(kBpfFailEnv) + "=verifier"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("unknown part verifier"), std::string::npos) << bad.err;
  CliRun lost = run_portrel({"--verbose", "--source", "bpf"},
                            {std::string(kBpfFailEnv) + "=tcp_rows", std::string(kBpfPinsEnv) + "=off"});
  EXPECT_NE(lost.exit_code, 2) << lost.err;
  EXPECT_NE(lost.err.find("bpf part tcp_rows disabled"), std::string::npos) << lost.err;
  EXPECT_NE(lost.err.find("with bpf iterators"), std::string::npos) << lost.err;
}

// What this kernel refuses is found once and remembered for the boot: the
// second load reports the same parts without trying them again, and a
// remembered failure makes the next run give up at once.
TEST(BpfVerdictLive, RefusalsAreRememberedForTheBoot) {
  REQUIRE_BPF();
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  ScopedEnv state(kStateEnv, dir.path() + "/state");
  std::string path = dir.path() + "/state/bpf-verdict";
  ScopedEnv no_pins(kBpfPinsEnv, "off");

  BpfLoadReport first;
  auto a = load_bpf_iterators(BpfFilter{}, &first);
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_EQ(first.parts.size(), kBpfParts);
  size_t refused = 0;
  for (const BpfPartStatus& p : first.parts) {
    if (p.state == BpfPartState::refused) {
      ++refused;
      EXPECT_FALSE(p.reason.empty()) << bpf_part_name(p.part);
      std::cout << "[ refused here ] " << bpf_part_name(p.part) << ": " << p.reason << "\n";
    }
  }
  // Written when there is something to remember.
  EXPECT_EQ(std::filesystem::exists(path), refused > 0) << first.verdict;
  if (refused > 0) {
    EXPECT_EQ(first.verdict, "written to " + path);
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 077, 0u) << "the verdict is root's alone";
    BpfLoadReport second;
    auto b = load_bpf_iterators(BpfFilter{}, &second);
    ASSERT_TRUE(b) << b.error().message;
    EXPECT_EQ(second.verdict, "remembered in " + path);
    ASSERT_EQ(second.parts.size(), kBpfParts);
    for (size_t i = 0; i < kBpfParts; ++i) {
      EXPECT_EQ(second.parts[i].state, first.parts[i].state) << bpf_part_name(first.parts[i].part);
      EXPECT_EQ(second.parts[i].reason, first.parts[i].reason);
    }
  }

  // A failure remembered for this boot: no load at all, and the reason says so.
  BpfVerdict failed = current_verdict_key(bpf_object_id());
  failed.failed = "load bpf programs: Invalid argument";
  ASSERT_EQ(write_verdict(path, failed), "");
  BpfLoadReport third;
  auto c = load_bpf_iterators(BpfFilter{}, &third);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("remembered for this boot in " + path), std::string::npos)
      << c.error().message;
  EXPECT_EQ(third.parts.size(), kBpfParts) << "a remembered failure still names every part";
  for (const BpfPartStatus& p : third.parts) {
    EXPECT_EQ(p.state, BpfPartState::untried) << bpf_part_name(p.part);
    EXPECT_EQ(p.reason, failed.failed) << bpf_part_name(p.part);
  }
  // Another boot's verdict is not this one's.
  failed.boot_id = "00000000-0000-0000-0000-000000000000";
  ASSERT_EQ(write_verdict(path, failed), "");
  auto d = load_bpf_iterators(BpfFilter{});
  EXPECT_TRUE(d) << d.error().message;
}

}  // namespace
}  // namespace portrel::testing
