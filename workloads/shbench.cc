// shbench (Hoard paper, Fig. 3b; after MicroQuill's SmartHeap benchmark, written here from its
// published description): each thread allocates randomly sized blocks and frees them in random
// order, keeping a moving set of live blocks. The total number of allocations is fixed and
// split across the threads, so time gives speedup.
#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "workloads/random.h"
#include "workloads/thread_team.h"
#include "workloads/verify.h"
#include "workloads/workload.h"

namespace allocbench {
namespace {

struct Block {
  void* pointer = nullptr;
  size_t size = 0;
};

Outcome run_shbench(const RunContext& context) {
  const uint64_t quota = context.params.get_uint("allocations") / context.threads;
  const size_t live_blocks = context.params.get_uint("live_blocks");
  const uint64_t min_size = context.params.get_uint("min_size");
  const uint64_t max_size = context.params.get_uint("max_size");
  const uint64_t seed = context.params.get_uint("seed");
  const Verifier verifier{context.verify, "shbench"};

  std::vector<std::vector<Block>> sets(context.threads, std::vector<Block>(live_blocks));
  std::vector<std::vector<size_t>> orders(context.threads, std::vector<size_t>(live_blocks));
  const double seconds = run_team(context.threads, [&](int index) {
    ThreadStats& stats = context.stats.slot(index);
    FastRandom random(seed + index);
    std::vector<Block>& set = sets[index];
    std::vector<size_t>& order = orders[index];
    std::iota(order.begin(), order.end(), 0);
    uint64_t allocated = 0;
    while (allocated < quota) {
      // Refill the empty slots with new blocks of random sizes...
      for (Block& block : set) {
        if (block.pointer != nullptr || allocated == quota) continue;
        block.size = random.between(min_size, max_size);
        block.pointer = std::malloc(block.size);
        static_cast<volatile char*>(block.pointer)[0] = 1;
        verifier.stamp(block.pointer, block.size, index);
        stats.on_alloc(block.size);
        ++allocated;
      }
      // ...then free a random number of them in a random order (a partial shuffle).
      const size_t to_free = random.between(1, live_blocks);
      for (size_t i = 0; i < to_free; ++i) {
        std::swap(order[i], order[i + random.below(live_blocks - i)]);
        Block& block = set[order[i]];
        if (block.pointer == nullptr) continue;
        verifier.check(block.pointer, block.size, index);
        std::free(block.pointer);
        stats.on_free(block.size);
        block.pointer = nullptr;
      }
    }
    for (Block& block : set) {
      if (block.pointer == nullptr) continue;
      verifier.check(block.pointer, block.size, index);
      std::free(block.pointer);
      stats.on_free(block.size);
      block.pointer = nullptr;
    }
  });
  return {seconds};
}

std::string check_shbench(const Params& params) {
  if (params.get("min_size") > params.get("max_size")) return "--min_size exceeds --max_size";
  return "";
}

}  // namespace

const Workload kShbench = {
    .name = "shbench",
    .summary = "threads allocate random sizes and free them in random order (fixed work)",
    .params =
        {
            {"allocations", 4000000, 1, 1e12, true,
             "allocations in total, split evenly across threads (our choice: ~0.15 s on glibc)"},
            {"live_blocks", 1000, 1, 1e8, true,
             "size of each thread's moving set of live blocks (our choice)"},
            {"min_size", 8, 1, 1 << 30, true, "smallest block in bytes (paper: 8)"},
            {"max_size", 100, 1, 1 << 30, true, "largest block in bytes (paper: 100)"},
            {"seed", 1, 0, 1e15, true, "random seed; thread i uses seed + i"},
        },
    .slots_per_thread = 1,
    .run = run_shbench,
    .check = check_shbench,
};

}  // namespace allocbench
