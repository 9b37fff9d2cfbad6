// BpfSource over canned iterator records and a hand-built /proc tree: decoding,
// the join of holders with their /proc files, pid reuse caught by start time,
// and exact options for held and unheld sockets.
#include "sources/bpf/bpf_source.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "sources/bpf/portrel_bpf.h"

namespace portrel {
namespace {

namespace fs = std::filesystem;

template <typename Rec>
void put(std::string& out, const Rec& rec) {
  out.append(reinterpret_cast<const char*>(&rec), sizeof rec);
}

uint64_t own_netns() {
  struct stat st{};
  EXPECT_EQ(stat("/proc/self/ns/net", &st), 0);
  return st.st_ino;
}

portrel_task_rec task(pid_t pid, uint64_t start_ticks, const char* comm,
                      uint64_t exe_id = 0) {
  portrel_task_rec r{};
  r.exe_id = exe_id;
  r.tgid = static_cast<__u32>(pid);
  r.ppid = 1;
  r.start_ns = start_ticks * (1'000'000'000 / static_cast<uint64_t>(sysconf(_SC_CLK_TCK)));
  r.netns = own_netns();  // iter/tcp and iter/udp run here without setns
  r.pidns = 4026531836;
  strncpy(r.comm, comm, sizeof r.comm);
  return r;
}

portrel_sock_rec sock(pid_t pid, int fd, uint64_t inode, uint8_t flags, uint8_t reuse) {
  portrel_sock_rec r{};
  r.head = {PORTREL_REC_SOCK, sizeof r};
  r.inode = inode;
  r.tgid = static_cast<__u32>(pid);
  r.fd = fd;
  r.port = 8080;
  r.family = 10;
  r.flags = flags;
  r.reuse = reuse;
  return r;
}

// A holder record as the sleepable fd walk writes it: the record, its texts,
// zero padding to a multiple of 8.
void put_holder(std::string& out, const portrel_task_rec& task, std::string_view exe,
                std::string_view cmdline, uint32_t flags = 0) {
  portrel_holder_rec r{};
  r.task = task;
  r.flags = flags;
  r.exe_len = static_cast<__u32>(exe.size());
  r.cmdline_len = static_cast<__u32>(cmdline.size());
  size_t size = (sizeof r + exe.size() + cmdline.size() + 7) / 8 * 8;
  r.head = {PORTREL_REC_HOLDER, static_cast<__u16>(size)};
  put(out, r);
  out.append(exe);
  out.append(cmdline);
  out.append(size - sizeof r - exe.size() - cmdline.size(), '\0');
}

class CannedIterators : public BpfIterators {
 public:
  std::string task_bytes, file_bytes, table_bytes;
  /// What tasks() returns from its second call on (the check after the /proc
  /// reads); the first call's bytes when empty.
  std::string later_task_bytes;
  int task_calls = 0;
  std::vector<std::vector<uint16_t>>* table_ports = nullptr;  ///< each tables() call's ports
  Result<std::string> tasks() override {
    return ++task_calls > 1 && !later_task_bytes.empty() ? later_task_bytes : task_bytes;
  }
  /// Hands the records to ON_RECORDS in two chunks (at CHUNK_AT, or half way
  /// through socket records), as a read() loop would.
  Result<size_t> task_files(const RecordsSeen& on_records, bool details) override {
    asked_details = details;
    size_t half = chunk_at != 0 ? chunk_at
                                : file_bytes.size() / sizeof(portrel_sock_rec) / 2 *
                                      sizeof(portrel_sock_rec);
    on_records(std::string_view(file_bytes).substr(0, half));
    on_records(std::string_view(file_bytes).substr(half));
    return file_bytes.size();
  }
  bool holder_details() const override { return walk_texts; }
  bool walk_texts = false;  ///< file_bytes carry holder records
  bool asked_details = false;
  size_t chunk_at = 0;
  Result<std::string> tables(const TableQuery& query) override {
    if (table_ports != nullptr) table_ports->push_back(query.ports);
    return table_bytes;
  }
};

class BpfSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("portrel-bpf-" + std::to_string(getpid()));
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // /proc/PID with a stat whose start time is START, an exe link and cmdline.
  void make_proc(pid_t pid, uint64_t start, const char* exe = "/usr/sbin/srv") {
    fs::path dir = root_ / std::to_string(pid);
    fs::create_directories(dir);
    std::ofstream(dir / "stat") << pid << " (srv) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
                                << start << " 0 0\n";
    std::ofstream(dir / "cmdline") << std::string("srv\0-p\0", 7);
    std::ofstream(dir / "cgroup") << "0::/system.slice/srv.service\n";
    fs::create_symlink(exe, dir / "exe");
  }

  fs::path root_;
};

TEST_F(BpfSourceTest, JoinsHoldersWithTheirProcFilesAndDropsReusedPids) {
  pid_t self = getpid();
  make_proc(self, 500);
  make_proc(4242, 999);  // the iterator saw start 700: the pid was reused
  make_proc(4343, 800);  // exits after its files were read
  auto it = std::make_unique<CannedIterators>();
  put(it->task_bytes, task(self, 500, "srv"));
  put(it->task_bytes, task(4242, 700, "old"));
  put(it->task_bytes, task(4343, 800, "gone"));
  put(it->task_bytes, task(7, 1, "idle"));
  // The pass after the /proc reads: 4242 is another process, 4343 is gone.
  put(it->later_task_bytes, task(self, 500, "srv"));
  put(it->later_task_bytes, task(4242, 999, "new"));
  put(it->later_task_bytes, task(7, 1, "idle"));
  put(it->file_bytes, sock(self, 3, 111, PORTREL_CLOEXEC | PORTREL_V6ONLY, 1));
  put(it->file_bytes, sock(4242, 5, 222, PORTREL_REUSEPORT, 0));
  put(it->file_bytes, sock(4343, 4, 444, 0, 0));
  put(it->table_bytes, sock(0, -1, 333, PORTREL_REUSEPORT, 1));
  std::vector<std::vector<uint16_t>> table_ports;
  it->table_ports = &table_ports;
  BpfSourceOptions options;
  options.proc_root = root_.string();
  BpfSource source(std::move(it), options);
  auto scan = source.scan();
  ASSERT_TRUE(scan) << scan.error().message;
  EXPECT_EQ(scan->vanished, 2u);
  ASSERT_EQ(scan->processes.size(), 2u);
  EXPECT_EQ(scan->processes[0].pid, 7);
  EXPECT_EQ(scan->processes[0].exe, "") << "no socket: /proc not read";
  const Process& srv = scan->processes[1];
  EXPECT_EQ(srv.pid, self);
  EXPECT_EQ(srv.comm, "srv");
  EXPECT_EQ(srv.start_time, 500u);
  EXPECT_EQ(srv.exe, "/usr/sbin/srv");
  EXPECT_EQ(srv.cmdline, "srv -p");
  EXPECT_EQ(srv.cgroup, "/system.slice/srv.service");
  ASSERT_EQ(scan->holdings.size(), 1u);
  EXPECT_EQ(scan->holdings[0], (Holding{self, 3, 111, true}));
  // The lowest pid of a namespace names it (/run/netns names may follow).
  ASSERT_GE(scan->netns.size(), 1u);
  EXPECT_EQ(scan->netns[0].inode, own_netns());
  EXPECT_EQ(scan->netns[0].path, root_.string() + "/7/ns/net");
  // Options of every held socket (a reused pid's socket still exists); the
  // tables are read only when asked, for the ports asked.
  EXPECT_TRUE(table_ports.empty());
  ASSERT_EQ(scan->options.size(), 3u);
  EXPECT_EQ(scan->options[0].inode, 111u);
  EXPECT_TRUE(scan->options[0].reuseaddr && !scan->options[0].reuseport &&
              scan->options[0].v6only);
  std::vector<ExactOptions> unheld;
  std::vector<std::string> warnings;
  TableQuery query;
  query.ports = {53, 8080};
  source.read({scan->netns[0]}, query, unheld, warnings);
  EXPECT_TRUE(warnings.empty());
  ASSERT_EQ(table_ports.size(), 1u);
  EXPECT_EQ(table_ports[0], query.ports);
  ASSERT_EQ(unheld.size(), 1u);
  EXPECT_EQ(unheld[0].inode, 333u);
  EXPECT_TRUE(unheld[0].reuseaddr && unheld[0].reuseport && !unheld[0].v6only);
}

TEST_F(BpfSourceTest, ForksSharingAnExeFileReadItsLinkOnce) {
  pid_t self = getpid();
  make_proc(self, 500, "/usr/sbin/srv");
  make_proc(5001, 600, "/not/read");  // same exe file as self: copied, not read
  make_proc(5002, 600, "/usr/bin/b");
  make_proc(5003, 600, "/usr/bin/new");  // exec'd between the passes
  auto it = std::make_unique<CannedIterators>();
  for (std::string* bytes : {&it->task_bytes, &it->later_task_bytes}) {
    bool later = bytes == &it->later_task_bytes;
    put(*bytes, task(self, 500, "srv", 77));
    put(*bytes, task(5001, 600, "srv", 77));
    put(*bytes, task(5002, 600, "b", 88));
    put(*bytes, task(5003, 600, "new", later ? 99 : 77));
  }
  for (pid_t pid : {self, 5001, 5002, 5003}) {
    put(it->file_bytes, sock(pid, 3, static_cast<uint64_t>(pid), 0, 0));
  }
  BpfSourceOptions options;
  options.proc_root = root_.string();
  BpfSource source(std::move(it), options);
  auto scan = source.scan();
  ASSERT_TRUE(scan) << scan.error().message;
  EXPECT_EQ(scan->vanished, 0u);
  std::map<pid_t, std::string> exe;
  for (const Process& p : scan->processes) exe[p.pid] = p.exe;
  EXPECT_EQ(exe[self], "/usr/sbin/srv");
  EXPECT_EQ(exe[5001], "/usr/sbin/srv") << "the link of the exe file's first holder";
  EXPECT_EQ(exe[5002], "/usr/bin/b");
  EXPECT_EQ(exe[5003], "/usr/bin/new") << "another exe file after the reads: read again";
}

// The same whether the task pass runs before the walk or, handed out by
// task_pass_beside(), on another thread while it runs, or after the walk when the
// part was handed out but never run.
TEST_F(BpfSourceTest, HolderTextsComeWithTheWalk) {
  pid_t self = getpid();
  make_proc(self, 500, "/not/read");  // the walk's texts are used, not /proc's
  make_proc(5001, 600, "/not/read");
  make_proc(5002, 600, "/usr/bin/long");  // its cmdline did not fit the walk
  make_proc(4242, 900, "/usr/bin/new");   // reused pid: the walk saw the new one
  for (int mode : {0, 1, 2}) {
  SCOPED_TRACE(mode == 0 ? "task pass first" : mode == 1 ? "task pass beside" : "part not run");
  auto it = std::make_unique<CannedIterators>();
  it->walk_texts = true;
  for (std::string* bytes : {&it->task_bytes, &it->later_task_bytes}) {
    bool later = bytes == &it->later_task_bytes;
    put(*bytes, task(self, 500, "srv", 77));
    put(*bytes, task(5001, 600, "srv", 77));
    put(*bytes, task(5002, 600, "long", 88));
    put(*bytes, task(4242, later ? 900 : 700, later ? "new" : "old"));
    if (later) put(*bytes, task(6000, 950, "late"));
  }
  put_holder(it->file_bytes, task(self, 500, "srv", 77), "/usr/sbin/srv", std::string("srv\0-p\0", 7));
  put(it->file_bytes, sock(self, 3, 111, 0, 0));
  put(it->file_bytes, sock(self, 4, 112, 0, 0));
  it->chunk_at = it->file_bytes.size();
  put_holder(it->file_bytes, task(5001, 600, "srv", 77), "", std::string("srv\0-w\0", 7),
             PORTREL_EXE_AS_BEFORE);
  put(it->file_bytes, sock(5001, 3, 113, 0, 0));
  put_holder(it->file_bytes, task(5002, 600, "long", 88), "/usr/bin/long", "",
             PORTREL_CMDLINE_UNREAD);
  put(it->file_bytes, sock(5002, 3, 114, 0, 0));
  put_holder(it->file_bytes, task(4242, 900, "new"), "/usr/bin/new", std::string("new\0", 4));
  put(it->file_bytes, sock(4242, 5, 115, 0, 0));
  put_holder(it->file_bytes, task(6000, 950, "late"), "/usr/bin/late", std::string("late\0", 5));
  put(it->file_bytes, sock(6000, 6, 116, 0, 0));
  auto* canned = it.get();
  BpfSourceOptions options;
  options.proc_root = root_.string();
  options.process_details = CaptureOptions::Details::command;
  BpfSource source(std::move(it), options);
  std::function<void()> part;
  if (mode > 0) {
    part = source.task_pass_beside();
    ASSERT_TRUE(part && source.tasks_can_run_beside())
        << "with the walk's texts and no cgroup, the task pass can go beside";
  }
  std::thread other;
  if (mode == 1) other = std::thread(part);
  auto scan = source.scan();
  if (mode == 1) other.join();
  ASSERT_TRUE(scan) << scan.error().message;
  EXPECT_TRUE(canned->asked_details);
  EXPECT_EQ(canned->task_calls, 2) << "one /proc read (5002's cmdline): one check after it";
  EXPECT_EQ(scan->vanished, 1u) << "the process that had pid 4242 before";
  std::map<pid_t, const Process*> by_pid;
  for (const Process& p : scan->processes) by_pid[p.pid] = &p;
  ASSERT_TRUE(by_pid.contains(self) && by_pid.contains(5001) && by_pid.contains(5002) &&
              by_pid.contains(4242) && by_pid.contains(6000));
  EXPECT_EQ(by_pid[self]->exe, "/usr/sbin/srv");
  EXPECT_EQ(by_pid[self]->cmdline, "srv -p");
  EXPECT_EQ(by_pid[5001]->exe, "/usr/sbin/srv") << "the exe file of the holder before";
  EXPECT_EQ(by_pid[5001]->cmdline, "srv -w");
  EXPECT_EQ(by_pid[5002]->exe, "/usr/bin/long");
  EXPECT_EQ(by_pid[5002]->cmdline, "srv -p") << "from /proc";
  EXPECT_EQ(by_pid[4242]->comm, "new");
  EXPECT_EQ(by_pid[4242]->start_time, 900u);
  EXPECT_EQ(by_pid[4242]->cmdline, "new");
  EXPECT_EQ(by_pid[6000]->comm, "late") << "born after the task pass: from the walk's record";
  EXPECT_EQ(by_pid[6000]->exe, "/usr/bin/late");
  EXPECT_EQ(by_pid[self]->cgroup, "") << "not asked for";
  EXPECT_EQ(scan->holdings.size(), 6u) << "every holding, 4242's and 6000's too";
  }
}

TEST_F(BpfSourceTest, CgroupStillComesFromProcWithTheWalksTexts) {
  pid_t self = getpid();
  make_proc(self, 500, "/not/read");
  auto it = std::make_unique<CannedIterators>();
  it->walk_texts = true;
  put(it->task_bytes, task(self, 500, "srv"));
  put_holder(it->file_bytes, task(self, 500, "srv"), "/usr/sbin/srv", std::string("srv\0", 4));
  put(it->file_bytes, sock(self, 3, 111, 0, 0));
  it->chunk_at = it->file_bytes.size();
  BpfSourceOptions options;
  options.proc_root = root_.string();
  BpfSource source(std::move(it), options);
  auto scan = source.scan();
  ASSERT_TRUE(scan) << scan.error().message;
  ASSERT_EQ(scan->processes.size(), 1u);
  EXPECT_EQ(scan->processes[0].exe, "/usr/sbin/srv");
  EXPECT_EQ(scan->processes[0].cgroup, "/system.slice/srv.service");
}

TEST_F(BpfSourceTest, RefusesPidsFromAnotherPidNamespace) {
  auto it = std::make_unique<CannedIterators>();
  put(it->task_bytes, task(getpid() + 100000, 1, "other"));
  BpfSourceOptions options;
  options.proc_root = root_.string();
  BpfSource source(std::move(it), options);
  auto scan = source.scan();
  ASSERT_FALSE(scan);
  EXPECT_NE(scan.error().message.find("pid namespace"), std::string::npos);
}

TEST(BpfDecode, MalformedWalkRecordsAreErrors) {
  std::string good;
  put_holder(good, task(1, 1, "a"), "/bin/a", std::string("a\0", 2));
  put(good, sock(1, 3, 9, 0, 0));
  auto walk = decode_walk(good);
  ASSERT_TRUE(walk) << walk.error().message;
  ASSERT_EQ(walk->holders.size(), 1u);
  EXPECT_EQ(walk->holders[0].exe, "/bin/a");
  EXPECT_EQ(walk->holders[0].cmdline, "a");
  ASSERT_EQ(walk->sockets.size(), 1u);
  EXPECT_EQ(walk->sockets[0].inode, 9u);

  auto head_at = [](std::string& bytes, size_t at) {
    return reinterpret_cast<portrel_rec_head*>(bytes.data() + at);
  };
  std::string unknown = good;
  head_at(unknown, 0)->kind = 9;
  std::string long_texts = good;
  reinterpret_cast<portrel_holder_rec*>(long_texts.data())->cmdline_len = 64;
  std::string wrong_sock = good;
  size_t sock_at = good.size() - sizeof(portrel_sock_rec);
  head_at(wrong_sock, sock_at)->size = static_cast<__u16>(sizeof(portrel_sock_rec) - 8);
  std::string beyond = good;
  head_at(beyond, 0)->size = static_cast<__u16>(good.size() + 8);
  std::string odd = good;
  head_at(odd, 0)->size = static_cast<__u16>(head_at(odd, 0)->size - 4);
  for (const std::string* bytes : {&unknown, &long_texts, &wrong_sock, &beyond, &odd}) {
    auto bad = decode_walk(*bytes);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("record at byte"), std::string::npos)
        << bad.error().message;
  }
  EXPECT_FALSE(decode_walk(good.substr(0, good.size() - 1)));
  EXPECT_FALSE(decode_walk(good.substr(0, 2)));
}

// A table row as iter/tcp or iter/udp writes it.
portrel_row_rec row(uint8_t family, uint8_t protocol, uint64_t inode, uint8_t flags) {
  portrel_row_rec r{};
  r.head = {PORTREL_REC_ROW, sizeof r};
  r.family = family;
  r.protocol = protocol;
  r.state = 10;
  r.flags = flags;
  r.local_port = 8080;
  r.remote_port = 0;
  r.reuse = 1;
  r.uid = 33;
  r.bound_dev = 2;
  r.rx_queue = 5;
  r.tx_queue = 128;
  r.inode = inode;
  r.cookie = 77;
  r.local_addr[0] = 127;
  r.local_addr[3] = 1;
  return r;
}

TEST(BpfDecode, TableRowsAreSocketsWithTheirOptions) {
  std::string bytes;
  put(bytes, row(AF_INET, IPPROTO_TCP, 41, PORTREL_ROW_OPTIONS | PORTREL_REUSEPORT));
  put(bytes, row(AF_INET6, IPPROTO_UDP, 42, PORTREL_ROW_OPTIONS | PORTREL_V6ONLY));
  put(bytes, row(AF_INET, IPPROTO_TCP, 0, 0));  // TIME_WAIT: no options
  auto rows = decode_rows(bytes, 4026531840u);
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 3u);
  const Socket& tcp = (*rows)[0];
  EXPECT_EQ(tcp.inode, 41u);
  EXPECT_EQ(tcp.cookie, 77u);
  EXPECT_EQ(tcp.netns, 4026531840u);
  EXPECT_EQ(tcp.proto, Proto::tcp);
  EXPECT_EQ(tcp.family, 4);
  EXPECT_EQ(tcp.state, 10);
  EXPECT_EQ(tcp.local_addr, Address::parse("127.0.0.1"));
  EXPECT_EQ(tcp.local_port, 8080);
  EXPECT_EQ(tcp.uid, 33u);
  EXPECT_EQ(tcp.bound_dev, 2u);
  EXPECT_EQ(tcp.rx_queue, 5u);
  EXPECT_EQ(tcp.tx_queue, 128u);
  EXPECT_EQ(tcp.reuseaddr, Tristate::yes);
  EXPECT_EQ(tcp.reuseport, Tristate::yes);
  EXPECT_EQ(tcp.reuseport_from, OptSource::bpf);
  EXPECT_EQ(tcp.v6only, Tristate::unknown) << "a v4 socket has no V6ONLY";
  const Socket& udp = (*rows)[1];
  EXPECT_EQ(udp.proto, Proto::udp);
  EXPECT_EQ(udp.family, 6);
  EXPECT_EQ(udp.reuseport, Tristate::no);
  EXPECT_EQ(udp.v6only, Tristate::yes);
  EXPECT_EQ(udp.v6only_from, OptSource::bpf);
  const Socket& tw = (*rows)[2];
  EXPECT_EQ(tw.reuseaddr, Tristate::unknown);
  EXPECT_EQ(tw.reuseport_from, OptSource::none);

  std::string short_row = bytes.substr(0, bytes.size() - 1);
  std::string wrong_kind = bytes;
  reinterpret_cast<portrel_rec_head*>(wrong_kind.data())->kind = PORTREL_REC_SOCK;
  std::string unix_row;
  put(unix_row, row(1 /* AF_UNIX */, IPPROTO_TCP, 43, 0));
  std::string raw_row;
  put(raw_row, row(AF_INET, IPPROTO_RAW, 44, 0));
  for (const std::string* bad : {&short_row, &wrong_kind, &unix_row, &raw_row}) {
    auto decoded = decode_rows(*bad, 1);
    ASSERT_FALSE(decoded);
    EXPECT_NE(decoded.error().message.find("record at byte"), std::string::npos)
        << decoded.error().message;
  }
}

TEST(BpfDecode, LeanWalkRecordsHaveNoOptions) {
  std::string bytes;
  portrel_sock_rec lean = sock(7, 3, 99, 0, 0);
  lean.flags = PORTREL_LEAN | PORTREL_CLOEXEC;
  put(bytes, lean);
  put(bytes, sock(7, 4, 100, 0, 0));
  auto walk = decode_walk(bytes);
  ASSERT_TRUE(walk) << walk.error().message;
  ASSERT_EQ(walk->sockets.size(), 2u);
  EXPECT_FALSE(walk->sockets[0].options);
  EXPECT_TRUE(walk->sockets[0].cloexec);
  ASSERT_TRUE(walk->sockets[1].options);
  EXPECT_EQ(walk->sockets[1].options->inode, 100u);
}

TEST(BpfDecode, VsockRecordsAreHeldSocketsTheWalkDescribes) {
  std::string bytes;
  put(bytes, sock(7, 3, 99, 0, 0));
  portrel_vsock_rec v{};
  v.head = {PORTREL_REC_VSOCK, sizeof v};
  v.tgid = 7;
  v.fd = 4;
  v.inode = 100;
  v.netns = 55;
  v.uid = 1000;
  v.local_cid = 0xFFFFFFFF;  // VMADDR_CID_ANY
  v.local_port = 4000000000u;
  v.remote_cid = 0xFFFFFFFF;
  v.remote_port = 0xFFFFFFFF;
  v.state = kStateListen;
  v.type = SOCK_STREAM;
  v.flags = PORTREL_CLOEXEC;
  put(bytes, v);
  auto walk = decode_walk(bytes);
  ASSERT_TRUE(walk) << walk.error().message;
  // Both are holdings; only the vsock one is described by the walk.
  ASSERT_EQ(walk->sockets.size(), 2u);
  EXPECT_EQ(walk->sockets[1].inode, 100u);
  EXPECT_EQ(walk->sockets[1].fd, 4);
  EXPECT_TRUE(walk->sockets[1].cloexec);
  EXPECT_FALSE(walk->sockets[1].options);
  ASSERT_EQ(walk->described.size(), 1u);
  const Socket& s = walk->described[0];
  EXPECT_EQ(s.proto, Proto::vsock);
  EXPECT_EQ(s.local_port, 4000000000u);
  EXPECT_EQ(s.local_addr.to_string(), "*");
  EXPECT_EQ(s.remote_port, 0u);
  EXPECT_EQ(s.uid, 1000u);
  EXPECT_EQ(s.netns, 55u);
  EXPECT_TRUE(s.is_listening());
  // A vsock record of the wrong size is malformed.
  std::string bad;
  v.head.size = sizeof v - 8;
  put(bad, v);
  EXPECT_FALSE(decode_walk(bad));
}

TEST(BpfDecode, PartialRecordIsAnError) {
  std::string bytes;
  put(bytes, sock(1, 2, 3, 0, 0));
  EXPECT_TRUE(decode_sockets(bytes));
  bytes.pop_back();
  EXPECT_FALSE(decode_sockets(bytes));
  EXPECT_FALSE(decode_tasks(std::string(sizeof(portrel_task_rec) + 1, '\0')));
}

}  // namespace
}  // namespace portrel
