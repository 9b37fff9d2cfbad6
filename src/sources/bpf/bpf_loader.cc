// Loading the bpf iterators through the libbpf skeleton generated at build time
// (portrel.skel.h), and reading an iterator: attach it (a bpf_link), create an
// iterator fd, read() it to the end. Without PORTREL_HAVE_BPF the binary has no
// programs and load_bpf_iterators() says so.
#include "sources/bpf/bpf_loader.h"

#include <cstdlib>

#if PORTREL_HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "portrel.skel.h"
#endif

namespace portrel {

#if PORTREL_HAVE_BPF
namespace {

// libbpf prints to stderr by default; the library never prints.
int silent(libbpf_print_level, const char*, va_list) { return 0; }

class SkeletonIterators : public BpfIterators {
 public:
  explicit SkeletonIterators(portrel_bpf* skel) : skel_(skel) {}
  ~SkeletonIterators() override {
    for (bpf_link* link : {tasks_, files_, tcp_, udp_}) {
      if (link != nullptr) bpf_link__destroy(link);
    }
    portrel_bpf__destroy(skel_);
  }
  SkeletonIterators(const SkeletonIterators&) = delete;
  SkeletonIterators& operator=(const SkeletonIterators&) = delete;

  Result<std::string> tasks() override { return read(skel_->progs.portrel_tasks, tasks_); }
  Result<std::string> task_files() override {
    return read(skel_->progs.portrel_task_files, files_);
  }
  Result<std::string> tables() override {
    auto tcp = read(skel_->progs.portrel_tcp, tcp_);
    if (!tcp) return tcp;
    auto udp = read(skel_->progs.portrel_udp, udp_);
    if (!udp) return udp;
    tcp->append(*udp);
    return tcp;
  }

 private:
  // Attaches PROG once (the link is shared by every thread; each read makes its
  // own iterator fd, bound to the reading thread's namespace) and reads it.
  Result<std::string> read(bpf_program* prog, bpf_link*& link) {
    {
      std::lock_guard lock(mutex_);
      if (link == nullptr) {
        link = bpf_program__attach_iter(prog, nullptr);
        if (link == nullptr) {
          return std::unexpected(system_error(
              std::string("attach bpf iterator ") + bpf_program__name(prog), errno));
        }
      }
    }
    int fd = bpf_iter_create(bpf_link__fd(link));
    if (fd < 0) return std::unexpected(system_error("bpf_iter_create", errno));
    std::string out;
    size_t size = 0;
    out.resize(64 * 1024);
    for (;;) {
      if (out.size() - size < 16 * 1024) out.resize(out.size() * 2);
      ssize_t n = ::read(fd, out.data() + size, out.size() - size);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        close(fd);
        return std::unexpected(system_error("read bpf iterator", err));
      }
      if (n == 0) break;
      size += static_cast<size_t>(n);
    }
    close(fd);
    out.resize(size);
    return out;
  }

  portrel_bpf* skel_;
  std::mutex mutex_;
  bpf_link* tasks_ = nullptr;
  bpf_link* files_ = nullptr;
  bpf_link* tcp_ = nullptr;
  bpf_link* udp_ = nullptr;
};

}  // namespace

bool bpf_built_in() { return true; }

Result<std::unique_ptr<BpfIterators>> load_bpf_iterators(const BpfFilter& filter) {
  if (const char* fail = std::getenv(kBpfFailEnv); fail != nullptr && *fail != '\0') {
    return std::unexpected(Error{std::string("bpf disabled by ") + kBpfFailEnv});
  }
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    return std::unexpected(Error{"the kernel has no BTF (/sys/kernel/btf/vmlinux)"});
  }
  libbpf_set_print(silent);
  portrel_bpf* skel = portrel_bpf__open();
  if (skel == nullptr) return std::unexpected(system_error("open bpf programs", errno));
  if (!filter.ports.empty()) {
    skel->bss->filter_ports = 1;
    for (uint16_t port : filter.ports) {
      skel->bss->wanted_ports[port >> 3] |= static_cast<uint8_t>(1u << (port & 7));
    }
  }
  skel->bss->listening_only = filter.listening_only ? 1 : 0;
  if (int err = portrel_bpf__load(skel); err != 0) {
    portrel_bpf__destroy(skel);
    int e = err < 0 ? -err : err;
    std::string why = e == EPERM || e == EACCES ? " (needs root, or CAP_BPF and CAP_PERFMON)"
                                                : " (kernel older than 5.11, or no iterator)";
    return std::unexpected(system_error("load bpf programs" + why, e));
  }
  return std::make_unique<SkeletonIterators>(skel);
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
