#include "thread_cache.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <utility>

#include "page_map.h"
#include "thread_binding.h"

namespace halloc {

constinit thread_local ThreadCache tls_cache [[gnu::tls_model("initial-exec")]] = {};

void ThreadCache::Refill(std::uint32_t c, ReleaseList& release) {
  std::uint16_t& top = stacks[c].top;
  const std::uint32_t want = stacks[c].base + (kCacheLimits.blocks[c] + 1) / 2;
  while (top < want) {
    std::uint32_t got = heap->Alloc(c, &slots[top], &states[top], want - top, release);
    if (got == 0) return;
    top = static_cast<std::uint16_t>(top + got);
  }
}

void ThreadCache::Flush(std::uint32_t c, std::uint32_t n) {
  // The oldest blocks (the bottom of the stack) go: the newest are the likeliest in the CPU's
  // cache. Each run of one superblock's blocks goes back in one pass over its state bytes.
  const std::uint32_t base = stacks[c].base;
  if (n > Count(c)) n = Count(c);
  {
    OwnerLocks owners;
    for (std::uint32_t i = base; i < base + n;) {
      i += owners.ReturnRun(SuperblockOf(slots[i]), &states[i], base + n - i);
    }
  }
  std::uint32_t left = Count(c) - n;
  std::memmove(&slots[base], &slots[base + n], left * sizeof(slots[0]));
  std::memmove(&states[base], &states[base + n], left * sizeof(states[0]));
  stacks[c].top = static_cast<std::uint16_t>(base + left);
}

void ThreadCache::FlushRemote() {
  std::uint64_t classes = remote_classes;
  remote_classes = 0;
  remote_count = 0;
  for (; classes; classes &= classes - 1) {
    FreeBlock* b = std::exchange(remote[std::countr_zero(classes)], nullptr);
    // Post each run of blocks whose superblocks one heap owns to that heap; a run it refuses,
    // or one of this thread's own heap (its superblock came back here meanwhile), goes back
    // under the owners' locks at once (this thread holds none here, as Drain requires).
    while (b) {
      FreeBlock* first = b;
      FreeBlock* last = b;
      // Acquire: Post reads the owner's fields (superblock.h).
      Heap* owner = b->superblock->owner.load(std::memory_order_acquire);
      std::size_t n = 1;
      for (b = b->next; b && b->superblock->owner.load(std::memory_order_relaxed) == owner;
           b = b->next) {
        last = b;
        ++n;
      }
      last->next = nullptr;
      if (owner != heap && owner->Post(first, last, n * first->superblock->block_size)) {
        // Its last thread may have left between the check in Post and the push, after taking
        // back what was there: then nobody else will (the two sides order by seq_cst).
        if (owner->threads.load(std::memory_order_seq_cst) == 0) owner->Drain();
        continue;
      }
      ReturnChain(first);
    }
  }
}

void ThreadCache::FlushAll() {
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) Flush(c, Count(c));
  FlushRemote();
}

}  // namespace halloc
