// The harness's pieces in-process: argument parsing, thread lists, shards, the run record of an
// in-process run (the results contract), blowup, the memory sampler, and the arithmetic and
// parsing behind `allocbench instructions`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "harness/allocators.h"
#include "harness/child_process.h"
#include "harness/cli_args.h"
#include "harness/instruction_loops.h"
#include "harness/instructions_command.h"
#include "harness/memory_sampler.h"
#include "harness/run_command.h"
#include "harness/run_record.h"
#include "harness/sweep.h"
#include "harness/sweep_resume.h"
#include "harness/thread_list.h"
#include "workloads/workload.h"

namespace allocbench {
namespace {

std::string usage_error(auto&& call) {
  try {
    call();
  } catch (const UsageError& error) {
    return error.what();
  } catch (const ParamError& error) {
    return error.what();
  }
  return "";
}

TEST(ThreadList, RangesDoubleAndKeepTheirEnd) {
  EXPECT_EQ(parse_thread_list("1..64"), (std::vector<int>{1, 2, 4, 8, 16, 32, 64}));
  EXPECT_EQ(parse_thread_list("1..6"), (std::vector<int>{1, 2, 4, 6}));
  EXPECT_EQ(parse_thread_list("1,2,3,4"), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(parse_thread_list("3,1..2,3"), (std::vector<int>{1, 2, 3}));
}

TEST(ThreadList, BadItemsAreNamed) {
  EXPECT_NE(usage_error([] { parse_thread_list("0"); }).find("--threads"), std::string::npos);
  EXPECT_NE(usage_error([] { parse_thread_list("1,x"); }).find("'x'"), std::string::npos);
  EXPECT_NE(usage_error([] { parse_thread_list("8..2"); }).find("backwards"), std::string::npos);
  EXPECT_NE(usage_error([] { parse_thread_list("1,,2"); }).find("empty"), std::string::npos);
}

TEST(ThreadList, QuickDefaultStopsAtTwiceTheCores) {
  EXPECT_EQ(default_thread_list(1), (std::vector<int>{1, 2}));
  EXPECT_EQ(default_thread_list(2), (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(default_thread_list(64), (std::vector<int>{1, 2, 4}));
}

TEST(SweepArgs, DefaultsCoverEveryWorkloadAndAllocator) {
  const SweepOptions options = parse_sweep_args({"--out", "x"}, 2);
  // Every synthetic workload, issue 11's shapes included (make bench and make ablation run
  // this set), and not the idle noop.
  EXPECT_EQ(options.workloads,
            (std::vector<std::string>{"threadtest", "shbench", "larson", "cache-scratch",
                                      "cache-thrash", "prodcons", "barnes-hut", "size-mix",
                                      "mass-alloc", "large-buffers"}));
  EXPECT_EQ(options.allocators, known_allocator_names());
  EXPECT_EQ(options.threads, (std::vector<int>{1, 2, 4}));
}

TEST(SweepArgs, GateVerifyAndResumeFlags) {
  const SweepOptions defaults = parse_sweep_args({"--out", "x"}, 2);
  EXPECT_TRUE(defaults.check);
  EXPECT_TRUE(defaults.verify);
  EXPECT_FALSE(defaults.resume);
  const SweepOptions options = parse_sweep_args(
      {"--resume", "dir", "--no-check", "--no-verify", "--param", "larson.slots=10"}, 2);
  EXPECT_FALSE(options.check);
  EXPECT_FALSE(options.verify);
  EXPECT_TRUE(options.resume);
  EXPECT_EQ(options.out, "dir");
  EXPECT_EQ(options.param_texts, std::vector<std::string>{"larson.slots=10"});
}

TEST(SweepResume, RefusesADifferentConfigAndNamesTheSetting) {
  const Json recorded = {{"threads", {1, 2}}, {"reps", 3}, {"command", "allocbench sweep A"}};
  Json same = recorded;
  same["command"] = "allocbench sweep --resume d";
  same["resumed"] = true;
  EXPECT_NO_THROW(require_same_config(recorded, same));
  Json other = same;
  other["reps"] = 5;
  try {
    require_same_config(recorded, other);
    ADD_FAILURE() << "a different reps was accepted";
  } catch (const UsageError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("reps is 5 but the interrupted sweep's was 3"), std::string::npos)
        << message;
    EXPECT_NE(message.find("allocbench sweep A"), std::string::npos) << message;
  }
}

TEST(SweepResume, ReadsTheHeaderAndCompleteRecordsAndCountsATornLine) {
  const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                     ("allocbench-partial-" + std::to_string(getpid()) + ".jsonl");
  const Json record = make_run_record("larson", "glibc", 2, 1, Json::object(), "x");
  {
    std::ofstream out(file);
    out << partial_header({{"cores", 2}}, {{"reps", 3}}, Json::array()).dump() << "\n"
        << record.dump() << "\n"
        << R"({"workload": "lar)";
  }
  const PartialSweep partial = read_partial(file);
  EXPECT_EQ(partial.header["schema"], kSchemaVersion);
  EXPECT_EQ(partial.header["config"]["reps"], 3);
  ASSERT_EQ(partial.runs.size(), 1u);
  EXPECT_EQ(cell_key(partial.runs[0]), "larson/glibc/2/1");
  EXPECT_EQ(partial.unreadable_lines, 1u);
  std::filesystem::remove(file);
  EXPECT_THROW(read_partial(file), UsageError);  // nothing to resume
}

TEST(SweepArgs, ErrorsNameTheFlagAndValue) {
  auto parse = [](std::vector<std::string> args) {
    return usage_error([&] { parse_sweep_args(args, 2); });
  };
  EXPECT_NE(parse({"--out", "x", "--reps", "zero"}).find("--reps"), std::string::npos);
  EXPECT_NE(parse({"--out", "x", "--workloads", "larsen"}).find("'larsen'"), std::string::npos);
  EXPECT_NE(parse({"--out", "x", "--shard", "3/2"}).find("--shard"), std::string::npos);
  EXPECT_NE(parse({"--out", "x", "--bogus", "1"}).find("--bogus"), std::string::npos);
  EXPECT_NE(parse({"--out", "x", "--param", "larson.nope=1"}).find("'nope'"), std::string::npos);
  EXPECT_NE(parse({"--out", "x", "--param", "larson.slots=-1"}).find("--slots"), std::string::npos);
  EXPECT_NE(parse({"--reps", "2"}).find("--out"), std::string::npos);
  EXPECT_NE(parse({"--out"}).find("--out needs a value"), std::string::npos);
}

TEST(SweepArgs, ParamsApplyToTheWorkloadsThatHaveThem) {
  const SweepOptions options =
      parse_sweep_args({"--out", "x", "--param", "min_size=16", "--param", "larson.slots=10"}, 2);
  EXPECT_EQ(options.params.at("larson").at("min_size"), "16");
  EXPECT_EQ(options.params.at("shbench").at("min_size"), "16");
  EXPECT_EQ(options.params.at("larson").at("slots"), "10");
  EXPECT_EQ(options.params.count("threadtest"), 0u);
}

TEST(Shards, AreDisjointAndCoverEveryCell) {
  const std::vector<Cell> cells = plan_cells(6, 8, 3, 2);
  EXPECT_EQ(cells.size(), 6u * 8 * 3 * 2);
  std::set<std::tuple<size_t, size_t, size_t, int>> seen;
  for (int shard = 1; shard <= 5; ++shard) {
    for (const Cell& cell : shard_cells(cells, shard, 5)) {
      EXPECT_TRUE(
          seen.insert({cell.workload, cell.allocator, cell.threads, cell.repetition}).second);
    }
  }
  EXPECT_EQ(seen.size(), cells.size());
  EXPECT_EQ(results_file_name(1, 1), "run.json");
  EXPECT_EQ(results_file_name(2, 8), "run.shard-2-of-8.json");
}

TEST(Allocators, PathsAreNamedByTheirFileAndMissingOnesAreNotFound) {
  const AllocatorInfo missing = resolve_allocator("/nonexistent/libstudent.so");
  EXPECT_EQ(missing.name, "libstudent");
  EXPECT_FALSE(missing.found);
  EXPECT_NE(missing.note.value_or("").find("/nonexistent/libstudent.so"), std::string::npos);
  const AllocatorInfo named = resolve_allocator("alice=/nonexistent/a.so.2");
  EXPECT_EQ(named.name, "alice");
  const AllocatorInfo glibc = resolve_allocator("glibc");
  EXPECT_TRUE(glibc.found);
  EXPECT_FALSE(glibc.path.has_value());
  EXPECT_NE(usage_error([] { resolve_allocator("jemallocc"); }).find("'jemallocc'"),
            std::string::npos);
  for (const std::string& name : known_allocator_names()) {
    const AllocatorInfo info = resolve_allocator(name);
    EXPECT_EQ(info.name, name);
    EXPECT_TRUE(info.found || info.note.has_value()) << name;
  }
}

// ctest preloads nothing, so a run here is glibc's: malloc must be the C library's, unless a
// sanitizer's runtime serves it, when a glibc run would not measure glibc and must refuse.
TEST(Allocators, GlibcRunsCheckThatTheCLibraryServesMalloc) {
  EXPECT_EQ(preloaded_allocator_name(), "glibc");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  EXPECT_NE(preload_problem().find("not by the C library"), std::string::npos);
#else
  EXPECT_EQ(preload_problem(), "");
#endif
}

TEST(RunRecord, HasEveryKeyOfTheContractInOrder) {
  RunRequest request;
  request.workload = "threadtest";
  request.threads = 2;
  request.params = {{"objects", "2000"}, {"iterations", "2"}};
  request.sample_interval = std::chrono::microseconds(1000);
  const Json record = run_in_process(request);
  std::vector<std::string> keys;
  for (const auto& item : record.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"workload",
                                            "allocator",
                                            "threads",
                                            "repetition",
                                            "params",
                                            "status",
                                            "exit_status",
                                            "signal",
                                            "error",
                                            "ops",
                                            "seconds",
                                            "throughput_ops_per_s",
                                            "peak_rss_bytes",
                                            "baseline_rss_bytes",
                                            "peak_live_bytes",
                                            "blowup",
                                            "user_seconds",
                                            "sys_seconds",
                                            "samples",
                                            "counters",
                                            "counters_unavailable"}));
  EXPECT_EQ(record["status"], "ok");
  EXPECT_GE(record["user_seconds"].get<double>(), 0);
  EXPECT_GE(record["sys_seconds"].get<double>(), 0);
  EXPECT_EQ(record["ops"], 2 * 2 * 2000);
  EXPECT_EQ(record["peak_live_bytes"], 2000 * 8);
  EXPECT_TRUE(record["params"]["objects"].is_number_integer());
  EXPECT_TRUE(record["seconds"].is_number());
  EXPECT_GT(record["peak_rss_bytes"].get<int64_t>(), 0);
  ASSERT_GE(record["samples"].size(), 2u);  // one at start, one at stop
  EXPECT_LT(record["samples"][0]["t"].get<double>(), record["samples"].back()["t"].get<double>());
  EXPECT_EQ(record["samples"].back()["live_bytes"], 0);
  for (const std::string& name : counter_names()) {
    EXPECT_TRUE(record["counters"][name].is_null());
    EXPECT_TRUE(record["counters_unavailable"][name].is_string());
  }
}

TEST(RunRecord, UnsuccessfulRunsKeepTheirRecordWithNulls) {
  Json record = make_run_record("larson", "x", 1, 0, Json::object(), "not run");
  record["ops"] = 5;
  mark_unsuccessful(record, "timeout", "too slow");
  EXPECT_EQ(record["status"], "timeout");
  EXPECT_EQ(record["error"], "too slow");
  EXPECT_TRUE(record["ops"].is_null());
  EXPECT_TRUE(record["blowup"].is_null());
}

TEST(RunRecord, BlowupIsNullWithoutLiveBytes) {
  EXPECT_DOUBLE_EQ(blowup_of(3000, 1000, 1000).get<double>(), 2.0);
  EXPECT_TRUE(blowup_of(3000, 1000, 0).is_null());
  EXPECT_TRUE(blowup_of(3000, nullptr, 10).is_null());
}

TEST(MemorySampler, KeepsABoundedTimeOrderedRecord) {
  WorkloadStats stats(1);
  stats.slot(0).add_live(4096);
  MemorySampler sampler(stats, std::chrono::microseconds(100), 8);
  sampler.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  sampler.stop();
  const std::vector<MemorySample> samples = sampler.samples();
  ASSERT_GE(samples.size(), 2u);
  EXPECT_LE(samples.size(), 8u);
  for (size_t i = 1; i < samples.size(); ++i) EXPECT_GE(samples[i].t, samples[i - 1].t);
  for (const MemorySample& sample : samples) {
    EXPECT_GT(sample.rss_bytes, 0);
    EXPECT_EQ(sample.live_bytes, 4096);
  }
}

TEST(ChildProcess, TailKeepsTheLastLines) {
  EXPECT_EQ(tail_lines("a\nb\nc\n", 2), "b\nc");
  EXPECT_EQ(tail_lines("only", 3), "only");
}

// The head and tail of a real callgrind.out file (valgrind 3.19, `events: Ir`).
constexpr const char* kCallgrindOut = R"(# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 4242
cmd:  ./allocbench instructions-child alternate 1000
part: 1

positions: line
events: Ir
summary: 2837465

fn=(1) 0x0000000000001100
0 12
fn=(2) main
0 2837453

totals: 2837465
)";

TEST(Instructions, ReadsTheTotalOfACallgrindFile) {
  EXPECT_EQ(callgrind_total(kCallgrindOut), std::optional<uint64_t>(2837465));
  // Only a totals line (older callgrind versions), or only a summary.
  EXPECT_EQ(callgrind_total("events: Ir\ntotals: 17\n"), std::optional<uint64_t>(17));
  EXPECT_EQ(callgrind_total("events: Ir\nsummary: 9\n"), std::optional<uint64_t>(9));
  // A number in a cost line is not a total; an empty or cut-off file has none.
  EXPECT_EQ(callgrind_total("events: Ir\nfn=(1) f\n0 12345\n"), std::nullopt);
  EXPECT_EQ(callgrind_total(""), std::nullopt);
  EXPECT_EQ(callgrind_total("summary: \n"), std::nullopt);
}

TEST(Instructions, PerPairIsTheDifferenceOverThePairsAdded) {
  // Start-up of 1,000,000 instructions and 87 a pair: the start-up cancels.
  EXPECT_DOUBLE_EQ(instructions_per_pair(1'000'000 + 87 * 100, 1'000'000 + 87 * 1100, 100, 1100),
                   87.0);
  EXPECT_DOUBLE_EQ(instructions_per_pair(500, 503, 10, 12), 1.5);
  EXPECT_DOUBLE_EQ(instructions_per_pair(500, 500, 10, 12), 0.0);
  EXPECT_THROW(instructions_per_pair(500, 600, 12, 12), std::invalid_argument);
  EXPECT_THROW(instructions_per_pair(500, 600, 12, 10), std::invalid_argument);
  EXPECT_THROW(instructions_per_pair(600, 500, 10, 12), std::invalid_argument);
}

TEST(Instructions, EveryLoopMeasuresMorePairsAtItsSecondCount) {
  ASSERT_EQ(instruction_loops().size(), 5u);
  for (const InstructionLoop& loop : instruction_loops()) {
    SCOPED_TRACE(loop.name);
    EXPECT_GT(loop.pairs_per_round, 0u);
    EXPECT_LT(loop.count1, loop.count2);
    EXPECT_EQ(find_instruction_loop(loop.name), &loop);
  }
  EXPECT_EQ(find_instruction_loop("nope"), nullptr);
}

TEST(Instructions, BadFlagsAreUsageErrors) {
  EXPECT_NE(usage_error([] {
              instructions_command({"--loops", "alternate,nope"});
            }).find("nope"),
            std::string::npos);
  EXPECT_NE(usage_error([] { instructions_command({"--repeats", "0"}); }), "");
  EXPECT_NE(usage_error([] { instructions_command({"--bogus"}); }).find("--bogus"),
            std::string::npos);
  EXPECT_NE(usage_error([] {
              instructions_command({"--allocators", "nosuchalloc"});
            }).find("nosuchalloc"),
            std::string::npos);
}

}  // namespace
}  // namespace allocbench
