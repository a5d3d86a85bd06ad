#include "thread_cache.h"

#include "page_map.h"
#include "thread_binding.h"

namespace halloc {

constinit thread_local ThreadCache tls_cache [[gnu::tls_model("initial-exec")]] = {};

void ThreadCache::Refill(Heap* heap, std::uint32_t c, ReleaseList& release) {
  std::uint32_t want = (kCacheLimits.blocks[c] + 1) / 2;
  // Freed blocks from as many superblocks as it takes, until one also gives a range of
  // never-used blocks (the cache keeps one range; the range is the last a superblock gives).
  for (std::uint32_t have = 0; have < want;) {
    FreeBlock *chain, *last;
    std::uint32_t carved = 0;
    std::uint32_t got = heap->AllocChain(c, want - have, chain, last, &carve[c], &carved, release);
    if (got == 0) return;
    if (chain != nullptr) {
      last->next = head[c];
      head[c] = chain;
      room[c] = static_cast<std::uint16_t>(room[c] - (got - carved));
    }
    if (carved > 0) {
      carve_end[c] = carve[c] + std::size_t{carved} * kSizeClasses.block_size[c];
      return;
    }
    have += got;
  }
}

void ThreadCache::Flush(std::uint32_t c, std::uint32_t n) {
  OwnerLocks owners;
  for (std::uint32_t left = n; left != 0 && head[c];) {
    // Consecutive blocks from one superblock go back in one step.
    Run run = Run::Cut(head[c], left);
    head[c] = run.last->next;
    room[c] = static_cast<std::uint16_t>(room[c] + run.n);
    left -= run.n;
    owners.Return(SuperblockOf(run.first), run);
  }
}

void ThreadCache::FlushCarved(std::uint32_t c) {
  if (carve[c] == carve_end[c]) return;
  // Chain the range (its blocks are written only now, as they go back) and return it.
  const std::size_t size = kSizeClasses.block_size[c];
  auto* first = reinterpret_cast<FreeBlock*>(carve[c]);
  FreeBlock* last = first;
  std::uint32_t n = 1;
  for (char* p = carve[c] + size; p != carve_end[c]; p += size, ++n) {
    last->next = reinterpret_cast<FreeBlock*>(p);
    last = last->next;
  }
  last->next = nullptr;
  carve[c] = carve_end[c] = nullptr;
  OwnerLocks owners;
  owners.Return(SuperblockOf(first), Run{first, last, n});
}

void ThreadCache::FlushRemote() {
  // First post each run of one owner's blocks to that owner; the runs it refuses move to the
  // front of `remote` and go back under the owners' locks afterwards (Drain must not run while
  // this thread holds a lock).
  std::uint32_t refused = 0;
  for (std::uint32_t i = 0, end; i < remote_count; i = end) {
    // Chain the run of blocks whose superblocks one heap owns and post it to that heap.
    auto* first = static_cast<FreeBlock*>(remote[i]);
    Superblock* sb = SuperblockOf(first);
    // Acquire: Post reads the owner's fields (superblock.h).
    Heap* owner = sb->owner.load(std::memory_order_acquire);
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
    // Blocks whose superblock came back to this thread's own heap meanwhile are not posted
    // to itself: they go straight back below.
    if (owner != tls_heap && owner->Post(first, last, bytes)) {
      // Its last thread may have left between the check in Post and the push, after taking
      // back what was there: then nobody else will (the two sides order by seq_cst).
      if (owner->threads.load(std::memory_order_seq_cst) == 0) owner->Drain();
      continue;
    }
    for (std::uint32_t k = i; k < end; ++k) remote[refused++] = remote[k];
  }
  OwnerLocks owners;
  for (std::uint32_t k = 0; k < refused; ++k) {
    auto* b = static_cast<FreeBlock*>(remote[k]);
    owners.Return(SuperblockOf(b), Run::Of(b));
  }
  remote_count = 0;
}

void ThreadCache::FlushAll() {
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
    Flush(c, UINT32_MAX);
    FlushCarved(c);
  }
  FlushRemote();
}

}  // namespace halloc
