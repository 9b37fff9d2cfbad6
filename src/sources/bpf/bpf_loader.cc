// Loading the bpf iterators and reading them. Loading is the slow part (libbpf
// relocates the programs against the kernel's 5 MB BTF, then the verifier runs:
// ~30 ms), so the loaded iterators are pinned in bpffs and later runs open the
// pins instead (~1 ms). Each read: the reading thread's filter goes into the
// portrel_filter map, an iterator fd is made from the link, read() to the end,
// and the filter entry is deleted. Without PORTREL_HAVE_BPF the binary has no
// programs and load_bpf_iterators() says so.
#include "sources/bpf/bpf_loader.h"

#include <cstdlib>

#if PORTREL_HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "portrel.skel.h"
#include "sources/bpf/portrel_bpf.h"
#include "util/unique_fd.h"
#endif

namespace portrel {

#if PORTREL_HAVE_BPF
namespace {

// Pin names of the iterator links, in the order of Loaded::links. The last
// ones (the sleepable fd walk, and the table rows, which need
// bpf_get_socket_cookie in iterators) may be missing: older kernels do not load
// them, and they come or go together.
constexpr std::array<const char*, 7> kLinkPins = {
    "tasks", "task_files", "tcp", "udp", "task_files_holders", "tcp_rows", "udp_rows"};
constexpr size_t kHolders = 4;  // the first of the optional ones
constexpr size_t kTcpRows = 5;
constexpr size_t kUdpRows = 6;
constexpr const char* kFilterPin = "filter";
constexpr const char* kDefaultPins = "/sys/fs/bpf/portrel";

struct Loaded {
  std::array<UniqueFd, 7> links;  // as kLinkPins; the optional ones -1 when not loaded
  UniqueFd filter;                // the portrel_filter map
};

// libbpf prints to stderr by default; the library never prints.
int silent(libbpf_print_level, const char*, va_list) { return 0; }

// Names this build's programs: a pin made by another build is never reused.
std::string object_id() {
  size_t size = 0;
  const auto* bytes = static_cast<const unsigned char*>(portrel_bpf::elf_bytes(&size));
  uint64_t hash = 14695981039346656037ull;  // FNV-1a
  for (size_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
  char text[17];
  snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

void remove_pins(const std::string& dir) {
  for (const char* name : kLinkPins) unlink((dir + "/" + name).c_str());
  unlink((dir + "/" + kFilterPin).c_str());
  rmdir(dir.c_str());
}

template <typename Info>
bool object_info(int fd, Info& info) {
  memset(&info, 0, sizeof info);
  auto len = static_cast<uint32_t>(sizeof info);
  return bpf_obj_get_info_by_fd(fd, &info, &len) == 0;
}

// Opens the pins of DIR when they are this build's, made by root and still what
// they should be; nullopt otherwise.
std::optional<Loaded> open_pins(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
      (st.st_mode & 022) != 0) {
    return std::nullopt;
  }
  Loaded loaded;
  for (size_t i = 0; i < kLinkPins.size(); ++i) {
    std::string path = dir + "/" + kLinkPins[i];
    if (i >= kHolders && access(path.c_str(), F_OK) != 0) break;  // not loadable here
    loaded.links[i].reset(bpf_obj_get(path.c_str()));
    bpf_link_info info;
    if (loaded.links[i].get() < 0 || !object_info(loaded.links[i].get(), info) ||
        info.type != BPF_LINK_TYPE_ITER) {
      return std::nullopt;
    }
  }
  loaded.filter.reset(bpf_obj_get((dir + "/" + kFilterPin).c_str()));
  bpf_map_info info;
  if (loaded.filter.get() < 0 || !object_info(loaded.filter.get(), info) ||
      info.type != BPF_MAP_TYPE_HASH || info.key_size != sizeof(uint64_t) ||
      info.value_size != sizeof(portrel_filter)) {
    return std::nullopt;
  }
  return loaded;
}

// The skeleton, loaded with every program, or without the optional ones
// when the kernel refuses them (before 5.18: no sleepable iterators, no
// bpf_copy_from_user_task, no socket cookies in iterators).
Result<portrel_bpf*> open_and_load() {
  int err = 0;
  for (bool optional : {true, false}) {
    portrel_bpf* skel = portrel_bpf__open();
    if (skel == nullptr) return std::unexpected(system_error("open bpf programs", errno));
    bpf_program__set_autoload(skel->progs.portrel_task_files_holders, optional);
    bpf_program__set_autoload(skel->progs.portrel_tcp_rows, optional);
    bpf_program__set_autoload(skel->progs.portrel_udp_rows, optional);
    err = portrel_bpf__load(skel);
    if (err == 0) return skel;
    portrel_bpf__destroy(skel);
    err = err < 0 ? -err : err;
    if (err == EPERM || err == EACCES) break;  // no privilege: nothing loads
  }
  std::string why = err == EPERM || err == EACCES ? " (needs root, or CAP_BPF and CAP_PERFMON)"
                                                  : " (kernel older than 5.11, or no iterator)";
  return std::unexpected(system_error("load bpf programs" + why, err));
}

Result<Loaded> load_programs() {
  libbpf_set_print(silent);
  auto opened = open_and_load();
  if (!opened) return std::unexpected(opened.error());
  portrel_bpf* skel = *opened;
  Loaded loaded;
  std::array<bpf_program*, 7> progs = {
      skel->progs.portrel_tasks,    skel->progs.portrel_task_files,
      skel->progs.portrel_tcp,      skel->progs.portrel_udp,
      skel->progs.portrel_task_files_holders, skel->progs.portrel_tcp_rows,
      skel->progs.portrel_udp_rows};
  for (size_t i = 0; i < progs.size(); ++i) {
    if (i >= kHolders && !bpf_program__autoload(progs[i])) break;
    // The link lives on through the duplicate once the skeleton is gone.
    bpf_link* link = bpf_program__attach_iter(progs[i], nullptr);
    if (link == nullptr) {
      int err = errno;
      portrel_bpf__destroy(skel);
      return std::unexpected(system_error(
          std::string("attach bpf iterator ") + bpf_program__name(progs[i]), err));
    }
    loaded.links[i].reset(fcntl(bpf_link__fd(link), F_DUPFD_CLOEXEC, 0));
    bpf_link__destroy(link);
  }
  loaded.filter.reset(fcntl(bpf_map__fd(skel->maps.portrel_filter), F_DUPFD_CLOEXEC, 0));
  portrel_bpf__destroy(skel);
  for (size_t i = 0; i < kHolders; ++i) {
    if (loaded.links[i].get() < 0) return std::unexpected(system_error("dup bpf link", errno));
  }
  if (loaded.filter.get() < 0) return std::unexpected(system_error("dup bpf map", errno));
  return loaded;
}

// Pins LOADED as ROOT/ID: built under a private name (bpffs allows no dots in
// names) and renamed into place, so
// a concurrent run sees all of it or none. Pins of other builds are removed.
std::string pin(const Loaded& loaded, const std::string& root, const std::string& id) {
  if (mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) {
    return "cannot create " + root + ": " + strerror(errno);
  }
  std::string tmp = root + "/new-" + std::to_string(getpid());
  remove_pins(tmp);
  if (mkdir(tmp.c_str(), 0700) != 0) return "cannot create " + tmp + ": " + strerror(errno);
  bool ok = true;
  for (size_t i = 0; i < kLinkPins.size(); ++i) {
    if (loaded.links[i].get() < 0) continue;  // the fd walk with holders, when not loaded
    ok = ok && bpf_obj_pin(loaded.links[i].get(), (tmp + "/" + kLinkPins[i]).c_str()) == 0;
  }
  ok = ok && bpf_obj_pin(loaded.filter.get(), (tmp + "/" + kFilterPin).c_str()) == 0;
  std::string target = root + "/" + id;
  if (!ok || rename(tmp.c_str(), target.c_str()) != 0) {
    int err = errno;
    remove_pins(tmp);
    // Another run pinned the same programs first: theirs serve later runs.
    if (err == EEXIST || err == ENOTEMPTY) return "";
    return "cannot pin in " + root + ": " + strerror(err);
  }
  if (DIR* d = opendir(root.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == ".." || name == id) continue;
      if (name.starts_with("new-") && kill(atoi(name.c_str() + 4), 0) == 0) continue;
      remove_pins(root + "/" + name);
    }
    closedir(d);
  }
  return "";
}

class LinkIterators : public BpfIterators {
 public:
  LinkIterators(Loaded loaded, const BpfFilter& filter, std::string origin)
      : loaded_(std::move(loaded)),
        filter_(kernel_filter(filter.ports, filter.listening_only)),
        origin_(std::move(origin)) {
    filter_->lean = filter.lean_walk && has_rows() ? 1 : 0;
  }

  Result<std::string> tasks() override { return read_all(loaded_.links[0].get(), *filter_); }
  Result<size_t> task_files(const RecordsSeen& on_records, bool holder_details) override {
    bool with_holders = holder_details && this->holder_details();
    // A copy: other threads read the table rows with filter_ meanwhile.
    auto filter = std::make_unique<portrel_filter>(*filter_);
    filter->holder_details = with_holders ? 1 : 0;
    return read(loaded_.links[with_holders ? kHolders : 1].get(), *filter, on_records, nullptr);
  }
  bool holder_details() const override { return loaded_.links[kHolders].get() >= 0; }
  Result<std::string> rows(Proto proto) override {
    if (!has_rows()) return std::unexpected(Error{"the kernel did not load the table rows"});
    if (proto != Proto::tcp) return read_all(loaded_.links[kUdpRows].get(), *filter_);
    if (filter_->listening_only == 0) return read_all(loaded_.links[kTcpRows].get(), *filter_);
    // Listeners come first: the walk ends at the first other socket.
    auto listeners = std::make_unique<portrel_filter>(*filter_);
    listeners->stop_after_listeners = 1;
    return read_all(loaded_.links[kTcpRows].get(), *listeners);
  }
  bool has_rows() const override {
    return loaded_.links[kTcpRows].get() >= 0 && loaded_.links[kUdpRows].get() >= 0;
  }
  Result<std::string> tables(const TableQuery& query) override {
    auto filter = kernel_filter(query.ports, filter_->listening_only != 0);
    std::string out;
    if (query.tcp) {
      filter->stop_after_listeners = query.tcp_listeners_only ? 1 : 0;
      auto tcp = read_all(loaded_.links[2].get(), *filter);
      if (!tcp) return tcp;
      out = std::move(*tcp);
    }
    if (query.udp) {
      filter->stop_after_listeners = 0;
      auto udp = read_all(loaded_.links[3].get(), *filter);
      if (!udp) return udp;
      out.append(*udp);
    }
    return out;
  }
  std::string origin() const override { return origin_; }

 private:
  // The programs find this thread's filter under the key the kernel's
  // bpf_get_current_pid_tgid() gives it.
  static uint64_t reader_key() {
    return (static_cast<uint64_t>(getpid()) << 32) | static_cast<uint32_t>(gettid());
  }

  // Entries of readers that died before deleting theirs.
  void collect_stale() {
    uint64_t key = 0, next = 0;
    const uint64_t* prev = nullptr;
    std::vector<uint64_t> stale;
    while (bpf_map_get_next_key(loaded_.filter.get(), prev, &next) == 0) {
      std::string task = "/proc/" + std::to_string(next >> 32) + "/task/" +
                         std::to_string(static_cast<uint32_t>(next));
      if (access(task.c_str(), F_OK) != 0) stale.push_back(next);
      key = next;
      prev = &key;
    }
    for (uint64_t k : stale) bpf_map_delete_elem(loaded_.filter.get(), &k);
  }

  static std::unique_ptr<portrel_filter> kernel_filter(const std::vector<uint16_t>& ports,
                                                       bool listening_only) {
    auto f = std::make_unique<portrel_filter>();
    memset(f.get(), 0, sizeof *f);
    f->filter_ports = ports.empty() ? 0 : 1;
    for (uint16_t port : ports) {
      f->wanted_ports[port >> 3] |= static_cast<uint8_t>(1u << (port & 7));
    }
    f->listening_only = listening_only ? 1 : 0;
    return f;
  }

  // Reads LINK's iterator with FILTER as this thread's entry; see read_iterator().
  Result<size_t> read(int link, const portrel_filter& filter, const RecordsSeen& on_records,
                      std::string* keep) {
    uint64_t key = reader_key();
    if (bpf_map_update_elem(loaded_.filter.get(), &key, &filter, BPF_ANY) != 0) {
      collect_stale();
      if (bpf_map_update_elem(loaded_.filter.get(), &key, &filter, BPF_ANY) != 0) {
        return std::unexpected(system_error("set the bpf filter", errno));
      }
    }
    auto out = read_iterator(link, filter.stop_after_listeners != 0, on_records, keep);
    bpf_map_delete_elem(loaded_.filter.get(), &key);
    return out;
  }
  Result<std::string> read_all(int link, const portrel_filter& filter) {
    std::string out;
    auto size = read(link, filter, {}, &out);
    if (!size) return std::unexpected(size.error());
    return out;
  }

  // Reads an iterator to its end and returns how many bytes it gave. Each
  // read() returns whole records (seq_file never splits an object's output):
  // ON_RECORDS (when set) sees them as they come, and KEEP (when set) gets all
  // of them; without KEEP one buffer serves every read(). STOPPABLE: the
  // program may end the walk early by returning 1 (the kernel then fails the
  // next read() with EAGAIN).
  static Result<size_t> read_iterator(int link, bool stoppable, const RecordsSeen& on_records,
                                      std::string* keep) {
    UniqueFd fd(bpf_iter_create(link));
    if (fd.get() < 0) return std::unexpected(system_error("bpf_iter_create", errno));
    std::string scratch;
    std::string& out = keep != nullptr ? *keep : scratch;
    size_t size = 0, total = 0;
    for (;;) {
      if (out.size() - size < 16 * 1024) out.resize(std::max<size_t>(64 * 1024, out.size() * 2));
      ssize_t n = ::read(fd.get(), out.data() + size, out.size() - size);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN && stoppable) break;
        return std::unexpected(system_error("read bpf iterator", errno));
      }
      if (n == 0) break;
      if (on_records) on_records(std::string_view(out.data() + size, static_cast<size_t>(n)));
      total += static_cast<size_t>(n);
      if (keep != nullptr) size += static_cast<size_t>(n);
    }
    out.resize(size);
    return total;
  }

  Loaded loaded_;
  std::unique_ptr<portrel_filter> filter_;
  std::string origin_;
};

// Where pins go: PORTREL_BPF_PINS, else /sys/fs/bpf/portrel; "" when pinning is
// off or the parent directory is not a mounted bpffs (portrel never mounts one).
std::string pin_root(std::string& why_not) {
  const char* env = std::getenv(kBpfPinsEnv);
  std::string root = env != nullptr && *env != '\0' ? env : kDefaultPins;
  if (root == "off") {
    why_not = std::string(kBpfPinsEnv) + "=off";
    return "";
  }
  std::string parent = root.substr(0, root.find_last_of('/'));
  struct statfs fs;
  if (statfs(parent.empty() ? "/" : parent.c_str(), &fs) != 0 ||
      static_cast<unsigned long>(fs.f_type) != BPF_FS_MAGIC) {
    why_not = "no bpffs mounted at " + parent;
    return "";
  }
  return root;
}

}  // namespace

bool bpf_built_in() { return true; }

Result<std::unique_ptr<BpfIterators>> load_bpf_iterators(const BpfFilter& filter) {
  if (const char* fail = std::getenv(kBpfFailEnv); fail != nullptr && *fail != '\0') {
    return std::unexpected(Error{std::string("bpf disabled by ") + kBpfFailEnv});
  }
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    return std::unexpected(Error{"the kernel has no BTF (/sys/kernel/btf/vmlinux)"});
  }
  std::string why_not;
  std::string root = pin_root(why_not);
  std::string id = object_id();
  // Said under --verbose: without the sleepable walk, holders cost /proc reads.
  auto texts = [](const Loaded& l) {
    return l.links[kHolders].get() >= 0
               ? std::string()
               : "; holders' exe and cmdline from /proc (no sleepable fd walk before Linux "
                 "5.18)";
  };
  if (!root.empty()) {
    if (auto pinned = open_pins(root + "/" + id)) {
      std::string origin = "pinned in " + root + "/" + id + texts(*pinned);
      return std::make_unique<LinkIterators>(std::move(*pinned), filter, std::move(origin));
    }
  }
  auto loaded = load_programs();
  if (!loaded) return std::unexpected(loaded.error());
  std::string origin = "loaded";
  if (!root.empty()) {
    // A pin that failed validation is replaced.
    remove_pins(root + "/" + id);
    why_not = pin(*loaded, root, id);
  }
  origin += why_not.empty() ? " and pinned in " + root + "/" + id : " (not pinned: " + why_not + ")";
  origin += texts(*loaded);
  return std::make_unique<LinkIterators>(std::move(*loaded), filter, std::move(origin));
}

#else

bool bpf_built_in() { return false; }

Result<std::unique_ptr<BpfIterators>> load_bpf_iterators(const BpfFilter&) {
  return std::unexpected(
      Error{"this portrel was built without the bpf source (no clang, bpftool, "
            "libbpf or kernel BTF at build time)"});
}

#endif

}  // namespace portrel
