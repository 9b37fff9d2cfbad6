// The why-busy answer on a hand-built snapshot and verdict: the JSON request,
// verdict and blocker (with its holders and options), and the text lines of the
// same answer, with and without the kernel's word from --try.
#include "output/why_busy_view.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "analysis/test_snapshot.h"

namespace portrel {
namespace {

using nlohmann::json;

Snapshot make_snapshot() {
  Socket listener = testing::sock(10, Proto::tcp, "0.0.0.0", 8080);
  listener.uid = 33;
  listener.reuseaddr = Tristate::yes;
  listener.reuseport = Tristate::no;
  Socket unheld = testing::sock(11, Proto::tcp, "::", 8080);
  unheld.uid = 33;
  return testing::snapshot({testing::proc(100, 1, "nginx")}, {listener, unheld},
                           {{100, 6, 10, true}});
}

WhyBusyAnswer make_answer(const Snapshot& snap) {
  WhyBusyAnswer a;
  a.request.proto = Proto::tcp;
  a.request.address = *Address::parse("0.0.0.0");
  a.request.port = 8080;
  a.request.reuseaddr = true;
  a.request.uid = 1000;
  a.netns = testing::kHostNs;
  a.netns_label = "host";
  a.prediction.outcome = BindOutcome::fails;
  a.prediction.error = EADDRINUSE;
  a.prediction.reason = "a listener holds 0.0.0.0:8080";
  a.prediction.conflicts.push_back(
      {&snap.sockets()[0], Tristate::yes, "LISTEN on the same address", {}});
  a.prediction.conflicts.push_back({&snap.sockets()[1],
                                    Tristate::unknown,
                                    "overlaps unless v6only",
                                    {"IPV6_V6ONLY"}});
  a.prediction.notes = {"a socket may close meanwhile"};
  a.changes = {"another port: 8081 is free"};
  return a;
}

TEST(WhyBusyView, JsonHasTheRequestVerdictAndBlockers) {
  Snapshot snap = make_snapshot();
  WhyBusyAnswer a = make_answer(snap);
  std::vector<std::string> warnings = {"partial"};
  json doc = json::parse(why_busy_json(snap, a, warnings));
  EXPECT_EQ(doc["request"]["proto"], "tcp");
  EXPECT_EQ(doc["request"]["address"], "0.0.0.0");
  EXPECT_EQ(doc["request"]["port"], 8080);
  EXPECT_EQ(doc["request"]["reuseaddr"], true);
  EXPECT_EQ(doc["request"]["uid"], 1000);
  EXPECT_EQ(doc["request"]["netns"], testing::kHostNs);
  EXPECT_EQ(doc["verdict"], "fails");
  EXPECT_EQ(doc["error"], "EADDRINUSE (Address already in use)");
  EXPECT_EQ(doc["reason"], "a listener holds 0.0.0.0:8080");
  ASSERT_EQ(doc["blockers"].size(), 2u);
  const json& b = doc["blockers"][0];
  EXPECT_EQ(b["inode"], 10);
  EXPECT_EQ(b["state"], "LISTEN");
  EXPECT_EQ(b["local_port"], 8080);
  EXPECT_EQ(b["uid"], 33);
  EXPECT_EQ(b["reuseaddr"], true);
  EXPECT_EQ(b["reuseport"], false);
  EXPECT_TRUE(b["v6only"].is_null());
  EXPECT_EQ(b["certain"], true);
  EXPECT_EQ(b["rule"], "LISTEN on the same address");
  ASSERT_EQ(b["holders"].size(), 1u);
  EXPECT_EQ(b["holders"][0],
            json({{"pid", 100}, {"fd", 6}, {"cloexec", true}, {"comm", "nginx"}}));
  EXPECT_EQ(doc["blockers"][1]["certain"], false);
  EXPECT_EQ(doc["blockers"][1]["depends_on"], json({"IPV6_V6ONLY"}));
  EXPECT_EQ(doc["notes"], json({"a socket may close meanwhile"}));
  EXPECT_EQ(doc["changes"], json({"another port: 8081 is free"}));
  EXPECT_FALSE(doc.contains("kernel"));
  EXPECT_EQ(doc["warnings"], json({"partial"}));

  a.kernel = 0;
  EXPECT_EQ(json::parse(why_busy_json(snap, a, {}))["kernel"], "success");
}

TEST(WhyBusyView, TextNamesTheBlockersAndWhatWouldChange) {
  Snapshot snap = make_snapshot();
  WhyBusyAnswer a = make_answer(snap);
  a.kernel = EADDRINUSE;
  EXPECT_EQ(
      why_busy_text(snap, a),
      "tcp 0.0.0.0:8080 as uid 1000 in netns host: would fail: EADDRINUSE (Address "
      "already in use)\n"
      "  a listener holds 0.0.0.0:8080\n"
      "blocked by:\n"
      "  LISTEN 0.0.0.0:8080  uid 33  reuseaddr=true reuseport=false  held by nginx "
      "100\n"
      "    why: LISTEN on the same address\n"
      "  maybe: LISTEN [::]:8080  uid 33  reuseaddr=unknown reuseport=unknown "
      "v6only=unknown  held by (not visible: its holder is hidden, in another pid "
      "namespace, or exited)\n"
      "    why: overlaps unless v6only\n"
      "    depends on: IPV6_V6ONLY\n"
      "note: a socket may close meanwhile\n"
      "what would change the answer:\n"
      "  - another port: 8081 is free\n"
      "kernel (--try): EADDRINUSE (Address already in use) — agrees with the "
      "prediction\n");
}

TEST(WhyBusyView, BlockerHoldersSaysWhyNoneIsSeen) {
  Snapshot snap = make_snapshot();
  EXPECT_EQ(blocker_holders(snap, snap.sockets()[0]), "nginx 100");
  EXPECT_EQ(blocker_holders(snap, snap.sockets()[1]),
            "(not visible: its holder is hidden, in another pid namespace, or exited)");
}

}  // namespace
}  // namespace portrel
