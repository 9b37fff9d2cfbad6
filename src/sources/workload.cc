// Recognising a workload is a table of cgroup names: each runtime names the
// cgroup it makes after the container ("docker-ID.scope", "libpod-ID",
// "lxc.payload.NAME"), so a path is read one component at a time and the
// deepest match wins. Naming reads the runtimes' own state files, the ones
// `docker ps` and `podman ps` read, bounded in size and never trusted to be
// well-formed: they can be half-written, and a rootless user's are theirs.
#include "sources/workload.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "sources/procfs.h"
#include "util/unique_fd.h"

namespace portrel {
namespace {

using Json = nlohmann::json;

// containers.json lists every container of a store; a few thousand fit well below.
constexpr size_t kMaxStateFile = size_t{4} << 20;
constexpr size_t kMaxNamespaces = 256;  // containerd namespaces listed per task dir
constexpr size_t kMaxDockerContainers = 4096;  // looked through for an address

// ---- cgroup paths ----

bool is_container_id(std::string_view s) {
  return s.size() == 64 && std::ranges::all_of(s, [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A runtime's cgroup named PREFIX + 64-hex id + SUFFIX.
struct IdPattern {
  std::string_view prefix, suffix, runtime;
  WorkloadKind kind;
};
constexpr IdPattern kIdPatterns[] = {
    {"docker-", ".scope", "docker", WorkloadKind::container},
    {"libpod-", ".scope", "podman", WorkloadKind::container},  // systemd manager
    {"libpod-", "", "podman", WorkloadKind::container},        // cgroupfs manager
    {"libpod-conmon-", ".scope", "podman", WorkloadKind::container_monitor},
    {"cri-containerd-", ".scope", "containerd", WorkloadKind::container},
    {"crio-", ".scope", "cri-o", WorkloadKind::container},
    {"crio-", "", "cri-o", WorkloadKind::container},  // cgroupfs manager
    {"crio-conmon-", ".scope", "cri-o", WorkloadKind::container_monitor},
    {"crio-conmon-", "", "cri-o", WorkloadKind::container_monitor},
};

std::optional<std::string_view> id_between(std::string_view part,
                                           std::string_view prefix,
                                           std::string_view suffix) {
  if (part.size() < prefix.size() + suffix.size() || !part.starts_with(prefix) ||
      !part.ends_with(suffix)) {
    return std::nullopt;
  }
  part.remove_prefix(prefix.size());
  part.remove_suffix(suffix.size());
  if (!is_container_id(part)) return std::nullopt;
  return part;
}

// systemd's unit-name escaping: "\x2d" is '-'.
std::string unescape_unit(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned byte = 0;
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] == 'x' &&
        std::from_chars(s.data() + i + 2, s.data() + i + 4, byte, 16).ptr ==
            s.data() + i + 4) {
      out += static_cast<char>(byte);
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The unit types that own cgroups.
bool is_unit(std::string_view part) {
  static constexpr std::string_view kSuffixes[] = {".service", ".scope", ".slice",
                                                   ".socket",  ".mount", ".swap"};
  return std::ranges::any_of(kSuffixes, [&](std::string_view s) {
    return part.size() > s.size() && part.ends_with(s);
  });
}

// Where on the path a component sits, for the names that mean something only
// below a given parent ("/docker/ID", "/lxc/NAME", "/kubepods/…/podUID").
struct Context {
  std::string_view parent;
  size_t depth = 0;
  bool under_kubepods = false;
  bool under_libpod_parent = false;
};

struct Found {
  WorkloadKind kind;
  std::string_view runtime;
  std::string id, name;
};

// A guest of systemd-machined: "machine-NAME.scope" (nspawn run by hand, libvirt
// as "qemu-N-NAME" or "lxc-N-NAME") or machinectl's "systemd-nspawn@NAME.service".
std::optional<Found> machine_of(std::string_view part) {
  std::string name;
  if (part.starts_with("systemd-nspawn@") && part.ends_with(".service")) {
    name = unescape_unit(part.substr(15, part.size() - 15 - 8));
    return Found{WorkloadKind::machine, "nspawn", "", name};
  }
  if (!part.starts_with("machine-") || !part.ends_with(".scope") || part.size() <= 14) {
    return std::nullopt;
  }
  name = unescape_unit(part.substr(8, part.size() - 8 - 6));
  for (std::string_view driver : {"qemu-", "lxc-"}) {
    if (!name.starts_with(driver)) continue;
    size_t digits = driver.size();
    while (digits < name.size() && name[digits] >= '0' && name[digits] <= '9') ++digits;
    if (digits > driver.size() && digits < name.size() && name[digits] == '-') {
      return Found{WorkloadKind::machine, "libvirt", "", name.substr(digits + 1)};
    }
  }
  return Found{WorkloadKind::machine, "nspawn", "", name};
}

std::optional<Found> match_part(std::string_view part, const Context& at) {
  for (const IdPattern& p : kIdPatterns) {
    if (auto id = id_between(part, p.prefix, p.suffix)) {
      return Found{p.kind, p.runtime, std::string(*id), ""};
    }
  }
  // cgroupfs drivers: "/docker/ID", Kubernetes' "/kubepods/QOS/podUID/ID", and a
  // --cgroup-parent of the user's choosing; only Docker's says which runtime.
  if (is_container_id(part)) {
    return Found{WorkloadKind::container, at.parent == "docker" ? "docker" : "",
                 std::string(part), ""};
  }
  if (at.under_libpod_parent && part == "conmon") {
    return Found{WorkloadKind::container_monitor, "podman", "", ""};
  }
  auto lxc = [&](WorkloadKind kind, std::string_view name) -> std::optional<Found> {
    if (name.empty() || name == "." || name == "..") return std::nullopt;
    return Found{kind, "lxc", "", std::string(name)};
  };
  if (part.starts_with("lxc.payload.")) {
    return lxc(WorkloadKind::container, part.substr(12));
  }
  if (part.starts_with("lxc.monitor.")) {
    return lxc(WorkloadKind::container_monitor, part.substr(12));
  }
  if (at.depth == 1 && at.parent == "lxc") return lxc(WorkloadKind::container, part);
  return machine_of(part);
}

// The pod uid of a Kubernetes pod cgroup: "kubepods-QOS-pod<uid with '_'>.slice"
// (systemd driver, '-' is the slice separator) or "pod<uid>" (cgroupfs).
std::optional<std::string> pod_uid_of(std::string_view part, const Context& at) {
  std::string uid;
  size_t pod = part.rfind("-pod");
  if (part.find("kubepods") != std::string_view::npos && part.ends_with(".slice") &&
      pod != std::string_view::npos) {
    uid = part.substr(pod + 4, part.size() - pod - 4 - 6);
    std::ranges::replace(uid, '_', '-');
  } else if (at.under_kubepods && part.starts_with("pod")) {
    uid = part.substr(3);
  }
  bool ok = !uid.empty() && std::ranges::all_of(uid, [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-';
  });
  if (!ok) return std::nullopt;
  return uid;
}

// ---- state files ----

// ROOT + PATH, where PATH is absolute and ROOT may be "/".
std::string under(const std::string& root, std::string_view path) {
  std::string joined = root;
  while (!joined.empty() && joined.back() == '/') joined.pop_back();
  joined += path;
  return joined;
}

// The text of a regular file of at most kMaxStateFile bytes. O_NONBLOCK: a FIFO
// planted where a state file should be must not hang the scan.
std::optional<std::string> read_state_file(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  struct stat st {};
  if (fd.get() < 0 || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) > kMaxStateFile) {
    return std::nullopt;
  }
  std::string text;
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fd.get(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) return text;
    text.append(chunk, static_cast<size_t>(n));
    if (text.size() > kMaxStateFile) return std::nullopt;  // grew while read
  }
}

std::optional<Json> read_json(const std::string& path) {
  std::optional<std::string> text = read_state_file(path);
  if (!text) return std::nullopt;
  Json doc = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return std::nullopt;
  return doc;
}

const Json* member(const Json* object, const char* key) {
  if (object == nullptr || !object->is_object()) return nullptr;
  auto it = object->find(key);
  return it == object->end() ? nullptr : &*it;
}

std::string text_of(const Json* value) {
  return value != nullptr && value->is_string() ? value->get<std::string>() : "";
}

void fill(std::string& field, std::string value) {
  if (field.empty()) field = std::move(value);
}

// The pod keys of containerd's CRI plugin, and those kubelet sets itself (CRI-O's
// OCI annotations, dockershim's Docker labels).
struct PodKeys {
  const char *pod, *pod_namespace, *pod_uid, *container;
};
constexpr PodKeys kPodKeys[] = {
    {"io.kubernetes.cri.sandbox-name", "io.kubernetes.cri.sandbox-namespace",
     "io.kubernetes.cri.sandbox-uid", "io.kubernetes.cri.container-name"},
    {"io.kubernetes.pod.name", "io.kubernetes.pod.namespace", "io.kubernetes.pod.uid",
     "io.kubernetes.container.name"},
};

void fill_pod(Workload& w, const Json* annotations) {
  for (const PodKeys& k : kPodKeys) {
    fill(w.pod, text_of(member(annotations, k.pod)));
    fill(w.pod_namespace, text_of(member(annotations, k.pod_namespace)));
    fill(w.pod_uid, text_of(member(annotations, k.pod_uid)));
    fill(w.name, text_of(member(annotations, k.container)));
  }
}

bool from_docker(Workload& w, const std::string& root) {
  auto doc =
      read_json(under(root, "/var/lib/docker/containers/" + w.id + "/config.v2.json"));
  if (!doc) return false;
  fill_pod(w, member(member(&*doc, "Config"), "Labels"));  // dockershim
  std::string name = text_of(member(&*doc, "Name"));       // "/web"
  if (name.starts_with('/')) name.erase(0, 1);
  fill(w.name, std::move(name));
  fill(w.runtime, "docker");
  return true;
}

// The Docker container with ADDRESS on one of its networks: its id and name
// (config.v2.json's NetworkSettings.Networks.*.IPAddress), for docker-proxy.
bool docker_by_address(Workload& w, const std::string& root, std::string_view address) {
  std::error_code ec;
  std::filesystem::directory_iterator it(under(root, "/var/lib/docker/containers"), ec), end;
  for (size_t n = 0; !ec && it != end && n < kMaxDockerContainers; it.increment(ec), ++n) {
    std::string id = it->path().filename().string();
    if (!is_container_id(id)) continue;
    auto doc = read_json(it->path().string() + "/config.v2.json");
    const Json* networks = doc ? member(member(&*doc, "NetworkSettings"), "Networks") : nullptr;
    if (networks == nullptr || !networks->is_object()) continue;
    for (const auto& [network, settings] : networks->items()) {
      if (text_of(member(&settings, "IPAddress")) != address) continue;
      w.id = id;
      return from_docker(w, root);
    }
  }
  return false;
}

// containerd keeps each task's OCI bundle under TASKS/NAMESPACE/ID.
bool from_containerd(Workload& w, const std::string& root) {
  static constexpr std::string_view kTaskDirs[] = {
      "/run/containerd/io.containerd.runtime.v2.task",
      "/run/k3s/containerd/io.containerd.runtime.v2.task",
      "/run/containerd/io.containerd.runtime.v1.linux",
  };
  for (std::string_view tasks : kTaskDirs) {
    std::error_code ec;
    std::filesystem::directory_iterator it(under(root, tasks), ec), end;
    for (size_t n = 0; !ec && it != end && n < kMaxNamespaces; it.increment(ec), ++n) {
      std::string ns = it->path().filename().string();
      auto doc = read_json(it->path().string() + "/" + w.id + "/config.json");
      if (!doc) continue;
      const Json* annotations = member(&*doc, "annotations");
      fill_pod(w, annotations);
      fill(w.name, text_of(member(annotations, "nerdctl/name")));
      fill(w.runtime, ns == "moby" ? "docker" : "containerd");
      return true;
    }
  }
  return false;
}

// The home of UID in ROOT/etc/passwd ("name:x:uid:gid:gecos:home:shell"), ""
// when it has no line there (users from LDAP and other NSS sources).
std::string home_of(const std::string& root, std::string_view uid) {
  std::optional<std::string> passwd = read_state_file(under(root, "/etc/passwd"));
  std::string_view text = passwd ? std::string_view(*passwd) : std::string_view();
  while (!text.empty()) {
    std::string_view line = text.substr(0, text.find('\n'));
    text.remove_prefix(std::min(text.size(), line.size() + 1));
    std::vector<std::string_view> fields;
    for (std::string_view rest = line; fields.size() < 7;) {
      fields.push_back(rest.substr(0, rest.find(':')));
      if (fields.back().size() == rest.size()) break;
      rest.remove_prefix(fields.back().size() + 1);
    }
    if (fields.size() >= 6 && fields[2] == uid && fields[5].starts_with('/')) {
      return std::string(fields[5]);
    }
  }
  return "";
}

// The stores of containers/storage (Podman, CRI-O): rootful, and the rootless
// store of the user whose manager (user@UID.service) the cgroup is under.
std::vector<std::string> storage_roots(const Workload& w, const std::string& root) {
  std::vector<std::string> roots = {under(root, "/run/containers/storage"),
                                    under(root, "/var/lib/containers/storage")};
  if (size_t at = w.cgroup.find("/user@"); at != std::string::npos) {
    std::string_view uid = std::string_view(w.cgroup).substr(at + 6);
    uid = uid.substr(0, uid.find(".service/"));
    bool numeric = !uid.empty() && std::ranges::all_of(uid, [](char c) {
      return c >= '0' && c <= '9';
    });
    std::string home = numeric ? home_of(root, uid) : "";
    if (!home.empty()) {
      roots.push_back(under(root, home + "/.local/share/containers/storage"));
    }
  }
  return roots;
}

// The name in a containers.json: [{"id": ID, "names": [NAME, …]}, …].
std::string name_in_store(const Json& containers, const std::string& id) {
  if (!containers.is_array()) return "";
  for (const Json& c : containers) {
    if (text_of(member(&c, "id")) != id) continue;
    const Json* names = member(&c, "names");
    if (names != nullptr && names->is_array() && !names->empty()) {
      return text_of(&(*names)[0]);
    }
  }
  return "";
}

bool from_storage(Workload& w, const std::string& root) {
  static constexpr std::string_view kDrivers[] = {"overlay", "vfs", "btrfs", "zfs"};
  bool found = false;
  for (const std::string& store : storage_roots(w, root)) {
    for (std::string_view driver : kDrivers) {
      std::string dir = store + "/" + std::string(driver) + "-containers";
      if (access(dir.c_str(), F_OK) != 0) continue;
      if (auto config = read_json(dir + "/" + w.id + "/userdata/config.json")) {
        const Json* annotations = member(&*config, "annotations");
        fill_pod(w, annotations);
        bool libpod = text_of(member(annotations, "io.container.manager")) == "libpod";
        fill(w.runtime, libpod ? "podman" : "cri-o");
        found = true;
      }
      if (auto containers = read_json(dir + "/containers.json")) {
        std::string name = name_in_store(*containers, w.id);
        found = found || !name.empty();
        fill(w.name, std::move(name));
      }
      if (found && !w.name.empty()) return true;
    }
  }
  return found;
}

// LXD and Incus run their instances as LXC containers of the same name.
void from_lxc_managers(Workload& w, const std::string& root) {
  static constexpr std::pair<std::string_view, std::string_view> kManagers[] = {
      {"/var/snap/lxd/common/lxd/containers/", "lxd"},
      {"/var/lib/lxd/containers/", "lxd"},
      {"/var/lib/incus/containers/", "incus"},
  };
  for (const auto& [dir, runtime] : kManagers) {
    struct stat st {};
    if (lstat(under(root, std::string(dir) + w.name).c_str(), &st) == 0) {
      w.runtime = runtime;
      return;
    }
  }
}

}  // namespace

std::string_view workload_kind_name(WorkloadKind kind) {
  switch (kind) {
    case WorkloadKind::none:
      return "";
    case WorkloadKind::unit:
      return "unit";
    case WorkloadKind::session:
      return "session";
    case WorkloadKind::container_monitor:
      return "container-monitor";
    case WorkloadKind::machine:
      return "machine";
    case WorkloadKind::container:
      return "container";
  }
  return "";
}

Workload workload_of_cgroup_path(std::string_view path) {
  Workload w;
  w.cgroup = path;
  Context at;
  while (!path.empty()) {
    std::string_view part = path.substr(0, path.find('/'));
    path.remove_prefix(std::min(path.size(), part.size() + 1));
    if (part.empty()) continue;
    if (is_unit(part)) w.unit = part;
    if (auto uid = pod_uid_of(part, at)) w.pod_uid = std::move(*uid);
    if (auto found = match_part(part, at)) {
      w.kind = found->kind;
      w.runtime = found->runtime;
      w.id = std::move(found->id);
      w.name = std::move(found->name);
    }
    at.under_kubepods = at.under_kubepods || part.starts_with("kubepods") ||
                        part.starts_with("kubelet-kubepods");
    at.under_libpod_parent = at.under_libpod_parent || part == "libpod_parent";
    at.parent = part;
    ++at.depth;
  }
  if (w.kind == WorkloadKind::none && !w.unit.empty()) {
    bool session = w.unit.starts_with("session-") && w.unit.ends_with(".scope");
    w.kind = session ? WorkloadKind::session : WorkloadKind::unit;
    w.runtime = "systemd";
  }
  return w;
}

Workload workload_of_cgroup_text(std::string_view text) {
  // (preference, path): the v2 line first, then name=systemd, then the rest.
  std::vector<std::pair<int, std::string_view>> paths;
  while (!text.empty()) {
    std::string_view line = text.substr(0, text.find('\n'));
    text.remove_prefix(std::min(text.size(), line.size() + 1));
    size_t first = line.find(':');
    size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    std::string_view controllers = line.substr(first + 1, second - first - 1);
    int preference = controllers.empty() ? 0 : controllers == "name=systemd" ? 1 : 2;
    paths.emplace_back(preference, line.substr(second + 1));
  }
  std::ranges::stable_sort(paths, {}, &std::pair<int, std::string_view>::first);
  Workload best;
  for (size_t i = 0; i < paths.size(); ++i) {
    Workload w = workload_of_cgroup_path(paths[i].second);
    if (i == 0 || w.kind > best.kind) best = std::move(w);
  }
  return best;
}

void name_workload(Workload& w, const std::string& root) {
  if (w.kind == WorkloadKind::container && w.runtime == "lxc") {
    from_lxc_managers(w, root);
    return;
  }
  bool containerish =
      w.kind == WorkloadKind::container || w.kind == WorkloadKind::container_monitor;
  if (!containerish || !is_container_id(w.id)) return;
  bool any = w.runtime.empty();
  if ((any || w.runtime == "docker") && from_docker(w, root)) return;
  if ((any || w.runtime == "containerd") && from_containerd(w, root)) return;
  if (any || w.runtime == "podman" || w.runtime == "cri-o") from_storage(w, root);
}

namespace {

// A command line's arguments, NUL-separated as in /proc/PID/cmdline or joined
// by spaces as in Process::cmdline; empty ones are dropped.
std::vector<std::string_view> split_argv(std::string_view cmdline) {
  char separator = cmdline.find('\0') != std::string_view::npos ? '\0' : ' ';
  std::vector<std::string_view> argv;
  while (!cmdline.empty()) {
    std::string_view arg = cmdline.substr(0, cmdline.find(separator));
    cmdline.remove_prefix(std::min(cmdline.size(), arg.size() + 1));
    if (!arg.empty()) argv.push_back(arg);
  }
  return argv;
}

bool runs(const std::vector<std::string_view>& argv, std::string_view program) {
  return !argv.empty() && argv[0].substr(argv[0].rfind('/') + 1) == program;
}

}  // namespace

std::optional<DockerProxyArgs> docker_proxy_args(std::string_view cmdline) {
  std::vector<std::string_view> argv = split_argv(cmdline);
  if (!runs(argv, "docker-proxy")) return std::nullopt;
  DockerProxyArgs args;
  for (size_t i = 1; i + 1 < argv.size(); ++i) {
    if (argv[i] == "-container-ip") args.container_ip = argv[i + 1];
    if (argv[i] == "-container-port") args.container_port = argv[i + 1];
  }
  if (args.container_ip.empty() || args.container_port.empty()) return std::nullopt;
  return args;
}

std::optional<ConmonArgs> conmon_args(std::string_view cmdline) {
  std::vector<std::string_view> argv = split_argv(cmdline);
  if (!runs(argv, "conmon")) return std::nullopt;
  ConmonArgs args;
  // The first of each: podman and CRI-O put -c and -n before the exit command's
  // arguments, whose values could be anything.
  auto take = [&](size_t& i, std::string_view brief, std::string_view full,
                  std::string& out) {
    std::string_view arg = argv[i];
    if ((arg == brief || arg == full) && i + 1 < argv.size()) {
      if (out.empty()) out = argv[i + 1];
      ++i;
      return true;
    }
    if (arg.starts_with(full) && arg.size() > full.size() && arg[full.size()] == '=') {
      if (out.empty()) out = arg.substr(full.size() + 1);
      return true;
    }
    return false;
  };
  for (size_t i = 1; i < argv.size(); ++i) {
    if (!take(i, "-c", "--cid", args.id)) take(i, "-n", "--name", args.name);
  }
  if (!is_container_id(args.id)) return std::nullopt;
  return args;
}

bool may_be_in_container(const Process& p, uint64_t host_pidns, uint64_t host_netns) {
  static constexpr std::string_view kHelpers[] = {"conmon", "docker-proxy", "rootlessport",
                                                  "slirp4netns", "pasta"};
  if (p.pidns != 0 && p.pidns != host_pidns) return true;
  if (p.netns != 0 && p.netns != host_netns) return true;
  return std::ranges::find(kHelpers, std::string_view(p.comm)) != std::end(kHelpers);
}

const Workload& WorkloadCache::of_pid(pid_t pid, const std::string& proc_root) {
  Process p;
  p.pid = pid;
  std::string dir = proc_root + "/" + std::to_string(pid) + "/";
  if (auto text = read_state_file(dir + "cgroup")) {
    p.cgroup = procfs::parse_cgroup(*text).value_or("");
  }
  if (auto raw = read_state_file(dir + "cmdline")) p.cmdline = procfs::join_cmdline(*raw);
  return of(p);
}

const Workload& WorkloadCache::of(const Process& p) {
  // Keys of their own kind: a /proc/PID/cgroup text has ':' after a number.
  std::optional<ConmonArgs> conmon = conmon_args(p.cmdline);
  std::optional<DockerProxyArgs> proxy = conmon ? std::nullopt : docker_proxy_args(p.cmdline);
  std::string key = conmon  ? "conmon " + conmon->id
                    : proxy ? "docker-proxy " + proxy->container_ip + " " + proxy->container_port
                            : "path " + p.cgroup;
  if (auto it = by_text_.find(key); it != by_text_.end()) return it->second;
  Workload w = workload_of_cgroup_path(p.cgroup);
  if (conmon) {
    if (w.kind != WorkloadKind::container_monitor || w.runtime.empty()) w.runtime = "podman";
    w.kind = WorkloadKind::container_monitor;
    w.id = conmon->id;
    w.name = conmon->name;
  }
  if (proxy) {
    // docker-proxy runs in dockerd's cgroup: the container is the one with
    // the address it forwards to.
    w = Workload{};
    w.kind = WorkloadKind::container_monitor;
    w.runtime = "docker";
    w.cgroup = p.cgroup;
    w.forwards_to = proxy->container_ip + ":" + proxy->container_port;
    docker_by_address(w, root_, proxy->container_ip);
    return by_text_.emplace(std::move(key), std::move(w)).first->second;
  }
  name_workload(w, root_);
  return by_text_.emplace(std::move(key), std::move(w)).first->second;
}

const Workload& WorkloadCache::of(std::string_view proc_pid_cgroup) {
  if (auto it = by_text_.find(proc_pid_cgroup); it != by_text_.end()) return it->second;
  Workload w = workload_of_cgroup_text(proc_pid_cgroup);
  name_workload(w, root_);
  return by_text_.emplace(std::string(proc_pid_cgroup), std::move(w)).first->second;
}

}  // namespace portrel
