// The doctor's report rendered from a hand-filled HostReport: the JSON fields
// (nulls for what is empty or unknown) and the labelled lines of the page.
#include "output/doctor_view.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace portrel {
namespace {

using nlohmann::json;

HostReport make_report() {
  HostReport r;
  r.kernel = "6.1.0-28-amd64 #1 SMP";
  r.btf = true;
  r.btf_bytes = 5 * 1024 * 1024;
  r.euid = 0;
  r.capabilities = {{"CAP_SYS_ADMIN", true, "bpf"}, {"CAP_BPF", false, "bpf"}};
  r.bpf_built_in = true;
  r.bpf_usable = true;
  r.bpf_origin = "loaded";
  r.bpf_parts = {{BpfPart::tasks, BpfPartState::loaded, ""},
                 {BpfPart::exe_path, BpfPartState::refused, "invalid bpf_d_path"}};
  r.diag = {{"tcp", true, "", "sock_diag"},
            {"sctp", false, "no diag module: No such file or directory", "nothing"}};
  r.bind_rules.udp_reuseport = UdpReuseportRule::every_match;
  r.bind_rules.tcp_mapped_any_found = Tristate::yes;
  r.bind_rules_how = "probed";
  r.pidns = 4026531836;
  r.initial_pidns = true;
  r.processes = 1234;
  r.fd_unreadable = 2;
  r.fd_unreadable_examples = {7, 9};
  return r;
}

TEST(DoctorView, JsonHasEachPartWithNullsForTheUnknown) {
  json doc = json::parse(doctor_json(make_report(), true));
  EXPECT_EQ(doc["kernel"], "6.1.0-28-amd64 #1 SMP");
  EXPECT_EQ(doc["btf"], json({{"available", true}, {"bytes", 5 * 1024 * 1024}}));
  EXPECT_EQ(doc["privilege"]["euid"], 0);
  EXPECT_EQ(doc["privilege"]["capabilities"]["CAP_SYS_ADMIN"], true);
  EXPECT_EQ(doc["privilege"]["capabilities"]["CAP_BPF"], false);
  EXPECT_EQ(doc["bpf"]["usable"], true);
  EXPECT_TRUE(doc["bpf"]["error"].is_null());
  ASSERT_EQ(doc["bpf"]["parts"].size(), 2u);
  EXPECT_EQ(doc["bpf"]["parts"][0]["part"], "tasks");
  EXPECT_TRUE(doc["bpf"]["parts"][0]["reason"].is_null());
  EXPECT_TRUE(doc["bpf"]["parts"][0]["instead"].is_null());
  EXPECT_EQ(doc["bpf"]["parts"][1]["part"], "exe_path");
  EXPECT_EQ(doc["bpf"]["parts"][1]["state"], "refused");
  EXPECT_EQ(doc["bpf"]["parts"][1]["reason"], "invalid bpf_d_path");
  EXPECT_EQ(doc["bpf"]["parts"][1]["instead"], bpf_part_fallback(BpfPart::exe_path));
  EXPECT_EQ(doc["sock_diag"][1],
            json({{"family", "sctp"},
                  {"available", false},
                  {"reason", "no diag module: No such file or directory"},
                  {"portrel_reads", "nothing"}}));
  EXPECT_TRUE(doc["sock_diag"][0]["reason"].is_null());
  EXPECT_EQ(doc["bind_rules"], json({{"udp_reuseport", "every_match"},
                                     {"tcp_mapped_any_found", true},
                                     {"tcp_first_bind_sets_shortcut", nullptr},
                                     {"how", "probed"}}));
  EXPECT_TRUE(doc["socket_events"]["hooks"].is_null());
  EXPECT_EQ(doc["pid_namespace"], json({{"inode", 4026531836}, {"initial", true}}));
  EXPECT_EQ(
      doc["fd_tables"],
      json({{"processes", 1234}, {"unreadable", 2}, {"unreadable_examples", {7, 9}}}));
  EXPECT_EQ(doc["degraded"], true);
  EXPECT_EQ(json::parse(doctor_json(make_report(), false))["degraded"], false);
}

TEST(DoctorView, PageLabelsEachFact) {
  std::string page = doctor_page(make_report(), false);
  EXPECT_EQ(page.substr(0, page.find('\n') + 1),
            "kernel        6.1.0-28-amd64 #1 SMP\n");
  EXPECT_NE(page.find("BTF           /sys/kernel/btf/vmlinux (5,120 KiB)\n"),
            std::string::npos);
  EXPECT_NE(page.find("privilege     euid 0; CAP_SYS_ADMIN yes; CAP_BPF no\n"),
            std::string::npos);
  EXPECT_NE(
      page.find("fd tables     2 of 1,234 processes' fd tables unreadable (pid 7, 9): "
                "their sockets show no owner\n"),
      std::string::npos);
  EXPECT_NE(page.find("bpf source    loaded\n"), std::string::npos);
  EXPECT_NE(page.find("invalid bpf_d_path; instead: "), std::string::npos);
  EXPECT_NE(page.find("no diag module: No such file or directory"), std::string::npos);
  EXPECT_NE(page.find("bind rules    "), std::string::npos);
  EXPECT_NE(page.find(" (probed)\n"), std::string::npos);
}

}  // namespace
}  // namespace portrel
