// Bad arguments: each gets one line on stderr naming what was wrong, exit code 2,
// and nothing on stdout.
#include <gtest/gtest.h>

#include "run.h"

namespace portrel::testing {
namespace {

void expect_usage_error(const std::vector<std::string>& args, const std::string& says) {
  CliRun r = run_portrel(args);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(Usage, BadPortSpecs) {
  expect_usage_error({"who", "70000"}, "invalid port");
  expect_usage_error({"who", "quic/80"}, "unknown protocol");
  expect_usage_error({"who", "no-such-service-xyz"}, "unknown service");
  expect_usage_error({"who", "::1:80"}, "brackets");
  expect_usage_error({"who", "300.1.1.1:80"}, "invalid address");
}

TEST(Usage, BadOptions) {
  expect_usage_error({"--format", "xml"}, "xml");
  expect_usage_error({"--color", "sometimes"}, "sometimes");
  expect_usage_error({"--no-such-flag"}, "no-such-flag");
  expect_usage_error({"who"}, "PORT");
  expect_usage_error({"frobnicate"}, "frobnicate");
  expect_usage_error({"--netns", "no-such-netns-xyz"}, "no-such-netns-xyz");
  expect_usage_error({"--user", "no-such-user-xyz"}, "unknown user");
}

TEST(Usage, HelpAndVersionSucceed) {
  CliRun help = run_portrel({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* word :
       {"who", "of", "--format", "--netns", "--all", "lab", "NO_COLOR", "PORTREL_BPF_PINS"}) {
    EXPECT_NE(help.out.find(word), std::string::npos) << word;
  }
  CliRun version = run_portrel({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.out.find("portrel"), std::string::npos);
}

TEST(Usage, PidThatDoesNotExist) {
  CliRun r = run_portrel({"of", "4194303"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "portrel: no process with pid 4194303\n");
}

}  // namespace
}  // namespace portrel::testing
