// noop: allocates nothing. The sweep runs it under each allocator to measure the baseline RSS
// (the driver, the libraries and the allocator's own start-up cost) that blowup subtracts.
#include "workloads/workload.h"

namespace allocbench {
namespace {

Outcome run_noop(const RunContext&) {
  return {0.0};
}

}  // namespace

const Workload kNoop = {
    .name = "noop",
    .summary = "idle: the baseline RSS of the driver under an allocator",
    .params = {},
    .slots_per_thread = 1,
    .run = run_noop,
    .check = nullptr,
};

}  // namespace allocbench
