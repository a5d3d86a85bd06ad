// `allocbench check LIB...`: the correctness gate. Every check of the battery (check_battery.h)
// runs in its own child process under LD_PRELOAD=LIB, so a crash, an abort or a hang past the
// timeout is a failed check, never a crash of allocbench. The sweep runs the same gate first.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "harness/allocators.h"
#include "harness/run_record.h"

namespace allocbench {

struct CheckOptions {
  uint64_t seed = 42;
  double timeout_s = 20;          // per check
  std::vector<std::string> only;  // run only these checks (empty: all)
};

struct CheckOutcome {
  std::string name;
  bool passed = false;
  std::string message;  // what was wrong; when passed, notes that do not fail it (or empty)
};

struct GateReport {
  uint64_t seed = 0;
  double seconds = 0;
  std::vector<CheckOutcome> checks;
  bool passed() const;
};

// Runs the battery on a found allocator; `on_each` sees each outcome as it comes.
GateReport run_gate(const AllocatorInfo& allocator, const CheckOptions& options,
                    const std::function<void(const CheckOutcome&)>& on_each = {});

// {"passed", "seed", "seconds", "checks": [{"name", "passed", "message"}]} (SCHEMA.md).
Json gate_json(const GateReport& report);

// The subcommand: 0 when every library passed every check, 1 when any failed, 2 usage errors.
int check_command(const std::vector<std::string>& args);

}  // namespace allocbench
