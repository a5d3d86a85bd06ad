// Starts a team of threads together and times them from release to the last join, so
// thread creation is outside the measured phase.
#pragma once

#include <barrier>
#include <chrono>
#include <latch>
#include <thread>
#include <vector>

#include "workloads/workload.h"

namespace allocbench {

// Runs body(index) on `threads` threads released at once; returns the seconds until all joined.
template <typename Body>
double run_team(int threads, Body body) {
  std::latch start(1);
  std::vector<std::thread> team;
  team.reserve(static_cast<size_t>(threads));
  for (int index = 0; index < threads; ++index) {
    team.emplace_back([&start, &body, index] {
      start.wait();
      body(index);
    });
  }
  const auto began = std::chrono::steady_clock::now();
  start.count_down();
  for (std::thread& member : team) member.join();
  return seconds_since(began);
}

// Times the middle phase of a team whose threads set up before it and tear down after it: each
// thread calls ready() once set up and done() once its timed work is over (both wait for the
// whole team); seconds() runs from the last ready() to the last done().
class PhaseClock {
 public:
  explicit PhaseClock(int threads)
      : ready_(threads, Stamp{&began_}), done_(threads, Stamp{&ended_}) {}
  void ready() { ready_.arrive_and_wait(); }
  void done() { done_.arrive_and_wait(); }
  double seconds() const { return std::chrono::duration<double>(ended_ - began_).count(); }

 private:
  struct Stamp {
    std::chrono::steady_clock::time_point* at;
    void operator()() noexcept { *at = std::chrono::steady_clock::now(); }
  };
  std::chrono::steady_clock::time_point began_, ended_;
  std::barrier<Stamp> ready_, done_;
};

}  // namespace allocbench
