// A progress bar with an ETA on stderr: redrawn in place on a terminal, a line per tenth of
// the work otherwise (logs of batch jobs stay short).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace allocbench {

class Progress {
 public:
  Progress(size_t total, bool enabled);
  // One more unit done; `label` says which.
  void advance(const std::string& label);
  void finish();

 private:
  size_t total_;
  size_t done_ = 0;
  bool enabled_;
  bool terminal_;
  size_t last_tenth_ = 0;
  std::chrono::steady_clock::time_point began_;
};

}  // namespace allocbench
