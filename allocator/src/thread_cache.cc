#include "thread_cache.h"

#include <cstring>

namespace halloc {

constinit thread_local ThreadCache tls_cache [[gnu::tls_model("initial-exec")]] = {};

void ThreadCache::Refill(Heap* heap, std::uint32_t c, ReleaseList& release) {
  for (int n = kCacheLimits.blocks[c] / 2; n > 0 && count[c] < kCacheLimits.blocks[c]; --n) {
    void* p = heap->Alloc(c, release);
    if (p == nullptr) return;
    Push(c, p);
  }
}

void ThreadCache::Flush(std::uint32_t c, int n) {
  ReleaseList release;
  Heap* locked = nullptr;
  for (; n != 0 && head[c]; --n) {
    void* p = Pop(c);
    Superblock* sb = Superblock::Of(p);
    // Consecutive blocks usually share an owner: keep its lock across them.
    if (locked == nullptr || sb->owner.load(std::memory_order_relaxed) != locked) {
      if (locked) locked->lock.Unlock();
      locked = LockOwner(sb);
      if (locked == nullptr) continue;  // abandoned at fork: leak
    }
    locked->Free(sb, p, release);
  }
  if (locked) locked->lock.Unlock();
  release.ReleaseAll();
}

void ThreadCache::FlushAll() {
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) Flush(c, -1);
}

}  // namespace halloc
