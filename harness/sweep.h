// `allocbench sweep`: workloads x allocators x thread counts x repetitions, each run in a child
// process under LD_PRELOAD, written to DIR/run.json (schema allocbench-1, see SCHEMA.md).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace allocbench {

struct SweepOptions {
  std::vector<std::string> workloads;
  std::vector<std::string> allocators;  // as given: names, paths or NAME=PATH
  std::vector<int> threads;
  int reps = 3;
  double duration_s = 0.2;
  double timeout_s = 60;
  int shard_index = 1;
  int shard_count = 1;
  // Workload -> parameter -> value as typed, from --param [WORKLOAD.]NAME=VALUE.
  std::map<std::string, std::map<std::string, std::string>> params;
  bool micro = true;
  // Each cell's first repetition once more under the false-sharing tracer (runs[].sharing).
  bool trace_sharing = false;
  double micro_min_time_s = 0.01;
  double sample_interval_ms = 5;
  bool progress = true;
  bool check = true;   // run the correctness gate first (--no-check skips it)
  bool verify = true;  // verify mode in the workloads (--no-verify for pure speed)
  std::vector<std::string> param_texts;  // --param values as given, for the record
  // Program workloads (program_workloads.h): executables given with --program NAME=PATH.
  std::map<std::string, std::string> program_binaries;
  std::string out;
  bool resume = false;  // --resume DIR: continue the interrupted sweep in DIR
  std::string command;  // the command line, for the record
};

// Throws UsageError (or ParamError) naming the bad flag or value.
SweepOptions parse_sweep_args(const std::vector<std::string>& args, int cores);

// One measurement: indices into the options' lists.
struct Cell {
  size_t workload;
  size_t allocator;
  size_t threads;
  int repetition;
};

// Every cell in the contract's order (workload, allocator, threads, repetition).
std::vector<Cell> plan_cells(size_t workloads, size_t allocators, size_t threads, int reps);
// Drops the cells of single-threaded programs at every thread count but the first: such a
// program runs once per repetition, recorded with 1 thread.
std::vector<Cell> drop_repeated_thread_counts(const std::vector<Cell>& cells,
                                              const std::vector<std::string>& workloads);
// Shard i of n (1-based): every n-th cell starting at the i-th, so shards are disjoint, cover
// everything, and each gets a fair mix of workloads and allocators.
std::vector<Cell> shard_cells(const std::vector<Cell>& cells, int index, int count);
// DIR/run.json, or DIR/run.shard-i-of-n.json for a shard.
std::string results_file_name(int index, int count);

// Runs the sweep; returns the exit status.
int run_sweep(const SweepOptions& options);

int sweep_command(const std::vector<std::string>& args, const std::string& command);

}  // namespace allocbench
