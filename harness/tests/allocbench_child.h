// The allocbench binary under test, run as a user runs it: a child process with `args` (after
// the executable), the allocator in `preload` (none when empty), killed after `timeout_s`.
// Every test that includes this defines ALLOCBENCH_BIN (CMakeLists.txt).
#pragma once

#include <string>
#include <vector>

#include "harness/child_process.h"

namespace allocbench {

inline ChildResult run_allocbench(std::vector<std::string> args, const std::string& preload = "",
                                  double timeout_s = 120) {
  args.insert(args.begin(), ALLOCBENCH_BIN);
  return run_child({.argv = args,
                    .env = environment_with_preload(preload),
                    .timeout_s = timeout_s,
                    .with_counters = false});
}

}  // namespace allocbench
