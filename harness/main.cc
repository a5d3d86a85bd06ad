// allocbench: runs allocator workloads in-process (`run`), sweeps them over allocators in child
// processes (`sweep`), and lists what it knows (`list`). Usage errors exit with status 2.
#include <fmt/format.h>

#include <exception>
#include <string>
#include <vector>

#include "harness/cli_args.h"
#include "harness/list_command.h"
#include "harness/program_workloads.h"
#include "harness/run_command.h"
#include "harness/sweep.h"
#include "workloads/workload.h"

namespace {

constexpr const char* kUsage = R"(usage:
  allocbench run WORKLOAD [--threads N] [--PARAM VALUE ...] [--sample-interval-ms MS]
      Run one workload in this process under whatever allocator is preloaded; print one JSON
      record. WORKLOAD: threadtest, shbench, larson, cache-scratch, cache-thrash, prodcons.
  allocbench sweep --out DIR [--workloads W,..] [--allocators A,..] [--threads 1..64|1,2,3]
                   [--reps R] [--duration S] [--timeout S] [--shard I/N]
                   [--param [WORKLOAD.]NAME=VALUE ...] [--micro|--no-micro]
                   [--micro-min-time S] [--no-progress]
                   [--suite synthetic|programs|all] [--program PROGRAM=PATH ...]
      Run workloads x allocators x threads x reps in child processes (LD_PRELOAD) and write
      DIR/run.json (schema allocbench-1). Allocators: names from `allocbench list`, a path to a
      .so, or NAME=PATH. Programs (redis, sqlite, ghostscript, lua, python, g++, z3, ruby) are
      workloads too: --suite programs, or by name in --workloads.
  allocbench input PROGRAM [--scale N]
      Print the input a program workload gets (e.g. to profile the program by hand).
  allocbench list
      Show the workloads with their parameters, and the allocators found on this machine.
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    fmt::print(args.empty() ? stderr : stdout, "{}", kUsage);
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  try {
    if (command == "run") return allocbench::run_command(rest);
    if (command == "list") return allocbench::list_command(rest);
    if (command == "input") return allocbench::program_input_command(rest);
    if (command == "sweep") {
      std::string line = "allocbench";
      for (const std::string& arg : args) line += " " + arg;
      return allocbench::sweep_command(rest, line);
    }
    throw allocbench::UsageError(
        fmt::format("unknown command '{}' (run, sweep, list, input, help)", command));
  } catch (const allocbench::UsageError& error) {
    fmt::print(stderr, "allocbench {}: {}\n", command, error.what());
    return 2;
  } catch (const allocbench::ParamError& error) {
    fmt::print(stderr, "allocbench {}: {}\n", command, error.what());
    return 2;
  } catch (const std::exception& error) {
    fmt::print(stderr, "allocbench {}: error: {}\n", command, error.what());
    return 1;
  }
}
