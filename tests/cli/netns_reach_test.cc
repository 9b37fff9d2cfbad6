// Network namespaces no process lives in still hold sockets: one bound to a
// path other than /run/netns (a runtime's own directory), and one that only a
// socket keeps alive, its holder having moved back to the host's namespace.
// portrel must find both: the first from the mount table, the second through
// the socket itself (SIOCGSKNS on a duplicate of the holder's fd).
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "../live/shell.h"
#include "run.h"

namespace portrel::testing {
namespace {

// A process in the host's namespace holding a TCP listener on PORT made in
// the namespace bound at NS_PATH.
std::string listener_made_in(const std::string& ns_path, int port) {
  return "python3 -c 'import ctypes,os,socket,time\n"
         "libc=ctypes.CDLL(None,use_errno=True)\n"
         "host=os.open(\"/proc/self/ns/net\",os.O_RDONLY)\n"
         "there=os.open(\"" + ns_path + "\",os.O_RDONLY)\n"
         "assert libc.setns(there,0x40000000)==0\n"
         "s=socket.socket(); s.bind((\"0.0.0.0\"," + std::to_string(port) + ")); s.listen()\n"
         "assert libc.setns(host,0x40000000)==0\n"
         "os.close(there)\n"
         "print(os.getpid(), flush=True); time.sleep(120)'";
}

// The pids holding PORT in namespaces other than the host's, as `who --format
// json` lists them with SOURCE.
std::vector<int> holders_elsewhere(int port, const std::string& source, int* exit_code) {
  CliRun who = run_portrel(
      {"who", std::to_string(port), "--source", source, "--format", "json"});
  *exit_code = who.exit_code;
  std::vector<int> pids;
  if (who.exit_code != 0) return pids;
  nlohmann::json document = nlohmann::json::parse(who.out);
  for (const auto& s : document["sockets"]) {
    if (s["netns_name"] == "host") continue;
    for (const auto& h : s["holders"]) pids.push_back(h["pid"].get<int>());
  }
  return pids;
}

TEST(NetnsReach, NamespacesNoProcessLivesInAreFoundByTheirMountOrTheirSocket) {
  std::string dir = "/tmp/portrel-netns-reach-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::string ns_path = dir + "/ns";
  ASSERT_EQ(sh("touch " + ns_path + " && unshare --net=" + ns_path + " true"), 0)
      << "unshare --net=FILE failed: this test needs root and util-linux";
  int port = 17000 + getpid() % 1000;
  Background holder(listener_made_in(ns_path, port));
  ASSERT_FALSE(holder.line().empty()) << "python holder did not start";
  int pid = std::stoi(holder.line());

  // Bound to a path outside /run/netns, with no process in it: found from
  // /proc/self/mountinfo, whichever source reads the fd tables.
  for (const std::string source : {"auto", "procfs"}) {
    int code = 0;
    EXPECT_EQ(holders_elsewhere(port, source, &code), std::vector<int>{pid})
        << source << ": exit " << code;
  }

  // The mount gone, only the socket keeps the namespace: the bpf fd walk
  // reads each socket's namespace and portrel enters it through the socket.
  ASSERT_EQ(umount2(ns_path.c_str(), MNT_DETACH), 0);
  std::filesystem::remove_all(dir);
  CliRun doctor = run_portrel({"doctor", "--format", "json"});
  bool bpf = nlohmann::json::parse(doctor.out)["bpf"]["usable"].get<bool>();
  if (!bpf) {
    std::cout << "[ NOTE     ] bpf cannot load here: a namespace only a socket keeps "
                 "is not reached (the /proc walk does not read a socket's namespace)\n";
    return;
  }
  int code = 0;
  EXPECT_EQ(holders_elsewhere(port, "bpf", &code), std::vector<int>{pid}) << "exit " << code;
}

}  // namespace
}  // namespace portrel::testing
