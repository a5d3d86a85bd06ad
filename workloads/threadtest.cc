// threadtest (Hoard paper, Fig. 3a): t threads each allocate N/t objects of one size, then
// free them all, for some iterations; nothing is shared. The total work is fixed, so the
// time at t threads against the time at 1 gives the speedup.
#include <cstdlib>
#include <vector>

#include "workloads/thread_team.h"
#include "workloads/verify.h"
#include "workloads/workload.h"

namespace allocbench {
namespace {

Outcome run_threadtest(const RunContext& context) {
  const uint64_t objects_per_thread = context.params.get_uint("objects") / context.threads;
  const uint64_t iterations = context.params.get_uint("iterations");
  const size_t size = context.params.get_uint("size");
  const Verifier verifier{context.verify, "threadtest"};
  // The pointer arrays are the driver's, allocated before the clock starts.
  std::vector<std::vector<void*>> pointers(context.threads, std::vector<void*>(objects_per_thread));
  const double seconds = run_team(context.threads, [&](int index) {
    ThreadStats& stats = context.stats.slot(index);
    std::vector<void*>& mine = pointers[index];
    for (uint64_t round = 0; round < iterations; ++round) {
      for (void*& object : mine) {
        object = std::malloc(size);
        static_cast<volatile char*>(object)[0] = 1;  // touch it, as a constructor would
        verifier.stamp(object, size, index);
        stats.on_alloc(size);
      }
      for (void* object : mine) {
        verifier.check(object, size, index);
        std::free(object);
        stats.on_free(size);
      }
    }
  });
  return {seconds};
}

}  // namespace

const Workload kThreadtest = {
    .name = "threadtest",
    .summary = "t threads allocate and free N/t objects of one size, no sharing (fixed work)",
    .params =
        {
            {"objects", 100000, 1, 1e9, true,
             "objects live at once across all threads, split evenly (paper: 100,000)"},
            {"size", 8, 1, 1 << 20, true, "object size in bytes (paper: 8)"},
            {"iterations", 50, 1, 1e9, true,
             "allocate-all/free-all rounds per thread (Hoard's threadtest default: 50)"},
        },
    .slots_per_thread = 1,
    .run = run_threadtest,
    .check = nullptr,
};

}  // namespace allocbench
