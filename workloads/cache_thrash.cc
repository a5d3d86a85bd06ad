// cache-thrash (Hoard paper, Fig. 4a: active false sharing), written from the published
// description: each thread repeatedly allocates a small object, writes it many times and frees
// it. An allocator that places different threads' objects on one cache line makes the writes
// fight even though no memory is shared.
#include <cstdlib>

#include "workloads/thread_team.h"
#include "workloads/workload.h"

namespace allocbench {
namespace {

Outcome run_cache_thrash(const RunContext& context) {
  const uint64_t iterations = context.params.get_uint("iterations") / context.threads;
  const size_t size = context.params.get_uint("size");
  const uint64_t writes = context.params.get_uint("writes");
  const double seconds = run_team(context.threads, [&](int index) {
    ThreadStats& stats = context.stats.slot(index);
    for (uint64_t round = 0; round < iterations; ++round) {
      void* object = std::malloc(size);
      stats.on_alloc(size);
      write_object(object, size, writes);
      std::free(object);
      stats.on_free(size);
    }
  });
  return {seconds};
}

}  // namespace

const Workload kCacheThrash = {
    .name = "cache-thrash",
    .summary = "active false sharing: threads allocate, write and free small objects",
    .params =
        {
            {"iterations", 1000, 1, 1e12, true,
             "allocate-write-free rounds in total, split across threads (Hoard suite: 1000)"},
            {"size", 8, 1, 1 << 20, true, "object size in bytes (paper: 8-byte objects)"},
            {"writes", 50000, 1, 1e12, true,
             "times each object is written in full (our choice, for sub-second runs)"},
        },
    .slots_per_thread = 1,
    .run = run_cache_thrash,
    .check = nullptr,
};

}  // namespace allocbench
