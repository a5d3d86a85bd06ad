// The program workloads as a user runs them: each program once under glibc and halloc with a
// tiny input (metric read, output digest equal to glibc's); a missing program is skipped naming
// its Debian package; a redis server that never answers, or whose benchmark outlives the
// timeout, is a recorded failure and leaves no process and no scratch folder behind.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "harness/child_process.h"
#include "harness/program_workloads.h"
#include "harness/run_record.h"
#include "harness/sweep.h"

namespace allocbench {
namespace {

namespace fs = std::filesystem;

// A folder of this test's own, used as the sweep's output and as its TMPDIR.
struct TestDir {
  explicit TestDir(const std::string& name)
      : path(fs::temp_directory_path() /
             ("allocbench-" + name + "-test-" + std::to_string(getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path / "tmp");
  }
  ~TestDir() { fs::remove_all(path); }
  fs::path path;
};

Json sweep(const TestDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {ALLOCBENCH_BIN, "sweep"});
  for (const char* flag : {"--no-micro", "--no-progress", "--reps", "1", "--threads", "1"}) {
    args.push_back(flag);
  }
  args.push_back("--out");
  args.push_back((dir.path / "out").string());
  std::vector<std::string> env = environment_with_preload("");
  env.push_back("TMPDIR=" + (dir.path / "tmp").string());
  const ChildResult result =
      run_child({.argv = args, .env = env, .timeout_s = 120, .with_counters = false});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  std::ifstream file(dir.path / "out" / "run.json");
  return Json::parse(file);
}

// Processes whose executable is `path`.
std::set<int> processes_running(const std::string& path) {
  std::set<int> pids;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code error;
    if (fs::read_symlink(entry.path() / "exe", error) == path) pids.insert(std::stoi(name));
  }
  return pids;
}

bool installed(const ProgramWorkload& program) {
  for (const std::string& binary :
       {program.command.binary, program.client.binary, program.check.binary}) {
    if (!binary.empty() && access(binary.c_str(), X_OK) != 0) return false;
  }
  return true;
}

TEST(Programs, EachRunsUnderGlibcAndHallocWithTheSameOutput) {
  const std::map<std::string, std::string> tiny = {
      {"redis", "1"},  {"sqlite", "1"}, {"ghostscript", "1"}, {"lua", "1"},
      {"python", "1"}, {"g++", "1"},    {"z3", "5"},          {"ruby", "1"}};
  std::vector<std::string> args = {"--suite", "programs", "--allocators",
                                   std::string("glibc,") + HALLOC_SO};
  for (const auto& [name, scale] : tiny) {
    args.push_back("--param");
    args.push_back(name + ".scale=" + scale);
  }
  const TestDir dir("programs");
  const Json document = sweep(dir, args);
  std::map<std::string, std::map<std::string, Json>> runs;  // program -> allocator -> record
  for (const Json& run : document["runs"]) runs[run["workload"]][run["allocator"]] = run;
  ASSERT_EQ(runs.size(), program_workloads().size());
  for (const ProgramWorkload& program : program_workloads()) {
    SCOPED_TRACE(program.name);
    EXPECT_EQ(program.scale.name, "scale");
    EXPECT_EQ(tiny.count(program.name), 1U);
    for (const char* allocator : {"glibc", "libhalloc"}) {
      const Json& run = runs[program.name][allocator];
      ASSERT_TRUE(run.is_object()) << allocator;
      EXPECT_EQ(run["kind"], "program");
      EXPECT_EQ(run["threads"], 1);
      EXPECT_EQ(run["metric"]["name"], program.metric);
      if (!installed(program)) {  // a machine without the package: skipped, naming it
        EXPECT_EQ(run["status"], "skipped");
        EXPECT_NE(run["error"].get<std::string>().find(program.command.package), std::string::npos);
        continue;
      }
      ASSERT_EQ(run["status"], "ok") << run["error"];
      EXPECT_GT(run["metric"]["value"].get<double>(), 0);
      EXPECT_GT(run["seconds"].get<double>(), 0);
      EXPECT_GT(run["peak_rss_bytes"].get<int64_t>(), 1 << 20);
      EXPECT_GT(run["page_faults"].get<int64_t>(), 0);
      EXPECT_GE(run["user_seconds"].get<double>(), 0);
      EXPECT_EQ(run["output_digest"].get<std::string>().size(), 16U);
      EXPECT_EQ(run["output_digest"], runs[program.name]["glibc"]["output_digest"]);
      EXPECT_EQ(run["output_matches_glibc"], true);
    }
  }
  EXPECT_TRUE(fs::is_empty(dir.path / "tmp")) << "scratch folders left behind";
}

TEST(Programs, AMissingProgramIsSkippedNamingItsPackage) {
  const TestDir dir("missing");
  const Json document =
      sweep(dir, {"--workloads", "lua,redis", "--allocators", "glibc", "--program",
                  "lua=/nonexistent/lua5.4", "--program", "redis=/nonexistent/redis-server"});
  ASSERT_EQ(document["runs"].size(), 2U);
  for (const Json& run : document["runs"]) {
    EXPECT_EQ(run["status"], "skipped");
    const std::string error = run["error"];
    const std::string package = run["workload"] == "lua" ? "lua5.4" : "redis-server";
    EXPECT_NE(error.find("/nonexistent/" + package), std::string::npos) << error;
    EXPECT_NE(error.find("Debian package " + package), std::string::npos) << error;
    EXPECT_TRUE(run["metric"]["value"].is_null());
    EXPECT_TRUE(run["seconds"].is_null());
  }
}

TEST(Programs, AServerThatNeverAnswersFailsAndLeavesNoProcess) {
  const TestDir dir("deaf-server");
  // A "server" that starts a helper and never opens its socket; both are copies of sleep
  // under names of their own, so other processes on the machine do not count.
  const fs::path server = dir.path / "deaf-server";
  const fs::path helper = dir.path / "deaf-helper";
  fs::copy_file("/bin/sleep", helper);
  {
    std::ofstream script(server);
    script << "#!/bin/sh\n" << helper.string() << " 300 &\nexec " << helper.string() << " 301\n";
  }
  fs::permissions(server, fs::perms::owner_all);
  const Json document = sweep(dir, {"--workloads", "redis", "--allocators", "glibc", "--program",
                                    "redis=" + server.string(), "--timeout", "1.5"});
  ASSERT_EQ(document["runs"].size(), 1U);
  const Json& run = document["runs"][0];
  EXPECT_EQ(run["status"], "timeout");
  EXPECT_NE(run["error"].get<std::string>().find("did not answer"), std::string::npos)
      << run["error"];
  EXPECT_TRUE(processes_running(helper.string()).empty()) << "the server's group was not killed";
  EXPECT_TRUE(fs::is_empty(dir.path / "tmp"));

  // One that exits at once is a failure that says how it ended.
  const TestDir gone("gone-server");
  const Json quick = sweep(
      gone, {"--workloads", "redis", "--allocators", "glibc", "--program", "redis=/bin/false"});
  EXPECT_EQ(quick["runs"][0]["status"], "failed");
  EXPECT_NE(quick["runs"][0]["error"].get<std::string>().find("exited with status 1"),
            std::string::npos)
      << quick["runs"][0]["error"];
}

TEST(Programs, ARedisRunPastTheTimeoutIsStoppedAndCleanedUp) {
  const ProgramWorkload& redis = *find_program("redis");
  if (!installed(redis)) GTEST_SKIP() << "redis is not installed (apt-get install redis-server)";
  const TestDir dir("redis-timeout");
  const std::set<int> before = processes_running(redis.command.binary);
  const Json document =
      sweep(dir, {"--workloads", "redis", "--allocators", std::string("glibc,") + HALLOC_SO,
                  "--param", "redis.scale=100000", "--timeout", "2"});
  ASSERT_EQ(document["runs"].size(), 2U);
  for (const Json& run : document["runs"]) {
    EXPECT_EQ(run["status"], "timeout") << run["error"];
    EXPECT_GT(run["peak_rss_bytes"].get<int64_t>(), 0);  // the server's, once reaped
  }
  EXPECT_EQ(processes_running(redis.command.binary), before) << "a redis-server was left";
  EXPECT_TRUE(fs::is_empty(dir.path / "tmp"));
}

TEST(Programs, TheRedisRateCombinesEveryTest) {
  const std::string output =
      "SET: rps=0.0 (overall: nan) avg_msec=nan (overall: nan)\r"
      "SET: 200000.00 requests per second, p50=0.1 msec\n"
      "GET: rps=1.0\rGET: 100000.00 requests per second, p50=0.2 msec\n";
  // Equal request counts: n / (n / 200000 + n / 100000).
  EXPECT_NEAR(redis_requests_per_s(output), 2 / (1 / 200000.0 + 1 / 100000.0), 1e-6);
  EXPECT_LT(redis_requests_per_s("Could not connect to Redis\n"), 0);
}

TEST(Programs, DigestsAndThreadCounts) {
  EXPECT_EQ(digest_of(""), "cbf29ce484222325");  // FNV-1a's offset basis
  EXPECT_NE(digest_of("a"), digest_of("b"));
  // sqlite is single-threaded: kept at the first thread count only; python at every one.
  const std::vector<std::string> workloads = {"sqlite", "python", "larson"};
  const std::vector<Cell> cells = drop_repeated_thread_counts(plan_cells(3, 1, 3, 1), workloads);
  std::map<std::string, int> per_workload;
  for (const Cell& cell : cells) ++per_workload[workloads[cell.workload]];
  EXPECT_EQ(per_workload,
            (std::map<std::string, int>{{"larson", 3}, {"python", 3}, {"sqlite", 1}}));
}

}  // namespace
}  // namespace allocbench
