// Real programs as workloads (redis, sqlite3, Ghostscript, Lua, CPython, g++, z3, Ruby): the
// one table that declares them, and the runner that measures one of them under an allocator.
// Each program comes from a Debian package, reads an input the toolkit generates (the same bytes
// every time), and runs with the allocator in LD_PRELOAD (for redis: on the server only). Its
// record is a run record (SCHEMA.md) with kind "program", its metric and its output's digest;
// an output that differs from the program's output under glibc makes the run "wrong_output".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "harness/run_record.h"
#include "workloads/workload.h"

namespace allocbench {

// A command: the executable, the Debian package that provides it, and its arguments. In the
// arguments {dir} is the run's scratch folder, {input} the generated input, {threads} the thread
// count, {socket} the server's Unix socket and {requests} the redis request count.
struct ProgramCommand {
  std::string binary;
  std::string package;
  std::vector<std::string> args;
};

struct ProgramWorkload {
  std::string name;  // as given to --workloads
  std::string summary;
  ParamSpec scale;         // the one parameter: how much work (sized for about a second on glibc)
  std::string input_name;  // file name of the input in {dir}
  std::string (*generate)(int64_t scale);  // the input's text
  ProgramCommand command;                  // the program (for a server: the server)
  std::string output_file;                 // also digested, when not empty ({dir}/...)
  std::string metric;                      // "seconds" (wall) or "requests_per_s"
  bool higher_is_better;
  bool threaded;  // runs at every thread count of the sweep; otherwise once, with 1 thread
  // The program links an allocator of its own (Debian's redis: jemalloc); its glibc runs
  // preload liballocbench-glibc-malloc.so (programs/glibc_malloc.c) so they measure glibc.
  bool own_allocator = false;
  // Servers only: the client whose output gives the metric, then the check whose output is
  // digested (its stdin the text of `check_input`).
  bool server = false;
  ProgramCommand client = {};
  ProgramCommand check = {};
  std::string (*check_input)(int64_t scale) = nullptr;
};

// Every program workload, in the order reports list them.
const std::vector<ProgramWorkload>& program_workloads();
// nullptr when `name` is not a program workload.
const ProgramWorkload* find_program(const std::string& name);
// "redis, sqlite, ..." for messages.
std::string program_names();
// A program seen as a Workload (name, summary, parameters; no run function), so the sweep
// resolves and records its parameters like any other workload's.
const Workload& program_as_workload(const ProgramWorkload& program);

// Options of the sweep that concern programs.
struct ProgramOptions {
  std::map<std::string, std::string> binaries;  // program name -> executable, from --program
  double timeout_s = 60;
};

// Measures program runs for a sweep and keeps glibc's output digest for each (program,
// threads, scale) to judge the others by: glibc's own run when it came first, else a glibc run
// made for the purpose.
class ProgramRunner {
 public:
  explicit ProgramRunner(ProgramOptions options) : options_(std::move(options)) {}

  // One run record. `preload` is the allocator's .so ("" for glibc).
  Json measure(const ProgramWorkload& program, const std::string& allocator,
               const std::string& preload, int threads, int repetition, int64_t scale);

  // The executable a program runs (its table entry, or the --program override).
  std::string binary_of(const ProgramWorkload& program) const;

 private:
  struct Outcome {
    std::string status = "ok";  // "ok", "failed", "timeout", "skipped"
    std::string error;
    std::string digest;
  };
  Outcome run_once(const ProgramWorkload& program, const std::string& preload, int threads,
                   int64_t scale, Json& record);

  ProgramOptions options_;
  std::map<std::string, std::string> reference_digests_;
};

// `allocbench input PROGRAM [--scale N]`: prints the program's generated input.
int program_input_command(const std::vector<std::string>& args);

// FNV-1a (64-bit) of `text`, as 16 hex digits.
std::string digest_of(const std::string& text);

// redis-benchmark -q's output: every test's requests/s combined into the overall rate of equal
// request counts (n / sum of n / rate_i). Negative when there is no rate in the text.
double redis_requests_per_s(const std::string& output);

}  // namespace allocbench
