// Per-thread caches of free blocks (halloc only: kPolicy.cache_bytes > 0). A thread keeps up to
// cache_bytes per size class (and at least cache_min_blocks) of free blocks from superblocks its
// own heap owns, and serves malloc and free from them with no lock and no atomic
// read-modify-write. Each class's cache is two stacks of pointers in the thread's own memory, so
// neither malloc nor free reads or writes the block itself.
//
// malloc pops from one stack and free pushes onto the other, and the two trade places when
// malloc's runs empty or free's fills (free-list sharding, as in mimalloc). With one stack,
// each malloc's load of the top waits for the last free's store to it, whose address needs two
// loads (the page map's entry, then the superblock's class): a chain of dependent loads
// through every malloc-free pair. With two, a malloc depends only on the malloc before it.
//
// Cached blocks count as in use for their heap (u), so Hoard's invariant and its bound still
// hold with U raised by at most kCacheLimits.bound_bytes (plus kRemoteBatch blocks waiting to go
// back to other heaps) per thread. Blocks freed by another thread never enter this cache (they
// go back to the owner heap), which keeps passive false sharing out, and a block's superblock
// never changes while the block is cached and still in use.
#pragma once

#include <array>
#include <cstdint>

#include "heap.h"
#include "page_map.h"
#include "superblock.h"

namespace halloc {

inline constexpr bool kThreadCache = kPolicy.cache_bytes > 0;

struct CacheLimits {
  std::array<std::uint16_t, SizeClassTable::kMaxClasses> blocks = {};  // each class's stack
  std::array<std::uint16_t, SizeClassTable::kMaxClasses> base = {};    // its first slot
  std::size_t slots = 0;                                               // all stacks together
  std::size_t bound_bytes = 0;  // the most one thread can hold cached, over all classes
};

constexpr CacheLimits BuildCacheLimits() {
  CacheLimits l;
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
    std::size_t n = kPolicy.cache_bytes / kSizeClasses.block_size[c];
    if (kPolicy.cache_bytes > 0 && n < kPolicy.cache_min_blocks) n = kPolicy.cache_min_blocks;
    // 512 at most: the smallest classes' refills and flushes carry 256 blocks, which took
    // shbench's time down by a tenth against 128 (their bytes stay within cache_bytes).
    n = n < 512 ? n : 512;
    // Twice that, up to 64, for the classes that cache fewer: the two stacks trade places every
    // `half` mallocs, and with stacks of a few blocks, trading every few calls cost larson and
    // size-mix a tenth of their time.
    if (n < 64) n = 2 * n < 64 ? 2 * n : 64;
    l.blocks[c] = static_cast<std::uint16_t>(n + n % 2);  // two stacks of half each
    l.base[c] = static_cast<std::uint16_t>(l.slots);
    l.slots += l.blocks[c];
    l.bound_bytes += std::size_t{l.blocks[c]} * kSizeClasses.block_size[c];
  }
  return l;
}
inline constexpr CacheLimits kCacheLimits = BuildCacheLimits();
// The room in each of class c's two stacks.
constexpr std::uint16_t CacheHalf(std::uint32_t c) {
  return kCacheLimits.blocks[c] / 2;
}

// Blocks this thread freed that belong to other heaps wait here and go back to their owners
// in batches: each run of one owner's blocks is posted to that heap's inbox with one atomic
// push (or, when the inbox is full, returned under the owner's lock). They never serve this
// thread's mallocs. They wait chained by class, so a posted run holds blocks of few
// superblocks in a row and the owner takes each superblock's back in one step.
inline constexpr std::uint32_t kRemoteBatch = 64;

static_assert(SizeClassTable::kMaxClasses <= 64, "remote_classes has a bit a class");

// A thread's slots: class c's two stacks share its kCacheLimits.blocks[c] slots from
// slot[kCacheLimits.base[c]] on. They are not in static TLS: glibc clears every new thread's
// static TLS, which touched all of them (55 KB) in every thread however few classes it used,
// 61 KiB of RSS a thread against 12 to 16 for the peers. Mapped instead, a thread touches the
// pages of the classes it uses, and an exiting thread hands its slots to the next through a
// pool.
struct CacheSlots {
  HeldBlock slot[kCacheLimits.slots > 0 ? kCacheLimits.slots : 1];
  CacheSlots* next_free;  // in the pool (after the slots, which stay 16-aligned)

  // A thread's slots, from the pool or the OS (nullptr when it refuses), and back.
  static CacheSlots* Take();
  static void Give(CacheSlots* s);
  // In a forked child: the pool's lock, if another thread held it at the fork, is reset.
  static void AfterForkInChild();
};

// The thread's heap binding (thread_binding.h) and its caches. Each block in a stack has the
// address of its state byte beside it, so malloc marks a block live without finding its
// superblock. The binding is here, beside the stacks, so free() reads both from one base.
//
// All zeros (but the leaf hint, which names no leaf) until the thread binds (Bind): every stack
// then reads empty and full at once, so malloc and free take their slow paths, which bind (or,
// with no slots, bypass the cache).
struct ThreadCache {
  Heap* heap = nullptr;
  PageMap::LeafHint leaf_hint;  // free()'s way into the page map, beside the binding
  CacheSlots* slots = nullptr;  // nullptr: the stacks are all zeros
  // Class c's two stacks, one half of its slots each: malloc pops [base[c], top[c]), room up
  // to base[c] + half; free pushes onto [free_end[c] - half, free_top[c]), room up to
  // free_end[c]. An array a field, so malloc and free index each with the class.
  using PerClass = std::array<HeldBlock*, kSizeClasses.count>;
  PerClass top = {}, base = {};           // malloc's
  PerClass free_top = {}, free_end = {};  // free's
  // Each class's waiting blocks, linked through FreeBlock::next.
  std::array<FreeBlock*, SizeClassTable::kMaxClasses> remote = {};
  std::uint64_t remote_classes = 0;  // a bit a class whose chain is not empty
  std::uint32_t remote_count = 0;

  // The thread uses heap h from now on; on its first binding it takes slots and lays out its
  // stacks, which keep their blocks across later bindings.
  void Bind(Heap* h) {
    if (kThreadCache && h != nullptr && slots == nullptr && (slots = CacheSlots::Take())) LayOut();
    heap = h;
  }
  // The thread leaves: its blocks go back to their superblocks and its slots to the pool.
  void Unbind();

  HeldBlock* FreeBase(std::uint32_t c) const { return free_end[c] - CacheHalf(c); }
  std::size_t Count(std::uint32_t c) const {
    return static_cast<std::size_t>(top[c] - base[c]) +
           static_cast<std::size_t>(free_top[c] - FreeBase(c));
  }
  // Whether malloc's stack is empty, or full; whether free's holds a block, or is full. Laid
  // out stacks only, but for Empty and Full.
  bool Empty(std::uint32_t c) const { return top[c] == base[c]; }
  bool MallocFull(std::uint32_t c) const { return top[c] == base[c] + CacheHalf(c); }
  bool HasFreed(std::uint32_t c) const { return free_top[c] != FreeBase(c); }
  bool Full(std::uint32_t c) const { return free_top[c] == free_end[c]; }
  // The stacks trade places: free's blocks serve malloc, and malloc's leftovers (if any) lie
  // at the bottom of free's.
  void Swap(std::uint32_t c) {
    HeldBlock* const old_base = base[c];
    HeldBlock* const old_top = top[c];
    base[c] = FreeBase(c);
    top[c] = free_top[c];
    free_end[c] = old_base + CacheHalf(c);
    free_top[c] = old_top;
  }
  // The newest block of malloc's stack of class c, which must have one, marked live.
  void* Pop(std::uint32_t c) {
    HeldBlock* t = top[c] - 1;
    top[c] = t;
    t->state->store(kLive, std::memory_order_relaxed);
    return t->block;
  }
  // p, whose state byte is `state`, goes on free's stack of class c, which must not be full.
  void Push(std::uint32_t c, void* p, std::atomic<std::uint8_t>* state) {
    HeldBlock* t = free_top[c];
    *t = {p, state};
    free_top[c] = t + 1;
  }

  // p, a block of sb, waits to go back to sb's owner.
  void PushRemote(void* p, Superblock* sb) {
    auto* b = static_cast<FreeBlock*>(p);
    const std::uint32_t c = sb->size_class;
    b->superblock = sb;
    b->next = remote[c];
    remote[c] = b;
    remote_classes |= std::uint64_t{1} << c;
    if (++remote_count == kRemoteBatch) FlushRemote();
  }

  // Refills malloc's empty stack of class c from the thread's heap (locked by the caller).
  void Refill(std::uint32_t c, ReleaseList& release);
  // Returns every block of free's stack of class c to its superblock's owner.
  void Flush(std::uint32_t c);
  // Returns the remote blocks to their owners.
  void FlushRemote();
  void FlushAll();

  // What is wrong with the stacks' layout or a cached block's state (halloc_check), or nullptr.
  const char* Violation() const;

 private:
  // Empty stacks in the slots.
  void LayOut();
};

extern constinit thread_local ThreadCache tls_cache [[gnu::tls_model("initial-exec")]];

}  // namespace halloc
