#include "thread_cache.h"

#include <algorithm>
#include <cstring>

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

namespace {

// Returns blocks[0, n) (freed, marked held) to their owners: each run of one superblock's
// blocks in one step.
void ReturnBlocks(void* const* blocks, std::uint32_t n) {
  OwnerLocks owners;
  for (std::uint32_t i = 0, end; i < n; i = end) {
    Superblock* sb = SuperblockOf(blocks[i]);
    // Blocks of one granule share a superblock: the page map is read once a granule.
    std::uintptr_t granule = Superblock::GranuleOf(blocks[i]);
    for (end = i + 1; end < n; ++end) {
      std::uintptr_t g = Superblock::GranuleOf(blocks[end]);
      if (g != granule) {
        if (SuperblockOf(blocks[end]) != sb) break;
        granule = g;
      }
    }
    owners.Return(sb, blocks + i, end - i);
  }
}

}  // namespace

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
  // First post each run of one owner's blocks to that owner; the runs it refuses move to the
  // front of `remote` and go back under the owners' locks afterwards (Drain must not run while
  // this thread holds a lock).
  std::uint32_t refused = 0;
  for (std::uint32_t i = 0, end; i < remote_count; i = end) {
    // Chain the run of blocks whose superblocks one heap owns and post it to that heap.
    auto* first = static_cast<FreeBlock*>(remote[i]);
    Superblock* sb = first->superblock;
    // Acquire: Post reads the owner's fields (superblock.h).
    Heap* owner = sb->owner.load(std::memory_order_acquire);
    FreeBlock* last = first;
    std::size_t bytes = sb->block_size;
    for (end = i + 1; end < remote_count; ++end) {
      auto* b = static_cast<FreeBlock*>(remote[end]);
      sb = b->superblock;
      if (sb->owner.load(std::memory_order_relaxed) != owner) break;
      last->next = b;
      last = b;
      bytes += sb->block_size;
    }
    last->next = nullptr;
    // Blocks whose superblock came back to this thread's own heap meanwhile are not posted
    // to itself: they go straight back below.
    if (owner != heap && owner->Post(first, last, bytes)) {
      // Its last thread may have left between the check in Post and the push, after taking
      // back what was there: then nobody else will (the two sides order by seq_cst).
      if (owner->threads.load(std::memory_order_seq_cst) == 0) owner->Drain();
      continue;
    }
    for (std::uint32_t k = i; k < end; ++k) remote[refused++] = remote[k];
  }
  ReturnBlocks(remote, refused);
  remote_count = 0;
}

void ThreadCache::FlushAll() {
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) Flush(c, Count(c));
  FlushRemote();
}

}  // namespace halloc
