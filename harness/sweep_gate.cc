#include "harness/sweep_gate.h"

#include <fmt/format.h>

#include "harness/check_battery.h"

namespace allocbench {

size_t gate_steps_per_allocator() {
  return check_battery().size();
}

std::vector<Json> gate_allocators(const std::vector<AllocatorInfo>& allocators,
                                  const std::vector<bool>& used, const CheckOptions& options,
                                  Progress& progress) {
  std::vector<Json> verdicts(allocators.size(), nullptr);
  for (size_t a = 0; a < allocators.size(); ++a) {
    const AllocatorInfo& allocator = allocators[a];
    if (!used[a] || !allocator.found) continue;
    const GateReport report = run_gate(allocator, options, [&](const CheckOutcome& check) {
      progress.advance(fmt::format("check {} {}: {}", allocator.name, check.name,
                                   check.passed ? "pass" : "FAIL"));
    });
    if (!report.passed()) {
      std::string failed;
      for (const CheckOutcome& check : report.checks) {
        if (!check.passed) failed += fmt::format("\n  FAIL {}: {}", check.name, check.message);
      }
      fmt::print(stderr,
                 "allocbench: {} failed the correctness gate (swept anyway; the analysis will "
                 "not rank it):{}\n",
                 allocator.name, failed);
    }
    verdicts[a] = gate_json(report);
  }
  return verdicts;
}

}  // namespace allocbench
