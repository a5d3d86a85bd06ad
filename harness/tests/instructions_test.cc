// `allocbench instructions` end to end, under the real callgrind (valgrind is one of the
// packages `make deps` installs; without it these tests fail, they do not skip): the counts are
// positive and repeat exactly, a slower toy allocator costs more, and a missing library, a
// library without malloc and a missing valgrind are each reported while the others go on.
// The loops run at 1/200 to 1/10 of their size to stay a few seconds under callgrind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "harness/child_process.h"
#include "harness/run_record.h"

namespace allocbench {
namespace {

namespace fs = std::filesystem;

std::string toy(const std::string& variant) {
  return std::string(TOY_DIR) + "/libtoy_" + variant + ".so";
}

struct Outcome {
  ChildResult child;
  Json json;
};

Outcome instructions(std::vector<std::string> args, std::vector<std::string> env = {}) {
  // A file of this test's own: ctest runs these tests at once, and they shared one file before
  // (one test read another's half-written JSON).
  const std::string test = testing::UnitTest::GetInstance()->current_test_info()->name();
  const fs::path json_path = fs::path(testing::TempDir()) /
                             ("instructions-" + test + "-" + std::to_string(getpid()) + ".json");
  fs::remove(json_path);
  args.insert(args.begin(), {ALLOCBENCH_BIN, "instructions", "--json", json_path.string()});
  if (env.empty()) env = environment_with_preload("");
  Outcome outcome{
      .child = run_child({.argv = args, .env = env, .timeout_s = 120, .with_counters = false}),
      .json = nullptr};
  if (std::ifstream in(json_path); in) outcome.json = Json::parse(in);
  fs::remove(json_path);
  return outcome;
}

const Json& result_of(const Json& document, const std::string& allocator) {
  for (const Json& result : document["results"]) {
    if (result["allocator"] == allocator) return result;
  }
  throw std::runtime_error("no result for " + allocator);
}

TEST(Instructions, CountsArePositiveExactAndTellAllocatorsApart) {
  const Outcome outcome =
      instructions({"--allocators", "halloc,toy=" + toy("correct") + ",slow=" + toy("slow"),
                    "--loops", "alternate", "--repeats", "2", "--scale", "0.005", "--jobs", "2"});
  const std::string output = outcome.child.out + outcome.child.err;
  ASSERT_EQ(outcome.child.exit_status, 0) << output;
  ASSERT_FALSE(outcome.json.is_null()) << output;
  EXPECT_EQ(outcome.json["schema"], "allocbench-instructions-1");
  for (const char* name : {"halloc", "toy", "slow"}) {
    SCOPED_TRACE(name);
    const Json& result = result_of(outcome.json, name);
    ASSERT_TRUE(result["error"].is_null()) << result.dump();
    const double per_pair = result["instructions_per_pair"].get<double>();
    EXPECT_TRUE(std::isfinite(per_pair));
    EXPECT_GT(per_pair, 0);
    // Single-threaded under callgrind: two runs count exactly the same instructions.
    ASSERT_EQ(result["repetitions"].size(), 2u);
    EXPECT_EQ(result["ir"][0], result["ir"][1]) << result.dump();
    EXPECT_EQ(result["spread"].get<double>(), 0.0);
    EXPECT_NE(output.find(name), std::string::npos);  // in the printed table
  }
  // The slow toy counts to 1,000 in every malloc; nothing else differs from the correct toy.
  EXPECT_GE(result_of(outcome.json, "slow")["instructions_per_pair"].get<double>() -
                result_of(outcome.json, "toy")["instructions_per_pair"].get<double>(),
            1000.0);
}

TEST(Instructions, AMissingLibraryOrOneWithoutMallocIsAnErrorAndTheOthersGoOn) {
  const Outcome outcome = instructions(
      {"--allocators", "glibc,nomalloc=" + toy("no_malloc") + ",gone=/nonexistent/libgone.so",
       "--loops", "alternate", "--scale", "0.005", "--jobs", "2"});
  const std::string output = outcome.child.out + outcome.child.err;
  ASSERT_FALSE(outcome.json.is_null()) << output;
  EXPECT_EQ(outcome.child.exit_status, 1) << output;
  EXPECT_GT(result_of(outcome.json, "glibc")["instructions_per_pair"].get<double>(), 0);

  const Json& gone = result_of(outcome.json, "gone");
  EXPECT_TRUE(gone["instructions_per_pair"].is_null());
  EXPECT_NE(gone["error"].get<std::string>().find("not found"), std::string::npos) << gone.dump();
  EXPECT_NE(output.find("gone: not found"), std::string::npos) << output;
  // A library without malloc loads, but glibc would serve the loop: an error, not a glibc count.
  const Json& nomalloc = result_of(outcome.json, "nomalloc");
  EXPECT_TRUE(nomalloc["instructions_per_pair"].is_null());
  EXPECT_NE(nomalloc["error"].get<std::string>().find("malloc is served by"), std::string::npos)
      << nomalloc.dump();
}

TEST(Instructions, TheRemoteFreeLoopRepeatsWithinTwoPercent) {
  const Outcome outcome = instructions({"--allocators", "halloc", "--loops", "remote-free",
                                        "--repeats", "2", "--scale", "0.1", "--jobs", "2"});
  const std::string output = outcome.child.out + outcome.child.err;
  ASSERT_EQ(outcome.child.exit_status, 0) << output;
  const Json& result = result_of(outcome.json, "halloc");
  const double per_pair = result["instructions_per_pair"].get<double>();
  EXPECT_GT(per_pair, 0);
  // The threads take turns, so only the handoff's waits vary (measured: at most 0.4% at this
  // size with both cores busy; 2.4% when the producer could run several batches ahead).
  EXPECT_LE(result["spread"].get<double>(), 0.02 * per_pair) << result.dump();
}

TEST(Instructions, WithoutValgrindItSaysToRunMakeDeps) {
  std::vector<std::string> env;
  for (const std::string& entry : environment_with_preload("")) {
    if (entry.rfind("PATH=", 0) != 0) env.push_back(entry);
  }
  env.push_back("PATH=/nonexistent");
  const Outcome outcome = instructions({"--allocators", "glibc", "--loops", "alternate"}, env);
  EXPECT_EQ(outcome.child.exit_status, 1);
  EXPECT_NE(outcome.child.err.find("make deps"), std::string::npos) << outcome.child.err;
  EXPECT_TRUE(outcome.json.is_null());  // nothing measured, nothing written
}

}  // namespace
}  // namespace allocbench
