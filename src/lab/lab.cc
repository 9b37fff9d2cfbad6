// Starting and stopping a lab. The caller forks one leader process: a subreaper
// that (optionally) enters a new network namespace and forks the scenario's root in
// a process group of its own. Every process reports over one pipe; the leader kills
// the group and reaps everything on SIGTERM, so stop() only has to signal it.
#include "lab/lab.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "lab/child.h"
#include "lab/scenarios.h"

namespace portrel::lab {
namespace {

using Clock = std::chrono::steady_clock;

// Runs before main() in any binary that links the lab, so an exec of
// /proc/self/exe with the hidden helper argument becomes the cloexec-leak helper.
__attribute__((constructor)) void maybe_run_helper() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> args;
  for (std::string arg; std::getline(in, arg, '\0');) args.push_back(arg);
  if (args.size() == 6 && args[1] == "lab" && args[2] == detail::kHelperFlag) {
    detail::helper_main(std::stoi(args[3]), std::stoi(args[4]), std::stoi(args[5]));
  }
}

[[noreturn]] void leader_main(int report_fd, pid_t caller, std::string scenario,
                              const LabOptions& options, const sigset_t& waited) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != caller) _exit(0);
  fcntl(report_fd, F_SETFD, 0);  // the exec'd helper reports through it too
  detail::Ctx ctx{.report_fd = report_fd, .leader = getpid()};
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  if (options.private_netns) {
    if (unshare(CLONE_NEWNET) != 0) detail::fail(ctx, "unshare(CLONE_NEWNET)", errno);
    if (!detail::bring_up_loopback()) detail::fail(ctx, "bring up lo", errno);
  }
  struct stat st {};
  stat("/proc/self/ns/net", &st);
  detail::send_line(ctx, fmt::format("N {}", st.st_ino));
  detail::report_process(ctx, "lab");
  pid_t group = fork();
  if (group == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != ctx.leader) _exit(0);
    detail::run_scenario(ctx, scenario, options);
  }
  if (group < 0) detail::fail(ctx, "fork", errno);
  setpgid(group, group);
  detail::send_line(ctx, fmt::format("G {}", group));
  for (;;) {
    int sig = sigwaitinfo(&waited, nullptr);
    if (sig == SIGCHLD) {
      while (waitpid(-1, nullptr, WNOHANG) > 0) {
      }
    } else if (sig == SIGTERM || sig == SIGINT) {
      kill(-group, SIGKILL);
      while (waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
      }
      _exit(0);
    }
  }
}

template <typename T>
bool parse_number(std::string_view text, T& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

struct Reader {
  GroundTruth& truth;
  pid_t group = -1;
  int expected = -1;
  int ready = 0;
  std::vector<pid_t> exited{};
  std::string error{};

  void line(std::string_view text) {
    std::vector<std::string_view> f;
    for (size_t pos = 0; pos <= text.size();) {
      size_t end = std::min(text.find(' ', pos), text.size());
      f.push_back(text.substr(pos, end - pos));
      pos = end + 1;
    }
    auto rest = [&](size_t from) {
      size_t at = 0;
      for (size_t i = 0; i < from && at != std::string_view::npos; ++i)
        at = text.find(' ', at) + 1;
      return std::string(text.substr(std::min(at, text.size())));
    };
    pid_t pid = 0;
    if (f.size() > 1) parse_number(f[1], pid);
    switch (f[0].empty() ? '?' : f[0][0]) {
      case 'N': parse_number(f[1], truth.netns); break;
      case 'G': group = pid; break;
      case 'T': parse_number(f[1], expected); break;
      case 'R': ++ready; break;
      case 'X': exited.push_back(pid); break;
      case 'M': truth.notes.push_back(rest(2)); break;
      case 'F': error = fmt::format("lab process {}: {}", pid, rest(2)); break;
      case 'P': {
        LabProcess p{.pid = pid, .ppid = 0, .role = rest(3)};
        parse_number(f[2], p.ppid);
        truth.processes.push_back(std::move(p));
        break;
      }
      case 'S': {
        if (f.size() != 12) break;
        LabSocket s;
        int proto = 0, family = 0, flags[4] = {};
        s.pid = pid;
        parse_number(f[2], s.fd);
        parse_number(f[3], s.inode);
        parse_number(f[4], proto);
        parse_number(f[5], family);
        s.proto = static_cast<Proto>(proto);
        s.family = static_cast<uint8_t>(family);
        s.address = std::string(f[6]);
        parse_number(f[7], s.port);
        for (int i = 0; i < 4; ++i) parse_number(f[8 + i], flags[i]);
        s.listening = flags[0], s.cloexec = flags[1];
        s.reuseport = flags[2], s.reuseaddr = flags[3];
        truth.sockets.push_back(std::move(s));
        break;
      }
      default: error = fmt::format("bad lab report: {}", text);
    }
  }
};

bool alive(pid_t pid) {
  struct stat st {};
  return stat(fmt::format("/proc/{}", pid).c_str(), &st) == 0;
}

}  // namespace

std::vector<std::string_view> scenario_names() { return detail::scenario_list(); }

Result<Lab> Lab::start(std::string_view scenario, const LabOptions& options) {
  auto names = scenario_names();
  if (std::find(names.begin(), names.end(), scenario) == names.end())
    return std::unexpected(Error{fmt::format("unknown lab scenario '{}'", scenario), 0});
  if (options.workers < 1 || options.procs < 0 || options.per_proc < 0)
    return std::unexpected(Error{"lab: --workers must be at least 1", 0});
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return std::unexpected(system_error("pipe2", errno));

  sigset_t waited, old;
  sigemptyset(&waited);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT}) sigaddset(&waited, sig);
  sigprocmask(SIG_BLOCK, &waited, &old);
  pid_t caller = getpid();
  pid_t leader = fork();
  if (leader == 0) {
    close(fds[0]);
    leader_main(fds[1], caller, std::string(scenario), options, waited);
  }
  int fork_errno = errno;
  sigprocmask(SIG_SETMASK, &old, nullptr);
  close(fds[1]);
  if (leader < 0) {
    close(fds[0]);
    return std::unexpected(system_error("fork", fork_errno));
  }

  Lab lab;
  lab.leader_ = leader;
  lab.truth_.scenario = std::string(scenario);
  Reader reader{.truth = lab.truth_};
  auto deadline = Clock::now() + std::chrono::seconds(20) +
                  std::chrono::milliseconds(scenario == "crowd" ? 10 * options.procs : 0);
  std::string buffer;
  while (reader.error.empty() && (reader.expected < 0 || reader.ready < reader.expected)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd pfd{.fd = fds[0], .events = POLLIN, .revents = 0};
    int n = left.count() > 0 ? poll(&pfd, 1, static_cast<int>(left.count())) : 0;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      reader.error = fmt::format("lab '{}' not ready in time ({} of {} processes)", scenario,
                                 reader.ready, reader.expected);
      break;
    }
    char chunk[65536];
    ssize_t got = read(fds[0], chunk, sizeof chunk);
    if (got <= 0) {
      if (got < 0 && errno == EINTR) continue;
      reader.error = fmt::format("lab '{}' processes exited before reporting", scenario);
      break;
    }
    buffer.append(chunk, static_cast<size_t>(got));
    size_t start = 0;
    for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1)
      reader.line(std::string_view(buffer).substr(start, nl - start));
    buffer.erase(0, start);
  }
  close(fds[0]);
  lab.group_ = reader.group;
  if (!reader.error.empty()) {
    lab.stop();
    return std::unexpected(Error{reader.error, 0});
  }
  for (pid_t pid : reader.exited) {
    for (int i = 0; i < 5000 && alive(pid); ++i) usleep(1000);
    std::erase_if(lab.truth_.processes, [&](const LabProcess& p) { return p.pid == pid; });
    std::erase_if(lab.truth_.sockets, [&](const LabSocket& s) { return s.pid == pid; });
  }
  return lab;
}

void Lab::stop() {
  if (leader_ <= 0) return;
  kill(leader_, SIGTERM);
  auto deadline = Clock::now() + std::chrono::seconds(60);
  bool reaped = false;
  while (!reaped && Clock::now() < deadline) {
    pid_t got = waitpid(leader_, nullptr, WNOHANG);
    reaped = got == leader_ || (got < 0 && errno == ECHILD);
    if (!reaped) usleep(1000);
  }
  if (!reaped) {
    if (group_ > 0) kill(-group_, SIGKILL);
    kill(leader_, SIGKILL);
    waitpid(leader_, nullptr, 0);
  }
  leader_ = -1;
  group_ = -1;
}

Lab::~Lab() { stop(); }

Lab::Lab(Lab&& other) noexcept
    : leader_(std::exchange(other.leader_, -1)),
      group_(std::exchange(other.group_, -1)),
      truth_(std::move(other.truth_)) {}

Lab& Lab::operator=(Lab&& other) noexcept {
  if (this != &other) {
    stop();
    leader_ = std::exchange(other.leader_, -1);
    group_ = std::exchange(other.group_, -1);
    truth_ = std::move(other.truth_);
  }
  return *this;
}

}  // namespace portrel::lab
