// The bpf parts' verdict file, the verifier's reason and PORTREL_BPF_FAIL, on
// bytes and in a temporary directory.
#include "sources/bpf/bpf_parts.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace portrel {
namespace {

BpfVerdict sample() {
  BpfVerdict v;
  v.boot_id = "52a834bf-a350-441c-8e50-db0ab3b32637";
  v.kernel = "6.18.44 #1 SMP PREEMPT_DYNAMIC";
  v.object = "581f4e33708d6d5c";
  v.refused = {{BpfPart::exe_path, "R1 type=untrusted_ptr_ expected=ptr_, trusted_ptr_"},
               {BpfPart::udp_rows, "unknown func bpf_get_socket_cookie#46"}};
  return v;
}

TEST(BpfVerdict, RoundTripsThroughItsText) {
  BpfVerdict v = sample();
  auto back = parse_verdict(format_verdict(v));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(back->same_key(v));
  EXPECT_EQ(back->failed, "");
  ASSERT_EQ(back->refused.size(), 2u);
  EXPECT_EQ(back->refused, v.refused);
  ASSERT_NE(back->refusal(BpfPart::udp_rows), nullptr);
  EXPECT_EQ(*back->refusal(BpfPart::udp_rows), "unknown func bpf_get_socket_cookie#46");
  EXPECT_EQ(back->refusal(BpfPart::tasks), nullptr);

  v.refused.clear();
  v.failed = "load bpf programs: Invalid argument\n(a second line)";
  back = parse_verdict(format_verdict(v));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->failed, "load bpf programs: Invalid argument (a second line)");
}

TEST(BpfVerdict, AnotherBootKernelOrBuildIsAnotherKey) {
  BpfVerdict a = sample(), b = sample();
  EXPECT_TRUE(a.same_key(b));
  b.boot_id = "other";
  EXPECT_FALSE(a.same_key(b));
  b = sample(), b.kernel = "6.1.0-27-amd64 #1 SMP";
  EXPECT_FALSE(a.same_key(b));
  b = sample(), b.object = "0000000000000000";
  EXPECT_FALSE(a.same_key(b));
}

TEST(BpfVerdict, MalformedTextIsAnError) {
  std::string good = format_verdict(sample());
  EXPECT_FALSE(parse_verdict(""));
  EXPECT_FALSE(parse_verdict("portrel-bpf-verdict 2\n" + good.substr(good.find('\n') + 1)));
  EXPECT_FALSE(parse_verdict(good.substr(0, good.size() - 1)));  // last line unended
  EXPECT_FALSE(parse_verdict(good + "refused no_such_part because\n"));
  EXPECT_FALSE(parse_verdict(good + "colour blue\n"));
  EXPECT_FALSE(parse_verdict(good + "failed\n"));
  EXPECT_FALSE(parse_verdict("portrel-bpf-verdict 1\nboot x\nkernel y\n"));  // no object
}

TEST(BpfVerdict, TrustedOnlyWhenRootOwnsItAndWrittenAtomically) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root: a verdict is trusted only when root owns it";
  }
  auto dir = std::filesystem::temp_directory_path() /
             ("portrel-verdict-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directory(dir);
  std::string path = (dir / "sub" / "bpf-verdict").string();
  ASSERT_EQ(write_verdict(path, sample()), "");
  struct stat st;
  ASSERT_EQ(stat((dir / "sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = read_verdict(path);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->same_key(sample()));

  chmod(path.c_str(), 0666);  // writable by anyone: not trusted
  EXPECT_FALSE(read_verdict(path));
  chmod(path.c_str(), 0600);
  chmod((dir / "sub").c_str(), 0777);
  EXPECT_FALSE(read_verdict(path));
  chmod((dir / "sub").c_str(), 0700);
  std::ofstream(path) << "garbage\n";
  EXPECT_FALSE(read_verdict(path));
  EXPECT_FALSE(read_verdict((dir / "sub" / "absent").string()));
  std::filesystem::remove_all(dir);
}

TEST(BpfVerdict, KeyIsThisBootAndKernel) {
  BpfVerdict key = current_verdict_key("abc");
  EXPECT_EQ(key.object, "abc");
  EXPECT_EQ(key.boot_id.size(), 36u) << key.boot_id;
  EXPECT_FALSE(key.kernel.empty());
}

TEST(BpfVerifierReason, LastLineBeforeTheStatistics) {
  std::string log =
      "305: (85) call bpf_d_path#147\n"
      "R1 type=untrusted_ptr_ expected=ptr_, trusted_ptr_, rcu_ptr_\n"
      "processed 353 insns (limit 1000000) max_states_per_insn 1 total_states 23\n"
      "verification time 412 usec\n"
      "stack depth 176\n\n";
  EXPECT_EQ(verifier_reason(log), "R1 type=untrusted_ptr_ expected=ptr_, trusted_ptr_, rcu_ptr_");
  EXPECT_EQ(verifier_reason("invalid func unknown#195896080"), "invalid func unknown#195896080");
  EXPECT_EQ(verifier_reason(""), "");
  EXPECT_EQ(verifier_reason("processed 1 insns\n"), "");
}

TEST(BpfFailures, AllOrAListOfParts) {
  auto none = parse_bpf_failures("");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->any());
  for (const char* all : {"1", "all"}) {
    auto f = parse_bpf_failures(all);
    ASSERT_TRUE(f);
    EXPECT_TRUE(f->all);
  }
  auto some = parse_bpf_failures("tcp_rows,exe_path");
  ASSERT_TRUE(some) << some.error().message;
  EXPECT_FALSE(some->all);
  EXPECT_TRUE(some->parts[static_cast<size_t>(BpfPart::tcp_rows)]);
  EXPECT_TRUE(some->parts[static_cast<size_t>(BpfPart::exe_path)]);
  EXPECT_FALSE(some->parts[static_cast<size_t>(BpfPart::tasks)]);
  auto bad = parse_bpf_failures("tcp_rows,verifier");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("unknown part verifier"), std::string::npos)
      << bad.error().message;
}

TEST(BpfParts, EveryPartHasANameAFallbackAndIsFoundByName) {
  for (size_t i = 0; i < kBpfParts; ++i) {
    auto part = static_cast<BpfPart>(i);
    EXPECT_FALSE(bpf_part_gives(part).empty());
    EXPECT_FALSE(bpf_part_fallback(part).empty());
    EXPECT_EQ(bpf_part_named(bpf_part_name(part)), part);
  }
  EXPECT_EQ(bpf_part_named("nothing"), std::nullopt);
  EXPECT_TRUE(bpf_part_required(BpfPart::task_files));
  EXPECT_FALSE(bpf_part_required(BpfPart::exe_path));
  EXPECT_EQ(bpf_part_state_name(BpfPartState::untried), "untried");
}

}  // namespace
}  // namespace portrel
