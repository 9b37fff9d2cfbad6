// Tests of workload recognition on cgroup paths (one per runtime and layout),
// on /proc/PID/cgroup texts and conmon command lines recorded from a real
// podman container, and of naming against the state files in
// tests/data/workloads/root (see the README there for which are recorded).
#include "sources/workload.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace portrel {
namespace {

using Kind = WorkloadKind;

// The real podman container ("web") and hand-made ids of the other state files.
constexpr std::string_view kPodmanId =
    "2b5497e9c296a31fba4fa271ec643380fcfa4db0eaf5c1c4b85c2814c7deca10";
constexpr std::string_view kDockerId =
    "26d217bcf29f450338a51ce8091c09280c9d4b480f7585a44ff2419a4274fb7a";
constexpr std::string_view kDockershimId =
    "fce61bf3ded5f37a1b5a94b500a6a8cfa09986071e3f2155ac5f83ecddde073a";
constexpr std::string_view kContainerdId =
    "c2e52778cc87e45db76ffd1bd7883c30bf6505a46770d9b1f5fab21c15541aa5";
constexpr std::string_view kCrioId =
    "e787de5fd737921e48b5482aba7963dc73798167b00a9026d89ed3141b7d8a4a";
constexpr std::string_view kRootlessId =
    "dd1bdd375edf9940072d6d8c5b590eedec189f9a2acb80fd684c8cc156e068c8";
constexpr std::string_view kHalfWrittenId =
    "3fc7cf488ad9836ec7327c96cda573ce46e45e8ee168ed495e49170524f2bb1b";
constexpr std::string_view kWrongTypesId =
    "05c6d4742628442ff050d09401ec79f0e5e938e1d449768a96fd48e50ec4b687";
constexpr std::string_view kPodUid = "5f1b8a3c-2d4e-4f60-9a7b-1c2d3e4f5a6b";

std::string data(const std::string& name) {
  std::ifstream in(std::string(PORTREL_TEST_DATA) + "/workloads/" + name,
                   std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

const std::string kRoot = std::string(PORTREL_TEST_DATA) + "/workloads/root";

// PATTERN with each "{}" replaced by ID.
std::string with_id(std::string_view pattern, std::string_view id) {
  std::string out(pattern);
  for (size_t at; (at = out.find("{}")) != std::string::npos;) out.replace(at, 2, id);
  return out;
}

// ---- one cgroup path per layout ----

TEST(WorkloadPath, EachRuntimeAndLayout) {
  struct Row {
    std::string_view path;  // "{}" stands for ID
    std::string_view id;
    Kind kind;
    std::string_view runtime, name, pod_uid, unit;
  };
  const Row rows[] = {
      // systemd
      {"/", "", Kind::none, "", "", "", ""},
      {"", "", Kind::none, "", "", "", ""},
      {"/init.scope", "", Kind::unit, "systemd", "", "", "init.scope"},
      {"/system.slice/nginx.service", "", Kind::unit, "systemd", "", "",
       "nginx.service"},
      {"/system.slice/containerd.service", "", Kind::unit, "systemd", "", "",
       "containerd.service"},
      {"/user.slice/user-1000.slice/session-3.scope", "", Kind::session, "systemd", "",
       "", "session-3.scope"},
      {"/user.slice/user-1000.slice/user@1000.service/init.scope", "", Kind::unit,
       "systemd", "", "", "init.scope"},
      {"/user.slice/user-1000.slice/user@1000.service/app.slice/"
       "app-org.gnome.Terminal.slice/vte-spawn-1f2e.scope",
       "", Kind::unit, "systemd", "", "", "vte-spawn-1f2e.scope"},
      // Docker: systemd driver, cgroupfs driver, Docker in Docker
      {"/system.slice/docker-{}.scope", kDockerId, Kind::container, "docker", "", "",
       "docker-{}.scope"},
      {"/docker/{}", kDockerId, Kind::container, "docker", "", "", ""},
      {"/docker/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/"
       "docker/{}",
       kDockerId, Kind::container, "docker", "", "", ""},
      // Podman: systemd manager (rootful, its conmon, rootless), cgroupfs manager
      {"/machine.slice/libpod-{}.scope/container", kPodmanId, Kind::container, "podman",
       "", "", "libpod-{}.scope"},
      {"/machine.slice/libpod-conmon-{}.scope", kPodmanId, Kind::container_monitor,
       "podman", "", "", "libpod-conmon-{}.scope"},
      {"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{}.scope/"
       "container",
       kRootlessId, Kind::container, "podman", "", "", "libpod-{}.scope"},
      {"/libpod_parent/libpod-{}", kPodmanId, Kind::container, "podman", "", "", ""},
      {"/libpod_parent/conmon", "", Kind::container_monitor, "podman", "", "", ""},
      // Kubernetes: systemd driver (burstable, guaranteed, CRI-O's conmon), cgroupfs
      {"/kubepods.slice/kubepods-burstable.slice/"
       "kubepods-burstable-pod5f1b8a3c_2d4e_4f60_9a7b_1c2d3e4f5a6b.slice/"
       "cri-containerd-{}.scope",
       kContainerdId, Kind::container, "containerd", "", kPodUid,
       "cri-containerd-{}.scope"},
      {"/kubepods.slice/kubepods-pod5f1b8a3c_2d4e_4f60_9a7b_1c2d3e4f5a6b.slice/"
       "crio-{}.scope",
       kCrioId, Kind::container, "cri-o", "", kPodUid, "crio-{}.scope"},
      {"/kubepods.slice/kubepods-besteffort.slice/"
       "kubepods-besteffort-pod5f1b8a3c_2d4e_4f60_9a7b_1c2d3e4f5a6b.slice/"
       "crio-conmon-{}.scope",
       kCrioId, Kind::container_monitor, "cri-o", "", kPodUid, "crio-conmon-{}.scope"},
      {"/kubepods/burstable/pod5f1b8a3c-2d4e-4f60-9a7b-1c2d3e4f5a6b/{}", kContainerdId,
       Kind::container, "", "", kPodUid, ""},
      {"/kubepods/besteffort/pod5f1b8a3c-2d4e-4f60-9a7b-1c2d3e4f5a6b/crio-{}", kCrioId,
       Kind::container, "cri-o", "", kPodUid, ""},
      {"/kubepods/pod0f3c5a2b9d8e7f6a5b4c3d2e1f0a9b8c/{}", kContainerdId,
       Kind::container, "", "", "0f3c5a2b9d8e7f6a5b4c3d2e1f0a9b8c",
       ""},  // a static pod: uid is a hash
      // A Kubernetes node in a Docker container (kind): the inner container wins.
      {"/system.slice/"
       "docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
       ".scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
       "kubelet-kubepods-besteffort-pod5f1b8a3c_2d4e_4f60_9a7b_1c2d3e4f5a6b.slice/"
       "cri-containerd-{}.scope",
       kContainerdId, Kind::container, "containerd", "", kPodUid,
       "cri-containerd-{}.scope"},
      // LXC 4+ (payload and monitor), older LXC, an LXD project's instance
      {"/lxc.payload.web1/system.slice/nginx.service", "", Kind::container, "lxc",
       "web1", "", "nginx.service"},
      {"/lxc.monitor.web1", "", Kind::container_monitor, "lxc", "web1", "", ""},
      {"/lxc/web1", "", Kind::container, "lxc", "web1", "", ""},
      {"/lxc.payload.shop_web", "", Kind::container, "lxc", "shop_web", "", ""},
      // systemd-machined guests: machinectl start, nspawn by hand, libvirt
      {"/machine.slice/systemd-nspawn@debian\\x2dbox.service/payload/system.slice/"
       "sshd.service",
       "", Kind::machine, "nspawn", "debian-box", "", "sshd.service"},
      {"/machine.slice/machine-debian\\x2dbox.scope", "", Kind::machine, "nspawn",
       "debian-box", "", "machine-debian\\x2dbox.scope"},
      {"/machine.slice/machine-qemu\\x2d1\\x2dvm1.scope/libvirt/emulator", "",
       Kind::machine, "libvirt", "vm1", "", "machine-qemu\\x2d1\\x2dvm1.scope"},
      // Not containers: a 32-hex id of this test host's sandbox, a short "id"
      {"/process_api/2091c2ed8c042fbaf0581af2297a3448", "", Kind::none, "", "", "", ""},
      {"/system.slice/docker-0123456789ab.scope", "", Kind::unit, "systemd", "", "",
       "docker-0123456789ab.scope"},
      {"/kubepods/burstable/podnot-a-uid!/x", "", Kind::none, "", "", "", ""},
  };
  for (const Row& row : rows) {
    std::string path = with_id(row.path, row.id);
    Workload w = workload_of_cgroup_path(path);
    SCOPED_TRACE(path);
    EXPECT_EQ(w.kind, row.kind) << workload_kind_name(w.kind);
    EXPECT_EQ(w.runtime, row.runtime);
    EXPECT_EQ(w.id, row.id);
    EXPECT_EQ(w.name, row.name);
    EXPECT_EQ(w.pod_uid, row.pod_uid);
    EXPECT_EQ(w.unit, with_id(row.unit, row.id));
    EXPECT_EQ(w.cgroup, path);
    EXPECT_TRUE(w.pod.empty() && w.pod_namespace.empty());
  }
}

TEST(WorkloadPath, KindNames) {
  EXPECT_EQ(workload_kind_name(Kind::none), "");
  EXPECT_EQ(workload_kind_name(Kind::unit), "unit");
  EXPECT_EQ(workload_kind_name(Kind::session), "session");
  EXPECT_EQ(workload_kind_name(Kind::container_monitor), "container-monitor");
  EXPECT_EQ(workload_kind_name(Kind::machine), "machine");
  EXPECT_EQ(workload_kind_name(Kind::container), "container");
}

// ---- whole /proc/PID/cgroup texts ----

TEST(WorkloadText, RecordedPodmanContainerOnHybridHost) {
  Workload w = workload_of_cgroup_text(data("podman_cgroupfs_container.cgroup"));
  EXPECT_EQ(w.kind, Kind::container);
  EXPECT_EQ(w.runtime, "podman");
  EXPECT_EQ(w.id, kPodmanId);
  EXPECT_EQ(w.cgroup, with_id("/libpod_parent/libpod-{}", kPodmanId));
}

// conmon's v2 and name=systemd lines are "/": only the v1 controllers place it.
TEST(WorkloadText, RecordedConmonFoundInV1Controllers) {
  Workload w = workload_of_cgroup_text(data("podman_cgroupfs_conmon.cgroup"));
  EXPECT_EQ(w.kind, Kind::container_monitor);
  EXPECT_EQ(w.runtime, "podman");
  EXPECT_EQ(w.id, "");
  EXPECT_EQ(w.cgroup, "/libpod_parent/conmon");
}

TEST(WorkloadText, RecordedHostProcessesAreNone) {
  for (const char* file : {"workloads/hybrid_init.cgroup", "proc_cgroup_hybrid"}) {
    std::ifstream in(std::string(PORTREL_TEST_DATA) + "/" + file);
    std::stringstream text;
    text << in.rdbuf();
    ASSERT_FALSE(text.str().empty()) << file;
    Workload w = workload_of_cgroup_text(text.str());
    EXPECT_EQ(w.kind, Kind::none) << file;
    EXPECT_EQ(w.cgroup, "/") << file << ": the v2 line";
  }
  EXPECT_EQ(workload_of_cgroup_text(data("../proc_cgroup_v2")).unit, "nginx.service");
}

TEST(WorkloadText, ContainerBeatsUnitAcrossLines) {
  std::string text = with_id(
      "9:name=systemd:/system.slice/docker.service\n"
      "4:memory:/docker/{}\n"
      "0::/\n",
      kDockerId);
  Workload w = workload_of_cgroup_text(text);
  EXPECT_EQ(w.kind, Kind::container);
  EXPECT_EQ(w.runtime, "docker");
  EXPECT_EQ(w.id, kDockerId);
}

TEST(WorkloadText, AmongEqualsV2ThenNameSystemdThenOthers) {
  EXPECT_EQ(workload_of_cgroup_text("4:memory:/system.slice/a.service\n"
                                    "1:name=systemd:/system.slice/b.service\n"
                                    "0::/system.slice/c.service\n")
                .unit,
            "c.service");
  EXPECT_EQ(workload_of_cgroup_text("4:memory:/system.slice/a.service\n"
                                    "1:name=systemd:/system.slice/b.service\n"
                                    "0::/\n")
                .unit,
            "b.service");
  // A path may hold ':'; it is everything after the second one.
  EXPECT_EQ(workload_of_cgroup_text("0::/system.slice/x:y.service").unit,
            "x:y.service");
}

TEST(WorkloadText, MalformedTextIsNone) {
  for (std::string_view text : {"", "\n\n", "garbage", "12\n", "0:\n", ":::::\n"}) {
    EXPECT_EQ(workload_of_cgroup_text(text).kind, Kind::none) << text;
  }
}

// ---- naming from state files ----

Workload named(std::string_view path_pattern, std::string_view id) {
  Workload w = workload_of_cgroup_path(with_id(path_pattern, id));
  name_workload(w, kRoot);
  return w;
}

TEST(WorkloadName, RecordedPodmanNameIsInContainersJson) {
  Workload w = workload_of_cgroup_text(data("podman_cgroupfs_container.cgroup"));
  name_workload(w, kRoot);
  EXPECT_EQ(w.name, "web");
  EXPECT_EQ(w.runtime, "podman");
  EXPECT_TRUE(w.pod.empty());
  // Its conmon under the systemd manager names the same container.
  EXPECT_EQ(named("/machine.slice/libpod-conmon-{}.scope", kPodmanId).name, "web");
}

TEST(WorkloadName, RootlessPodmanFromTheUsersHome) {
  Workload w = named(
      "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{}.scope/"
      "container",
      kRootlessId);
  EXPECT_EQ(w.name, "api-rootless");
  // uid 1001's home is not absolute; uid 1002 has no passwd line.
  for (std::string_view uid : {"1001", "1002"}) {
    std::string path = "/user.slice/user-" + std::string(uid) + ".slice/user@" +
                       std::string(uid) + ".service/user.slice/libpod-{}.scope";
    EXPECT_EQ(named(path, kRootlessId).name, "") << uid;
  }
}

TEST(WorkloadName, Docker) {
  Workload w = named("/system.slice/docker-{}.scope", kDockerId);
  EXPECT_EQ(w.name, "web-docker");
  EXPECT_EQ(w.runtime, "docker");
  Workload shim = named(
      "/kubepods/besteffort/pod0e3a6c1d-7b2f-4d8e-9c5a-2f1e0d9c8b7a/{}", kDockershimId);
  EXPECT_EQ(shim.runtime, "docker");
  EXPECT_EQ(shim.name, "api");
  EXPECT_EQ(shim.pod, "api-7d9f");
  EXPECT_EQ(shim.pod_namespace, "shop");
  EXPECT_EQ(shim.pod_uid, "0e3a6c1d-7b2f-4d8e-9c5a-2f1e0d9c8b7a");
}

TEST(WorkloadName, ContainerdCri) {
  for (std::string_view path :
       {"/kubepods.slice/kubepods-burstable.slice/"
        "kubepods-burstable-pod5f1b8a3c_2d4e_4f60_9a7b_1c2d3e4f5a6b.slice/"
        "cri-containerd-{}.scope",
        "/kubepods/burstable/pod5f1b8a3c-2d4e-4f60-9a7b-1c2d3e4f5a6b/{}"}) {
    Workload w = named(path, kContainerdId);
    SCOPED_TRACE(path);
    EXPECT_EQ(w.runtime, "containerd");  // told by the state file on the cgroupfs path
    EXPECT_EQ(w.name, "nginx");
    EXPECT_EQ(w.pod, "nginx-5f7b9c");
    EXPECT_EQ(w.pod_namespace, "web");
    EXPECT_EQ(w.pod_uid, kPodUid);
  }
}

TEST(WorkloadName, CriO) {
  Workload w = named(
      "/kubepods.slice/kubepods-burstable.slice/"
      "kubepods-burstable-pod8c2d4e6f_1a3b_4c5d_8e9f_0a1b2c3d4e5f.slice/crio-{}.scope",
      kCrioId);
  EXPECT_EQ(w.runtime, "cri-o");
  EXPECT_EQ(w.name, "coredns");
  EXPECT_EQ(w.pod, "coredns-76f75df574-x2x7p");
  EXPECT_EQ(w.pod_namespace, "kube-system");
  EXPECT_EQ(w.pod_uid, "8c2d4e6f-1a3b-4c5d-8e9f-0a1b2c3d4e5f");
  EXPECT_EQ(
      named(
          "/kubepods/besteffort/pod8c2d4e6f-1a3b-4c5d-8e9f-0a1b2c3d4e5f/crio-conmon-{}",
          kCrioId)
          .name,
      "coredns");
}

TEST(WorkloadName, LxdKnowsTheLxcName) {
  EXPECT_EQ(named("/lxc.payload.web-lxd", "").runtime, "lxd");
  Workload plain = named("/lxc.payload.web1", "");
  EXPECT_EQ(plain.runtime, "lxc");
  EXPECT_EQ(plain.name, "web1");
}

TEST(WorkloadName, UnreadableOrMalformedLeavesFieldsEmpty) {
  for (std::string_view id : {kHalfWrittenId, kWrongTypesId}) {
    Workload w = named("/docker/{}", id);
    EXPECT_EQ(w.kind, Kind::container) << id;
    EXPECT_EQ(w.runtime, "docker") << id;
    EXPECT_EQ(w.name, "") << id;
    EXPECT_TRUE(w.pod.empty() && w.pod_namespace.empty() && w.pod_uid.empty()) << id;
  }
  // An id no runtime knows, a root that does not exist, kinds with no state file.
  EXPECT_EQ(named("/kubepods/pod1234abcd/{}", std::string(64, 'a')).runtime, "");
  Workload w = workload_of_cgroup_path(with_id("/docker/{}", kDockerId));
  name_workload(w, "/nonexistent/portrel-test-root");
  EXPECT_EQ(w.name, "");
  Workload unit = named("/system.slice/nginx.service", "");
  EXPECT_EQ(unit.name, "");
  EXPECT_EQ(unit.runtime, "systemd");
}

// A root built in a temporary directory: state files at the size cap and past
// it, and a FIFO where a state file should be.
class WorkloadTempRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "portrel_workload_XXXXXX";
    ASSERT_NE(mkdtemp(root_.data()), nullptr);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  std::string docker_config(std::string_view id) {
    std::string dir = root_ + "/var/lib/docker/containers/" + std::string(id);
    std::filesystem::create_directories(dir);
    return dir + "/config.v2.json";
  }
  // A valid config.v2.json naming "big", padded with spaces to SIZE bytes.
  void write_padded(const std::string& path, size_t size) {
    std::string text = R"({"Name":"/big"})";
    text.resize(size, ' ');
    std::ofstream(path, std::ios::binary) << text;
  }
  std::string root_;
};

TEST_F(WorkloadTempRoot, StateFilesAreCappedAt4MiB) {
  write_padded(docker_config(kDockerId), size_t{4} << 20);
  write_padded(docker_config(kDockershimId), (size_t{4} << 20) + 1);
  Workload at_cap = workload_of_cgroup_path(with_id("/docker/{}", kDockerId));
  name_workload(at_cap, root_);
  EXPECT_EQ(at_cap.name, "big");
  Workload past_cap = workload_of_cgroup_path(with_id("/docker/{}", kDockershimId));
  name_workload(past_cap, root_);
  EXPECT_EQ(past_cap.name, "");
}

TEST_F(WorkloadTempRoot, FifoDoesNotBlock) {
  ASSERT_EQ(mkfifo(docker_config(kDockerId).c_str(), 0600), 0);
  Workload w = workload_of_cgroup_path(with_id("/docker/{}", kDockerId));
  name_workload(w, root_);  // would hang on a blocking open
  EXPECT_EQ(w.name, "");
}

// ---- conmon ----

TEST(WorkloadConmon, RecordedCommandLine) {
  std::string cmdline = data("podman_conmon.cmdline");
  auto args = conmon_args(cmdline);
  ASSERT_TRUE(args.has_value());
  EXPECT_EQ(args->id, kPodmanId);
  EXPECT_EQ(args->name, "web");
  // As Process::cmdline keeps it: joined by spaces (an empty argument is lost).
  std::ranges::replace(cmdline, '\0', ' ');
  args = conmon_args(cmdline);
  ASSERT_TRUE(args.has_value());
  EXPECT_EQ(args->id, kPodmanId);
  EXPECT_EQ(args->name, "web");
}

TEST(WorkloadConmon, LongFormsAndRefusals) {
  auto args =
      conmon_args(with_id("conmon --cid={} --name=db --exit-command-arg -n", kCrioId));
  ASSERT_TRUE(args.has_value());
  EXPECT_EQ(args->id, kCrioId);
  EXPECT_EQ(args->name, "db");
  EXPECT_FALSE(conmon_args(with_id("/usr/bin/conmonrs -c {} -n x", kCrioId)));
  EXPECT_FALSE(conmon_args(with_id("/bin/sh -c {} -n x", kCrioId)));
  EXPECT_FALSE(conmon_args("conmon -c notanid -n x"));
  EXPECT_FALSE(conmon_args("conmon -n x -c"));
  EXPECT_FALSE(conmon_args(""));
}

// ---- the cache ----

TEST(WorkloadCache, OneAnswerPerText) {
  WorkloadCache cache(kRoot);
  std::string text = data("podman_cgroupfs_container.cgroup");
  const Workload& first = cache.of(text);
  EXPECT_EQ(first.name, "web");
  EXPECT_EQ(&cache.of(std::string(text)), &first);
  const Workload& other = cache.of(data("hybrid_init.cgroup"));
  EXPECT_NE(&other, &first);
  EXPECT_EQ(other.kind, Kind::none);
  EXPECT_EQ(first.name, "web");  // still valid after the map grew
}

// docker-proxy holds a published port on the host and runs in dockerd's
// cgroup; the container is the one with the address it forwards to.
TEST(Workload, DockerProxyIsTiedToTheContainerItForwardsTo) {
  EXPECT_FALSE(docker_proxy_args("/usr/bin/dockerd -H fd://"));
  EXPECT_FALSE(docker_proxy_args("/usr/bin/docker-proxy -proto tcp -host-port 8080"));
  std::string nul_separated;  // as /proc/PID/cmdline has it
  for (const char* arg : {"/usr/bin/docker-proxy", "-proto", "tcp", "-host-ip", "127.0.0.1",
                          "-host-port", "8080", "-container-ip", "172.17.0.2",
                          "-container-port", "80"}) {
    nul_separated += std::string(arg) + '\0';
  }
  auto args = docker_proxy_args(nul_separated);
  ASSERT_TRUE(args);
  EXPECT_EQ(args->container_ip, "172.17.0.2");
  EXPECT_EQ(args->container_port, "80");

  WorkloadCache cache(kRoot);
  Process proxy;
  proxy.pid = 900;
  proxy.comm = "docker-proxy";
  proxy.cgroup = "/system.slice/docker.service";
  proxy.cmdline =
      "/usr/bin/docker-proxy -proto tcp -host-ip 127.0.0.1 -host-port 8080 -container-ip "
      "172.17.0.2 -container-port 80";
  const Workload& w = cache.of(proxy);
  EXPECT_EQ(w.kind, WorkloadKind::container_monitor);
  EXPECT_EQ(w.runtime, "docker");
  EXPECT_EQ(w.name, "web-docker");
  EXPECT_EQ(w.id, "26d217bcf29f450338a51ce8091c09280c9d4b480f7585a44ff2419a4274fb7a");
  EXPECT_EQ(w.forwards_to, "172.17.0.2:80");
  // An address no container has: the proxy is still named as one, without a name.
  proxy.cmdline = "/usr/bin/docker-proxy -container-ip 172.17.0.9 -container-port 80";
  const Workload& unknown = cache.of(proxy);
  EXPECT_EQ(unknown.kind, WorkloadKind::container_monitor);
  EXPECT_EQ(unknown.name, "");
}

}  // namespace
}  // namespace portrel
