// threadtest (Hoard paper, Fig. 3a): t threads each allocate N/t objects of one size, then
// free them all, for some iterations; nothing is shared. The total work is fixed, so the
// time at t threads against the time at 1 gives the speedup.
#include "workloads/alloc_all_free_all.h"

namespace allocbench {
namespace {

Outcome run_threadtest(const RunContext& context) {
  return {alloc_all_free_all(context, "threadtest",
                             context.params.get_uint("objects") / context.threads,
                             context.params.get_uint("size"), context.params.get_uint("iterations"),
                             /*touch=*/true)};
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
