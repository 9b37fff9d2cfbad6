// Loading events.bpf.c: its programs are tried all together, then without the
// hooks a kernel may lack (inet6_bind in a module without BTF, udp_lib_unhash
// inlined or renamed), so that the tracepoint alone still gives TCP listeners.
// User space reads the ring buffer only to count: pids, ports and kinds are
// for tests and --verbose, never shown as changes.
#include "sources/socket_events.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#if PORTREL_HAVE_BPF
#include <bpf/libbpf.h>

#include "events.skel.h"
#include "sources/bpf/events_bpf.h"
#endif

namespace portrel {

#if PORTREL_HAVE_BPF
namespace {

constexpr size_t kPrograms = 7;

std::array<bpf_program*, kPrograms> programs_of(portrel_events_bpf* s) {
  return {s->progs.portrel_set_state,  s->progs.portrel_inet_bind,
          s->progs.portrel_inet6_bind, s->progs.portrel_udp_unhash,
          s->progs.portrel_inet_bind_k, s->progs.portrel_inet6_bind_k,
          s->progs.portrel_udp_unhash_k};
}

// Each hook and the programs that can make it, best first (indexes into
// programs_of, -1: none): a trampoline (fentry, fexit) reads the port; a kprobe
// works where the kernel refuses trampolines.
struct HookPrograms {
  const char* what;
  std::array<int, 2> programs;
  std::array<const char*, 2> how;
};
constexpr std::array<HookPrograms, 4> kHooks = {{
    {"listen", {0, -1}, {"tracepoint", nullptr}},
    {"bind v4", {1, 4}, {"fexit", "kretprobe"}},
    {"bind v6", {2, 5}, {"fexit", "kretprobe"}},
    {"UDP close", {3, 6}, {"fentry", "kprobe"}},
}};

// Which programs to load: everything with trampolines; with kprobes instead;
// the tracepoint alone.
constexpr std::array<std::array<bool, kPrograms>, 3> kTries = {{
    {true, true, true, true, false, false, false},
    {true, false, false, false, true, true, true},
    {true, false, false, false, false, false, false},
}};

int silent(libbpf_print_level, const char*, va_list) { return 0; }

class LoadedEvents final : public SocketEvents {
 public:
  explicit LoadedEvents(portrel_events_bpf* skel) : skel_(skel), self_(getpid()) {}
  ~LoadedEvents() override {
    ring_buffer__free(ring_);
    for (bpf_link* link : links_) bpf_link__destroy(link);
    portrel_events_bpf__destroy(skel_);
  }
  LoadedEvents(const LoadedEvents&) = delete;
  LoadedEvents& operator=(const LoadedEvents&) = delete;

  /// Attaches the first program of each hook that loaded and attaches; false
  /// when no hook could be.
  bool attach(const std::array<bool, kPrograms>& loaded) {
    auto programs = programs_of(skel_);
    std::string missing;
    for (const HookPrograms& hook : kHooks) {
      const char* how = nullptr;
      for (size_t k = 0; k < hook.programs.size() && how == nullptr; ++k) {
        int i = hook.programs[k];
        if (i < 0 || !loaded[static_cast<size_t>(i)]) continue;
        if (bpf_link* link = bpf_program__attach(programs[static_cast<size_t>(i)])) {
          links_.push_back(link);
          how = hook.how[k];
        }
      }
      std::string& into = how != nullptr ? hooks_ : missing;
      into += (into.empty() ? "" : ", ") + std::string(hook.what) +
              (how != nullptr ? " (" + std::string(how) + ")" : "");
    }
    if (!missing.empty()) hooks_ += "; not hooked: " + missing;
    return !links_.empty();
  }
  /// Opens the ring buffer, this object the context of its callback.
  bool open_ring() {
    ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.portrel_events), on_record, this, nullptr);
    return ring_ != nullptr;
  }

  int fd() const override { return ring_buffer__epoll_fd(ring_); }
  Drained drain() override {
    counted_ = 0;
    ring_buffer__consume(ring_);
    Drained d{counted_, false};
    uint64_t lost = __atomic_load_n(&skel_->bss->portrel_events_lost, __ATOMIC_RELAXED);
    d.lost = lost != lost_seen_;
    lost_seen_ = lost;
    return d;
  }
  const std::string& hooks() const override { return hooks_; }

 private:
  static int on_record(void* ctx, void* data, size_t size) {
    auto* self = static_cast<LoadedEvents*>(ctx);
    if (size < sizeof(portrel_event)) return 0;
    portrel_event e;
    std::memcpy(&e, data, sizeof e);
    if (static_cast<pid_t>(e.tgid) != self->self_) ++self->counted_;
    return 0;
  }

  portrel_events_bpf* skel_;
  ring_buffer* ring_ = nullptr;
  std::vector<bpf_link*> links_;
  std::string hooks_;
  pid_t self_;
  size_t counted_ = 0;
  uint64_t lost_seen_ = 0;
};

// Opens and loads the skeleton with the programs of WANTED; null and ERR when
// the kernel refused it.
portrel_events_bpf* load(const std::array<bool, kPrograms>& wanted, int& err) {
  portrel_events_bpf* skel = portrel_events_bpf__open();
  if (skel == nullptr) {
    err = errno;
    return nullptr;
  }
  auto programs = programs_of(skel);
  for (size_t i = 0; i < kPrograms; ++i) bpf_program__set_autoload(programs[i], wanted[i]);
  err = portrel_events_bpf__load(skel);
  if (err != 0) {
    portrel_events_bpf__destroy(skel);
    return nullptr;
  }
  return skel;
}

}  // namespace

Result<std::unique_ptr<SocketEvents>> SocketEvents::open() {
  // libbpf's own messages (a hook the kernel lacks) would reach the terminal.
  struct Quiet {
    libbpf_print_fn_t before = libbpf_set_print(silent);
    ~Quiet() { libbpf_set_print(before); }
  } quiet;
  portrel_events_bpf* skel = nullptr;
  int err = 0;
  std::array<bool, kPrograms> loaded{};
  for (const auto& wanted : kTries) {
    skel = load(wanted, err);
    if (skel != nullptr) {
      loaded = wanted;
      break;
    }
  }
  if (skel == nullptr) {
    return std::unexpected(system_error("load the socket-event programs", -err > 0 ? -err : err));
  }
  auto events = std::make_unique<LoadedEvents>(skel);
  if (!events->attach(loaded)) {
    return std::unexpected(Error{"no socket-event hook could be attached (" +
                                events->hooks() + ")"});
  }
  if (!events->open_ring()) {
    return std::unexpected(system_error("open the socket-event ring buffer", errno));
  }
  return std::unique_ptr<SocketEvents>(std::move(events));
}

#else

Result<std::unique_ptr<SocketEvents>> SocketEvents::open() {
  return std::unexpected(Error{"this portrel was built without bpf"});
}

#endif

}  // namespace portrel
