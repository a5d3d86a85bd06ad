// allocbench as a user runs it: bad input gives exit status 2 and names the flag; `run` prints
// one record; a sweep keeps going through an allocator that crashes, one that hangs and one that
// does not exist, and writes a run.json that follows the contract; shards cover the sweep.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "harness/child_process.h"
#include "harness/run_record.h"
#include "harness/tests/allocbench_child.h"

namespace allocbench {
namespace {

namespace fs = std::filesystem;

Json read_json(const fs::path& path) {
  std::ifstream file(path);
  return Json::parse(file);
}

struct BadInput {
  std::vector<std::string> args;
  std::string named;  // what the message must mention
};

TEST(Cli, BadInputExitsWithStatus2AndNamesIt) {
  const std::vector<BadInput> cases = {
      {{"frobnicate"}, "'frobnicate'"},
      {{"run"}, "missing workload"},
      {{"run", "nonesuch"}, "'nonesuch'"},
      {{"run", "larson", "--slot", "5"}, "--slot"},
      {{"run", "larson", "--slots", "many"}, "'many'"},
      {{"run", "threadtest", "--threads", "-1"}, "--threads"},
      {{"sweep", "--out", "/tmp/x", "--threads", "0"}, "--threads"},
      {{"sweep", "--out", "/tmp/x", "--threads", "1..x"}, "'x'"},
      {{"sweep", "--out", "/tmp/x", "--allocators", "nosuchalloc"}, "'nosuchalloc'"},
      {{"sweep", "--out", "/tmp/x", "--duration", "-2"}, "--duration"},
      {{"sweep", "--out", "/tmp/x", "--shard", "0/4"}, "--shard"},
      {{"sweep", "--threads", "2"}, "--out"},
      {{"run", "larson", "--slots", "0"}, "outside [1, 100000000]"},
      {{"sweep", "--out", "/tmp/x", "--resume", "/tmp/y"}, "--resume"},
      {{"sweep", "--out", "/tmp/x", "--allocators", "glibc,glibc"}, "two allocators are named"},
      {{"instructions", "--allocators", "glibc,glibc"}, "two allocators are named"},
  };
  for (const BadInput& bad : cases) {
    const ChildResult result = run_allocbench(bad.args);
    EXPECT_EQ(result.exit_status, 2) << bad.args.back();
    EXPECT_NE(result.err.find(bad.named), std::string::npos) << result.err;
    EXPECT_TRUE(result.out.empty()) << result.out;
  }
}

TEST(Cli, RunPrintsOneRecord) {
  const ChildResult result =
      run_allocbench({"run", "shbench", "--threads", "2", "--allocations", "20000"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  const Json record = Json::parse(result.out);
  EXPECT_EQ(record["workload"], "shbench");
  EXPECT_EQ(record["allocator"], "glibc");
  EXPECT_EQ(record["threads"], 2);
  EXPECT_EQ(record["ops"], 40000);
  EXPECT_EQ(record["params"]["allocations"], 20000);
  EXPECT_EQ(record["params"]["max_size"], 100);
}

TEST(Cli, RunRefusesAPreloadThatDidNotLoad) {
  // Not a shared library: the loader ignores it and glibc would silently serve malloc.
  const ChildResult result = run_allocbench({"run", "noop"}, SCHEMA_MD);
  EXPECT_EQ(result.exit_status, 3);
  EXPECT_NE(result.err.find("not by the preloaded"), std::string::npos) << result.err;
}

void expect_contract_types(const Json& run);

TEST(Cli, ListShowsWorkloadsAndAllocators) {
  const ChildResult result = run_allocbench({"list"});
  ASSERT_EQ(result.exit_status, 0);
  for (const char* word :
       {"threadtest", "larson", "--min_size", "glibc", "jemalloc", "tbbmalloc", "halloc-paper",
        "halloc-abl-s64k", "halloc-abl-heaps", "halloc-abl-cache"}) {
    EXPECT_NE(result.out.find(word), std::string::npos) << word;
  }
  // The names an unknown allocator's message offers include the ablation steps it accepts.
  const ChildResult unknown =
      run_allocbench({"sweep", "--out", "/tmp/x", "--allocators", "nosuch"});
  EXPECT_NE(unknown.err.find("halloc-abl-cache"), std::string::npos) << unknown.err;
}

TEST(Cli, HelpPrintsUsageAndExits0) {
  for (const char* command : {"run", "sweep", "check", "list"}) {
    const ChildResult result = run_allocbench({command, "--help"});
    EXPECT_EQ(result.exit_status, 0) << command << ": " << result.err;
    EXPECT_NE(result.out.find(std::string("allocbench ") + command), std::string::npos)
        << result.out;
  }
}

// Verify mode: a library that flips one byte of a live block is caught as "corrupt" (status in
// the sweep, exit status 4 from `run`); with --no-verify nothing notices and the run is "ok".
TEST(Cli, VerifyModeCatchesAScribblingAllocator) {
  const std::vector<std::string> run = {"run",   "threadtest",   "--objects",
                                        "10000", "--iterations", "30"};
  const ChildResult caught = run_allocbench(run, SCRIBBLING_MALLOC);
  EXPECT_EQ(caught.exit_status, 4) << caught.err;
  EXPECT_NE(caught.err.find("corrupt: threadtest: block"), std::string::npos) << caught.err;
  std::vector<std::string> unverified = run;
  unverified.push_back("--no-verify");
  const ChildResult missed = run_allocbench(unverified, SCRIBBLING_MALLOC);
  EXPECT_EQ(missed.exit_status, 0) << missed.err;

  const fs::path out =
      fs::temp_directory_path() / ("allocbench-verify-" + std::to_string(getpid()));
  for (bool verify : {true, false}) {
    fs::remove_all(out);
    std::vector<std::string> args = {"sweep",
                                     "--workloads",
                                     "threadtest",
                                     "--allocators",
                                     std::string("glibc,") + SCRIBBLING_MALLOC,
                                     "--threads",
                                     "1",
                                     "--reps",
                                     "1",
                                     "--param",
                                     "objects=10000",
                                     "--param",
                                     "iterations=30",
                                     "--no-micro",
                                     "--no-progress",
                                     "--no-check",
                                     "--out",
                                     out.string()};
    if (!verify) args.push_back("--no-verify");
    const ChildResult result = run_allocbench(args);
    ASSERT_EQ(result.exit_status, 0) << result.err;
    const Json document = read_json(out / "run.json");
    EXPECT_EQ(document["config"]["verify"], verify);
    for (const Json& record : document["runs"]) {
      expect_contract_types(record);
      if (record["allocator"] == "glibc" || !verify) {
        EXPECT_EQ(record["status"], "ok") << record["error"];
      } else {
        EXPECT_EQ(record["status"], "corrupt");
        EXPECT_EQ(record["exit_status"], 4);
        EXPECT_NE(record["error"].get<std::string>().find("corrupt: threadtest: block"),
                  std::string::npos)
            << record["error"];
      }
    }
  }
  fs::remove_all(out);
}

void expect_contract_types(const Json& run) {
  for (const char* key : {"workload", "allocator", "status"}) EXPECT_TRUE(run[key].is_string());
  for (const char* key : {"threads", "repetition"}) EXPECT_TRUE(run[key].is_number_integer());
  for (const auto& [name, value] : run["params"].items()) EXPECT_TRUE(value.is_number()) << name;
  for (const char* key : {"exit_status", "signal", "ops", "peak_rss_bytes", "baseline_rss_bytes",
                          "peak_live_bytes"}) {
    EXPECT_TRUE(run[key].is_null() || run[key].is_number_integer()) << key;
  }
  for (const char* key : {"seconds", "throughput_ops_per_s", "blowup"}) {
    EXPECT_TRUE(run[key].is_null() || run[key].is_number()) << key;
  }
  EXPECT_TRUE(run["error"].is_null() || run["error"].is_string());
  for (const char* key : {"user_seconds", "sys_seconds"}) {
    EXPECT_TRUE(run[key].is_null() || run[key].is_number()) << key;
  }
  EXPECT_TRUE(run["samples"].is_array());
  for (const std::string& name : counter_names()) {
    const Json& value = run["counters"][name];
    if (value.is_null()) {
      EXPECT_TRUE(run["counters_unavailable"][name].is_string()) << name;
    } else {
      EXPECT_TRUE(value.is_number_integer()) << name;
      EXPECT_FALSE(run["counters_unavailable"].contains(name)) << name;
    }
  }
  if (run["status"] == "ok") {
    EXPECT_TRUE(run["error"].is_null());
    EXPECT_GT(run["ops"].get<int64_t>(), 0);
    EXPECT_GT(run["throughput_ops_per_s"].get<double>(), 0);
    EXPECT_GT(run["peak_live_bytes"].get<int64_t>(), 0);
    EXPECT_FALSE(run["samples"].empty());
  } else {
    EXPECT_TRUE(run["error"].is_string());
    for (const char* key : {"ops", "seconds", "throughput_ops_per_s", "blowup"}) {
      EXPECT_TRUE(run[key].is_null()) << key;
    }
  }
}

TEST(Sweep, RecordsCrashesTimeoutsAndMissingAllocatorsAndGoesOn) {
  const fs::path out = fs::temp_directory_path() / ("allocbench-sweep-" + std::to_string(getpid()));
  fs::remove_all(out);
  const ChildResult result = run_allocbench(
      {"sweep", "--workloads", "threadtest,larson", "--allocators",
       std::string("glibc,") + CRASHING_MALLOC + "," + HANGING_MALLOC + ",/nonexistent/libghost.so",
       "--threads", "1,2", "--reps", "1", "--duration", "0.05", "--timeout", "3", "--param",
       "threadtest.objects=10000", "--param", "threadtest.iterations=30",
       // Enough mallocs before larson's clock starts for the faulty allocators to fault.
       "--param", "larson.slots=250000", "--param", "larson.max_size=16", "--no-micro",
       "--no-progress", "--out", out.string()});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  const Json document = read_json(out / "run.json");

  std::vector<std::string> keys;
  for (const auto& item : document.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"schema", "machine", "config", "allocators", "runs"}));
  EXPECT_EQ(document["schema"], "allocbench-1");
  for (const char* key : {"cpu_model", "cores", "memory_bytes", "kernel", "compiler", "git_commit",
                          "date", "hostname"}) {
    EXPECT_TRUE(document["machine"].contains(key)) << key;
  }
  EXPECT_EQ(document["config"]["threads"], Json({1, 2}));
  EXPECT_EQ(document["config"]["shard"]["count"], 1);
  EXPECT_EQ(document["config"]["allocators"],
            Json({"glibc", "libtest_crashing_malloc", "libtest_hanging_malloc", "libghost"}));
  ASSERT_EQ(document["allocators"].size(), 4u);
  EXPECT_FALSE(document["allocators"][3]["found"].get<bool>());
  EXPECT_TRUE(document["allocators"][3]["note"].is_string());

  const Json& runs = document["runs"];
  ASSERT_EQ(runs.size(), 2u * 4 * 2 * 1);  // never dropped
  std::map<std::string, std::multiset<std::string>> statuses;
  for (const Json& run : runs) {
    expect_contract_types(run);
    statuses[run["allocator"]].insert(run["status"].get<std::string>());
    if (run["allocator"] == "libtest_crashing_malloc") {
      EXPECT_EQ(run["signal"], SIGSEGV);
      EXPECT_TRUE(run["exit_status"].is_null());
      EXPECT_NE(run["error"].get<std::string>().find("signal"), std::string::npos);
    }
    if (run["allocator"] == "glibc") {
      EXPECT_TRUE(run["baseline_rss_bytes"].is_number_integer());
      EXPECT_TRUE(run["blowup"].is_number());
      EXPECT_TRUE(run["counters"]["task_clock_ns"].is_number() ||
                  run["counters_unavailable"]["task_clock_ns"].is_string());
    }
  }
  EXPECT_EQ(statuses["glibc"], (std::multiset<std::string>{"ok", "ok", "ok", "ok"}));
  EXPECT_EQ(statuses["libtest_crashing_malloc"],
            (std::multiset<std::string>{"failed", "failed", "failed", "failed"}));
  EXPECT_EQ(statuses["libtest_hanging_malloc"],
            (std::multiset<std::string>{"timeout", "timeout", "timeout", "timeout"}));
  EXPECT_EQ(statuses["libghost"],
            (std::multiset<std::string>{"skipped", "skipped", "skipped", "skipped"}));
  fs::remove_all(out);
}

TEST(Sweep, ShardsSplitTheCellsAndKeepMicroResults) {
  const fs::path out =
      fs::temp_directory_path() / ("allocbench-shards-" + std::to_string(getpid()));
  fs::remove_all(out);
  std::multiset<std::string> cells;
  for (const char* shard : {"1/2", "2/2"}) {
    const ChildResult result = run_allocbench({"sweep",
                                               "--workloads",
                                               "cache-thrash,prodcons",
                                               "--allocators",
                                               "glibc",
                                               "--threads",
                                               "1,2",
                                               "--reps",
                                               "2",
                                               "--param",
                                               "iterations=50",
                                               "--param",
                                               "objects=2000",
                                               "--micro-min-time",
                                               "0.001",
                                               "--no-progress",
                                               "--shard",
                                               shard,
                                               "--out",
                                               out.string()});
    ASSERT_EQ(result.exit_status, 0) << result.err;
  }
  for (const char* file : {"run.shard-1-of-2.json", "run.shard-2-of-2.json"}) {
    const Json document = read_json(out / file);
    for (const Json& run : document["runs"]) {
      EXPECT_EQ(run["status"], "ok") << run["error"];
      cells.insert(run["workload"].get<std::string>() + "/" + run["threads"].dump() + "/" +
                   run["repetition"].dump());
    }
    const Json& micro = document["micro"]["glibc"];
    EXPECT_FALSE(micro.contains("error")) << micro.dump();
    EXPECT_FALSE(micro["benchmarks"].empty());
  }
  EXPECT_EQ(cells.size(), 2u * 2 * 2);
  EXPECT_EQ(std::set<std::string>(cells.begin(), cells.end()).size(), cells.size());
  fs::remove_all(out);
}

// An interrupted sweep continues from its partial file: recorded runs are kept as they were
// (not run again), the rest are run, and a different configuration is refused.
TEST(Sweep, ResumeContinuesAnInterruptedSweep) {
  const fs::path full = fs::temp_directory_path() / ("allocbench-full-" + std::to_string(getpid()));
  const fs::path cut = fs::temp_directory_path() / ("allocbench-cut-" + std::to_string(getpid()));
  fs::remove_all(full);
  fs::remove_all(cut);
  auto sweep_args = [](const std::string& flag, const fs::path& dir, const std::string& threads) {
    return std::vector<std::string>{
        "sweep",         "--workloads", "threadtest", "--allocators", "glibc",        "--threads",
        threads,         "--reps",      "2",          "--param",      "objects=2000", "--no-micro",
        "--no-progress", "--no-check",  flag,         dir.string()};
  };
  ASSERT_EQ(run_allocbench(sweep_args("--out", full, "1,2")).exit_status, 0);
  const Json finished = read_json(full / "run.json");
  EXPECT_FALSE(fs::exists(full / "run.json.partial.jsonl"));  // removed once run.json is written

  // What a sweep stopped after its first record leaves behind: the header line, one record and
  // the torn start of the next.
  fs::create_directories(cut);
  {
    std::ofstream partial(cut / "run.json.partial.jsonl");
    partial << Json{{"header",
                     {{"schema", finished["schema"]},
                      {"machine", finished["machine"]},
                      {"config", finished["config"]},
                      {"allocators", finished["allocators"]}}}}
                   .dump()
            << "\n"
            << finished["runs"][0].dump() << "\n"
            << R"({"workload": "thread)";
  }
  const ChildResult refused = run_allocbench(sweep_args("--resume", cut, "1"));
  EXPECT_EQ(refused.exit_status, 2);
  EXPECT_NE(refused.err.find("--resume: this command's threads is [1]"), std::string::npos)
      << refused.err;

  const ChildResult resumed = run_allocbench(sweep_args("--resume", cut, "1,2"));
  ASSERT_EQ(resumed.exit_status, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("1 of 4 runs recorded (1 torn line(s) dropped"), std::string::npos)
      << resumed.err;
  const Json document = read_json(cut / "run.json");
  EXPECT_EQ(document["config"]["resumed"], true);
  ASSERT_EQ(document["runs"].size(), 4u);
  EXPECT_EQ(document["runs"][0], finished["runs"][0]);  // kept, not measured again
  std::set<std::string> cells;
  for (const Json& run : document["runs"]) {
    EXPECT_EQ(run["status"], "ok");
    cells.insert(run["threads"].dump() + "/" + run["repetition"].dump());
  }
  EXPECT_EQ(cells.size(), 4u);
  fs::remove_all(full);
  fs::remove_all(cut);
}

// --trace-sharing: the first repetition of each cell gets the tracer's counts. cache-scratch
// hands main's neighbouring objects to threads that free them and allocate again: glibc's
// per-thread cache gives each thread the block it freed (passive false sharing); halloc's
// threads allocate from their own heaps (none).
TEST(Sweep, TraceSharingCountsPassiveSharingUnderGlibcAndNoneUnderHalloc) {
  const fs::path out =
      fs::temp_directory_path() / ("allocbench-sharing-" + std::to_string(getpid()));
  fs::remove_all(out);
  const ChildResult result =
      run_allocbench({"sweep", "--workloads", "cache-scratch", "--allocators", "glibc,halloc",
                      "--threads", "4", "--reps", "2", "--param", "writes=100", "--no-micro",
                      "--no-progress", "--trace-sharing", "--out", out.string()});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  const Json document = read_json(out / "run.json");
  EXPECT_EQ(document["config"]["trace_sharing"], true);
  int traced = 0;
  for (const Json& run : document["runs"]) {
    ASSERT_EQ(run["status"], "ok") << run["error"];
    if (run["repetition"] != 0) {
      EXPECT_TRUE(run["sharing"].is_null());
      continue;
    }
    ++traced;
    const Json& sharing = run["sharing"];
    ASSERT_TRUE(sharing.is_object() && sharing.contains("active")) << sharing.dump();
    EXPECT_EQ(sharing["complete"], true);
    EXPECT_EQ(sharing["processes"], 1);
    EXPECT_GE(sharing["objects"].get<int>(), 1000);  // iterations = 1000
    const int shared = sharing["active"].get<int>() + sharing["passive"].get<int>();
    if (run["allocator"] == "glibc") {
      EXPECT_GT(sharing["passive"].get<int>(), 0) << sharing.dump();
    } else {
      EXPECT_EQ(shared, 0) << sharing.dump();
    }
  }
  EXPECT_EQ(traced, 2);
  fs::remove_all(out);
}

}  // namespace
}  // namespace allocbench
