#include "thread_cache.h"

#include <cstring>

#include "report.h"

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
  ReleaseList release;
  Heap* locked = nullptr;
  while (n != 0 && head[c]) {
    // Cut the run of consecutive blocks from one superblock: they go back in one step.
    FreeBlock* first = head[c];
    Superblock* sb = Superblock::Of(first);
    FreeBlock* last = first;
    std::uint32_t run = 1;
    --n;
    while (n != 0 && last->next && Superblock::Of(last->next) == sb) {
      last = last->next;
      ++run;
      --n;
    }
    head[c] = last->next;
    count[c] = static_cast<std::uint16_t>(count[c] - run);
    // Consecutive runs usually share an owner: keep its lock across them.
    if (locked == nullptr || sb->owner.load(std::memory_order_relaxed) != locked) {
      if (locked) locked->lock.Unlock();
      locked = LockOwner(sb);
      if (locked == nullptr) continue;  // abandoned at fork: leak
    }
    for (FreeBlock* b = first;; b = b->next) {
      // free() checked only the block boundary; a block never carved is caught here.
      if (!sb->IsCarved(b)) InvalidPointer("free", b);
      if (b == last) break;
    }
    locked->FreeChain(sb, first, last, run, release);
  }
  if (locked) locked->lock.Unlock();
  release.ReleaseAll();
}

void ThreadCache::FlushRemote() {
  ReleaseList release;
  Heap* locked = nullptr;
  for (std::uint32_t i = 0; i < remote_count; ++i) {
    void* p = remote[i];
    Superblock* sb = Superblock::Of(p);
    if (locked == nullptr || sb->owner.load(std::memory_order_relaxed) != locked) {
      if (locked) locked->lock.Unlock();
      locked = LockOwner(sb);
      if (locked == nullptr) continue;  // abandoned at fork: leak
    }
    if (!sb->IsCarved(p)) InvalidPointer("free", p);
    locked->Free(sb, p, release);
  }
  remote_count = 0;
  if (locked) locked->lock.Unlock();
  release.ReleaseAll();
}

void ThreadCache::FlushAll() {
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) Flush(c, -1);
  FlushRemote();
}

}  // namespace halloc
