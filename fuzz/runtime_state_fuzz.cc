// The runtimes' state files that name a container (Docker's config.v2.json,
// containers/storage's containers.json and an OCI config.json with Kubernetes
// annotations, as containerd and CRI-O write them): any bytes in each, read
// through name_workload under a private root made once. A malformed or
// half-written file leaves the name empty; it never throws or crashes.
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "sources/workload.h"

namespace {

const std::string kId(64, 'a');
std::string fuzz_root;

void remove_root() {
  std::error_code ec;
  std::filesystem::remove_all(fuzz_root, ec);
}

std::string make_root() {
  std::string root = "/tmp/portrel-fuzz-state-" + std::to_string(getpid());
  fuzz_root = root;
  std::atexit(remove_root);
  for (const char* dir : {"/var/lib/docker/containers/", "/run/containers/storage/overlay-containers/",
                          "/run/containerd/io.containerd.runtime.v2.task/k8s.io/"}) {
    std::filesystem::create_directories(root + dir + kId + "/userdata");
  }
  return root;
}

void put(const std::string& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portrel;
  static const std::string root = make_root();
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  put(root + "/var/lib/docker/containers/" + kId + "/config.v2.json", bytes);
  put(root + "/run/containers/storage/overlay-containers/containers.json", bytes);
  put(root + "/run/containerd/io.containerd.runtime.v2.task/k8s.io/" + kId + "/config.json",
      bytes);
  for (const char* cgroup : {"/system.slice/docker-", "/libpod_parent/libpod-",
                             "/kubepods.slice/kubepods-pod1.slice/cri-containerd-"}) {
    Workload w = workload_of_cgroup_path(std::string(cgroup) + kId +
                                         (cgroup[1] == 'l' ? "" : ".scope"));
    name_workload(w, root);
  }
  return 0;
}
