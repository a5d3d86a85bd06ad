// Runs one child process: fork, counters opened on the stopped child, exec, stdout and stderr
// collected, a wall-clock timeout (the child's process group is killed), and wait4's rusage.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/run_record.h"

namespace allocbench {

struct ChildSpec {
  std::vector<std::string> argv;  // argv[0] is the executable's path
  std::vector<std::string> env;   // the complete environment, NAME=VALUE
  double timeout_s = 60;
  bool with_counters = true;
  std::string stdin_path = {};  // read as the child's stdin when set; else it inherits ours
};

struct ChildResult {
  std::string spawn_error;  // non-empty when the child never ran
  bool timed_out = false;
  int exit_status = -1;  // valid when the child exited
  int signal = 0;        // the signal that killed it, or 0
  int64_t max_rss_bytes = -1;
  double user_seconds = 0;  // CPU time of the child and its threads, from wait4's rusage
  double sys_seconds = 0;
  int64_t page_faults = 0;  // minor + major, of the child and its waited-for descendants
  std::string out;
  std::string err;
  double wall_s = 0;
  Json counters = Json::object();
  Json counters_unavailable = Json::object();
};

ChildResult run_child(const ChildSpec& spec);

// The current environment with LD_PRELOAD replaced by `preload` (removed when empty).
std::vector<std::string> environment_with_preload(const std::string& preload);

// The last `lines` lines of `text`, for error messages.
std::string tail_lines(const std::string& text, int lines);

}  // namespace allocbench
