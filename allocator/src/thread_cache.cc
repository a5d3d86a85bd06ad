#include "thread_cache.h"

#include <cstring>

#include "page_map.h"

namespace halloc {

constinit thread_local ThreadCache tls_cache [[gnu::tls_model("initial-exec")]] = {};

void ThreadCache::Refill(Heap* heap, std::uint32_t c, ReleaseList& release) {
  std::uint32_t want = (kCacheLimits.blocks[c] + 1) / 2;
  while (count[c] < want) {
    FreeBlock *chain, *last;
    std::uint32_t got = heap->AllocChain(c, want - count[c], chain, last, release);
    if (got == 0) return;
    last->next = head[c];
    head[c] = chain;
    count[c] = static_cast<std::uint16_t>(count[c] + got);
  }
}

void ThreadCache::Flush(std::uint32_t c, int n) {
  OwnerLocks owners;
  while (n != 0 && head[c]) {
    // Cut the run of consecutive blocks from one superblock: they go back in one step.
    FreeBlock* first = head[c];
    const std::uintptr_t granule = Superblock::GranuleOf(first);
    FreeBlock* last = first;
    std::uint32_t run = 1;
    --n;
    for (FreeBlock* next; n != 0 && (next = last->next) && Superblock::GranuleOf(next) == granule;
         --n, ++run)
      last = next;
    Superblock* sb = SuperblockOf(first);
    head[c] = last->next;
    count[c] = static_cast<std::uint16_t>(count[c] - run);
    owners.Return(sb, first, last, run);
  }
}

void ThreadCache::FlushRemote() {
  OwnerLocks owners;
  for (std::uint32_t i = 0, end; i < remote_count; i = end) {
    // Chain the run of blocks whose superblocks one heap owns and post it to that heap.
    auto* first = static_cast<FreeBlock*>(remote[i]);
    Superblock* sb = SuperblockOf(first);
    Heap* owner = sb->owner.load(std::memory_order_relaxed);
    FreeBlock* last = first;
    std::size_t bytes = sb->block_size;
    for (end = i + 1; end < remote_count; ++end) {
      auto* b = static_cast<FreeBlock*>(remote[end]);
      sb = SuperblockOf(b);
      if (sb->owner.load(std::memory_order_relaxed) != owner) break;
      last->next = b;
      last = b;
      bytes += sb->block_size;
    }
    last->next = nullptr;
    if (owner->Post(first, last, bytes)) continue;
    for (std::uint32_t k = i; k < end; ++k) {
      auto* b = static_cast<FreeBlock*>(remote[k]);
      owners.Return(SuperblockOf(b), b, b, 1);
    }
  }
  remote_count = 0;
}

void ThreadCache::FlushAll() {
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) Flush(c, -1);
  FlushRemote();
}

}  // namespace halloc
