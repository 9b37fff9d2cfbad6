// An in-memory ProcessSource for tests of the join and the analysis: it returns
// a canned ProcessScan (or a canned error) and never touches /proc.
#pragma once

#include <optional>
#include <utility>

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

  /// Options unheld_options() answers with (all of them, whatever is asked).
  void set_unheld_options(std::vector<ExactOptions> options) {
    unheld_ = std::move(options);
  }
  /// What each unheld_options() call asked for.
  struct UnheldAsk {
    std::vector<uint64_t> namespaces;
    TableQuery query;
  };
  const std::vector<UnheldAsk>& unheld_asks() const { return asks_; }
  /// Whether reads_unheld_options() says so (capture_from() then also reads
  /// our own namespace's listeners beside the scan).
  void set_reads_unheld(bool reads) { reads_unheld_ = reads; }
  bool reads_unheld_options() const override { return reads_unheld_; }
  void unheld_options(const std::vector<NetnsHandle>& namespaces, const TableQuery& query,
                      std::vector<ExactOptions>& options, std::vector<std::string>&) override {
    UnheldAsk ask{{}, query};
    for (const NetnsHandle& h : namespaces) ask.namespaces.push_back(h.inode);
    asks_.push_back(std::move(ask));
    options.insert(options.end(), unheld_.begin(), unheld_.end());
  }

 private:
  ProcessScan scan_;
  std::optional<Error> error_;
  int scans_ = 0;
  std::vector<ExactOptions> unheld_;
  std::vector<UnheldAsk> asks_;
  bool reads_unheld_ = false;
};

}  // namespace portrel
