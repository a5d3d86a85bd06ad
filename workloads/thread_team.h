// Starts a team of threads together and times them from release to the last join, so
// thread creation is outside the measured phase.
#pragma once

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

}  // namespace allocbench
