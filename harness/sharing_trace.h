// `allocbench sweep --trace-sharing`: a cell's workload run once more with the false-sharing
// tracer (harness/tracer/, libsharetrace.so) stacked in front of the allocator under test, for
// the run record's `sharing` object (SCHEMA.md).
#pragma once

#include <string>

#include "harness/child_process.h"
#include "harness/run_record.h"

namespace allocbench {

// libsharetrace.so next to allocbench (build/lib), or "" when it is not built.
std::string tracer_library();

// Runs `spec` (a workload child, its environment without LD_PRELOAD) with
// LD_PRELOAD="<tracer> <allocator_preload>", the counts written to `counts_path` (removed
// after). Returns the tracer's counts plus the traced run's ops, seconds and throughput, or
// {"error": why} when the traced child failed or wrote nothing.
Json trace_sharing(ChildSpec spec, const std::string& allocator_preload,
                   const std::string& counts_path);

}  // namespace allocbench
