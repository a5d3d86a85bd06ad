// The loop threadtest and mass-alloc share: each thread allocates `count` blocks of `size`
// bytes, then frees them all, for `rounds` rounds; nothing is shared between threads.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "workloads/thread_team.h"
#include "workloads/verify.h"
#include "workloads/workload.h"

namespace allocbench {

// `touch`: write each block's first byte as a constructor would (threadtest), or leave blocks
// untouched but for verify mode's stamps (mass-alloc). Returns the team's seconds.
inline double alloc_all_free_all(const RunContext& context, const char* name, uint64_t count,
                                 size_t size, uint64_t rounds, bool touch) {
  const Verifier verifier{context.verify, name};
  // The pointer arrays are the driver's, allocated (and written, so paged in) before the clock.
  std::vector<std::vector<void*>> pointers(context.threads, std::vector<void*>(count));
  return run_team(context.threads, [&](int index) {
    ThreadStats& stats = context.stats.slot(index);
    std::vector<void*>& mine = pointers[index];
    for (uint64_t round = 0; round < rounds; ++round) {
      for (void*& block : mine) {
        block = std::malloc(size);
        if (touch) static_cast<volatile char*>(block)[0] = 1;
        verifier.stamp(block, size, index);
        stats.on_alloc(size);
      }
      for (void* block : mine) {
        verifier.check(block, size, index);
        std::free(block);
        stats.on_free(size);
      }
    }
  });
}

}  // namespace allocbench
