// A superblock: S bytes, S-aligned, holding blocks of one size class, and its 64-byte
// descriptor. The descriptors live apart, packed in a metadata arena: a header at the start of
// each superblock would sit at the same address modulo S in every one, so all headers would
// compete for the same few sets of the CPU caches, and free() reads one on every call.
//
// Beside each descriptor lies its block-state map: one byte per block saying whether the block
// is live (handed to the program), free in the superblock, or freed and held elsewhere (a
// thread's cache, a batch, an inbox), so every free, realloc and malloc_usable_size can tell a
// live block from a freed or never-handed-out one exactly. The map is also the superblock's free
// set: blocks never handed out come from a bump index, freed ones are found by scanning the map,
// so halloc never writes into a free block (a program that allocates a million blocks and frees
// them without touching them never has their pages touched). A block's byte is written only by
// the thread that holds the block (handing it out, freeing it, or returning it under the owner's
// lock): bytes, not bits, so two threads never read-modify-write one word, and the fast paths
// need no atomic instruction.
//
// Every field but `owner` and the state map is protected by the owner heap's lock. `owner` changes
// only while both the old and the new owner's locks are held, so a thread that locks the heap it
// read from `owner` and then finds `owner` unchanged holds the right lock. It is stored with
// release, and a thread that uses the heap it names loads it with acquire: the heap may have been
// created by a thread this one never synchronised with (a relaxed load suffices only to compare).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "size_class.h"

namespace halloc {

struct Heap;
struct Superblock;

// A block's state in its superblock's map. Below the bump index: kLive (the program's), kFreed
// (free in the superblock), kCached (freed, held outside it: a cache, a batch, an inbox) or
// kCarved (in a cache, never handed out). From the bump index on: kNeverUsed, or kFreed for
// blocks of before the superblock last emptied.
enum BlockState : std::uint8_t { kNeverUsed = 0, kLive = 1, kFreed = 2, kCached = 3, kCarved = 4 };
// The most blocks a superblock holds (those of the smallest class).
inline constexpr std::size_t kStateBytes = kSuperblockSize / kMinAlign;
static_assert(kStateBytes <= UINT16_MAX && kLargeThreshold <= UINT16_MAX,
              "block counts and indexes are 16-bit");
// A state map's size for `capacity` blocks: a power of two and whole cache lines, so maps of
// superblocks that different threads own never share a line, and more than `capacity` bytes,
// so the byte of index `capacity` (never live) can be read without a bounds check.
constexpr std::size_t StateMapBytes(std::size_t capacity) {
  std::size_t bytes = 64;
  while (bytes <= capacity) bytes *= 2;
  return bytes;
}
// A block index that no block has.
inline constexpr std::uint32_t kNoBlock = ~std::uint32_t{0};

// A freed block on its way back to its owner heap (an inbox), linked through its first word,
// with its superblock in the second, so neither the thread that posts it nor the owner looks it
// up again (a block's superblock cannot change while the block is not free in it).
struct FreeBlock {
  FreeBlock* next;
  Superblock* superblock;
};
static_assert(sizeof(FreeBlock) <= kMinAlign, "every block holds a FreeBlock");

// A block held outside its superblock (a thread cache's slot, a refill's output), with the
// address of its state byte, so its holder marks it live or returns it without finding its
// superblock. The two side by side: one cache line serves both.
struct HeldBlock {
  void* block;
  std::atomic<std::uint8_t>* state;
};

struct alignas(kCacheLine) Superblock {
  std::atomic<Heap*> owner;
  Superblock* prev;  // neighbours in the owner's list for this class and fullness group
  Superblock* next;
  // The memory the blocks live in; nullptr while the descriptor is free. Atomic because free()
  // reads it with no lock (for a pointer that is not live, while another thread may be
  // handing the descriptor to a new superblock).
  std::atomic<char*> memory_;
  // Its state map: StateMapBytes(capacity) bytes, one a block (kept while the descriptor is
  // free, for its next superblock).
  std::atomic<std::uint8_t>* states_;
  std::uint64_t inverse;  // kSizeClasses.inverse and .shift of its class: offset -> block index
  std::uint32_t block_size;
  std::uint16_t used;  // blocks handed out
  std::uint16_t bump;  // blocks [bump, capacity) were never handed out since the last format
  std::uint16_t capacity;
  std::uint16_t scan;  // no block below this index is kFreed
  std::uint8_t size_class;
  std::uint8_t group;  // fullness group it is filed under (see heap.h)
  std::uint8_t shift;

  // The S-aligned granule p lies in: blocks of one superblock share it.
  static std::uintptr_t GranuleOf(const void* p) {
    return reinterpret_cast<std::uintptr_t>(p) & ~(kSuperblockSize - 1);
  }
  char* memory() const { return memory_.load(std::memory_order_relaxed); }

  // Its size in units of S (granules of the page map), from its class.
  std::size_t granules() const { return kSizeClasses.granules[size_class]; }
  bool empty() const { return used == 0; }
  bool full() const { return used == capacity; }
  std::size_t in_use_bytes() const { return std::size_t{used} * block_size; }
  std::size_t held_bytes() const { return std::size_t{capacity} * block_size; }

  // Prepares an empty superblock for blocks of class c, with a state map of the class's size;
  // false when the OS refuses memory for the map.
  bool Format(std::uint32_t c);

  // Hands out up to n blocks (at least one unless it is full) into out[], marked kCached (or
  // kCarved), in the order of a stack whose top is out[got - 1]: free ones on top, lowest
  // address last, then never-used ones. Writes no block.
  std::uint32_t PopInto(HeldBlock* out, std::uint32_t n) {
    const std::uint32_t free = std::min<std::uint32_t>(bump - used, n);  // kFreed below bump
    const std::uint32_t carve = std::min<std::uint32_t>(n - free, capacity - bump);
    const std::uint32_t got = free + carve;
    // Locals: a store to a state byte may alias any member, so the compiler would reload them.
    std::atomic<std::uint8_t>* const map = States();
    char* const base = memory();
    const std::size_t size = block_size;
    // Never-used blocks, highest first.
    char* p = base + std::size_t{bump + carve} * size;
    std::atomic<std::uint8_t>* state = map + bump + carve;
    for (std::uint32_t k = 0; k < carve; ++k) {
      p -= size;
      --state;
      state->store(kCarved, std::memory_order_relaxed);
      out[k] = {p, state};
    }
    bump = static_cast<std::uint16_t>(bump + carve);
    // Free ones, found lowest first, written from the top down.
    state = map + scan;
    p = base + std::size_t{scan} * size;
    for (std::uint32_t k = got; k > carve; ++state, p += size) {
      if (state->load(std::memory_order_relaxed) != kFreed) continue;
      state->store(kCached, std::memory_order_relaxed);
      out[--k] = {p, state};
    }
    // Every free block below `state` was taken; when none is left below bump, none is below
    // bump.
    const auto i = static_cast<std::uint16_t>(state - map);
    scan = std::size_t{bump} - used - got > 0 ? i : bump;
    used = static_cast<std::uint16_t>(used + got);
    return got;
  }

  // One block (the superblock must not be full), and back.
  void* Pop() {
    HeldBlock b{};
    PopInto(&b, 1);
    return b.block;
  }
  void Push(void* p) { PushBlocks(&p, 1); }

  // Takes back n blocks of this superblock (each kCached, or just checked live by free()).
  void PushBlocks(void* const* blocks, std::uint32_t n) {
    std::atomic<std::uint8_t>* const map = States();  // locals, as in PopInto
    const auto base = reinterpret_cast<std::uintptr_t>(memory());
    const std::uint64_t inv = inverse;
    const std::uint8_t sh = shift;
    std::uint32_t low = scan;
    for (std::uint32_t k = 0; k < n; ++k) {
      const auto i = static_cast<std::uint32_t>(
          BlockIndex(reinterpret_cast<std::uintptr_t>(blocks[k]) - base, inv, sh));
      map[i].store(kFreed, std::memory_order_relaxed);
      low = std::min(low, i);
    }
    Pushed(n, low);
  }
  // Takes back the longest prefix of run[0, n) whose blocks are this superblock's (each
  // kCached), and returns how many: a thread cache's blocks come with their state bytes, so a
  // run of one superblock's blocks is found and freed in one pass.
  std::uint32_t PushRun(const HeldBlock* run, std::uint32_t n) {
    const auto first = reinterpret_cast<std::uintptr_t>(States());
    const std::uintptr_t count = capacity;  // a local: the stores below may alias any member
    std::uintptr_t low = scan;
    const HeldBlock* b = run;
    for (const HeldBlock* const end = run + n; b != end; ++b) {
      const std::uintptr_t i = reinterpret_cast<std::uintptr_t>(b->state) - first;
      if (i >= count) break;
      b->state->store(kFreed, std::memory_order_relaxed);
      low = std::min(low, i);
    }
    const auto k = static_cast<std::uint32_t>(b - run);
    Pushed(k, static_cast<std::uint32_t>(low));
    return k;
  }

  // The index of the block that starts at p, or kNoBlock when p is not at a block boundary.
  // Reads only what cannot change while a block is live, so it needs no lock when p is
  // (claimed to be) a live block.
  std::uint32_t BlockAt(const void* p) const { return BlockAtOffset(Offset(p)); }
  // The same for p at `offset` bytes from memory(): any offset, a wrapped one too (p below
  // memory), gives kNoBlock unless it is a block's start (see BlockIndex).
  std::uint32_t BlockAtOffset(std::uintptr_t offset) const {
    const std::uint64_t index = IndexAtOffset(offset);
    return index < capacity ? static_cast<std::uint32_t>(index) : kNoBlock;
  }
  bool IsBlockBoundary(const void* p) const { return BlockAt(p) != kNoBlock; }
  // The index of the block at `offset` from memory(); capacity or more when there is none.
  std::uint64_t IndexAtOffset(std::uintptr_t offset) const {
    return BlockIndex(offset, inverse, shift);
  }
  std::uint32_t IndexOf(const void* p) const {
    return static_cast<std::uint32_t>(IndexAtOffset(Offset(p)));
  }

  // The state map (see above). Relaxed: a block's byte is ordered by whatever handed the block
  // from the thread that last wrote it to the thread that reads it (the program's own
  // synchronisation, or halloc's locks and inboxes).
  BlockState State(std::uint32_t index) const {
    return static_cast<BlockState>(States()[index].load(std::memory_order_relaxed));
  }
  void SetState(std::uint32_t index, BlockState s) {
    States()[index].store(s, std::memory_order_relaxed);
  }
  std::atomic<std::uint8_t>* StateByte(std::uint32_t index) const { return States() + index; }

  // Whether p, known to be at a block boundary, was carved out since the last format.
  bool IsCarved(const void* p) const { return Offset(p) < std::uintptr_t{bump} * block_size; }

  // Whether p is the start of a block that was carved out of this superblock.
  bool IsBlockStart(const void* p) const { return IsBlockBoundary(p) && IsCarved(p); }

 private:
  std::atomic<std::uint8_t>* States() const { return states_; }
  // n blocks came back, the lowest at index `low`.
  void Pushed(std::uint32_t n, std::uint32_t low) {
    scan = static_cast<std::uint16_t>(low);
    used = static_cast<std::uint16_t>(used - n);
    if (used == 0) {
      // Empty again: the next blocks come in address order from the start. The state map
      // keeps saying which blocks were freed, so a second free still reads "double free".
      bump = 0;
      scan = 0;
    }
  }
  // Below memory wraps to a huge offset, which no block index meets.
  std::uintptr_t Offset(const void* p) const {
    return reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(memory());
  }
};

static_assert(sizeof(Superblock) == kCacheLine);
static_assert(sizeof(std::atomic<std::uint8_t>) == 1);

// A descriptor from the metadata arena (nullptr when the OS refuses memory), and back.
Superblock* NewSuperblockDescriptor();
void FreeSuperblockDescriptor(Superblock* sb);
// In a forked child: the arena's lock, if the fork caught another thread holding it, is reset.
void DescriptorArenaAfterForkInChild();

}  // namespace halloc
