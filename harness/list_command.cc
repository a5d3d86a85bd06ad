#include "harness/list_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include "harness/allocators.h"
#include "harness/cli_args.h"
#include "harness/program_workloads.h"
#include "workloads/workload.h"

namespace allocbench {

int list_command(const std::vector<std::string>& args) {
  if (!args.empty()) throw UsageError(fmt::format("list: unexpected argument '{}'", args[0]));
  fmt::print("Workloads (allocbench run WORKLOAD --threads N [--PARAM VALUE]):\n");
  for (const Workload* workload : all_workloads()) {
    fmt::print("  {:<14} {}\n", workload->name, workload->summary);
    for (const ParamSpec& spec : workload->params) {
      fmt::print("      --{:<12} {:<10} {}\n", spec.name, fmt::format("{}", spec.default_value),
                 spec.help);
    }
  }
  fmt::print("\nPrograms (sweep --suite programs, or --workloads NAME; from Debian packages):\n");
  for (const ProgramWorkload& program : program_workloads()) {
    const bool found = access(program.command.binary.c_str(), X_OK) == 0;
    fmt::print("  {:<14} {:<6} {} [{}; {}]\n", program.name, found ? "found" : "-", program.summary,
               program.command.package, program.threaded ? "threaded" : "single-threaded");
    fmt::print("      --{:<12} {:<10} {}\n", program.scale.name,
               fmt::format("{}", program.scale.default_value), program.scale.help);
  }
  fmt::print(
      "\nAllocators (or any path to a .so, or NAME=PATH; the halloc-abl-* steps only when "
      "named):\n");
  std::vector<std::string> names = known_allocator_names();
  names.insert(names.end(), halloc_ablation_names().begin(), halloc_ablation_names().end());
  for (const std::string& name : names) {
    const AllocatorInfo info = resolve_allocator(name);
    const std::string version = info.version ? " (" + *info.version + ")" : "";
    const std::string where =
        info.found ? info.path.value_or(info.note.value_or("")) + version : info.note.value_or("");
    fmt::print("  {:<14} {:<6} {}\n", info.name, info.found ? "found" : "-", where);
  }
  return 0;
}

}  // namespace allocbench
