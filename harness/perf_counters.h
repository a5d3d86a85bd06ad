// Hardware and software counters for a child process, via perf_event_open. Opened on the
// child before it execs (enable_on_exec, inherit for its threads), read after it has exited.
// A counter this machine or its permissions do not allow is kept as null with the reason.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "harness/run_record.h"

namespace allocbench {

class PerfCounters {
 public:
  PerfCounters() = default;
  ~PerfCounters();
  PerfCounters(const PerfCounters&) = delete;
  PerfCounters& operator=(const PerfCounters&) = delete;

  // Opens every counter of the contract on `pid`, which must not have exec'd yet.
  void open(pid_t pid);
  // Writes each counter's value (or null) into `counters` and the reason for every null into
  // `unavailable`, replacing what was there.
  void read_into(Json& counters, Json& unavailable) const;

 private:
  struct Counter {
    std::string name;
    int fd = -1;
    std::string reason;  // why fd is -1
  };
  std::vector<Counter> counters_;
};

}  // namespace allocbench
