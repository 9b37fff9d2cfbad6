// The capture loop shared by watch and record (see capture_loop.h): a poll on
// the process connector's socket with the next tick as its timeout. Events
// lost to a full buffer only make the next read come sooner, since a read
// looks at everything.
#include "cli/capture_loop.h"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>

#include "util/text.h"

namespace portrel {
namespace {

volatile sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

using Clock = std::chrono::steady_clock;

}  // namespace

CaptureLoop::CaptureLoop(double interval_s, size_t max_reads)
    : interval_s_(interval_s), max_reads_(max_reads) {
  auto events = ProcEvents::open();
  if (events) {
    events_.emplace(std::move(*events));
  } else {
    events_error_ = events.error().message;
  }
  auto sockets = SocketEvents::open();
  if (sockets) {
    socket_events_ = std::move(*sockets);
  } else {
    socket_events_error_ = sockets.error().message;
  }
}

std::string CaptureLoop::describe() const {
  std::string out = events_error_.empty()
                        ? " and on process events (fork, exec, exit)"
                        : ", no process events (" + sanitize(events_error_) + ")";
  out += socket_events_error_.empty()
             ? (events_error_.empty() ? " and" : ", but") + std::string(" on socket events (") +
                   sanitize(socket_events_->hooks()) + ")"
             : ", no socket events (" + sanitize(socket_events_error_) +
                   "): a port a running process opens is seen at the next tick";
  return out;
}

void CaptureLoop::catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a waiting poll() returns EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

bool CaptureLoop::stop_requested() { return g_stop != 0; }

void CaptureLoop::run(
    Snapshot first, const std::function<Result<Snapshot>()>& capture,
    const std::function<bool(const Snapshot& before, const Snapshot& after)>& on_read) {
  Snapshot last = std::move(first);
  const auto interval = std::chrono::duration<double>(interval_s_);
  const auto settle = std::chrono::milliseconds(20);   // let a burst of events land
  const auto min_gap = std::chrono::milliseconds(50);  // reads at most this often
  // After an event-driven read, the next two come this soon after the one before.
  static constexpr std::chrono::milliseconds kFollowUps[] = {
      std::chrono::milliseconds(100), std::chrono::milliseconds(300)};
  size_t follow_ups = 0;  // of kFollowUps still to come
  size_t lost = 0;        // times the process events overflowed
  auto next = Clock::now() + std::chrono::duration_cast<Clock::duration>(interval);
  auto last_read = Clock::now();
  size_t reads = 1;
  while (!g_stop && (max_reads_ == 0 || reads < max_reads_)) {
    auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
    pollfd pfds[2] = {{events_ ? events_->fd() : -1, POLLIN, 0},
                      {socket_events_ ? socket_events_->fd() : -1, POLLIN, 0}};
    int ready = poll(pfds, 2, static_cast<int>(std::max<int64_t>(0, wait.count())));
    if (g_stop) break;
    bool hinted = false;
    if (ready > 0) {
      std::this_thread::sleep_for(settle);
      size_t events = 0;
      const char* overflowed = nullptr;
      if (events_) {
        ProcEvents::Drained got = events_->drain();
        events += got.events;
        if (got.lost) overflowed = "process";
      }
      if (socket_events_) {
        SocketEvents::Drained got = socket_events_->drain();
        events += got.events;
        if (got.lost) overflowed = "socket";
      }
      // Only portrel's own threads and sockets, or threads of others: no read.
      if (events == 0 && overflowed == nullptr) continue;
      if (overflowed != nullptr) {
        ++lost;
        fmt::print(
            stderr,
            "portrel: {} events were lost (the kernel's buffer was full, {} "
            "time{}): the read that follows looks at everything\n",
            overflowed, lost, lost == 1 ? "" : "s");
      }
      hinted = true;
      auto since = Clock::now() - last_read;
      if (since < min_gap) std::this_thread::sleep_for(min_gap - since);
    } else if (ready == 0 || (ready < 0 && errno != EINTR)) {
      // the tick
    } else {
      continue;
    }
    auto snap = capture();
    last_read = Clock::now();
    // A program just started binds its ports a little after its exec: two
    // more reads soon after an event-driven one see them.
    follow_ups = hinted ? std::size(kFollowUps) : follow_ups;
    Clock::duration after = std::chrono::duration_cast<Clock::duration>(interval);
    if (!hinted && follow_ups > 0) --follow_ups;
    if (follow_ups > 0) {
      after = std::min(after,
                       Clock::duration(kFollowUps[std::size(kFollowUps) - follow_ups]));
    }
    next = last_read + after;
    ++reads;
    if (!snap) {
      fmt::print(stderr, "portrel: a read failed, the next one follows: {}\n",
                 sanitize(snap.error().message));
      continue;
    }
    if (!on_read(last, *snap)) return;
    last = std::move(*snap);
  }
}

}  // namespace portrel
