// cache-scratch (Hoard paper, Fig. 4b: passive false sharing), written from the published
// description. The main thread allocates one small object per thread (neighbours in memory with
// many allocators) and hands them out. Each thread frees its object, then repeatedly allocates
// a small object, writes it many times and frees it. An allocator that gives a thread back the
// memory another thread's object shares a cache line with makes those writes fight.
#include <cstdlib>
#include <vector>

#include "workloads/false_sharing.h"
#include "workloads/thread_team.h"
#include "workloads/workload.h"

namespace allocbench {
namespace {

Outcome run_cache_scratch(const RunContext& context) {
  const uint64_t iterations = context.params.get_uint("iterations") / context.threads;
  const size_t size = context.params.get_uint("size");
  const uint64_t writes = context.params.get_uint("writes");

  const Verifier verifier{context.verify, "cache-scratch"};
  std::vector<void*> handed_out(context.threads);
  for (int index = 0; index < context.threads; ++index) {
    handed_out[index] = std::malloc(size);
    stamp_written_object(verifier, handed_out[index], size, index);
    write_object(handed_out[index], size, 1);
    context.stats.slot(index).add_live(static_cast<int64_t>(size));
  }
  const double seconds = run_team(context.threads, [&](int index) {
    ThreadStats& stats = context.stats.slot(index);
    check_written_object(verifier, handed_out[index], size, 1, index);
    std::free(handed_out[index]);
    stats.on_free(size);
    churn_written_objects(stats, iterations, size, writes, verifier, index);
  });
  return {seconds};
}

}  // namespace

const Workload kCacheScratch = {
    .name = "cache-scratch",
    .summary = "passive false sharing: threads free objects handed out by main, then churn",
    .params = false_sharing_params(),
    .slots_per_thread = 1,
    .run = run_cache_scratch,
    .check = nullptr,
};

}  // namespace allocbench
