// mass-alloc: each thread allocates `count` blocks of `size` bytes, never touching them, then
// frees them all, for some rounds. Nothing is written to the blocks, so the memory a program
// like this pays for is exactly what the allocator itself writes (headers, free-list links) and
// maps: an allocator that carves lazily keeps its RSS far below the bytes handed out. Verify
// mode has to stamp the blocks, which changes that shape (every block's page is then touched).
// Work and memory grow with the threads: peak live bytes = count x size x threads.
// Written here from issue 11's description of the pattern.
#include "workloads/alloc_all_free_all.h"

namespace allocbench {
namespace {

Outcome run_mass_alloc(const RunContext& context) {
  return {alloc_all_free_all(context, "mass-alloc", context.params.get_uint("count"),
                             context.params.get_uint("size"), context.params.get_uint("rounds"),
                             /*touch=*/false)};
}

}  // namespace

const Workload kMassAlloc = {
    .name = "mass-alloc",
    .summary = "each thread allocates count blocks it never touches, then frees them all",
    .params =
        {
            {"count", 200000, 1, 1e10, true,
             "blocks each thread allocates per round (issue 11: 1,000,000; 200,000 keeps a quick "
             "sweep short: --param mass-alloc.count=1000000 for the issue's shape)"},
            {"size", 512, 1, 1 << 30, true, "block size in bytes (issue 11: 512)"},
            {"rounds", 1, 1, 1e9, true,
             "allocate-all/free-all rounds per thread (issue 11: 1; later rounds measure reuse)"},
        },
    .slots_per_thread = 1,
    .run = run_mass_alloc,
    .check = nullptr,
};

}  // namespace allocbench
