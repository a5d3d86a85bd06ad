// size-mix: each thread keeps a working set of blocks of random sizes over every small size
// class, and at each step replaces a random one: it frees it and allocates a block of a new
// random size. Sizes are log-uniform between min_size and max_size (as many blocks between 16
// and 32 bytes as between 16 and 32 KiB), so small sizes are far more frequent while every class
// up to 32 KiB still gets about 1 to 2% of the requests. No block leaves its thread. The total
// number of replacements is fixed and split across the threads, so time gives speedup.
// Written here from issue 11's description of the pattern.
#include "workloads/size_mix.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "workloads/random.h"
#include "workloads/thread_team.h"
#include "workloads/verify.h"
#include "workloads/workload.h"

namespace allocbench {

LogUniformSizes::LogUniformSizes(uint64_t min_size, uint64_t max_size) {
  // Bucket edges at geometric steps; edges_[i] is the first size of bucket i.
  const double ratio = static_cast<double>(max_size + 1) / static_cast<double>(min_size);
  edges_.resize(kBuckets + 1);
  for (size_t i = 0; i <= kBuckets; ++i) {
    edges_[i] = static_cast<uint64_t>(std::llround(
        static_cast<double>(min_size) * std::pow(ratio, static_cast<double>(i) / kBuckets)));
  }
  for (uint64_t& edge : edges_) edge = std::min(std::max(edge, min_size), max_size);
  edges_[kBuckets] = max_size + 1;
}

uint64_t LogUniformSizes::draw(FastRandom& random) const {
  const size_t bucket = random.below(kBuckets);
  const uint64_t low = edges_[bucket];
  const uint64_t high = edges_[bucket + 1];
  return high <= low + 1 ? low : random.between(low, high - 1);
}

namespace {

struct Block {
  void* pointer = nullptr;
  size_t size = 0;
};

Outcome run_size_mix(const RunContext& context) {
  const size_t blocks = context.params.get_uint("blocks");
  const uint64_t quota = context.params.get_uint("replacements") / context.threads;
  const uint64_t seed = context.params.get_uint("seed");
  const LogUniformSizes sizes(context.params.get_uint("min_size"),
                              context.params.get_uint("max_size"));
  const Verifier verifier{context.verify, "size-mix"};

  // Each thread fills its working set, then the clock runs from the moment all are full until
  // the last thread has done its replacements; emptying the sets is outside it too.
  PhaseClock clock(context.threads);
  std::vector<std::vector<Block>> sets(context.threads, std::vector<Block>(blocks));
  run_team(context.threads, [&](int index) {
    ThreadStats& stats = context.stats.slot(index);
    FastRandom random(seed + index);
    std::vector<Block>& set = sets[index];
    for (Block& block : set) {
      block.size = sizes.draw(random);
      block.pointer = std::malloc(block.size);
      verifier.stamp(block.pointer, block.size, index);
      stats.add_live(static_cast<int64_t>(block.size));
    }
    clock.ready();
    for (uint64_t step = 0; step < quota; ++step) {
      Block& block = set[random.below(blocks)];
      verifier.check(block.pointer, block.size, index);
      std::free(block.pointer);
      stats.add_live(-static_cast<int64_t>(block.size));
      block.size = sizes.draw(random);
      block.pointer = std::malloc(block.size);
      static_cast<volatile char*>(block.pointer)[0] = 1;  // touch it, as a constructor would
      verifier.stamp(block.pointer, block.size, index);
      stats.add_live(static_cast<int64_t>(block.size));
      stats.count_op();
    }
    clock.done();
    for (Block& block : set) {
      verifier.check(block.pointer, block.size, index);
      std::free(block.pointer);
      stats.add_live(-static_cast<int64_t>(block.size));
    }
  });
  return {clock.seconds()};
}

std::string check_size_mix(const Params& params) {
  if (params.get("min_size") > params.get("max_size")) return "--min_size exceeds --max_size";
  return "";
}

}  // namespace

const Workload kSizeMix = {
    .name = "size-mix",
    .summary = "each thread replaces random blocks of a working set, sizes 4 B..32 KiB log-uniform",
    .params =
        {
            {"blocks", 1000, 1, 1e8, true,
             "blocks in each thread's working set (issue 11: ~1,000)"},
            {"replacements", 2000000, 1, 1e12, true,
             "replacements in total (each a free and a malloc, counted as one op), split evenly "
             "across threads (our choice: ~0.2 s on glibc)"},
            {"min_size", 4, 1, 1 << 30, true, "smallest block in bytes (issue 11: 4)"},
            {"max_size", 32768, 1, 1 << 30, true,
             "largest block in bytes (issue 11: 32 KiB, halloc's largest small class); sizes "
             "are log-uniform in between (small ones far more frequent), so every size class "
             "gets a share"},
            {"seed", 1, 0, 1e15, true, "random seed; thread i uses seed + i"},
        },
    .slots_per_thread = 1,
    .run = run_size_mix,
    .check = check_size_mix,
};

}  // namespace allocbench
