// `allocbench run WORKLOAD --threads N [--PARAM VALUE ...]`: runs one workload in this process,
// under whatever allocator is preloaded, and prints one run record as JSON on stdout.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "harness/run_record.h"

namespace allocbench {

struct RunRequest {
  std::string workload;
  int threads = 1;
  std::map<std::string, std::string> params;  // as typed; checked by the workload
  std::chrono::microseconds sample_interval{10000};
  bool verify = true;  // verify mode (workloads/verify.h); --no-verify for pure speed
};

// Parses the arguments after "run". Throws UsageError or ParamError naming the bad flag.
RunRequest parse_run_args(const std::vector<std::string>& args);

// Runs the workload and returns its record (allocator from LD_PRELOAD, or glibc).
Json run_in_process(const RunRequest& request);

// The subcommand: returns the exit status.
int run_command(const std::vector<std::string>& args);

}  // namespace allocbench
