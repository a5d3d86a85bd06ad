// halloc_check: walks every heap, superblock, free list and page-map entry and verifies the
// invariants the rest of the code relies on. Each heap is checked under its own lock; nothing
// is formatted (which might allocate) until every lock is released.
#include <cstdio>
#include <cstring>

#include "halloc/halloc.h"
#include "heap.h"
#include "large.h"
#include "page_map.h"
#include "thread_binding.h"
#include "thread_cache.h"

namespace halloc {
namespace {

struct Violation {
  const char* what = nullptr;
  const Heap* heap = nullptr;
  const void* superblock = nullptr;
  std::size_t got = 0, expected = 0;
};

// The state map, which is also the free set: below the bump index every block is live, free
// or held (in a cache, batch or inbox), with exactly bump - used free ones, none below `scan`,
// and at most `used` live ones; from the bump index on, none is live or held.
bool CheckStates(const Superblock* sb, Violation& v) {
  if (sb->states_ == nullptr || StateMapBytes(sb->capacity) <= sb->capacity) {
    v = {"superblock has no state map of its size", nullptr, sb, 0, sb->capacity};
    return false;
  }
  if (sb->State(sb->capacity) != kNeverUsed) {
    v = {"state map marks the index past the last block (free() reads it unchecked)", nullptr, sb,
         sb->capacity, sb->State(sb->capacity)};
    return false;
  }
  std::size_t live = 0, free = 0;
  for (std::uint32_t i = 0; i < sb->capacity; ++i) {
    BlockState s = sb->State(i);
    if (s > kCarved || (i < sb->bump && s == kNeverUsed) ||
        (i >= sb->bump && s != kNeverUsed && s != kFreed)) {
      v = {
          "state map marks a block carved but never used, or not carved but in use (or holds "
          "garbage)",
          nullptr, sb, i, s};
      return false;
    }
    if (i < sb->bump && s == kFreed) {
      if (i < sb->scan) {
        v = {"a free block lies below the scan index", nullptr, sb, i, sb->scan};
        return false;
      }
      ++free;
    }
    live += s == kLive;
  }
  if (live > sb->used) {
    v = {"state map has more live blocks than the superblock handed out", nullptr, sb, live,
         sb->used};
    return false;
  }
  if (free != std::size_t{sb->bump} - sb->used) {
    v = {"free blocks differ from carved minus used blocks", nullptr, sb, free,
         std::size_t{sb->bump} - sb->used};
    return false;
  }
  return true;
}

bool CheckSuperblock(const Heap* h, Superblock* sb, std::uint32_t c, std::uint32_t g,
                     Violation& v) {
  auto fail = [&](const char* what, std::size_t got, std::size_t expected) {
    v = {what, h, sb, got, expected};
    return false;
  };
  if (sb->owner.load(std::memory_order_relaxed) != h)
    return fail("superblock filed in a heap that does not own it", 0, 0);
  if (Superblock::GranuleOf(sb->memory()) != reinterpret_cast<std::uintptr_t>(sb->memory()))
    return fail("superblock does not start a granule", 0, 0);
  for (std::size_t i = 0; i < sb->granules(); ++i) {
    if (SuperblockOf(sb->memory() + i * kSuperblockSize) != sb)
      return fail("page map does not point at the superblock's descriptor", i, sb->granules());
  }
  if (sb->size_class != c) return fail("superblock filed under the wrong class", sb->size_class, c);
  if (sb->block_size != kSizeClasses.block_size[c] || sb->capacity != kSizeClasses.capacity[c])
    return fail("superblock geometry differs from its class", sb->block_size,
                kSizeClasses.block_size[c]);
  if (sb->group != g || Heap::GroupOf(sb) != g)
    return fail("superblock filed under the wrong fullness group", Heap::GroupOf(sb), g);
  if (sb->used > sb->bump || sb->bump > sb->capacity)
    return fail("used <= carved <= capacity does not hold", sb->used, sb->bump);
  if (h->is_global && sb->empty()) return fail("empty superblock in a global class list", 0, 1);
  if (!CheckStates(sb, v)) {
    v.heap = h;
    return false;
  }
  return true;
}

// Blocks other threads posted: blocks of live superblocks, as many bytes as counted, within
// the limit.
bool CheckInbox(const Heap* h, Violation& v) {
  std::size_t bytes = 0;
  for (FreeBlock* b = h->inbox.load(std::memory_order_acquire); b; b = b->next) {
    Superblock* sb = SuperblockOf(b);
    if (sb == nullptr || !sb->IsBlockStart(b) || bytes > Heap::kInboxLimit) {
      v = {"inbox holds a pointer that is not a block (or a cycle)", h, sb, bytes, 0};
      return false;
    }
    if (b->superblock != sb) {
      v = {"inbox block names another superblock than its own", h, sb, bytes, 0};
      return false;
    }
    bytes += sb->block_size;
  }
  std::size_t counted = h->inbox_bytes.load(std::memory_order_relaxed);
  if (bytes != counted || bytes > Heap::kInboxLimit) {
    v = {"inbox bytes differ from the count or exceed the limit", h, nullptr, bytes, counted};
    return false;
  }
  return true;
}

bool CheckHeap(const Heap* h, Violation& v) {
  if (!CheckInbox(h, v)) return false;
  std::size_t in_use = 0, held = 0, count = 0, mostly_empty = 0, empty = 0;
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
    for (std::uint32_t g = 0; g <= Heap::kGroups; ++g) {
      Superblock* prev = nullptr;
      for (Superblock* sb = h->lists[c][g]; sb; prev = sb, sb = sb->next) {
        if (sb->prev != prev || count > h->superblocks) {
          v = {"superblock list is broken (bad prev link or a cycle)", h, sb, count, 0};
          return false;
        }
        if (!CheckSuperblock(h, sb, c, g, v)) return false;
        in_use += sb->in_use_bytes();
        held += sb->held_bytes();
        mostly_empty += Heap::MostlyEmpty(sb);
        count += sb->granules();
        if (sb->empty()) empty += sb->granules();
      }
    }
  }
  if (in_use != h->in_use) {
    v = {"u (in_use) differs from the sum over superblocks", h, nullptr, h->in_use, in_use};
    return false;
  }
  if (held != h->held) {
    v = {"a (held) differs from the sum over superblocks", h, nullptr, h->held, held};
    return false;
  }
  if (count != h->superblocks) {
    v = {"superblock count differs from the lists", h, nullptr, h->superblocks, count};
    return false;
  }
  if (empty != h->empty_granules || (!h->is_global && empty > kPolicy.kept_empty)) {
    v = {"empty superblocks differ from the count or exceed what a heap keeps", h, nullptr, empty,
         h->empty_granules};
    return false;
  }
  std::size_t empties = 0;
  for (Superblock* sb = h->empties; sb; sb = sb->next) {
    if (!h->is_global || !sb->empty() || sb->owner.load(std::memory_order_relaxed) != h ||
        SuperblockOf(sb->memory()) != sb || (empties += sb->granules()) > h->empty_count) {
      v = {"bad entry in the empty-superblock list", h, sb, empties, h->empty_count};
      return false;
    }
    if (!CheckStates(sb, v)) {
      v.heap = h;
      return false;
    }
  }
  if (empties != h->empty_count || empties > EmptyReserve()) {
    v = {"empty superblocks differ from the count or exceed the reserve", h, nullptr, empties,
         h->empty_count};
    return false;
  }
  // Hoard's emptiness invariant. Rebalancing stops early only when no superblock but the one an
  // allocation is using is at least f empty, so at most one such superblock may remain.
  if (kPolicy.use_global_heap && !h->is_global && !h->InvariantHolds() && mostly_empty > 1) {
    v = {"emptiness invariant broken: u < (1-f)a and a - u > KS", h, nullptr, h->in_use, h->held};
    return false;
  }
  return true;
}

bool CheckLocked(Heap* h, Violation& v) {
  LockGuard guard(h->lock);
  return CheckHeap(h, v);
}

}  // namespace
}  // namespace halloc

extern "C" __attribute__((visibility("default"))) int halloc_check(char* buf, size_t len) {
  using namespace halloc;
  EnsureInitialized();
  Violation v;
  bool ok = true;
  for (std::size_t i = 0; ok && i < HeapCount(); ++i) ok = CheckLocked(HeapAt(i), v);
  if (ok) ok = CheckLocked(GlobalHeap(), v);
  if (ok && !g_page_map.IsValid(tls_cache.leaf_hint)) {
    ok = false;
    v = {"the thread's page-map leaf hint names no leaf of the map", nullptr, nullptr, 0, 0};
  }
  if (ok) {
    if (const char* why = kThreadCache ? tls_cache.Violation() : nullptr) {
      ok = false;
      v = {why, nullptr, nullptr, 0, 0};
    }
  }
  if (ok) {
    if (const char* why = LargeCacheViolation()) {
      ok = false;
      v = {why, nullptr, nullptr, 0, 0};
    }
  }
  if (ok) {
    if (buf && len) std::snprintf(buf, len, "ok");
    return 1;
  }
  if (buf && len) {
    if (v.heap == nullptr) {
      std::snprintf(buf, len, "%s", v.what);
    } else {
      std::snprintf(buf, len, "%s: %s %u, superblock %p: got %zu, expected %zu", v.what,
                    v.heap->is_global ? "global heap" : "heap", v.heap->index, v.superblock, v.got,
                    v.expected);
    }
  }
  return 0;
}
