// Heaps: the per-processor heaps threads allocate from, and the one global heap that holds what
// they give back. Both are this type; the global heap is the one with is_global set.
//
// A heap files its superblocks by size class and fullness group: group g < kGroups holds those
// with g/kGroups <= used/capacity < (g+1)/kGroups, group kGroups the full ones. Allocation takes
// from the fullest non-full superblock, which lets the emptier ones drain.
//
// Hoard's emptiness invariant, for each per-processor heap with u = in_use and a = held:
//     u >= (1 - f) a   or   a - u <= K S.
// When a free breaks it, superblocks at least f empty move to the global heap until it holds
// again. This bounds what a heap can hold that its threads do not use, and so blowup.
//
// Lock order: a per-processor heap's lock before the global heap's; never the other way.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "lock.h"
#include "superblock.h"

namespace halloc {

// Superblocks to hand back to the OS once every lock is released (linked through `next`).
struct ReleaseList {
  Superblock* head = nullptr;
  void Add(Superblock* sb) {
    sb->next = head;
    head = sb;
  }
  void ReleaseAll();
};

struct alignas(kCacheLine) Heap {
  static constexpr std::uint32_t kGroups = 4;
  static constexpr std::uint32_t kFull = kGroups;
  // The most bytes of blocks an inbox holds (see Post).
  static constexpr std::size_t kInboxLimit = kSuperblockSize;

  // Blocks that threads bound elsewhere freed, waiting to come back (linked through `next`;
  // still counted in use): such a thread hands over a batch with one atomic push instead of
  // taking this heap's lock, which the heap's own thread holds for most of its slow path. The
  // heap's thread takes them back when it next refills (Drain). On its own cache line: other
  // threads write it.
  alignas(kCacheLine) std::atomic<FreeBlock*> inbox{nullptr};
  std::atomic<std::size_t> inbox_bytes{0};

  alignas(kCacheLine) Mutex lock;
  bool abandoned = false;  // set in a forked child when the heap was locked at the fork
  bool is_global = false;
  std::uint32_t index = 0;
  std::atomic<std::uint32_t> threads{0};  // threads bound to it (see thread_binding.h)

  // Protected by `lock`.
  std::size_t in_use = 0;          // u: bytes in blocks handed out
  std::size_t held = 0;            // a: bytes in blocks of the superblocks it owns
  std::size_t superblocks = 0;     // in units of S: a superblock of a large class counts 2, 4 or 8
  std::size_t empty_granules = 0;  // the empty ones among them, in units of S
  Superblock* empties = nullptr;   // global heap only: empty superblocks of no class
  std::size_t empty_count = 0;     // in units of S too
  Superblock* lists[SizeClassTable::kMaxClasses][kGroups + 1] = {};

  static std::uint32_t GroupOf(const Superblock* sb) {
    return sb->full() ? kFull : sb->used * kGroups / sb->capacity;
  }
  static bool MostlyEmpty(const Superblock* sb) {
    return static_cast<std::size_t>(sb->capacity - sb->used) * kPolicy.empty_den >=
           std::size_t{kPolicy.empty_num} * sb->capacity;
  }
  bool InvariantHolds() const {
    return in_use * kPolicy.empty_den >= held * (kPolicy.empty_den - kPolicy.empty_num) ||
           held - in_use <= kPolicy.slack * kSuperblockSize;
  }

  // Up to n blocks of class c from one superblock into out[] (at least one unless the OS
  // refuses memory; see Superblock::PopInto); returns how many. Lock held.
  std::uint32_t Alloc(std::uint32_t c, HeldBlock* out, std::uint32_t n, ReleaseList& release);
  // Returns n blocks of sb (which this heap owns) to sb. Lock held; the emptiness invariant
  // may be broken until UnlockAfterFrees, so that many frees under one lock check it once.
  void Free(Superblock* sb, void* const* blocks, std::uint32_t n, ReleaseList& release);
  // Returns the blocks of sb among the first of run[0, n) to sb (Superblock::PushRun), and
  // how many. Lock held; as Free.
  std::uint32_t FreeRun(Superblock* sb, const HeldBlock* run, std::uint32_t n,
                        ReleaseList& release);
  // Restores the invariant after Free and FreeRun, and unlocks.
  void UnlockAfterFrees(ReleaseList& release);
  // Its last thread left: gives every superblock at least f empty to the global heap, where
  // any thread can use it, and keeps the fuller ones for the next thread that binds here
  // (which, as in larson, often inherits and frees their blocks). Lock held.
  void Trim(ReleaseList& release);
  // malloc_trim: hands every empty superblock this heap holds to `release` but `keep` of the
  // global heap's reserve; returns how many, in units of S. Lock held.
  std::size_t ReleaseEmpty(std::size_t keep, ReleaseList& release);

  // Hands over the chain first..last (`bytes` in all) without the lock. False, taking nothing,
  // when no thread is bound here to take it back, or the inbox already holds kInboxLimit bytes:
  // the caller then returns the blocks under the lock.
  bool Post(FreeBlock* first, FreeBlock* last, std::size_t bytes);
  // Returns every block in the inbox to its superblock. Hold no heap lock.
  void Drain();

  // Filing, with the counters kept in step. Lock held.
  void Adopt(Superblock* sb);
  void Disown(Superblock* sb);

 private:
  void Link(Superblock* sb);
  void Unlink(Superblock* sb);
  void Refile(Superblock* sb);
  Superblock* NonFull(std::uint32_t c, ReleaseList& release);
  void Released(Superblock* sb, ReleaseList& release);
  Superblock* Acquire(std::uint32_t c, ReleaseList& release);
  Superblock* FindMostlyEmpty(const Superblock* keep);
  void Rebalance(const Superblock* keep, ReleaseList& release);
  void GiveToGlobal(Superblock* sb, ReleaseList& release);
  // Global heap only: a superblock for class c (partly used, or an empty one reformatted).
  Superblock* TakeForClass(std::uint32_t c);
  void StoreEmpty(Superblock* sb, ReleaseList& release);
};

// Empty superblocks handed back to the OS so far.
std::size_t ReleasedSuperblocks();
// Empty superblocks the global heap keeps before handing more to the OS: the policy's
// empty_reserve until mallopt(M_TRIM_THRESHOLD) changes it.
std::size_t EmptyReserve();
void SetEmptyReserve(std::size_t superblocks);

// Locks the heap that owns sb and returns it (`owner` can change until we hold its lock), or
// returns nullptr, locking nothing, when the owner was abandoned at a fork.
Heap* LockOwner(Superblock* sb);

// Returns blocks to the heaps that own their superblocks, keeping one owner's lock across
// consecutive returns to that owner, and releases emptied superblocks at the end. Hold no heap
// lock while using one.
class OwnerLocks {
 public:
  OwnerLocks() = default;
  OwnerLocks(const OwnerLocks&) = delete;
  OwnerLocks& operator=(const OwnerLocks&) = delete;
  ~OwnerLocks();

  // Gives back n blocks of sb, each checked live and marked held by free().
  void Return(Superblock* sb, void* const* blocks, std::uint32_t n);
  // Gives back the blocks of sb among the first of run[0, n) (cached blocks;
  // Superblock::PushRun), and returns how many (at least one).
  std::uint32_t ReturnRun(Superblock* sb, const HeldBlock* run, std::uint32_t n);

 private:
  // Locks sb's owner, keeping the lock already held when it is that; false when the owner was
  // abandoned at a fork.
  bool LockOwnerOf(Superblock* sb) {
    if (locked_ == nullptr || sb->owner.load(std::memory_order_relaxed) != locked_) {
      if (locked_) locked_->UnlockAfterFrees(release_);
      locked_ = LockOwner(sb);
    }
    return locked_ != nullptr;
  }

  Heap* locked_ = nullptr;
  ReleaseList release_;
};

// Returns a chain of freed blocks (each marked held, FreeBlock::superblock set) to their
// superblocks' owners, and their bytes. Hold no heap lock.
std::size_t ReturnChain(FreeBlock* b);

Heap* NewHeap(std::uint32_t index, bool is_global);
Heap* GlobalHeap();
void SetGlobalHeap(Heap* h);

}  // namespace halloc
