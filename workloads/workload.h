// The one interface every workload implements, and the registry that lists them.
// A workload is plain data plus a run function: its name, its parameters with defaults (and
// where each default comes from), and the code that drives malloc/free from `threads` threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "workloads/thread_stats.h"

namespace allocbench {

struct ParamSpec {
  std::string name;
  double default_value;
  double min_value;
  double max_value;
  bool integer;
  std::string help;  // meaning, then the source of the default
};

// Resolved parameter values by name, every one of the workload's specs present.
class Params {
 public:
  void set(const std::string& name, double value) { values_[name] = value; }
  double get(const std::string& name) const;
  uint64_t get_uint(const std::string& name) const { return static_cast<uint64_t>(get(name)); }
  const std::map<std::string, double>& values() const { return values_; }

 private:
  std::map<std::string, double> values_;
};

struct RunContext {
  int threads;
  const Params& params;
  WorkloadStats& stats;
  // Verify mode (verify.h): stamp every block and check it before freeing it.
  bool verify = false;
};

struct Outcome {
  double seconds;  // wall time of the measured phase
};

struct Workload {
  std::string name;
  std::string summary;
  std::vector<ParamSpec> params;
  size_t slots_per_thread;  // ThreadStats slots the run needs per thread
  Outcome (*run)(const RunContext& context);
  // Checks that relate parameters to each other; returns an error message or "".
  std::string (*check)(const Params& params);
};

// A parameter name or value the workload does not accept; what() names it.
class ParamError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Every workload, in the order reports list them. "noop" (idle, for baseline RSS) is last.
const std::vector<const Workload*>& all_workloads();
// nullptr when there is no such workload.
const Workload* find_workload(std::string_view name);
// The names of the measured workloads (all but noop), comma separated, for messages.
std::string workload_names();

// Defaults overridden by `overrides` (name -> text as the user typed it). Throws ParamError.
Params resolve_params(const Workload& workload,
                      const std::map<std::string, std::string>& overrides);

// Seconds since `start` on the steady clock.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The workloads, one file each.
extern const Workload kThreadtest;
extern const Workload kShbench;
extern const Workload kLarson;
extern const Workload kCacheScratch;
extern const Workload kCacheThrash;
extern const Workload kProdcons;
extern const Workload kBarnesHut;
extern const Workload kSizeMix;
extern const Workload kMassAlloc;
extern const Workload kLargeBuffers;
extern const Workload kNoop;

}  // namespace allocbench
