// The three renderings of audit findings on a hand-built snapshot: the JSON
// fields of a finding with its sockets and processes, the CSV line (quoted
// summary, joined inodes and pids) and the text paragraph with its counts.
#include "output/audit_view.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "analysis/test_snapshot.h"

namespace portrel {
namespace {

using nlohmann::json;

Snapshot make_snapshot() {
  return testing::snapshot(
      {testing::proc(100, 1, "nginx"), testing::proc(101, 100, "worker")},
      {testing::sock(10, Proto::tcp, "0.0.0.0", 80),
       testing::sock(11, Proto::tcp, "::", 80)},
      {{100, 3, 10, false}, {101, 3, 10, false}, {100, 4, 11, true}});
}

Finding leaked(const Snapshot& snap) {
  Finding f;
  f.kind = FindingKind::leaked;
  f.severity = Severity::warning;
  for (const Socket& s : snap.sockets()) f.sockets.push_back(&s);
  f.pids = {100, 999};  // 999: gone from the snapshot
  f.summary = "port 80, held by worker";
  f.explanation = "worker 101 did not create it.";
  f.fix = "set FD_CLOEXEC";
  return f;
}

TEST(AuditView, JsonNamesEverySocketAndProcess) {
  Snapshot snap = make_snapshot();
  std::vector<Finding> findings = {leaked(snap)};
  std::vector<std::string> warnings = {"1 process unreadable"};
  json doc = json::parse(audit_json(snap, findings, 2, warnings));
  ASSERT_EQ(doc["findings"].size(), 1u);
  const json& f = doc["findings"][0];
  EXPECT_EQ(f["kind"], "leaked");
  EXPECT_EQ(f["severity"], "warning");
  EXPECT_EQ(f["summary"], "port 80, held by worker");
  EXPECT_EQ(f["explanation"], "worker 101 did not create it.");
  EXPECT_EQ(f["fix"], "set FD_CLOEXEC");
  ASSERT_EQ(f["sockets"].size(), 2u);
  EXPECT_EQ(f["sockets"][0]["inode"], 10);
  EXPECT_EQ(f["sockets"][0]["netns"], testing::kHostNs);
  EXPECT_EQ(f["sockets"][0]["netns_name"], "host");
  EXPECT_EQ(f["sockets"][0]["proto"], "tcp");
  EXPECT_EQ(f["sockets"][0]["local_address"], "0.0.0.0");
  EXPECT_EQ(f["sockets"][0]["local_port"], 80);
  EXPECT_EQ(f["sockets"][1]["local_address"], "::");
  ASSERT_EQ(f["processes"].size(), 2u);
  EXPECT_EQ(f["processes"][0]["pid"], 100);
  EXPECT_EQ(f["processes"][0]["comm"], "nginx");
  EXPECT_EQ(f["processes"][0]["exe"], "/usr/bin/nginx");
  EXPECT_EQ(f["processes"][1]["pid"], 999);
  EXPECT_TRUE(f["processes"][1]["comm"].is_null());
  EXPECT_TRUE(f["processes"][1]["exe"].is_null());
  EXPECT_EQ(doc["ignored"], 2);
  EXPECT_EQ(doc["warnings"], json({"1 process unreadable"}));
}

TEST(AuditView, JsonOfNoFindingIsAnEmptyList) {
  Snapshot snap = make_snapshot();
  EXPECT_EQ(audit_json(snap, {}, 0, {}),
            "{\n  \"findings\": [],\n  \"ignored\": 0,\n  \"warnings\": []\n}");
}

TEST(AuditView, CsvQuotesTheSummaryAndJoinsInodesAndPids) {
  Snapshot snap = make_snapshot();
  std::vector<Finding> findings = {leaked(snap)};
  EXPECT_EQ(audit_csv(findings),
            "severity,kind,summary,inodes,pids\r\n"
            "warning,leaked,\"port 80, held by worker\",10;11,100;999\r\n");
}

TEST(AuditView, TextGivesEachFindingItsFixAndCounts) {
  Snapshot snap = make_snapshot();
  Finding info = leaked(snap);
  info.kind = FindingKind::cloexec;
  info.severity = Severity::info;
  info.summary = "port 80: fd 3 without FD_CLOEXEC";
  std::vector<Finding> findings = {leaked(snap), info};
  EXPECT_EQ(audit_text(findings, 3, false),
            "warning leaked  port 80, held by worker\n"
            "        worker 101 did not create it.\n"
            "        fix: set FD_CLOEXEC\n"
            "\n"
            "info    cloexec port 80: fd 3 without FD_CLOEXEC\n"
            "        worker 101 did not create it.\n"
            "        fix: set FD_CLOEXEC\n"
            "\n"
            "2 findings, 1 of severity warning or above\n"
            "3 findings hidden by ignore rules\n");
  EXPECT_EQ(audit_text({}, 0, false), "0 findings, 0 of severity warning or above\n");
}

}  // namespace
}  // namespace portrel
