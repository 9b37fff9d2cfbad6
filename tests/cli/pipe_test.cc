// Output to a reader that went away (`portrel … | head`): portrel ends as any
// filter does, by SIGPIPE or with status 0, and says nothing on stderr.
#include <gtest/gtest.h>

#include <string>

#include "run.h"

namespace portrel::testing {
namespace {

TEST(ClosedPipe, EndsQuietly) {
  // Enough rows to fill a pipe: every pair of processes.
  for (const std::string& args :
       {std::string("sql 'select a.pid, b.comm from process a, process b, process c'"),
        std::string("sql 'select a.pid, b.comm from process a, process b, process c' --format json")}) {
    CliRun run = run_program(
        {"/bin/bash", "-c",
         std::string(PORTREL_BINARY) + " " + args +
             " 2>/dev/stderr | head -c 64 >/dev/null; echo ${PIPESTATUS[0]}"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    int status = std::stoi(run.out);
    EXPECT_TRUE(status == 0 || status == 128 + 13) << args << ": status " << status;
    EXPECT_EQ(run.err, "") << args;
  }
}

}  // namespace
}  // namespace portrel::testing
