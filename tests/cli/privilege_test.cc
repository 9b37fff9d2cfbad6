// Every command as user nobody, against a listener root holds: each answers
// with what it can see and says what it could not (no crash, no silent "nothing
// there"); and what portrel writes as root (state, pins, snapshots) is
// readable by root alone, since it holds command lines.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "../live/shell.h"
#include "run.h"

namespace portrel::testing {
namespace {

constexpr const char* kListener =
    "python3 -c 'import os,socket,time\n"
    "s=socket.socket(); s.bind((\"127.0.0.1\",0)); s.listen()\n"
    "print(os.getpid(), s.getsockname()[1], flush=True); time.sleep(120)'";

bool says_privilege(const CliRun& r) {
  for (const std::string* text : {&r.err, &r.out}) {
    for (const char* why : {"run as root", "not permitted", "Operation not permitted",
                            "euid 65534", "unreadable"}) {
      if (text->find(why) != std::string::npos) return true;
    }
  }
  return false;
}

TEST(Privilege, EveryCommandAsNobodySaysWhatItCouldNotSee) {
  ASSERT_EQ(geteuid(), 0u) << "this test starts a root-owned listener and drops to nobody";
  ASSERT_EQ(access("/usr/bin/setpriv", X_OK), 0) << "setpriv (util-linux) is needed";
  Background root(kListener);
  ASSERT_FALSE(root.line().empty()) << "python listener did not start";
  std::string pid = root.line().substr(0, root.line().find(' '));
  std::string port = root.line().substr(root.line().find(' ') + 1);
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  ASSERT_EQ(chmod(dir.path().c_str(), 0777), 0);
  const std::vector<std::vector<std::string>> commands = {
      {},
      {"who", port},
      {"of", pid},
      {"shared"},
      {"audit"},
      {"graph"},
      {"why-busy", "127.0.0.1:" + port},
      {"free", port, "--dry-run"},
      {"sql", "SELECT count(*) FROM socket"},
      {"snapshot", dir.path() + "/nobody.db"},
      {"watch", "--count", "1"},
      {"doctor"},
  };
  for (const auto& args : commands) {
    std::string what = args.empty() ? "(default view)" : args[0];
    CliRun r = run_portrel_as_nobody(args);  // fails the test on a crash signal
    EXPECT_NE(r.exit_code, 2) << what << ": a usage error as nobody: " << r.err;
    EXPECT_TRUE(says_privilege(r)) << what << " (exit " << r.exit_code
                                   << ") does not say what it could not see:\n"
                                   << r.out << r.err;
  }
  // The root listener is shown, its holder marked unknown for want of root.
  CliRun who = run_portrel_as_nobody({"who", port});
  EXPECT_NE(who.out.find("run as root"), std::string::npos) << who.out << who.err;
}

std::string mode_of(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "missing";
  char text[8];
  snprintf(text, sizeof text, "%04o", st.st_mode & 07777);
  return text;
}

TEST(Privilege, WhatPortrelWritesIsRootsAlone) {
  ASSERT_EQ(geteuid(), 0u) << "portrel writes its state only as root";
  // What writes state: the bind-rule probes (doctor), the bpf pins (a capture).
  ASSERT_NE(run_portrel({"doctor"}).exit_code, 2);
  ASSERT_NE(run_portrel({"who", "1"}).exit_code, 2);
  if (mode_of("/run/portrel") != "missing") {
    EXPECT_EQ(mode_of("/run/portrel"), "0700");
    for (const char* f : {"/run/portrel/bpf-verdict", "/run/portrel/kernel-bind-rules"}) {
      std::string m = mode_of(f);
      if (m != "missing") {
        EXPECT_EQ(m, "0600") << f;
      }
    }
  }
  if (mode_of("/sys/fs/bpf/portrel") != "missing") {
    EXPECT_EQ(mode_of("/sys/fs/bpf/portrel"), "0700");
  }
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string db = dir.path() + "/relation.db";
  ASSERT_EQ(run_portrel({"snapshot", db}).exit_code, 0);
  EXPECT_EQ(mode_of(db), "0600") << "a snapshot holds command lines";
}

}  // namespace
}  // namespace portrel::testing

namespace portrel::testing {
namespace {

// Allocations failing (low memory): the sanitizer build makes every allocation
// above 1 MiB fail (operator new throws, malloc returns NULL). Each command
// answers with what it could still read, or says in one line that it ran out
// of memory: never an abort.
TEST(LowMemory, FailedAllocationsGiveAnAnswerOrOneLine) {
#ifndef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "failing allocations are injected through AddressSanitizer: run the "
                  "sanitizer build (build-test) to test this";
#else
  // Its own state directory: a bpf load that fails for want of memory must not
  // be remembered as this kernel's verdict for the machine's later runs.
  ScratchDir state;
  ASSERT_FALSE(state.path().empty());
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{}, {"who", "22"}, {"-a", "--format", "json"},
                                             {"sql", "SELECT count(*) FROM holding"},
                                             {"audit"}, {"doctor"}}) {
    CliRun r = run_portrel(args, {"ASAN_OPTIONS=max_allocation_size_mb=1:"
                                  "allocator_may_return_null=1:detect_leaks=0",
                                  "PORTREL_STATE=" + state.path(), "PORTREL_BPF_PINS=off"});
    std::string what = args.empty() ? "(default view)" : args[0];
    EXPECT_TRUE(r.exit_code >= 0 && r.exit_code <= 5) << what << ": exit " << r.exit_code;
    for (size_t at = 0; (at = r.err.find("portrel: ", at)) != std::string::npos; ++at) {
      size_t end = r.err.find('\n', at);
      EXPECT_NE(end, std::string::npos) << what << ": " << r.err;
    }
    EXPECT_EQ(r.err.find("terminate called"), std::string::npos) << what << ": " << r.err;
  }
#endif
}

}  // namespace
}  // namespace portrel::testing
