// A superblock: S bytes, S-aligned, holding blocks of one size class, and its 64-byte
// descriptor. The descriptors live apart, packed in a metadata arena: a header at the start of
// each superblock would sit at the same address modulo S in every one, so all headers would
// compete for the same few sets of the CPU caches, and free() reads one on every call. Blocks
// never handed out are carved from a bump index; freed blocks go onto an intrusive free list.
//
// Beside each descriptor lies its block-state map: one byte per block saying whether the block
// is live (handed to the program), so every free, realloc and malloc_usable_size can tell a live
// block from a freed or never-handed-out one exactly. A block's byte is written only by the
// thread that hands the block out (malloc) or takes it back (free): bytes, not bits, so two
// threads never read-modify-write one word, and the fast paths need no atomic instruction.
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

// A block's state in its superblock's map. An empty superblock has no live block; a block
// carved again after its superblock emptied reads kFreed until it is handed out.
enum BlockState : std::uint8_t { kNeverUsed = 0, kLive = 1, kFreed = 2 };
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

struct FreeBlock {
  FreeBlock* next;
};

// Blocks first..last of a list, n of them, all in one superblock.
struct Run {
  FreeBlock* first;
  FreeBlock* last;
  std::uint32_t n;

  static Run Of(FreeBlock* b) { return {b, b, 1}; }
  // The longest run from `first` (at most `max` blocks) whose blocks share first's granule.
  static Run Cut(FreeBlock* first, std::uint32_t max);
};

struct alignas(kCacheLine) Superblock {
  std::atomic<Heap*> owner;
  Superblock* prev;  // neighbours in the owner's list for this class and fullness group
  Superblock* next;
  FreeBlock* free_list;
  // The memory the blocks live in; nullptr while the descriptor is free. Atomic because free()
  // reads it with no lock (for a pointer that is not live, while another thread may be
  // handing the descriptor to a new superblock).
  std::atomic<char*> memory_;
  // Its state map: StateMapBytes(capacity) bytes, one a block (kept while the descriptor is
  // free, for its next superblock).
  std::atomic<std::uint8_t>* states_;
  std::uint32_t block_size;
  std::uint32_t reciprocal;  // kSizeClasses.reciprocal of its class: offset -> block index
  std::uint16_t used;        // blocks handed out
  std::uint16_t bump;        // blocks [bump, capacity) were never handed out since the last format
  std::uint16_t capacity;
  std::uint8_t size_class;
  std::uint8_t group;  // fullness group it is filed under (see heap.h)

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

  // Hands out one block; the superblock must not be full.
  void* Pop() {
    ++used;
    if (FreeBlock* b = free_list) {
      free_list = b->next;
      return b;
    }
    return memory() + std::size_t{bump++} * block_size;
  }

  // Hands out up to n blocks: freed ones as a chain from `chain` to `tail` (tail->next is left
  // for the caller to set), cut from the free list as they stand (reading each once, writing
  // none); then, when `carve` is non-null, never-used ones as the range [*carve, *carve + k
  // blocks), which nothing writes. Returns the chain's length; k is in *carved.
  std::uint32_t PopChain(std::uint32_t n, FreeBlock*& chain, FreeBlock*& tail, char** carve,
                         std::uint32_t* carved) {
    std::uint32_t got = 0;
    chain = tail = nullptr;
    if (free_list && n > 0) {
      chain = tail = free_list;
      for (got = 1; got < n && tail->next; ++got) tail = tail->next;
      free_list = tail->next;
    }
    std::uint32_t k = 0;
    if (carve != nullptr && (k = std::min<std::uint32_t>(n - got, capacity - bump)) > 0) {
      *carve = memory() + std::size_t{bump} * block_size;
      *carved = k;
      bump = static_cast<std::uint16_t>(bump + k);
    }
    used = static_cast<std::uint16_t>(used + got + k);
    return got;
  }

  // Takes back a chain of n blocks from first to last (all of this superblock).
  void PushChain(FreeBlock* first, FreeBlock* last, std::uint32_t n) {
    last->next = free_list;
    free_list = first;
    used -= n;
    if (used == 0) {
      // Empty again: forget the list so the next blocks come in address order. The state map
      // keeps saying which blocks were freed, so a second free still reads "double free".
      free_list = nullptr;
      bump = 0;
    }
  }

  void Push(void* p) {
    auto* b = static_cast<FreeBlock*>(p);
    PushChain(b, b, 1);
  }

  // The index of the block that starts at p, or kNoBlock when p is not at a block boundary.
  // Reads only what cannot change while a block is live, so it needs no lock when p is
  // (claimed to be) a live block.
  std::uint32_t BlockAt(const void* p) const { return BlockAtOffset(Offset(p)); }
  // The same for p at `offset` bytes from memory(). An offset beyond the superblock (p outside
  // the memory) gives an index of capacity or more, or a wrapped product whose index times
  // block_size is below the superblock's size: never a match.
  std::uint32_t BlockAtOffset(std::uintptr_t offset) const {
    std::uint64_t index = ((offset / kMinAlign) * reciprocal) >> kReciprocalShift;
    return index < capacity && index * block_size == offset ? static_cast<std::uint32_t>(index)
                                                            : kNoBlock;
  }
  // The same for an offset known to lie inside the memory: the index may then be `capacity`
  // (a block boundary in the tail no block fills), whose state is never live.
  std::uint32_t BlockAtInnerOffset(std::uintptr_t offset) const {
    std::uint64_t index = ((offset / kMinAlign) * reciprocal) >> kReciprocalShift;
    return index * block_size == offset ? static_cast<std::uint32_t>(index) : kNoBlock;
  }
  bool IsBlockBoundary(const void* p) const { return BlockAt(p) != kNoBlock; }
  // The index of p (at `offset` from memory()), known to be a block start.
  std::uint32_t IndexAtOffset(std::uintptr_t offset) const {
    return static_cast<std::uint32_t>(((offset / kMinAlign) * reciprocal) >> kReciprocalShift);
  }
  std::uint32_t IndexOf(const void* p) const { return IndexAtOffset(Offset(p)); }

  // The state map (see above). Relaxed: a block's byte is ordered by whatever handed the block
  // from the thread that last wrote it to the thread that reads it (the program's own
  // synchronisation, or halloc's locks and inboxes).
  BlockState State(std::uint32_t index) const {
    return static_cast<BlockState>(States()[index].load(std::memory_order_relaxed));
  }
  void SetState(std::uint32_t index, BlockState s) {
    States()[index].store(s, std::memory_order_relaxed);
  }

  // Whether p, known to be at a block boundary, was carved out since the last format.
  bool IsCarved(const void* p) const { return Offset(p) < std::uintptr_t{bump} * block_size; }

  // Whether p is the start of a block that was carved out of this superblock.
  bool IsBlockStart(const void* p) const { return IsBlockBoundary(p) && IsCarved(p); }

 private:
  std::atomic<std::uint8_t>* States() const { return states_; }
  // Below memory wraps to a huge offset, which no block index meets.
  std::uintptr_t Offset(const void* p) const {
    return reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(memory());
  }
};

static_assert(sizeof(Superblock) == kCacheLine);
static_assert(sizeof(std::atomic<std::uint8_t>) == 1);

inline Run Run::Cut(FreeBlock* first, std::uint32_t max) {
  Run r = Of(first);
  const std::uintptr_t granule = Superblock::GranuleOf(first);
  for (FreeBlock* next;
       r.n < max && (next = r.last->next) && Superblock::GranuleOf(next) == granule; ++r.n) {
    r.last = next;
  }
  return r;
}

// A descriptor of no memory, for pointers that must always point at one.
inline constinit Superblock kNoSuperblock{};

// A descriptor from the metadata arena (nullptr when the OS refuses memory), and back.
Superblock* NewSuperblockDescriptor();
void FreeSuperblockDescriptor(Superblock* sb);
// In a forked child: the arena's lock, if the fork caught another thread holding it, is reset.
void DescriptorArenaAfterForkInChild();

}  // namespace halloc
