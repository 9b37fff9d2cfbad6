// `portrel serve` against the real thing: Debian's Prometheus, started by the
// test on loopback with a scrape config pointing at portrel, finds a listener
// the test opened and then its disappearance; promtool accepts the output; a
// silent client does not stall a scrape; --textfile writes a valid file
// atomically; the series limit drops and counts.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <iostream>
#include <sstream>
#include <thread>

#include "../live/shell.h"
#include "run.h"

namespace portrel::testing {
namespace {

std::string listener(uint16_t port) {
  return "python3 -c 'import socket,time\ns = socket.socket(); s.bind((\"127.0.0.1\", " +
         std::to_string(port) + ")); s.listen(); print(1, flush=True); time.sleep(120)'";
}

// promtool's verdict on TEXT: 0 when it accepts it.
int promtool_check(const std::string& text, const std::string& dir) {
  std::ofstream(dir + "/metrics.txt") << text;
  return sh("promtool check metrics < " + dir + "/metrics.txt > " + dir + "/promtool.out 2>&1");
}

// Polls Prometheus's query API until PREDICATE holds for the result list of
// QUERY, or 40 s pass; the last answer is printed when it never does.
bool eventually(httplib::Client& prometheus, const std::string& query,
                const std::function<bool(const nlohmann::json&)>& predicate) {
  std::string last;
  for (int i = 0; i < 80; ++i) {
    auto res = prometheus.Get("/api/v1/query", httplib::Params{{"query", query}},
                              httplib::Headers{});
    last = res ? std::to_string(res->status) + " " + res->body
               : "no answer: " + httplib::to_string(res.error());
    if (res && res->status == 200) {
      auto doc = nlohmann::json::parse(res->body, nullptr, false);
      if (!doc.is_discarded() && doc["status"] == "success" &&
          predicate(doc["data"]["result"])) {
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::cout << "[ prometheus ] " << query << ": " << last << "\n";
  return false;
}

TEST(Serve, PrometheusFindsAListenerAndItsDisappearance) {
  ASSERT_EQ(access("/usr/bin/prometheus", X_OK), 0) << "prometheus is needed (scripts/deps.sh)";
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  uint16_t serve_port = free_loopback_port(), prom_port = free_loopback_port(), port = free_loopback_port();
  Background serve(std::string(PORTREL_BINARY) + " serve --listen 127.0.0.1:" +
                   std::to_string(serve_port) + " --min-interval 0.5 2>&1");
  ASSERT_FALSE(serve.line().empty());
  std::ofstream(dir.path() + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      << "scrape_configs:\n  - job_name: portrel\n    static_configs:\n"
      << "      - targets: ['127.0.0.1:" << serve_port << "']\n";
  // Its log goes to a file: it writes on long after Background stopped reading.
  Background prometheus("/usr/bin/prometheus --config.file=" + dir.path() +
                        "/prometheus.yml --storage.tsdb.path=" + dir.path() +
                        "/data --web.listen-address=127.0.0.1:" + std::to_string(prom_port) +
                        " >" + dir.path() + "/prometheus.log 2>&1 & echo started; wait");
  ASSERT_FALSE(prometheus.line().empty());
  httplib::Client api("127.0.0.1", prom_port);
  api.set_read_timeout(5, 0);

  std::string query = "portrel_listening_sockets{port=\"" + std::to_string(port) + "\"}";
  {
    Background server(listener(port));
    ASSERT_FALSE(server.line().empty());
    EXPECT_TRUE(eventually(api, query, [](const nlohmann::json& r) {
      return r.size() == 1 && r[0]["metric"]["process"] == "python3" &&
             r[0]["metric"]["address"] == "127.0.0.1";
    })) << "Prometheus never saw the listener";
  }
  EXPECT_TRUE(eventually(api, query, [](const nlohmann::json& r) { return r.empty(); }))
      << "the listener is gone but Prometheus still has it";
  EXPECT_TRUE(eventually(api, "portrel_captures_total", [](const nlohmann::json& r) {
    return !r.empty() && std::stod(r[0]["value"][1].get<std::string>()) >= 2;
  }));
}

TEST(Serve, PromtoolAcceptsItAndASilentClientStallsNothing) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  uint16_t serve_port = free_loopback_port();
  Background serve(std::string(PORTREL_BINARY) + " serve --listen 127.0.0.1:" +
                   std::to_string(serve_port) + " 2>&1");
  ASSERT_FALSE(serve.line().empty());
  // A client that connects and says nothing.
  int silent = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(serve_port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(silent, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);

  httplib::Client client("127.0.0.1", serve_port);
  client.set_read_timeout(10, 0);
  auto start = std::chrono::steady_clock::now();
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics) << "no answer";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->get_header_value("Content-Type").find("version=0.0.4"), std::string::npos);
  EXPECT_EQ(promtool_check(metrics->body, dir.path()), 0) << metrics->body;
  auto open = client.Get("/metrics", {{"Accept", "application/openmetrics-text"}});
  ASSERT_TRUE(open);
  EXPECT_TRUE(open->body.ends_with("# EOF\n"));
  auto index = client.Get("/");
  ASSERT_TRUE(index);
  EXPECT_NE(index->body.find("/metrics"), std::string::npos);
  auto missing = client.Get("/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  close(silent);
}

TEST(Serve, TextfileIsWrittenWholeAndTheSeriesLimitCounts) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  uint16_t a = free_loopback_port(), b = free_loopback_port();
  Background one(listener(a)), two(listener(b));
  ASSERT_FALSE(one.line().empty() || two.line().empty());
  CliRun run = run_portrel({"serve", "--textfile", dir.path(), "--max-series", "1"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::string path = dir.path() + "/portrel.prom";
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u) << "node_exporter reads it as its own user";
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_EQ(promtool_check(text.str(), dir.path()), 0) << text.str();
  EXPECT_NE(text.str().find("portrel_series_dropped{metric=\"portrel_listening_sockets\"}"),
            std::string::npos)
      << text.str();
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 3u) << "portrel.prom and promtool's two files, no temporary left";
  CliRun bad = run_portrel({"serve", "--textfile", dir.path() + "/missing"});
  EXPECT_EQ(bad.exit_code, 2);
}

}  // namespace
}  // namespace portrel::testing
