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
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "portrel.skel.h"
#include "sources/bpf/portrel_bpf.h"
#include "util/unique_fd.h"
#endif

namespace portrel {

#if PORTREL_HAVE_BPF
namespace {

// The programs in the order of BpfPart (the first kBpfPrograms parts); a link
// is pinned under its part's name. Any but tasks and task_files may be missing:
// older kernels do not load the sleepable fd walk and the table rows (no
// sleepable iterators, bpf_copy_from_user_task or socket cookies before 5.18),
// and a verifier may refuse any one of them.
constexpr size_t kHolders = static_cast<size_t>(BpfPart::task_files_holders);
constexpr size_t kTcpRows = static_cast<size_t>(BpfPart::tcp_rows);
constexpr size_t kUdpRows = static_cast<size_t>(BpfPart::udp_rows);
constexpr size_t kExePath = static_cast<size_t>(BpfPart::exe_path);
constexpr const char* kFilterPin = "filter";
// A part the kernel refused is marked by a directory (bpffs holds nothing
// but directories and bpf objects) named "refused_PART" beside the pins.
std::string refused_marker(const std::string& dir, size_t part) {
  return dir + "/refused_" + std::string(bpf_part_name(static_cast<BpfPart>(part)));
}
constexpr const char* kDefaultPins = "/sys/fs/bpf/portrel";

using PartStates = std::array<BpfPartStatus, kBpfParts>;

PartStates all_loaded() {
  PartStates states;
  for (size_t i = 0; i < kBpfParts; ++i) states[i].part = static_cast<BpfPart>(i);
  return states;
}

bool in_use(const PartStates& states, size_t i) {
  return states[i].state == BpfPartState::loaded;
}

struct Loaded {
  std::array<UniqueFd, kBpfPrograms> links;  // -1 for a part not loaded
  UniqueFd filter;                           // the portrel_filter map
  PartStates states = all_loaded();
};

// libbpf's warnings during one load, kept for the name of the program the
// kernel refused and its verifier log; libbpf would print them to stderr, and
// the library never prints.
std::mutex log_mutex;
std::string* log_sink = nullptr;

int capture_print(libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  std::lock_guard lock(log_mutex);
  if (log_sink == nullptr) return 0;
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return 0;
  size_t at = log_sink->size();
  log_sink->resize(at + static_cast<size_t>(n) + 1);
  vsnprintf(log_sink->data() + at, static_cast<size_t>(n) + 1, format, args);
  log_sink->resize(at + static_cast<size_t>(n));
  return 0;
}

// Keeps libbpf's warnings in *SINK while it lives.
class LogCapture {
 public:
  explicit LogCapture(std::string* sink) {
    std::lock_guard lock(log_mutex);
    log_sink = sink;
    libbpf_set_print(capture_print);
  }
  ~LogCapture() {
    std::lock_guard lock(log_mutex);
    log_sink = nullptr;
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
};

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
  for (size_t i = 0; i < kBpfParts; ++i) {
    unlink((dir + "/" + std::string(bpf_part_name(static_cast<BpfPart>(i)))).c_str());
    rmdir(refused_marker(dir, i).c_str());
  }
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
// they should be; nullopt otherwise. A part that is not pinned must be marked
// refused; its reason comes from VERDICT when known.
std::optional<Loaded> open_pins(const std::string& dir, const BpfVerdict* verdict) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
      (st.st_mode & 022) != 0) {
    return std::nullopt;
  }
  Loaded loaded;
  auto refused = [&](size_t i) {
    if (access(refused_marker(dir, i).c_str(), F_OK) != 0) return false;
    const std::string* why = verdict ? verdict->refusal(loaded.states[i].part) : nullptr;
    loaded.states[i].state = BpfPartState::refused;
    loaded.states[i].reason = why ? *why : "refused when the pinned programs were loaded";
    return true;
  };
  for (size_t i = 0; i < kBpfPrograms; ++i) {
    if (!bpf_part_required(static_cast<BpfPart>(i)) && refused(i)) continue;
    loaded.links[i].reset(bpf_obj_get((dir + "/" + std::string(bpf_part_name(
                                                         static_cast<BpfPart>(i)))).c_str()));
    bpf_link_info info;
    if (loaded.links[i].get() < 0 || !object_info(loaded.links[i].get(), info) ||
        info.type != BPF_LINK_TYPE_ITER) {
      return std::nullopt;
    }
  }
  if (!in_use(loaded.states, kHolders)) {
    loaded.states[kExePath] = loaded.states[kHolders];
  } else {
    refused(kExePath);
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

std::array<bpf_program*, kBpfPrograms> programs_of(portrel_bpf* skel) {
  return {skel->progs.portrel_tasks,    skel->progs.portrel_task_files,
          skel->progs.portrel_tcp,      skel->progs.portrel_udp,
          skel->progs.portrel_task_files_holders, skel->progs.portrel_tcp_rows,
          skel->progs.portrel_udp_rows};
}

// The program libbpf names in LOG as the one that failed, and the reason: the
// verifier's last line, else libbpf's own words.
std::optional<std::pair<size_t, std::string>> refused_program(
    const std::string& log, const std::array<bpf_program*, kBpfPrograms>& progs) {
  for (size_t i = 0; i < progs.size(); ++i) {
    std::string tag = std::string("prog '") + bpf_program__name(progs[i]) + "': ";
    size_t at = log.find(tag);
    if (at == std::string::npos) continue;
    std::string reason;
    static constexpr std::string_view kBegin = "-- BEGIN PROG LOAD LOG --\n";
    if (size_t begin = log.find(kBegin, at); begin != std::string::npos) {
      begin += kBegin.size();
      size_t end = log.find("-- END PROG LOAD LOG --", begin);
      reason = verifier_reason(std::string_view(log).substr(begin, end - begin));
    }
    if (reason.empty()) {
      size_t end = log.find('\n', at);
      reason = log.substr(at + tag.size(), end == std::string::npos ? end : end - at - tag.size());
    }
    return std::pair{i, reason};
  }
  return std::nullopt;
}

// libbpf's last line, for a failure no program is named in.
std::string last_line(const std::string& log) {
  std::string reason = verifier_reason(log);
  if (reason.starts_with("libbpf: ")) reason.erase(0, 8);
  return reason;
}

// Errors that say nothing about this kernel: not remembered.
bool transient(int err) {
  return err == ENOMEM || err == EAGAIN || err == EMFILE || err == ENFILE || err == EINTR ||
         err == EBUSY;
}

// The skeleton, loaded with every part that STATES has loaded. A program the
// kernel refuses is taken out and the rest loaded again; a refused exe path
// only switches bpf_d_path off in the fd walk with holders. Refusals go into
// STATES and, with their reasons, into FOUND. Errors when nothing loads, or a
// required part is refused (FOUND.failed says why, unless it is transient).
Result<portrel_bpf*> open_and_load(PartStates& states, BpfVerdict& found) {
  std::string log;
  LogCapture capture(&log);
  for (size_t attempt = 0; attempt <= kBpfParts; ++attempt) {
    for (size_t i = 0; i < kBpfPrograms; ++i) {
      if (bpf_part_required(static_cast<BpfPart>(i)) && !in_use(states, i)) {
        return std::unexpected(Error{"bpf part " + std::string(bpf_part_name(states[i].part)) +
                                     " " + std::string(bpf_part_state_name(states[i].state)) +
                                     ": " + states[i].reason});
      }
    }
    portrel_bpf* skel = portrel_bpf__open();
    if (skel == nullptr) return std::unexpected(system_error("open bpf programs", errno));
    auto progs = programs_of(skel);
    for (size_t i = 0; i < kBpfPrograms; ++i) {
      bpf_program__set_autoload(progs[i], in_use(states, i));
    }
    skel->rodata->portrel_exe_d_path = in_use(states, kExePath);
    log.clear();
    int err = portrel_bpf__load(skel);
    if (err == 0) return skel;
    err = err < 0 ? -err : err;
    auto refused = refused_program(log, progs);
    portrel_bpf__destroy(skel);
    if (!refused) {
      Error e = system_error("load bpf programs", err);
      if (std::string line = last_line(log); !line.empty()) e.message += " (" + line + ")";
      if (!transient(err)) found.failed = e.message;
      return std::unexpected(e);
    }
    auto [i, reason] = *refused;
    if (i == kHolders && in_use(states, kExePath) &&
        log.find("bpf_d_path") != std::string::npos) {
      i = kExePath;
    }
    states[i].state = BpfPartState::refused;
    states[i].reason = reason;
    found.refused.emplace_back(states[i].part, reason);
    if (i == kHolders) states[kExePath] = {BpfPart::exe_path, BpfPartState::refused,
                                           "its program, task_files_holders, was refused"};
    if (bpf_part_required(states[i].part)) {
      found.failed = "the kernel refused bpf part " + std::string(bpf_part_name(states[i].part)) +
                     ": " + reason;
      return std::unexpected(Error{found.failed});
    }
  }
  return std::unexpected(Error{"load bpf programs: the kernel kept refusing them"});
}

// Loads and attaches every part that STATES has loaded (see open_and_load()).
Result<Loaded> load_programs(PartStates states, BpfVerdict& found) {
  auto opened = open_and_load(states, found);
  if (!opened) return std::unexpected(opened.error());
  portrel_bpf* skel = *opened;
  Loaded loaded;
  loaded.states = std::move(states);
  auto progs = programs_of(skel);
  for (size_t i = 0; i < progs.size(); ++i) {
    if (!bpf_program__autoload(progs[i])) continue;
    // The link lives on through the duplicate once the skeleton is gone.
    bpf_link* link = bpf_program__attach_iter(progs[i], nullptr);
    if (link == nullptr) {
      int err = errno;
      if (bpf_part_required(static_cast<BpfPart>(i))) {
        std::string name = bpf_program__name(progs[i]);  // before the skeleton goes
        portrel_bpf__destroy(skel);
        return std::unexpected(system_error("attach bpf iterator " + name, err));
      }
      std::string reason = std::string("attach: ") + strerror(err);
      loaded.states[i] = {static_cast<BpfPart>(i), BpfPartState::refused, reason};
      if (i == kHolders) loaded.states[kExePath] = loaded.states[i];
      continue;
    }
    loaded.links[i].reset(fcntl(bpf_link__fd(link), F_DUPFD_CLOEXEC, 0));
    bpf_link__destroy(link);
  }
  loaded.filter.reset(fcntl(bpf_map__fd(skel->maps.portrel_filter), F_DUPFD_CLOEXEC, 0));
  portrel_bpf__destroy(skel);
  for (size_t i = 0; i < kBpfPrograms; ++i) {
    if (bpf_part_required(static_cast<BpfPart>(i)) && loaded.links[i].get() < 0) {
      return std::unexpected(system_error("dup bpf link", errno));
    }
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
  for (size_t i = 0; i < kBpfParts; ++i) {
    if (!in_use(loaded.states, i)) {
      ok = ok && mkdir(refused_marker(tmp, i).c_str(), 0700) == 0;
    } else if (i < kBpfPrograms) {
      std::string name(bpf_part_name(static_cast<BpfPart>(i)));
      ok = ok && bpf_obj_pin(loaded.links[i].get(), (tmp + "/" + name).c_str()) == 0;
    }
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
    // The lean walk leaves TCP's options to the TCP rows.
    filter_->lean = filter.lean_walk && loaded_.links[kTcpRows].get() >= 0 ? 1 : 0;
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
    int link = loaded_.links[proto == Proto::tcp ? kTcpRows : kUdpRows].get();
    if (link < 0 || (proto != Proto::tcp && proto != Proto::udp)) {
      return std::unexpected(Error{"no table rows of this protocol loaded"});
    }
    if (proto != Proto::tcp) return read_all(link, *filter_);
    if (filter_->listening_only == 0) return read_all(loaded_.links[kTcpRows].get(), *filter_);
    // Listeners come first: the walk ends at the first other socket.
    auto listeners = std::make_unique<portrel_filter>(*filter_);
    listeners->stop_after_listeners = 1;
    return read_all(loaded_.links[kTcpRows].get(), *listeners);
  }
  bool has_rows() const override {
    return loaded_.links[kTcpRows].get() >= 0 || loaded_.links[kUdpRows].get() >= 0;
  }
  Result<std::string> tables(const TableQuery& query) override {
    auto filter = kernel_filter(query.ports, filter_->listening_only != 0);
    // A protocol whose part was refused is left out: its options stay
    // unknown, as parts() says.
    int tcp_link = loaded_.links[static_cast<size_t>(BpfPart::tcp)].get();
    int udp_link = loaded_.links[static_cast<size_t>(BpfPart::udp)].get();
    if ((!query.tcp || tcp_link < 0) && (!query.udp || udp_link < 0)) {
      return std::unexpected(Error{"the kernel did not load the protocol tables' walks"});
    }
    std::string out;
    if (query.tcp && tcp_link >= 0) {
      filter->stop_after_listeners = query.tcp_listeners_only ? 1 : 0;
      auto tcp = read_all(tcp_link, *filter);
      if (!tcp) return tcp;
      out = std::move(*tcp);
    }
    if (query.udp && udp_link >= 0) {
      filter->stop_after_listeners = 0;
      auto udp = read_all(udp_link, *filter);
      if (!udp) return udp;
      out.append(*udp);
    }
    return out;
  }
  std::string origin() const override { return origin_; }
  std::vector<BpfPartStatus> parts() const override {
    return {loaded_.states.begin(), loaded_.states.end()};
  }

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

// What a load that failed (FAILURE says why) reports for each part: STATES,
// with the parts the kernel refused (REFUSED) marked so, and every other part
// that STATES has loaded untried.
std::vector<BpfPartStatus> failed_parts(
    PartStates states, const std::vector<std::pair<BpfPart, std::string>>& refused,
    const std::string& failure) {
  for (const auto& [part, why] : refused) {
    states[static_cast<size_t>(part)] = {part, BpfPartState::refused, why};
  }
  for (BpfPartStatus& s : states) {
    if (s.state == BpfPartState::loaded) s = {s.part, BpfPartState::untried, failure};
  }
  return {states.begin(), states.end()};
}

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

std::string bpf_object_id() { return object_id(); }

Result<std::unique_ptr<BpfIterators>> load_bpf_iterators(const BpfFilter& filter,
                                                        BpfLoadReport* report) {
  BpfLoadReport scratch;
  BpfLoadReport& out = report != nullptr ? *report : scratch;
  auto failures = parse_bpf_failures(std::getenv(kBpfFailEnv) ? std::getenv(kBpfFailEnv) : "");
  if (!failures) return std::unexpected(failures.error());
  if (failures->all) {
    return std::unexpected(Error{std::string("bpf disabled by ") + kBpfFailEnv});
  }
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    return std::unexpected(Error{"the kernel has no BTF (/sys/kernel/btf/vmlinux)"});
  }
  if (!has_bpf_privilege()) {
    return std::unexpected(
        Error{"no privilege to load bpf programs (needs root, or CAP_BPF and CAP_PERFMON)"});
  }
  std::string id = object_id();
  PartStates states = all_loaded();
  auto finish = [&](Loaded loaded, std::string origin) -> std::unique_ptr<BpfIterators> {
    out.parts.assign(loaded.states.begin(), loaded.states.end());
    return std::make_unique<LinkIterators>(std::move(loaded), filter, std::move(origin));
  };

  // Parts refused by PORTREL_BPF_FAIL: loaded here and now, never pinned nor
  // remembered.
  if (failures->any()) {
    for (size_t i = 0; i < kBpfParts; ++i) {
      if (failures->parts[i]) states[i] = {states[i].part, BpfPartState::disabled, kBpfFailEnv};
    }
    if (failures->parts[kHolders]) states[kExePath] = states[kHolders];
    BpfVerdict found_here;
    auto loaded = load_programs(states, found_here);
    if (!loaded) {
      out.parts = failed_parts(states, found_here.refused, loaded.error().message);
      return std::unexpected(loaded.error());
    }
    return finish(std::move(*loaded), "loaded (not pinned: " + std::string(kBpfFailEnv) + ")");
  }

  // What an earlier run of this boot found: a failure costs nothing to
  // repeat, a refused part is not tried again.
  std::string path = verdict_path();
  BpfVerdict found = current_verdict_key(id);
  std::optional<BpfVerdict> known = path.empty() ? std::nullopt : read_verdict(path);
  if (known && !known->same_key(found)) known.reset();
  if (known && !known->failed.empty()) {
    out.verdict = "remembered in " + path;
    out.parts = failed_parts(states, known->refused, known->failed);
    return std::unexpected(Error{known->failed + " (remembered for this boot in " + path + ")"});
  }
  if (known) {
    for (const auto& [part, why] : known->refused) {
      states[static_cast<size_t>(part)] = {part, BpfPartState::refused, why};
    }
    if (!in_use(states, kHolders)) states[kExePath] = states[kHolders];
    out.verdict = "remembered in " + path;
  }

  std::string why_not;
  std::string root = pin_root(why_not);
  if (!root.empty()) {
    if (auto pinned = open_pins(root + "/" + id, known ? &*known : nullptr)) {
      return finish(std::move(*pinned), "pinned in " + root + "/" + id);
    }
  }
  auto loaded = load_programs(states, found);
  if (known) found.refused = known->refused;  // a remembered refusal is not tried again
  if (!known && !path.empty() && geteuid() == 0 && (!loaded || !found.refused.empty() ||
                                                    !found.failed.empty())) {
    // Only what this kernel said: a transient failure leaves found.failed empty.
    if (loaded || !found.failed.empty()) {
      std::string problem = write_verdict(path, found);
      out.verdict = problem.empty() ? "written to " + path : "not kept: " + problem;
    }
  }
  if (!loaded) {
    out.parts = failed_parts(states, found.refused, loaded.error().message);
    return std::unexpected(loaded.error());
  }
  std::string origin = "loaded";
  if (!root.empty()) {
    // A pin that failed validation is replaced.
    remove_pins(root + "/" + id);
    why_not = pin(*loaded, root, id);
  }
  origin += why_not.empty() ? " and pinned in " + root + "/" + id : " (not pinned: " + why_not + ")";
  return finish(std::move(*loaded), std::move(origin));
}

#else

bool bpf_built_in() { return false; }

std::string bpf_object_id() { return ""; }

Result<std::unique_ptr<BpfIterators>> load_bpf_iterators(const BpfFilter&, BpfLoadReport*) {
  return std::unexpected(
      Error{"this portrel was built without the bpf source (no clang, bpftool, "
            "libbpf or kernel BTF at build time)"});
}

#endif

}  // namespace portrel
