// A history file read back (`portrel history`, `sql --db`): any bytes as the
// SQLite file, asked what held a port and whether a run covers a moment. A
// file that is not a history, or is corrupt, is an error; never a crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "query/history_query.h"

namespace {

std::string path;

void remove_file() { std::remove(path.c_str()); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace portrel;
  if (path.empty()) {
    path = "/tmp/portrel-fuzz-history-" + std::to_string(getpid()) + ".db";
    std::atexit(remove_file);
  }
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  auto db = Database::open_readonly(path);
  if (!db) return 0;
  HistoryQuery q;
  q.port = 8080;
  (void)query_history(*db, q);
  q.port.reset();
  q.name = "nginx";
  q.since = 0;
  q.until = 2e9;
  (void)query_history(*db, q);
  (void)history_covers(*db, 1e9);
  return 0;
}
