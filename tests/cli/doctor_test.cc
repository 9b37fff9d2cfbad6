// `portrel doctor` as a user runs it: every fact it states is checked against
// the kernel the test runs on (uname, the lab's own fd tables, parts turned off
// on purpose), and its exit code says whether anything is degraded.
#include <sys/utsname.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../live/truth.h"
#include "run.h"
#include "sources/bpf/bpf_loader.h"

namespace portrel::testing {
namespace {

nlohmann::json doctor(const std::vector<std::string>& env, int* exit_code = nullptr) {
  CliRun run = run_portrel({"doctor", "--format", "json"}, env);
  EXPECT_TRUE(run.exit_code == 0 || run.exit_code == 3) << run.exit_code << ": " << run.err;
  if (exit_code != nullptr) *exit_code = run.exit_code;
  return nlohmann::json::parse(run.out);
}

const nlohmann::json* part(const nlohmann::json& doc, const std::string& name) {
  for (const auto& p : doc["bpf"]["parts"]) {
    if (p["part"] == name) return &p;
  }
  return nullptr;
}

TEST(Doctor, StatesThisKernelAndEveryPartAndExitsByWhetherAnythingIsDegraded) {
  ASSERT_EQ(geteuid(), 0u) << "this test compares the root view of the host";
  int code = -1;
  auto doc = doctor({}, &code);
  struct utsname u;
  ASSERT_EQ(uname(&u), 0);
  EXPECT_EQ(doc["kernel"], std::string(u.release) + " " + u.version);
  EXPECT_EQ(doc["privilege"]["euid"], 0);
  EXPECT_EQ(doc["privilege"]["capabilities"]["CAP_SYS_ADMIN"], true);
  EXPECT_EQ(doc["bpf"]["built_in"], bpf_built_in());
  ASSERT_EQ(doc["bpf"]["parts"].size(), kBpfParts) << doc["bpf"].dump(2);
  bool any_lost = false;
  for (const auto& p : doc["bpf"]["parts"]) {
    bool loaded = p["state"] == "loaded";
    any_lost |= !loaded;
    EXPECT_EQ(p["reason"].is_null(), loaded) << p;
    EXPECT_EQ(p["instead"].is_null(), loaded) << p;
  }
  bool tcp_dumps = false;
  for (const auto& f : doc["sock_diag"]) {
    if (f["family"] == "tcp") tcp_dumps = f["available"];
    EXPECT_EQ(f["reason"].is_null(), f["available"].get<bool>()) << f;
  }
  EXPECT_TRUE(tcp_dumps) << "every kernel portrel supports dumps TCP";
  EXPECT_GT(doc["fd_tables"]["processes"].get<size_t>(), 1u);
  bool degraded = !doc["bpf"]["usable"].get<bool>() || any_lost ||
                  doc["fd_tables"]["unreadable"].get<size_t>() > 0;
  EXPECT_EQ(doc["degraded"], degraded);
  EXPECT_EQ(code, degraded ? 3 : 0);
  // As root every probe of the bind rules runs (a private namespace each).
  EXPECT_NE(doc["bind_rules"]["udp_reuseport"], "unknown") << doc["bind_rules"];
  EXPECT_TRUE(doc["bind_rules"]["tcp_mapped_any_found"].is_boolean()) << doc["bind_rules"];
  EXPECT_TRUE(doc["bind_rules"]["tcp_first_bind_sets_shortcut"].is_boolean())
      << doc["bind_rules"];
}

// On a kernel that cannot run the bpf source at all (kernel_lacks_for_bpf), the
// part turned off is listed all the same, beside the part the kernel refused
// and the untried rest, and the source is not usable.
TEST(Doctor, NamesAPartTurnedOffAndTheWholeSourceTurnedOff) {
  ASSERT_EQ(geteuid(), 0u) << "the bpf parts need root";
  ASSERT_TRUE(bpf_built_in()) << "this build has no bpf source";
  const std::string lacks = kernel_lacks_for_bpf();
  int code = -1;
  auto one = doctor({std::string(kBpfFailEnv) + "=tcp_rows"}, &code);
  const nlohmann::json* rows = part(one, "tcp_rows");
  ASSERT_NE(rows, nullptr) << one["bpf"].dump(2);
  EXPECT_EQ((*rows)["state"], "disabled") << *rows;
  EXPECT_EQ(one["bpf"]["usable"], lacks.empty()) << "this kernel lacks " << lacks;
  EXPECT_EQ(one["degraded"], true);
  EXPECT_EQ(code, 3);

  auto all = doctor({std::string(kBpfFailEnv) + "=1"}, &code);
  EXPECT_EQ(all["bpf"]["usable"], false);
  EXPECT_NE(all["bpf"]["error"].get<std::string>().find(kBpfFailEnv), std::string::npos);
  EXPECT_EQ(code, 3);

  CliRun page = run_portrel({"doctor"}, {std::string(kBpfFailEnv) + "=tcp_rows"});
  EXPECT_NE(page.out.find("tcp_rows"), std::string::npos) << page.out;
  EXPECT_NE(page.out.find("disabled"), std::string::npos) << page.out;
  EXPECT_NE(page.out.find("SOCK_DIAG"), std::string::npos) << page.out;
}

TEST(Doctor, WithoutPrivilegeSaysWhatIsLost) {
  ASSERT_EQ(geteuid(), 0u) << "this test drops from root to nobody";
  ASSERT_EQ(access("/usr/bin/setpriv", X_OK), 0) << "setpriv (util-linux) is needed";
  CliRun run = run_portrel_as_nobody({"doctor", "--format", "json"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  auto doc = nlohmann::json::parse(run.out);
  EXPECT_EQ(doc["privilege"]["euid"], 65534);
  EXPECT_EQ(doc["bpf"]["usable"], false);
  EXPECT_NE(doc["bpf"]["error"].get<std::string>().find("privilege"), std::string::npos)
      << doc["bpf"];
  // Root's processes (this test's own, at least) are out of reach.
  EXPECT_GT(doc["fd_tables"]["unreadable"].get<size_t>(), 0u);
}

}  // namespace
}  // namespace portrel::testing
