#include "thread_cache.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "lock.h"
#include "os.h"
#include "page_map.h"
#include "thread_binding.h"

namespace halloc {

constinit thread_local ThreadCache tls_cache [[gnu::tls_model("initial-exec")]] = {};

namespace {

// Slots no thread holds, linked through next_free. A thread takes or gives slots only when it
// binds for the first time or exits.
struct SlotPool {
  static constexpr std::size_t kBytes = (sizeof(CacheSlots) + kPageSize - 1) & ~(kPageSize - 1);
  Mutex lock;
  CacheSlots* free = nullptr;
};
constinit SlotPool g_slot_pool;

}  // namespace

CacheSlots* CacheSlots::Take() {
  {
    LockGuard guard(g_slot_pool.lock);
    if (CacheSlots* s = g_slot_pool.free) {
      g_slot_pool.free = s->next_free;
      return s;
    }
  }
  return static_cast<CacheSlots*>(OsMap(SlotPool::kBytes, kPageSize, MapPurpose::kMetadata));
}

void CacheSlots::Give(CacheSlots* s) {
  LockGuard guard(g_slot_pool.lock);
  s->next_free = g_slot_pool.free;
  g_slot_pool.free = s;
}

void CacheSlots::AfterForkInChild() {
  // The list is consistent after every store (Give links a node before publishing it; Take is
  // one store), so only the lock needs resetting.
  if (g_slot_pool.lock.IsLocked()) g_slot_pool.lock.Reset();
}

void ThreadCache::LayOut() {
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
    HeldBlock* first = slots->slot + kCacheLimits.base[c];
    top[c] = base[c] = first;
    free_top[c] = first + CacheHalf(c);
    free_end[c] = first + kCacheLimits.blocks[c];
  }
}

void ThreadCache::Unbind() {
  FlushAll();
  if (slots != nullptr) CacheSlots::Give(std::exchange(slots, nullptr));
  top = base = free_top = free_end = {};
  heap = nullptr;
}

void ThreadCache::Refill(std::uint32_t c, ReleaseList& release) {
  HeldBlock*& t = top[c];
  HeldBlock* const want = base[c] + CacheHalf(c);
  while (t < want) {
    std::uint32_t got = heap->Alloc(c, t, static_cast<std::uint32_t>(want - t), release);
    if (got == 0) return;
    t += got;
  }
}

void ThreadCache::Flush(std::uint32_t c) {
  // Each run of one superblock's blocks goes back in one pass over its state bytes.
  HeldBlock* const first = FreeBase(c);
  HeldBlock* const last = free_top[c];
  {
    OwnerLocks owners;
    for (HeldBlock* b = first; b < last;)
      b += owners.ReturnRun(SuperblockOf(b->block), b, static_cast<std::uint32_t>(last - b));
  }
  free_top[c] = first;
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
  for (std::uint32_t c = 0; slots != nullptr && c < kSizeClasses.count; ++c) {  // laid out
    Flush(c);
    if (Empty(c)) continue;
    Swap(c);  // malloc's blocks go back the same way
    Flush(c);
  }
  FlushRemote();
}

const char* ThreadCache::Violation() const {
  if (slots == nullptr) {  // never bound, or left: all zeros
    for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
      if (top[c] || base[c] || free_top[c] || free_end[c])
        return "a thread cache without slots has stacks";
    }
    return nullptr;
  }
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
    const HeldBlock* const low = slots->slot + kCacheLimits.base[c];
    const HeldBlock* const high = low + CacheHalf(c);
    const bool halves =
        (base[c] == low && FreeBase(c) == high) || (base[c] == high && FreeBase(c) == low);
    if (!halves) return "a thread cache's stacks overlap";
    if (top[c] < base[c] || top[c] > base[c] + CacheHalf(c) || free_top[c] < FreeBase(c) ||
        free_top[c] > free_end[c])
      return "a thread cache's stack top lies outside its stack";
    for (const HeldBlock* b = low; b < low + kCacheLimits.blocks[c]; ++b) {
      if (b >= top[c] && b < base[c] + CacheHalf(c)) continue;  // above malloc's top
      if (b >= free_top[c] && b < free_end[c]) continue;        // above free's top
      const Superblock* sb = SuperblockOf(b->block);
      const std::uint32_t block = sb ? sb->BlockAt(b->block) : kNoBlock;
      if (block == kNoBlock || sb->size_class != c || sb->StateByte(block) != b->state)
        return "a thread cache holds a block that is not of its class, or its state byte is wrong";
      const std::uint8_t state = b->state->load(std::memory_order_relaxed);
      if (state != kCached && state != kCarved)
        return "a thread cache holds a block not marked held";
    }
  }
  return nullptr;
}

}  // namespace halloc
