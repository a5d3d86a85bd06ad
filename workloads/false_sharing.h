// What the two false-sharing workloads (cache-scratch, cache-thrash) share: their parameters
// and their inner loop, which allocates a small object, writes it many times and frees it.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "workloads/thread_stats.h"
#include "workloads/verify.h"
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

// Verify mode for written objects: the whole object is stamped before the writes (each adds 1 to
// every byte), so before the free every byte must be its pattern byte plus `writes`, mod 256.
inline void stamp_written_object(const Verifier& verifier, void* object, size_t size,
                                 uint64_t tag) {
  if (verifier.on) stamp_range(object, 0, size, block_seed(object, tag));
}

inline void check_written_object(const Verifier& verifier, const void* object, size_t size,
                                 uint64_t writes, uint64_t tag) {
  if (!verifier.on) return;
  const uint64_t seed = block_seed(object, tag);
  const unsigned char* bytes = static_cast<const unsigned char*>(object);
  for (size_t i = 0; i < size; ++i) {
    const auto expected = static_cast<uint8_t>(pattern_byte(seed, i) + writes);
    if (bytes[i] != expected) report_corrupt_block(verifier.workload, object, size, i, expected);
  }
}

// `rounds` times: allocate a `size`-byte object, write it `writes` times, free it.
inline void churn_written_objects(ThreadStats& stats, uint64_t rounds, size_t size, uint64_t writes,
                                  const Verifier& verifier, uint64_t tag) {
  for (uint64_t round = 0; round < rounds; ++round) {
    void* object = std::malloc(size);
    stats.on_alloc(size);
    stamp_written_object(verifier, object, size, tag);
    write_object(object, size, writes);
    check_written_object(verifier, object, size, writes, tag);
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
