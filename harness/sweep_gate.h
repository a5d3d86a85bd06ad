// The sweep's first stage: the correctness gate (check_command.h) on every allocator the sweep
// will run. An allocator that fails is still swept, so its numbers exist; the analysis reads
// allocators[].check and refuses to rank it.
#pragma once

#include <vector>

#include "harness/allocators.h"
#include "harness/check_command.h"
#include "harness/progress.h"
#include "harness/run_record.h"

namespace allocbench {

// Per allocator: the gate's JSON for allocators[].check, or null where it was not run (not
// found, not in this shard's cells). Says on stderr which allocators failed which checks.
std::vector<Json> gate_allocators(const std::vector<AllocatorInfo>& allocators,
                                  const std::vector<bool>& used, const CheckOptions& options,
                                  Progress& progress);

// How many progress units gate_allocators takes per allocator.
size_t gate_steps_per_allocator();

}  // namespace allocbench
