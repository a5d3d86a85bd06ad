// A superblock: S bytes, S-aligned, holding blocks of one size class. Its 64-byte header sits at
// the start, so the blocks begin on their own cache line. Blocks never handed out are carved
// from a bump index; freed blocks go onto an intrusive free list.
//
// Every field but `owner` is protected by the owner heap's lock. `owner` changes only while
// both the old and the new owner's locks are held, so a thread that locks the heap it read from
// `owner` and then finds `owner` unchanged holds the right lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "size_class.h"

namespace halloc {

struct Heap;

struct FreeBlock {
  FreeBlock* next;
};

struct alignas(kCacheLine) Superblock {
  std::atomic<Heap*> owner;
  Superblock* prev;  // neighbours in the owner's list for this class and fullness group
  Superblock* next;
  FreeBlock* free_list;
  std::uint32_t used;  // blocks handed out
  std::uint32_t bump;  // blocks [bump, capacity) were never handed out since the last format
  std::uint32_t size_class;
  std::uint32_t block_size;
  std::uint32_t capacity;
  std::uint32_t group;       // fullness group it is filed under (see heap.h)
  std::uint64_t reciprocal;  // kSizeClasses.reciprocal of its class: offset -> block index

  static Superblock* Of(const void* p) {
    return reinterpret_cast<Superblock*>(reinterpret_cast<std::uintptr_t>(p) &
                                         ~(kSuperblockSize - 1));
  }

  char* data() { return reinterpret_cast<char*>(this) + kSuperblockHeader; }
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
    return data() + std::size_t{bump++} * block_size;
  }

  // Hands out up to n blocks as a chain from `chain` to `tail` (whose next is nullptr);
  // returns how many.
  std::uint32_t PopChain(std::uint32_t n, FreeBlock*& chain, FreeBlock*& tail) {
    std::uint32_t got = 0;
    FreeBlock* head = nullptr;
    tail = free_list ? free_list
                     : reinterpret_cast<FreeBlock*>(data() + std::size_t{bump} * block_size);
    while (got < n && free_list) {
      FreeBlock* b = free_list;
      free_list = b->next;
      b->next = head;
      head = b;
      ++got;
    }
    while (got < n && bump < capacity) {
      auto* b = reinterpret_cast<FreeBlock*>(data() + std::size_t{bump++} * block_size);
      b->next = head;
      head = b;
      ++got;
    }
    used += got;
    chain = head;
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
  bool IsBlockBoundary(const void* p) const {
    // A pointer into the header wraps to a huge offset, which no index times block_size meets.
    std::uintptr_t offset = reinterpret_cast<std::uintptr_t>(p) -
                            reinterpret_cast<std::uintptr_t>(this) - kSuperblockHeader;
    std::uint64_t index = (offset * reciprocal) >> 40;
    return index < capacity && index * block_size == offset;
  }

  // Whether p, known to be at a block boundary, was carved out since the last format.
  bool IsCarved(const void* p) const {
    return reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(this) -
               kSuperblockHeader <
           std::uintptr_t{bump} * block_size;
  }

  // Whether p is the start of a block that was carved out of this superblock.
  bool IsBlockStart(const void* p) const { return IsBlockBoundary(p) && IsCarved(p); }
};

static_assert(sizeof(Superblock) <= kSuperblockHeader);

}  // namespace halloc
