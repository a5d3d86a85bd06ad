// cache-thrash (Hoard paper, Fig. 4a: active false sharing), written from the published
// description: each thread repeatedly allocates a small object, writes it many times and frees
// it. An allocator that places different threads' objects on one cache line makes the writes
// fight even though no memory is shared.
#include <cstdlib>

#include "workloads/false_sharing.h"
#include "workloads/thread_team.h"
#include "workloads/workload.h"

namespace allocbench {
namespace {

Outcome run_cache_thrash(const RunContext& context) {
  const uint64_t iterations = context.params.get_uint("iterations") / context.threads;
  const size_t size = context.params.get_uint("size");
  const uint64_t writes = context.params.get_uint("writes");
  const Verifier verifier{context.verify, "cache-thrash"};
  const double seconds = run_team(context.threads, [&](int index) {
    churn_written_objects(context.stats.slot(index), iterations, size, writes, verifier, index);
  });
  return {seconds};
}

}  // namespace

const Workload kCacheThrash = {
    .name = "cache-thrash",
    .summary = "active false sharing: threads allocate, write and free small objects",
    .params = false_sharing_params(),
    .slots_per_thread = 1,
    .run = run_cache_thrash,
    .check = nullptr,
};

}  // namespace allocbench
