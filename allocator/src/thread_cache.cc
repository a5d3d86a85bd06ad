#include "thread_cache.h"

#include <cstring>

#include "report.h"

namespace halloc {

constinit thread_local ThreadCache tls_cache [[gnu::tls_model("initial-exec")]] = {};

namespace {

// Returns blocks to the heaps that own their superblocks, keeping one owner's lock across
// consecutive superblocks of that owner, and releases emptied superblocks at the end.
class OwnerLocks {
 public:
  ~OwnerLocks() {
    if (locked_) locked_->lock.Unlock();
    release_.ReleaseAll();
  }

  // Gives back first..last (n blocks, all of sb). free() checked only the block boundary; a
  // block that was never carved is caught here.
  void Return(Superblock* sb, FreeBlock* first, FreeBlock* last, std::uint32_t n) {
    if (locked_ == nullptr || sb->owner.load(std::memory_order_relaxed) != locked_) {
      if (locked_) locked_->lock.Unlock();
      locked_ = LockOwner(sb);
      if (locked_ == nullptr) return;  // abandoned at fork: leak
    }
    for (FreeBlock* b = first;; b = b->next) {
      if (!sb->IsCarved(b)) InvalidPointer("free", b);
      if (b == last) break;
    }
    locked_->FreeChain(sb, first, last, n, release_);
  }

 private:
  Heap* locked_ = nullptr;
  ReleaseList release_;
};

}  // namespace

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
    owners.Return(sb, first, last, run);
  }
}

void ThreadCache::FlushRemote() {
  OwnerLocks owners;
  for (std::uint32_t i = 0; i < remote_count; ++i) {
    auto* b = static_cast<FreeBlock*>(remote[i]);
    owners.Return(Superblock::Of(b), b, b, 1);
  }
  remote_count = 0;
}

void ThreadCache::FlushAll() {
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) Flush(c, -1);
  FlushRemote();
}

}  // namespace halloc
