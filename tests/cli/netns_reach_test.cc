// Network namespaces no process lives in still hold sockets: one bound to a
// path other than /run/netns (a runtime's own directory), and one that only a
// socket keeps alive, its holder having moved back to the host's namespace.
// portrel must find both: the first from the mount table, the second through
// the socket itself (SIOCGSKNS on a duplicate of the holder's fd), with bpf
// (which reads each socket's namespace) and without (which asks the held IP
// sockets no dump listed).
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

// A directory for a namespace's bind mount, unmounted and removed however the
// test ends: a mount left behind is a namespace other tests would find.
struct MountDir {
  std::string dir;
  explicit MountDir(std::string path) : dir(std::move(path)) {
    std::filesystem::create_directories(dir);
  }
  ~MountDir() {
    umount2((dir + "/ns").c_str(), MNT_DETACH);
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

TEST(NetnsReach, NamespacesNoProcessLivesInAreFoundByTheirMountOrTheirSocket) {
  MountDir mount("/tmp/portrel-netns-reach-" + std::to_string(getpid()));
  const std::string& dir = mount.dir;
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
  // reads each socket's namespace, and the /proc walk asks the held IP
  // sockets no dump listed; either way portrel enters it through the socket.
  ASSERT_EQ(umount2(ns_path.c_str(), MNT_DETACH), 0);
  std::filesystem::remove_all(dir);
  for (const std::string source : {"auto", "procfs"}) {
    int code = 0;
    EXPECT_EQ(holders_elsewhere(port, source, &code), std::vector<int>{pid})
        << source << ": exit " << code;
  }
}

// SO_BINDTODEVICE names an interface by its index, which means something only
// in the socket's own namespace: the name shown is the one it has there.
TEST(NetnsReach, ABoundDeviceIsNamedAsInTheSocketsNamespace) {
  NamedNetns ns("portrel-dev-" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok()) << "ip netns add failed: this test needs root and iproute2";
  // Several veth pairs first, so that the interface's index there is one the
  // host's namespace gives to another interface or to none.
  for (int i = 0; i < 3; ++i) {
    std::string pad = "prlpad" + std::to_string(i);
    ASSERT_EQ(sh("ip -n " + ns.name() + " link add " + pad + " type veth peer name " + pad + "p"),
              0)
        << "no veth interfaces in this kernel";
  }
  ASSERT_EQ(sh("ip -n " + ns.name() + " link add prlbound type veth peer name prlboundp"), 0);
  int port = 18000 + getpid() % 1000;
  Background holder("ip netns exec " + ns.name() +
                    " python3 -c 'import os,socket,time\n"
                    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_BINDTODEVICE,b\"prlbound\")\n"
                    "s.bind((\"0.0.0.0\"," + std::to_string(port) + ")); s.listen()\n"
                    "print(os.getpid(), flush=True); time.sleep(120)'");
  ASSERT_FALSE(holder.line().empty()) << "python holder did not start";
  for (const std::string source : {"auto", "procfs"}) {
    CliRun who = run_portrel({"who", std::to_string(port), "--source", source});
    EXPECT_EQ(who.exit_code, 0) << who.err;
    EXPECT_NE(who.out.find("0.0.0.0%prlbound:" + std::to_string(port)), std::string::npos)
        << source << ":\n" << who.out;
  }
}

}  // namespace
}  // namespace portrel::testing
