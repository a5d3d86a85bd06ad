// A superblock: S bytes, S-aligned, holding blocks of one size class, and its 64-byte
// descriptor. The descriptors live apart, packed in a metadata arena: a header at the start of
// each superblock would sit at the same address modulo S in every one, so all headers would
// compete for the same few sets of the CPU caches, and free() reads one on every call. Blocks
// never handed out are carved from a bump index; freed blocks go onto an intrusive free list.
//
// Every field but `owner` is protected by the owner heap's lock. `owner` changes only while
// both the old and the new owner's locks are held, so a thread that locks the heap it read from
// `owner` and then finds `owner` unchanged holds the right lock. It is stored with release, and
// a thread that uses the heap it names loads it with acquire: the heap may have been created
// by a thread this one never synchronised with (a relaxed load suffices only to compare).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "size_class.h"

namespace halloc {

struct Heap;

struct FreeBlock {
  FreeBlock* next;
};

// Blocks first..last of a list, n of them, all in one superblock; `highest` is the highest
// address among them (a run is valid when that one was carved out).
struct Run {
  FreeBlock* first;
  FreeBlock* last;
  std::uint32_t n;
  std::uintptr_t highest;

  static Run Of(FreeBlock* b) { return {b, b, 1, reinterpret_cast<std::uintptr_t>(b)}; }
  // The longest run from `first` (at most `max` blocks) whose blocks share first's granule.
  static Run Cut(FreeBlock* first, std::uint32_t max);
};

struct alignas(kCacheLine) Superblock {
  std::atomic<Heap*> owner;
  Superblock* prev;  // neighbours in the owner's list for this class and fullness group
  Superblock* next;
  FreeBlock* free_list;
  // The S bytes the blocks live in; nullptr while the descriptor is free. Atomic because a
  // thread's free() may check a descriptor it remembers (thread_cache.h) while another thread
  // hands that descriptor to a new superblock.
  std::atomic<char*> memory_;
  std::uint32_t used;  // blocks handed out
  std::uint32_t bump;  // blocks [bump, capacity) were never handed out since the last format
  std::uint32_t block_size;
  std::uint32_t capacity;
  std::uint32_t reciprocal;  // kSizeClasses.reciprocal of its class: offset -> block index
  std::uint16_t size_class;
  std::uint16_t group;  // fullness group it is filed under (see heap.h)

  // The S-aligned granule p lies in: blocks of one superblock share it.
  static std::uintptr_t GranuleOf(const void* p) {
    return reinterpret_cast<std::uintptr_t>(p) & ~(kSuperblockSize - 1);
  }
  char* memory() const { return memory_.load(std::memory_order_relaxed); }

  bool empty() const { return used == 0; }
  bool full() const { return used == capacity; }
  std::size_t in_use_bytes() const { return std::size_t{used} * block_size; }
  std::size_t held_bytes() const { return std::size_t{capacity} * block_size; }

  // Prepares an empty superblock for blocks of class c.
  void Format(std::uint32_t c);

  // Hands out one block; the superblock must not be full.
  void* Pop() {
    ++used;
    if (FreeBlock* b = free_list) {
      free_list = b->next;
      return b;
    }
    return memory() + std::size_t{bump++} * block_size;
  }

  // Hands out up to n blocks as a chain from `chain` to `tail` (tail->next is left for the
  // caller to set); returns how many. Freed blocks come first, cut from the free list as they
  // stand (reading each once, writing none); then blocks carved in address order.
  std::uint32_t PopChain(std::uint32_t n, FreeBlock*& chain, FreeBlock*& tail) {
    std::uint32_t got = 0;
    FreeBlock* head = nullptr;
    FreeBlock* last = nullptr;
    if (free_list && n > 0) {
      head = last = free_list;
      for (got = 1; got < n && last->next; ++got) last = last->next;
      free_list = last->next;
    }
    if (std::uint32_t k = std::min(n - got, capacity - bump); k > 0) {
      // Carve k blocks in address order, each pointing at the next.
      char* p = memory() + std::size_t{bump} * block_size;
      auto* first = reinterpret_cast<FreeBlock*>(p);
      for (std::uint32_t i = 1; i < k; ++i, p += block_size)
        reinterpret_cast<FreeBlock*>(p)->next = reinterpret_cast<FreeBlock*>(p + block_size);
      (last ? last->next : head) = first;
      last = reinterpret_cast<FreeBlock*>(p);
      bump += k;
      got += k;
    }
    used += got;
    chain = head;
    tail = last;
    return got;
  }

  // Takes back a chain of n blocks from first to last (all of this superblock).
  void PushChain(FreeBlock* first, FreeBlock* last, std::uint32_t n) {
    last->next = free_list;
    free_list = first;
    used -= n;
    if (used == 0) {
      // Empty again: forget the list so the next blocks come in address order.
      free_list = nullptr;
      bump = 0;
    }
  }

  void Push(void* p) {
    auto* b = static_cast<FreeBlock*>(p);
    PushChain(b, b, 1);
  }

  // Whether p is at a block boundary. Reads only what cannot change while a block is live, so
  // it needs no lock when p is (claimed to be) a live block.
  bool IsBlockBoundary(const void* p) const { return IsBlockBoundaryAt(Offset(p)); }
  // The same for p at `offset` bytes from memory(). An offset of S or more (p outside the
  // memory) gives an index of capacity or more, or a wrapped product whose index times
  // block_size is below S: never a match.
  bool IsBlockBoundaryAt(std::uintptr_t offset) const {
    std::uint64_t index = (offset * reciprocal) >> kReciprocalShift;
    return index < capacity && index * block_size == offset;
  }

  // Whether p, known to be at a block boundary, was carved out since the last format.
  bool IsCarved(const void* p) const { return Offset(p) < std::uintptr_t{bump} * block_size; }

  // Whether p is the start of a block that was carved out of this superblock.
  bool IsBlockStart(const void* p) const { return IsBlockBoundary(p) && IsCarved(p); }

 private:
  // Below memory wraps to a huge offset, which no block index meets.
  std::uintptr_t Offset(const void* p) const {
    return reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(memory());
  }
};

static_assert(sizeof(Superblock) == kCacheLine);

inline Run Run::Cut(FreeBlock* first, std::uint32_t max) {
  Run r = Of(first);
  const std::uintptr_t granule = Superblock::GranuleOf(first);
  for (FreeBlock* next;
       r.n < max && (next = r.last->next) && Superblock::GranuleOf(next) == granule; ++r.n) {
    r.last = next;
    r.highest = std::max(r.highest, reinterpret_cast<std::uintptr_t>(next));
  }
  return r;
}

// A descriptor of no memory, for pointers that must always point at one.
inline constinit Superblock kNoSuperblock{};

// A descriptor from the metadata arena (nullptr when the OS refuses memory), and back.
Superblock* NewSuperblockDescriptor();
void FreeSuperblockDescriptor(Superblock* sb);

}  // namespace halloc
