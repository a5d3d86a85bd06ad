// Per-thread caches of free blocks (halloc only: kPolicy.cache_bytes > 0). A thread keeps up to
// cache_bytes per size class of free blocks from superblocks its own heap owns, and serves
// malloc and free from them with no lock and no atomic read-modify-write.
//
// Cached blocks (a list of freed ones, and a range never handed out) count as in use for their
// heap (u), so Hoard's invariant and its bound still hold with U raised by at most
// kCacheLimits.bound_bytes (plus kRemoteBatch blocks waiting to go back to other heaps) per
// thread. Blocks freed by another thread never enter this cache
// (they go back to the owner heap), which keeps passive false sharing out, and a block's
// superblock never changes while the block is cached and still in use.
#pragma once

#include <array>
#include <cstdint>

#include "heap.h"
#include "page_map.h"
#include "superblock.h"

namespace halloc {

inline constexpr bool kThreadCache = kPolicy.cache_bytes > 0;

struct CacheLimits {
  std::array<std::uint16_t, SizeClassTable::kMaxClasses> blocks = {};
  std::size_t bound_bytes = 0;  // the most one thread can hold cached, over all classes
};

constexpr CacheLimits BuildCacheLimits() {
  CacheLimits l;
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
    std::size_t n = kPolicy.cache_bytes / kSizeClasses.block_size[c];
    if (kPolicy.cache_bytes > 0 && n < kPolicy.cache_min_blocks) n = kPolicy.cache_min_blocks;
    l.blocks[c] = static_cast<std::uint16_t>(n < 256 ? n : 256);
    // A full list, and what is left of the range the last refill took (half the limit).
    l.bound_bytes +=
        (std::size_t{l.blocks[c]} + (l.blocks[c] + 1) / 2) * kSizeClasses.block_size[c];
  }
  return l;
}
inline constexpr CacheLimits kCacheLimits = BuildCacheLimits();

// Blocks this thread freed that belong to other heaps wait here and go back to their owners
// in batches: each run of one owner's blocks is posted to that heap's inbox with one atomic
// push (or, when the inbox is full, returned under the owner's lock). They never serve this
// thread's mallocs.
inline constexpr std::uint32_t kRemoteBatch = 64;

struct ThreadCache {
  FreeBlock* head[SizeClassTable::kMaxClasses];
  // How many more blocks each class's list takes before it is full: Push counts down to 0.
  std::array<std::uint16_t, SizeClassTable::kMaxClasses> room = kCacheLimits.blocks;
  // Blocks of one superblock never handed out yet, [carve, carve_end): a refill takes them as
  // a range rather than a chain, so no block is written before the program asks for it.
  char* carve[SizeClassTable::kMaxClasses];
  char* carve_end[SizeClassTable::kMaxClasses];
  void* remote[kRemoteBatch];
  std::uint32_t remote_count;

  void* Pop(std::uint32_t c) {
    FreeBlock* b = head[c];
    if (b) {
      head[c] = b->next;
      ++room[c];
    }
    return b;
  }
  void Push(std::uint32_t c, void* p) {
    auto* b = static_cast<FreeBlock*>(p);
    b->next = head[c];
    head[c] = b;
    --room[c];
  }
  bool Full(std::uint32_t c) const { return room[c] == 0; }
  std::uint32_t Count(std::uint32_t c) const { return kCacheLimits.blocks[c] - room[c]; }
  // The next never-used block of class c's range, or nullptr.
  void* TakeCarved(std::uint32_t c) {
    char* p = carve[c];
    if (p == carve_end[c]) return nullptr;
    carve[c] = p + kSizeClasses.block_size[c];
    return p;
  }

  void PushRemote(void* p) {
    remote[remote_count++] = p;
    if (remote_count == kRemoteBatch) FlushRemote();
  }

  // Refills class c from `heap` (locked by the caller) up to half its limit: free blocks as a
  // chain, never-used ones as the carve range. Call with the list and the range empty.
  void Refill(Heap* heap, std::uint32_t c, ReleaseList& release);
  // Returns up to n blocks of class c to their superblocks' owners.
  void Flush(std::uint32_t c, std::uint32_t n);
  // Returns class c's carve range to its superblock.
  void FlushCarved(std::uint32_t c);
  // Returns the remote blocks to their owners.
  void FlushRemote();
  void FlushAll();
};

extern constinit thread_local ThreadCache tls_cache [[gnu::tls_model("initial-exec")]];

}  // namespace halloc
