// Per-thread caches of free blocks (halloc only: kPolicy.cache_bytes > 0). A thread keeps up to
// cache_bytes per size class of free blocks from superblocks its own heap owns, and serves
// malloc and free from them with no lock and no atomic read-modify-write.
//
// Cached blocks count as in use for their heap (u), so Hoard's invariant and its bound still
// hold with U raised by at most kCacheLimits.bound_bytes (plus kRemoteBatch blocks waiting to
// go back to other heaps) per thread. Blocks freed by another thread never enter this cache
// (they go back to the owner heap), which keeps passive false sharing out, and a block's
// superblock never changes while the block is cached and still in use.
#pragma once

#include <cstdint>

#include "heap.h"
#include "page_map.h"
#include "superblock.h"

namespace halloc {

inline constexpr bool kThreadCache = kPolicy.cache_bytes > 0;

struct CacheLimits {
  std::uint16_t blocks[SizeClassTable::kMaxClasses] = {};
  std::size_t bound_bytes = 0;  // the most one thread can hold cached, over all classes
};

constexpr CacheLimits BuildCacheLimits() {
  CacheLimits l;
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
    std::size_t n = kPolicy.cache_bytes / kSizeClasses.block_size[c];
    l.blocks[c] = static_cast<std::uint16_t>(n < 256 ? n : 256);
    l.bound_bytes += std::size_t{l.blocks[c]} * kSizeClasses.block_size[c];
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
  std::uint16_t count[SizeClassTable::kMaxClasses];
  void* remote[kRemoteBatch];
  std::uint32_t remote_count;
  // The superblock of the granule free() last looked up, so a run of frees into one superblock
  // skips the page map. Used only while last_sb->memory() still is that granule: a descriptor
  // is cleared before its memory goes back to the OS, so it cannot describe a granule that
  // another superblock took since.
  std::uintptr_t last_granule = ~std::uintptr_t{0};
  Superblock* last_sb = &kNoSuperblock;

  // The remembered superblock when it holds `granule`, else nullptr.
  Superblock* Remembered(std::uintptr_t granule) const {
    if (granule != last_granule || reinterpret_cast<std::uintptr_t>(last_sb->memory()) != granule)
        [[unlikely]]
      return nullptr;
    return last_sb;
  }
  void Remember(std::uintptr_t granule, Superblock* sb) {
    last_granule = granule;
    last_sb = sb;
  }

  void* Pop(std::uint32_t c) {
    FreeBlock* b = head[c];
    if (b) {
      head[c] = b->next;
      --count[c];
    }
    return b;
  }
  void Push(std::uint32_t c, void* p) {
    auto* b = static_cast<FreeBlock*>(p);
    b->next = head[c];
    head[c] = b;
    ++count[c];
  }
  bool Full(std::uint32_t c) const { return count[c] >= kCacheLimits.blocks[c]; }

  void PushRemote(void* p) {
    remote[remote_count++] = p;
    if (remote_count == kRemoteBatch) FlushRemote();
  }

  // Refills class c from `heap` (locked by the caller) up to half its limit.
  void Refill(Heap* heap, std::uint32_t c, ReleaseList& release);
  // Returns up to n blocks of class c to their superblocks' owners.
  void Flush(std::uint32_t c, std::uint32_t n);
  // Returns the remote blocks to their owners.
  void FlushRemote();
  void FlushAll();
};

extern constinit thread_local ThreadCache tls_cache [[gnu::tls_model("initial-exec")]];

}  // namespace halloc
