// allocbench: runs allocator workloads in-process (`run`), sweeps them over allocators in child
// processes (`sweep`), gates allocators on correctness (`check`), counts their instructions per
// operation under callgrind (`instructions`), and lists what it knows (`list`).
// Usage errors exit with status 2.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "harness/check_battery.h"
#include "harness/check_command.h"
#include "harness/cli_args.h"
#include "harness/instruction_loops.h"
#include "harness/instructions_command.h"
#include "harness/list_command.h"
#include "harness/program_workloads.h"
#include "harness/run_command.h"
#include "harness/sweep.h"
#include "workloads/workload.h"

namespace {

constexpr const char* kRunUsage =
    R"(  allocbench run WORKLOAD [--threads N] [--PARAM VALUE ...] [--sample-interval-ms MS]
                 [--no-verify]
      Run one workload in this process under whatever allocator is preloaded; print one JSON
      record. WORKLOAD: threadtest, shbench, larson, cache-scratch, cache-thrash, prodcons,
      barnes-hut.
      Verify mode (on by default) stamps every block and checks it before free; a wrong byte
      ends the run with exit status 4 ("corrupt"). --no-verify measures pure speed.
)";

constexpr const char* kSweepUsage =
    R"(  allocbench sweep --out DIR [--workloads W,..] [--allocators A,..] [--threads 1..64|1,2,3]
                   [--reps R] [--duration S] [--timeout S] [--shard I/N]
                   [--param [WORKLOAD.]NAME=VALUE ...] [--micro|--no-micro]
                   [--micro-min-time S] [--no-progress] [--no-check] [--no-verify]
                   [--suite synthetic|programs|all] [--program PROGRAM=PATH ...]
                   [--trace-sharing]
  allocbench sweep --resume DIR [the interrupted sweep's flags]
      Run the correctness gate on every allocator (skip it with --no-check), then workloads x
      allocators x threads x reps in child processes (LD_PRELOAD), and write DIR/run.json
      (schema allocbench-1). Allocators: names from `allocbench list`, a path to a .so, or
      NAME=PATH. Programs (redis, sqlite, ghostscript, lua, python, g++, z3, ruby) are
      workloads too: --suite programs, or by name in --workloads. --resume continues from
      DIR/run.json.partial.jsonl, skipping recorded runs. --trace-sharing: each cell's first
      repetition again under the false-sharing tracer, its counts in runs[].sharing.
)";

constexpr const char* kCheckUsage =
    R"(  allocbench check LIB... [--seed N] [--timeout S] [--only CHECK,..]
      The correctness gate: every check in a child under LD_PRELOAD=LIB, `PASS name` or
      `FAIL name: why` per check. Exit 0 all passed, 1 some failed, 2 usage error.
)";

constexpr const char* kInstructionsUsage =
    R"(  allocbench instructions [--allocators A,..] [--loops L,..] [--repeats R] [--scale X]
                          [--jobs J] [--timeout S] [--out DIR] [--json FILE]
      Instructions per malloc/free pair of each allocator on fixed loops (alternate, batch64,
      threadtest, size-mix, remote-free), counted by valgrind's callgrind at two round counts
      (the difference, so start-up cancels). Default: every known allocator found. --out DIR
      writes DIR/instructions.json and DIR/instructions.md; --repeats shows the spread.
      Exit 0 all measured, 1 something failed (the others still are), 2 usage error.
)";

constexpr const char* kInputUsage = R"(  allocbench input PROGRAM [--scale N]
      Print the input a program workload gets (e.g. to profile the program by hand).
)";

constexpr const char* kListUsage = R"(  allocbench list
      Show the workloads with their parameters, and the allocators found on this machine.
)";

void print_usage(FILE* stream, const char* only = nullptr) {
  fmt::print(stream, "usage:\n");
  for (const auto& [name, text] :
       {std::pair{"run", kRunUsage}, std::pair{"sweep", kSweepUsage},
        std::pair{"check", kCheckUsage}, std::pair{"instructions", kInstructionsUsage},
        std::pair{"input", kInputUsage}, std::pair{"list", kListUsage}}) {
    if (only == nullptr || std::string(only) == name) fmt::print(stream, "{}", text);
  }
}

bool asks_for_help(const std::vector<std::string>& args) {
  return std::find_if(args.begin(), args.end(), [](const std::string& arg) {
           return arg == "--help" || arg == "-h";
         }) != args.end();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    print_usage(args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command != "check-child" && command != "instructions-child" && asks_for_help(rest)) {
    print_usage(stdout, command.c_str());
    return 0;
  }
  try {
    if (command == "run") return allocbench::run_command(rest);
    if (command == "list") return allocbench::list_command(rest);
    if (command == "check") return allocbench::check_command(rest);
    if (command == "check-child") return allocbench::check_child_command(rest);
    if (command == "instructions") return allocbench::instructions_command(rest);
    if (command == "instructions-child") return allocbench::instructions_child_command(rest);
    if (command == "input") return allocbench::program_input_command(rest);
    if (command == "sweep") {
      std::string line = "allocbench";
      for (const std::string& arg : args) line += " " + arg;
      return allocbench::sweep_command(rest, line);
    }
    throw allocbench::UsageError(fmt::format(
        "unknown command '{}' (run, sweep, check, instructions, list, input, help)", command));
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
