// What the two false-sharing workloads (cache-scratch, cache-thrash) share: their parameters
// and their inner loop, which allocates a small object, writes it many times and frees it.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "workloads/thread_stats.h"
#include "workloads/workload.h"

namespace allocbench {

// Writes every byte of an object `times` times through a volatile pointer, so the stores
// reach the cache line (what the false-sharing workloads measure) and are not optimised away.
inline void write_object(void* object, size_t size, uint64_t times) {
  volatile char* bytes = static_cast<volatile char*>(object);
  for (uint64_t round = 0; round < times; ++round) {
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(bytes[i] + 1);
  }
}

// `rounds` times: allocate a `size`-byte object, write it `writes` times, free it.
inline void churn_written_objects(ThreadStats& stats, uint64_t rounds, size_t size,
                                  uint64_t writes) {
  for (uint64_t round = 0; round < rounds; ++round) {
    void* object = std::malloc(size);
    stats.on_alloc(size);
    write_object(object, size, writes);
    std::free(object);
    stats.on_free(size);
  }
}

inline std::vector<ParamSpec> false_sharing_params() {
  return {
      {"iterations", 1000, 1, 1e12, true,
       "allocate-write-free rounds in total, split across threads (Hoard suite: 1000)"},
      {"size", 8, 1, 1 << 20, true, "object size in bytes (paper: 8-byte objects)"},
      {"writes", 50000, 1, 1e12, true,
       "times each object is written in full (our choice, for sub-second runs)"},
  };
}

}  // namespace allocbench
