#include "thread_cache.h"

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

void ThreadCache::Flush(std::uint32_t c, std::uint32_t n) {
  OwnerLocks owners;
  for (std::uint32_t left = n; left != 0 && head[c];) {
    // Consecutive blocks from one superblock go back in one step.
    Run run = Run::Cut(head[c], left);
    head[c] = run.last->next;
    count[c] = static_cast<std::uint16_t>(count[c] - run.n);
    left -= run.n;
    owners.Return(SuperblockOf(run.first), run);
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
      owners.Return(SuperblockOf(b), Run::Of(b));
    }
  }
  remote_count = 0;
}

void ThreadCache::FlushAll() {
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) Flush(c, UINT32_MAX);
  FlushRemote();
}

}  // namespace halloc
