// A socket held only by a thread that unshared its fd table (unshare
// CLONE_FILES): /proc/PID/fd shows the leader's table, not the thread's, so a
// reader of it alone calls the socket ownerless. Both sources must name the
// process.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "../live/shell.h"
#include "run.h"

namespace portrel::testing {
namespace {

TEST(Threads, ASocketOfAThreadWithItsOwnFdTableIsTheProcesss) {
  Background holder(
      "python3 -c 'import ctypes,os,socket,threading,time\n"
      "def own():\n"
      "  assert ctypes.CDLL(None, use_errno=True).unshare(0x400) == 0\n"  // CLONE_FILES
      "  s=socket.socket(); s.bind((\"127.0.0.1\",0)); s.listen()\n"
      "  print(os.getpid(), s.getsockname()[1], flush=True); time.sleep(120)\n"
      "threading.Thread(target=own, daemon=True).start(); time.sleep(120)'");
  ASSERT_FALSE(holder.line().empty()) << "python holder did not start";
  std::string pid = holder.line().substr(0, holder.line().find(' '));
  std::string port = holder.line().substr(holder.line().find(' ') + 1);
  ASSERT_EQ(sh("test -z \"$(ls -l /proc/" + pid + "/fd | grep socket)\""), 0)
      << "the leader's table holds the socket: the thread did not unshare";
  for (const char* source : {"auto", "procfs"}) {
    CliRun r = run_portrel({"who", port, "--source", source, "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << source << ": " << r.err;
    auto sockets = nlohmann::json::parse(r.out)["sockets"];
    ASSERT_EQ(sockets.size(), 1u) << source << ": " << r.out;
    ASSERT_EQ(sockets[0]["holders"].size(), 1u) << source << ": " << r.out;
    EXPECT_EQ(sockets[0]["holders"][0]["pid"], std::stoi(pid)) << source;
  }
}

}  // namespace
}  // namespace portrel::testing
