// `portrel why-busy` as a user runs it: against sockets this test holds in a
// network namespace it made, with --try so the kernel's answer is printed beside
// the prediction, in text and JSON, and with usage errors.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "../live/shell.h"
#include "run.h"
#include "sources/bind_probe.h"
#include "sources/netns.h"

namespace portrel {
namespace {

using testing::run_portrel;

// A listening TCP socket on 127.0.0.1:port inside the namespace, held by this
// process until destroyed.
class Listener {
 public:
  Listener(const std::string& netns, uint16_t port) {
    std::thread worker([&] {
      if (!enter_netns("/run/netns/" + netns)) return;
      BindRequest r;
      r.address = *Address::parse("127.0.0.1");
      r.port = port;
      if (auto fd = open_bound_socket(r)) {
        fd_ = *fd;
        if (listen(fd_, 4) != 0) fd_ = -1;
      }
    });
    worker.join();
  }
  ~Listener() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

TEST(WhyBusyCli, NamesTheBlockerAndAgreesWithTheKernel) {
  ASSERT_EQ(geteuid(), 0u) << "needs root to make a network namespace";
  testing::NamedNetns ns("portrel-whybusy-" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok());
  Listener listener(ns.name(), 18080);
  ASSERT_TRUE(listener.ok());

  auto busy = run_portrel({"why-busy", "tcp", "0.0.0.0:18080", "--netns", ns.name(), "--try"},
                          {"NO_COLOR=1"});
  EXPECT_EQ(busy.exit_code, 1) << busy.out << busy.err;
  EXPECT_NE(busy.out.find("would fail: EADDRINUSE"), std::string::npos) << busy.out;
  EXPECT_NE(busy.out.find("LISTEN 127.0.0.1:18080"), std::string::npos) << busy.out;
  EXPECT_NE(busy.out.find("held by live_tests " + std::to_string(getpid())),
            std::string::npos)
      << busy.out;
  EXPECT_NE(busy.out.find("kernel (--try): EADDRINUSE"), std::string::npos) << busy.out;
  EXPECT_NE(busy.out.find("agrees with the prediction"), std::string::npos) << busy.out;
  EXPECT_NE(busy.out.find("another port: 18081 is free"), std::string::npos) << busy.out;

  auto free = run_portrel({"why-busy", "tcp", "127.0.0.2:18080", "--netns", ns.name(), "--try"});
  EXPECT_EQ(free.exit_code, 0) << free.out << free.err;
  EXPECT_NE(free.out.find("would succeed"), std::string::npos) << free.out;
  EXPECT_NE(free.out.find("kernel (--try): success"), std::string::npos) << free.out;

  auto udp = run_portrel({"why-busy", "udp", "0.0.0.0:18080", "--netns", ns.name()});
  EXPECT_EQ(udp.exit_code, 0) << udp.out << udp.err;
}

TEST(WhyBusyCli, JsonCarriesVerdictAndBlockers) {
  ASSERT_EQ(geteuid(), 0u) << "needs root to make a network namespace";
  testing::NamedNetns ns("portrel-whybusy-j" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok());
  Listener listener(ns.name(), 18090);
  ASSERT_TRUE(listener.ok());
  auto run = run_portrel({"--format", "json", "why-busy", "[::]:18090", "--netns", ns.name(),
                          "--user", "1000", "--try"});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  auto doc = nlohmann::json::parse(run.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << run.out;
  EXPECT_EQ(doc["verdict"], "fails");
  EXPECT_EQ(doc["request"]["uid"], 1000);
  ASSERT_EQ(doc["blockers"].size(), 1u) << run.out;
  EXPECT_EQ(doc["blockers"][0]["local_port"], 18090);
  EXPECT_EQ(doc["blockers"][0]["state"], "LISTEN");
  EXPECT_EQ(doc["blockers"][0]["certain"], true);
  EXPECT_EQ(doc["kernel"], "EADDRINUSE (Address already in use)");
}

TEST(WhyBusyCli, UsageErrorsExitTwo) {
  EXPECT_EQ(run_portrel({"why-busy"}).exit_code, 2);
  auto bad = run_portrel({"why-busy", "sctp", "127.0.0.1:80"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("expected tcp, udp or udplite"), std::string::npos) << bad.err;
  EXPECT_EQ(run_portrel({"why-busy", "tcp", "127.0.0.1:80", "--v6only"}).exit_code, 2);
}

}  // namespace
}  // namespace portrel
