// An in-memory ProcessSource for tests of the join and the analysis: it returns
// a canned ProcessScan (or a canned error) and never touches /proc; and an
// in-memory OptionSource.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sources/sources.h"

namespace portrel {

class FakeProcessSource : public ProcessSource {
 public:
  FakeProcessSource() = default;
  explicit FakeProcessSource(ProcessScan scan) : scan_(std::move(scan)) {}

  /// The scan every later scan() returns (a copy each time).
  void set_scan(ProcessScan scan) { scan_ = std::move(scan); }
  /// Makes every later scan() fail with ERROR.
  void set_error(Error error) { error_ = std::move(error); }

  /// Appends a row to the canned scan.
  void add_process(Process process) { scan_.processes.push_back(std::move(process)); }
  void add_holding(pid_t pid, int fd, uint64_t inode, bool cloexec = false) {
    scan_.holdings.push_back(Holding{pid, fd, inode, cloexec});
  }
  void add_netns(NetnsHandle netns) { scan_.netns.push_back(std::move(netns)); }

  Result<ProcessScan> scan() override {
    ++scans_;
    if (error_) return std::unexpected(*error_);
    return scan_;
  }
  int scans() const { return scans_; }  ///< how often scan() was called

 private:
  ProcessScan scan_;
  std::optional<Error> error_;
  int scans_ = 0;
};

/// An in-memory OptionSource: answers every read with the same options and
/// keeps what each read asked for.
class FakeOptionSource : public OptionSource {
 public:
  explicit FakeOptionSource(std::vector<ExactOptions> options = {})
      : options_(std::move(options)) {}

  struct Ask {
    std::vector<uint64_t> namespaces;
    TableQuery query;
  };
  const std::vector<Ask>& asks() const { return asks_; }

  void read(const std::vector<NetnsHandle>& namespaces, const TableQuery& query,
            std::vector<ExactOptions>& options, std::vector<std::string>&) override {
    std::lock_guard lock(mutex_);  // read beside the scan, and after it
    Ask ask{{}, query};
    for (const NetnsHandle& h : namespaces) ask.namespaces.push_back(h.inode);
    asks_.push_back(std::move(ask));
    options.insert(options.end(), options_.begin(), options_.end());
  }

 private:
  std::vector<ExactOptions> options_;
  std::vector<Ask> asks_;
  std::mutex mutex_;
};

}  // namespace portrel
