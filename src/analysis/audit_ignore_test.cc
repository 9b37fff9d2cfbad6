// Ignore rules on text, and on findings of a hand-made snapshot.
#include "analysis/audit_ignore.h"

#include <gtest/gtest.h>

namespace portrel {
namespace {

TEST(AuditIgnore, RulesParse) {
  auto kind = parse_audit_ignore("cloexec");
  ASSERT_TRUE(kind);
  EXPECT_EQ(kind->kind, FindingKind::cloexec);
  EXPECT_FALSE(kind->port);
  auto port = parse_audit_ignore(" exposed:22 ");
  ASSERT_TRUE(port);
  EXPECT_EQ(port->port, 22);
  EXPECT_EQ(port->text, "exposed:22");
  auto comm = parse_audit_ignore("*:nginx");
  ASSERT_TRUE(comm);
  EXPECT_FALSE(comm->kind);
  EXPECT_EQ(comm->comm, "nginx");
  EXPECT_NE(parse_audit_ignore("closexec").error().message.find("unknown kind 'closexec'"),
            std::string::npos);
  EXPECT_FALSE(parse_audit_ignore("exposed:"));
  EXPECT_FALSE(parse_audit_ignore("exposed:70000"));
}

TEST(AuditIgnore, ConfigFileLinesAndComments) {
  auto rules = parse_audit_config(
      "# accepted on this host\n"
      "ignore exposed:22   # sshd\n"
      "\n"
      "cloexec:nginx\n");
  ASSERT_TRUE(rules) << rules.error().message;
  ASSERT_EQ(rules->size(), 2u);
  EXPECT_EQ((*rules)[1].comm, "nginx");
  auto bad = parse_audit_config("exposed:22\nherd:x:y:z\nnonsense\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message.rfind("line 3:", 0), 0u) << bad.error().message;
}

TEST(AuditIgnore, MatchesKindPortAndProcessName) {
  Process nginx;
  nginx.pid = 10;
  nginx.comm = "nginx";
  Socket s;
  s.inode = 1;
  s.local_port = 8080;
  Snapshot snap({nginx}, {s}, {}, {}, {});
  Finding f{FindingKind::cloexec, Severity::warning, {&snap.sockets()[0]}, {10}, "", "", ""};
  auto rules = [](std::string_view text) { return *parse_audit_config(text); };
  EXPECT_TRUE(ignored(snap, f, rules("cloexec")));
  EXPECT_TRUE(ignored(snap, f, rules("cloexec:8080")));
  EXPECT_TRUE(ignored(snap, f, rules("*:nginx")));
  EXPECT_FALSE(ignored(snap, f, rules("cloexec:8081")));
  EXPECT_FALSE(ignored(snap, f, rules("exposed")));
  EXPECT_FALSE(ignored(snap, f, rules("cloexec:apache2")));
  EXPECT_FALSE(ignored(snap, f, {}));
}

}  // namespace
}  // namespace portrel
