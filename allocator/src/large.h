// Large objects (above S/2, or aligned beyond a cache line): each one is its own mapping from
// the OS, as in the paper; halloc keeps a few freed mappings for reuse (see policy.h). The mapping
// is S-aligned so its granule in the page map is its own; a 64-byte header at the mapping's start
// records what free() and realloc() need.
#pragma once

#include <cstddef>
#include <cstdint>

namespace halloc {

struct LargeHeader {
  void* user;            // the pointer handed out
  std::size_t map_size;  // bytes mapped, from the header on
  std::size_t alignment;
  std::size_t reserved;
  char* base() { return reinterpret_cast<char*>(this); }
  std::size_t usable() {
    return map_size - static_cast<std::size_t>(static_cast<char*>(user) - base());
  }
};

// zero: the caller needs the bytes zeroed (fresh mappings are; reused ones get cleared).
void* LargeAlloc(std::size_t size, std::size_t alignment, bool zero);
void LargeFree(LargeHeader* h);
// Grows or shrinks in place when the mapping allows; returns false otherwise.
bool LargeResizeInPlace(LargeHeader* h, std::size_t size);
std::size_t LargeCount();
// Bytes of freed mappings the cache holds.
std::size_t LargeCachedBytes();

// The cache of freed mappings (kPolicy.large_cache_*): entries count and hold the bytes they
// say, stay within the policy's limits, and none is still in the page map. Returns nullptr when
// all hold, else what does not.
const char* LargeCacheViolation();
// In a forked child: a cache that was locked at the fork is dropped (its mappings leak).
void LargeCacheAfterForkInChild();

}  // namespace halloc
