// Each workload's bookkeeping: exact operation counts, live bytes back to zero, peaks within
// what the parameters allow, and parameters rejected by name when wrong.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "size_class.h"  // halloc's size classes, which size-mix must cover
#include "workloads/random.h"
#include "workloads/size_mix.h"
#include "workloads/workload.h"

namespace allocbench {
namespace {

struct Result {
  uint64_t ops;
  int64_t live_bytes;
  int64_t peak_live_bytes;
  double seconds;
};

Result run(const std::string& name, int threads, const std::map<std::string, std::string>& args) {
  const Workload* workload = find_workload(name);
  EXPECT_NE(workload, nullptr) << name;
  const Params params = resolve_params(*workload, args);
  WorkloadStats stats(workload->slots_per_thread * threads);
  const Outcome outcome = workload->run({threads, params, stats});
  return {stats.ops(), stats.live_bytes(), stats.peak_live_bytes(), outcome.seconds};
}

TEST(Registry, ListsTheTenWorkloadsAndNoop) {
  std::vector<std::string> names;
  for (const Workload* workload : all_workloads()) names.push_back(workload->name);
  EXPECT_EQ(names, (std::vector<std::string>{"threadtest", "shbench", "larson", "cache-scratch",
                                             "cache-thrash", "prodcons", "barnes-hut", "size-mix",
                                             "mass-alloc", "large-buffers", "noop"}));
  EXPECT_EQ(find_workload("nonesuch"), nullptr);
}

TEST(Registry, DefaultsLieWithinTheirOwnBounds) {
  for (const Workload* workload : all_workloads()) {
    for (const ParamSpec& spec : workload->params) {
      EXPECT_GE(spec.default_value, spec.min_value) << workload->name << " " << spec.name;
      EXPECT_LE(spec.default_value, spec.max_value) << workload->name << " " << spec.name;
      EXPECT_FALSE(spec.help.empty()) << workload->name << " " << spec.name;
    }
    EXPECT_NO_THROW(resolve_params(*workload, {}));
  }
}

TEST(Threadtest, CountsEveryMallocAndFreeOfItsShare) {
  const Result result =
      run("threadtest", 2, {{"objects", "1000"}, {"iterations", "3"}, {"size", "24"}});
  EXPECT_EQ(result.ops, 2u * 3 * 500 * 2);
  EXPECT_EQ(result.live_bytes, 0);
  EXPECT_EQ(result.peak_live_bytes, 1000 * 24);
}

TEST(Threadtest, FixedTotalWorkIsSplitAcrossThreads) {
  const Result one = run("threadtest", 1, {{"objects", "1200"}, {"iterations", "2"}});
  const Result three = run("threadtest", 3, {{"objects", "1200"}, {"iterations", "2"}});
  EXPECT_EQ(one.ops, three.ops);
  EXPECT_EQ(one.peak_live_bytes, 1200 * 8);
}

TEST(Shbench, AllocatesItsQuotaAndFreesEverything) {
  const Result result = run(
      "shbench", 2,
      {{"allocations", "10000"}, {"live_blocks", "50"}, {"min_size", "8"}, {"max_size", "100"}});
  EXPECT_EQ(result.ops, 2u * 10000);
  EXPECT_EQ(result.live_bytes, 0);
  EXPECT_LE(result.peak_live_bytes, 2 * 50 * 100);
  EXPECT_GE(result.peak_live_bytes, 2 * 50 * 8);  // the first refill fills every slot
}

TEST(Shbench, SizesStayInRange) {
  const Result result =
      run("shbench", 1,
          {{"allocations", "5000"}, {"live_blocks", "10"}, {"min_size", "64"}, {"max_size", "64"}});
  EXPECT_EQ(result.peak_live_bytes, 10 * 64);
}

TEST(Larson, RunsForItsDurationAndHandsOverArrays) {
  const Result result = run("larson", 2,
                            {{"duration_s", "0.05"},
                             {"slots", "100"},
                             {"rounds", "1"},
                             {"min_size", "10"},
                             {"max_size", "20"}});
  EXPECT_GE(result.seconds, 0.05);
  EXPECT_EQ(result.ops % 2, 0u);  // every replacement is a free and a malloc
  // One generation does at most rounds x slots replacements, so more means a new thread
  // carried on with the first one's blocks.
  EXPECT_GT(result.ops, 2u * 2 * 100);
  EXPECT_EQ(result.live_bytes, 0);
  EXPECT_GE(result.peak_live_bytes, 2 * 100 * 10);
  EXPECT_LE(result.peak_live_bytes, 2 * 100 * 20);
}

TEST(CacheScratch, FreesTheHandedOutObjectThenChurns) {
  const Result result =
      run("cache-scratch", 2, {{"iterations", "100"}, {"writes", "10"}, {"size", "16"}});
  EXPECT_EQ(result.ops, 2u * (1 + 2 * 50));
  EXPECT_EQ(result.live_bytes, 0);
  EXPECT_EQ(result.peak_live_bytes, 2 * 16);
}

TEST(CacheThrash, OneObjectPerThreadAtATime) {
  const Result result =
      run("cache-thrash", 4, {{"iterations", "400"}, {"writes", "10"}, {"size", "8"}});
  EXPECT_EQ(result.ops, 2u * 400);
  EXPECT_EQ(result.live_bytes, 0);
  EXPECT_EQ(result.peak_live_bytes, 4 * 8);
}

TEST(Prodcons, ConsumersFreeWhatProducersMadeAndTheQueueBoundsLiveBytes) {
  const Result result = run("prodcons", 2,
                            {{"objects", "10000"},
                             {"batch", "10"},
                             {"queue_depth", "4"},
                             {"min_size", "16"},
                             {"max_size", "32"}});
  EXPECT_EQ(result.ops, 2u * 10000);
  EXPECT_EQ(result.live_bytes, 0);
  EXPECT_GE(result.peak_live_bytes, 10 * 16);
  EXPECT_LE(result.peak_live_bytes, 2 * 4 * 10 * 32);
}

TEST(Noop, DoesNothing) {
  const Result result = run("noop", 1, {});
  EXPECT_EQ(result.ops, 0u);
  EXPECT_EQ(result.peak_live_bytes, 0);
}

TEST(BarnesHut, BuildsAndFreesATreeEachStepTheSameWhateverTheThreads) {
  const std::map<std::string, std::string> args = {{"bodies", "600"}, {"steps", "3"}};
  const Result one = run("barnes-hut", 1, args);
  const Result three = run("barnes-hut", 3, args);
  // At least one node per body per step, all freed; the same tree whatever the thread count.
  EXPECT_GE(one.ops, 2u * 600 * 3);
  EXPECT_EQ(one.ops % 2, 0u);
  EXPECT_EQ(one.ops, three.ops);
  EXPECT_EQ(one.live_bytes, 0);
  EXPECT_EQ(three.live_bytes, 0);
  EXPECT_GT(one.peak_live_bytes, 0);
}

TEST(BarnesHut, TheSmallestRunCompletesAndFreesEverything) {
  const Result result = run("barnes-hut", 2, {{"bodies", "2"}, {"steps", "2"}});
  EXPECT_EQ(result.live_bytes, 0);
  EXPECT_GE(result.ops, 2u * 2 * 2);
}

TEST(SizeMix, CountsOneOpPerReplacementAndKeepsEachThreadsWorkingSet) {
  const Result result =
      run("size-mix", 3,
          {{"blocks", "40"}, {"replacements", "3000"}, {"min_size", "100"}, {"max_size", "100"}});
  EXPECT_EQ(result.ops, 3000u);
  EXPECT_EQ(result.live_bytes, 0);
  EXPECT_EQ(result.peak_live_bytes, 3 * 40 * 100);
  EXPECT_GE(result.seconds, 0.0);
}

TEST(SizeMix, SizesStayInRange) {
  const Result result =
      run("size-mix", 1,
          {{"blocks", "200"}, {"replacements", "20000"}, {"min_size", "50"}, {"max_size", "60"}});
  EXPECT_EQ(result.live_bytes, 0);
  EXPECT_GE(result.peak_live_bytes, 200 * 50);
  EXPECT_LE(result.peak_live_bytes, 200 * 60);
}

// The default range reaches every one of halloc's small size classes, each in proportion to
// the log of its width: a class b = 1.2 wide gets ln 1.2 / ln 8192, about 2%, of the draws; the
// narrowest (497-512 B, squeezed under a power of two) about 0.35%. Small sizes dominate.
TEST(SizeMix, DefaultSizesCoverEveryHallocSmallClass) {
  const Workload& workload = *find_workload("size-mix");
  const Params params = resolve_params(workload, {});
  const uint64_t min_size = params.get_uint("min_size");
  const uint64_t max_size = params.get_uint("max_size");
  EXPECT_EQ(max_size, halloc::kLargeThreshold);
  const LogUniformSizes sizes(min_size, max_size);
  FastRandom random(7);
  constexpr int kDraws = 1000000;
  std::vector<int> per_class(halloc::kSizeClasses.count, 0);
  int at_most_1k = 0;
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t size = sizes.draw(random);
    ASSERT_GE(size, min_size);
    ASSERT_LE(size, max_size);
    ++per_class[halloc::SizeClassOf(size)];
    at_most_1k += size <= 1024;
  }
  const double range = std::log((max_size + 1.0) / min_size);
  double below = min_size - 1.0;  // the class's sizes are (below, block_size]
  for (uint32_t c = 0; c < halloc::kSizeClasses.count; ++c) {
    const double block = halloc::kSizeClasses.block_size[c];
    const double expected = kDraws * std::log((block + 1) / (below + 1)) / range;
    below = block;
    EXPECT_GE(per_class[c], kDraws / 1000) << "class " << c << " (" << block << " B)";
    EXPECT_NEAR(per_class[c], expected, 0.15 * expected) << "class " << c << " (" << block << " B)";
  }
  EXPECT_GT(at_most_1k, kDraws / 2);  // log-uniform: ln(256) / ln(8192) = 62%
}

TEST(SizeMix, ADegenerateRangeGivesItsOneSize) {
  const LogUniformSizes sizes(5, 5);
  FastRandom random(1);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(sizes.draw(random), 5u);
}

TEST(MassAlloc, EachThreadAllocatesCountBlocksThenFreesThem) {
  const Result result = run("mass-alloc", 3, {{"count", "2000"}, {"size", "512"}, {"rounds", "2"}});
  EXPECT_EQ(result.ops, 3u * 2 * 2 * 2000);
  EXPECT_EQ(result.live_bytes, 0);
  EXPECT_EQ(result.peak_live_bytes, 3 * 2000 * 512);
}

TEST(LargeBuffers, ReplacesEveryBufferAndSplitsTheSetAmongThreads) {
  // 7 buffers over 3 threads (3, 2, 2); one more buffer per thread while it replaces one.
  const Result result =
      run("large-buffers", 3,
          {{"buffers", "7"}, {"replacements", "4"}, {"min_size", "20000"}, {"max_size", "20000"}});
  EXPECT_EQ(result.ops, 7u * 4);
  EXPECT_EQ(result.live_bytes, 0);
  EXPECT_EQ(result.peak_live_bytes, (7 + 3) * 20000);
}

TEST(LargeBuffers, ThreadsBeyondTheBuffersIdle) {
  const Result one =
      run("large-buffers", 1,
          {{"buffers", "2"}, {"replacements", "3"}, {"min_size", "1"}, {"max_size", "70000"}});
  const Result four =
      run("large-buffers", 4,
          {{"buffers", "2"}, {"replacements", "3"}, {"min_size", "1"}, {"max_size", "70000"}});
  EXPECT_EQ(one.ops, 6u);
  EXPECT_EQ(four.ops, 6u);
  EXPECT_EQ(four.live_bytes, 0);
}

std::string param_error(const std::string& name, const std::map<std::string, std::string>& args) {
  try {
    resolve_params(*find_workload(name), args);
  } catch (const ParamError& error) {
    return error.what();
  }
  return "";
}

TEST(Params, ErrorsNameTheBadParameterAndValue) {
  EXPECT_NE(param_error("larson", {{"slot", "5"}}).find("--slot"), std::string::npos);
  EXPECT_NE(param_error("larson", {{"slots", "five"}}).find("'five'"), std::string::npos);
  EXPECT_NE(param_error("larson", {{"slots", "2.5"}}).find("not an integer"), std::string::npos);
  EXPECT_NE(param_error("larson", {{"slots", "0"}}).find("--slots"), std::string::npos);
  EXPECT_NE(param_error("shbench", {{"min_size", "200"}}).find("--min_size"), std::string::npos);
  EXPECT_NE(param_error("size-mix", {{"min_size", "40000"}}).find("--min_size"), std::string::npos);
  EXPECT_NE(param_error("large-buffers", {{"max_size", "100"}}).find("--min_size"),
            std::string::npos);
  EXPECT_EQ(param_error("larson", {{"duration_s", "0.5"}}), "");
}

TEST(Params, OverridesReplaceDefaults) {
  const Params params = resolve_params(*find_workload("threadtest"), {{"size", "64"}});
  EXPECT_EQ(params.get("size"), 64);
  EXPECT_EQ(params.get("objects"), 100000);
}

}  // namespace
}  // namespace allocbench
