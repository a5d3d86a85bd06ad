// The page map: for every S-aligned granule of the address space, what halloc put there (a
// superblock or a large object, or the address of a large object since freed), so free()
// classifies any pointer in constant time and rejects pointers halloc never handed out. Two levels;
// leaves are mapped on first use and never freed; lookups take no lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "policy.h"

namespace halloc {

struct Superblock;
struct LargeHeader;

class PageMap {
 public:
  static constexpr unsigned kAddressBits = 47;  // user-space virtual addresses on x86-64
  static constexpr unsigned kKeyBits = kAddressBits - kPolicy.superblock_shift;
  static constexpr unsigned kLeafBits = 16;
  static constexpr unsigned kRootBits = kKeyBits - kLeafBits;
  static constexpr std::uintptr_t kLargeTag = 1;
  static constexpr std::uintptr_t kFreedLargeTag = 2;
  static constexpr std::uintptr_t kTagMask = 3;

  // What covers p's granule: a superblock, a large object, the address a large object had
  // before it was freed and its mapping returned (so a second free says "double free"), or
  // nothing.
  struct Entry {
    std::uintptr_t raw;
    Superblock* superblock() const {
      return (raw & kTagMask) ? nullptr : reinterpret_cast<Superblock*>(raw);
    }
    LargeHeader* large() const {
      return (raw & kTagMask) == kLargeTag ? reinterpret_cast<LargeHeader*>(raw & ~kTagMask)
                                           : nullptr;
    }
    const void* freed_large() const {
      return (raw & kTagMask) == kFreedLargeTag ? reinterpret_cast<void*>(raw & ~kTagMask)
                                                : nullptr;
    }
    explicit operator bool() const { return raw != 0; }
  };

  Entry Lookup(const void* p) const {
    const std::uintptr_t key = KeyOf(p);
    const Leaf* leaf = LeafOf(key);
    return leaf ? At(leaf, key) : Entry{0};
  }

  // A thread's last leaf (leaves are never freed, so it stays valid): free() on the common path
  // reads the leaf entry with no load of the root, which is one load fewer on the chain the
  // next malloc waits for. A default one names none, with a root index no address has.
  struct LeafHint {
    static constexpr std::uintptr_t kNone = ~std::uintptr_t{0};
    std::uintptr_t root = kNone;  // the root index the leaf is at
    const void* leaf = nullptr;
  };
  // p's entry into `out` when p is in the hint's leaf; false otherwise (see Hint).
  bool Lookup(const void* p, const LeafHint& hint, Entry& out) const {
    const std::uintptr_t key = KeyOf(p);
    if (key >> kLeafBits != hint.root) [[unlikely]]
      return false;
    out = At(static_cast<const Leaf*>(hint.leaf), key);
    return true;
  }
  // Points the hint at p's leaf; false when p has none (so nothing of halloc's is there).
  bool Hint(const void* p, LeafHint& hint) const {
    const std::uintptr_t key = KeyOf(p);
    const Leaf* leaf = LeafOf(key);
    if (leaf == nullptr) return false;
    hint = {key >> kLeafBits, leaf};
    return true;
  }
  // Whether the hint is empty or names a leaf of the map at its index (halloc_check).
  bool IsValid(const LeafHint& hint) const {
    if (hint.root == LeafHint::kNone) return hint.leaf == nullptr;
    return hint.root < (std::size_t{1} << kRootBits) &&
           root_[hint.root].load(std::memory_order_acquire) == hint.leaf;
  }

  // Returns false only when the map's leaf cannot be allocated.
  bool SetSuperblock(const void* granule, Superblock* sb) {
    return Set(granule, reinterpret_cast<std::uintptr_t>(sb));
  }
  bool SetLarge(const void* granule, LargeHeader* h) {
    return Set(granule, reinterpret_cast<std::uintptr_t>(h) | kLargeTag);
  }
  // `user` (at least 4-aligned) was a large object's address, in its own granule.
  void SetFreedLarge(const void* user) {
    Set(user, reinterpret_cast<std::uintptr_t>(user) | kFreedLargeTag);
  }
  void Clear(const void* granule) { Set(granule, 0); }

 private:
  static constexpr std::size_t kLeafSize = std::size_t{1} << kLeafBits;
  struct Leaf {
    std::atomic<std::uintptr_t> slot[kLeafSize];
  };

  bool Set(const void* granule, std::uintptr_t value);

  static std::uintptr_t KeyOf(const void* p) {
    return reinterpret_cast<std::uintptr_t>(p) >> kPolicy.superblock_shift;
  }
  // The leaf of `key`, or nullptr (none mapped yet, or key beyond user space).
  const Leaf* LeafOf(std::uintptr_t key) const {
    if (key >> kKeyBits) return nullptr;
    return root_[key >> kLeafBits].load(std::memory_order_acquire);
  }
  static Entry At(const Leaf* leaf, std::uintptr_t key) {
    return {leaf->slot[key & (kLeafSize - 1)].load(std::memory_order_acquire)};
  }

  // Zero-initialised (bss): untouched pages cost no memory.
  std::atomic<Leaf*> root_[std::size_t{1} << kRootBits];
};

extern PageMap g_page_map;

// The superblock p lies in, or nullptr.
inline Superblock* SuperblockOf(const void* p) {
  return g_page_map.Lookup(p).superblock();
}

}  // namespace halloc
