#include "heap.h"

#include "large.h"
#include "os.h"
#include "page_map.h"
#include "region.h"

namespace halloc {
namespace {

constinit std::atomic<Heap*> g_global{nullptr};
constinit std::atomic<std::size_t> g_released{0};
constinit std::atomic<std::size_t> g_empty_reserve{kPolicy.empty_reserve};

// Enters sb for each of the `granules` granules from `memory` in the page map (or clears them:
// sb == nullptr); false when a leaf of the map cannot be allocated.
bool MapGranules(char* memory, std::size_t granules, Superblock* sb) {
  for (std::size_t g = 0; g < granules; ++g) {
    char* granule = memory + g * kSuperblockSize;
    if (sb == nullptr) {
      g_page_map.Clear(granule);
    } else if (!g_page_map.SetSuperblock(granule, sb)) {
      MapGranules(memory, g, nullptr);
      return false;
    }
  }
  return true;
}

// A fresh superblock for heap `stream` from a region, formatted for class c and entered in the
// page map.
Superblock* MapSuperblock(std::uint32_t c, std::size_t stream) {
  const std::size_t granules = kSizeClasses.granules[c];
  auto* mem = static_cast<char*>(RegionAlloc(RegionKind::kSuperblocks, granules, stream));
  // Refused: freed large mappings kept for reuse may hold the address space a region needs.
  if (mem == nullptr && LargeTrim() > 0)
    mem = static_cast<char*>(RegionAlloc(RegionKind::kSuperblocks, granules, stream));
  if (mem == nullptr) return nullptr;
  Superblock* sb = NewSuperblockDescriptor();
  if (sb == nullptr || !sb->Format(c) || !MapGranules(mem, granules, sb)) {
    if (sb) FreeSuperblockDescriptor(sb);
    RegionFree(RegionKind::kSuperblocks, mem, granules);
    return nullptr;
  }
  sb->memory_.store(mem, std::memory_order_relaxed);
  return sb;
}

}  // namespace

void ReleaseList::ReleaseAll() {
  while (Superblock* sb = head) {
    head = sb->next;
    char* memory = sb->memory();
    const std::size_t granules = sb->granules();
    MapGranules(memory, granules, nullptr);
    // The descriptor lets go of the memory before the OS may hand it out again.
    FreeSuperblockDescriptor(sb);
    RegionFree(RegionKind::kSuperblocks, memory, granules);
    g_released.fetch_add(1, std::memory_order_relaxed);
  }
}

std::size_t ReleasedSuperblocks() {
  return g_released.load(std::memory_order_relaxed);
}

std::size_t EmptyReserve() {
  return g_empty_reserve.load(std::memory_order_relaxed);
}
void SetEmptyReserve(std::size_t superblocks) {
  g_empty_reserve.store(superblocks, std::memory_order_relaxed);
}

Heap* NewHeap(std::uint32_t index, bool is_global) {
  constexpr std::size_t kBytes = (sizeof(Heap) + kPageSize - 1) & ~(kPageSize - 1);
  void* mem = OsMap(kBytes, kPageSize, MapPurpose::kMetadata);
  if (mem == nullptr) return nullptr;
  Heap* h = new (mem) Heap;
  h->index = index;
  h->is_global = is_global;
  return h;
}

Heap* LockOwner(Superblock* sb) {
  while (true) {
    Heap* h = sb->owner.load(std::memory_order_acquire);
    if (h->abandoned) [[unlikely]]
      return nullptr;
    h->lock.Lock();
    if (sb->owner.load(std::memory_order_relaxed) == h) [[likely]]
      return h;
    h->lock.Unlock();
  }
}

OwnerLocks::~OwnerLocks() {
  if (locked_) locked_->UnlockAfterFrees(release_);
  release_.ReleaseAll();
}

void OwnerLocks::Return(Superblock* sb, void* const* blocks, std::uint32_t n) {
  if (LockOwnerOf(sb)) locked_->Free(sb, blocks, n, release_);  // else abandoned at fork: leak
}

std::uint32_t OwnerLocks::ReturnRun(Superblock* sb, const HeldBlock* run, std::uint32_t n) {
  if (!LockOwnerOf(sb)) return 1;  // abandoned at fork: leak the first block
  return locked_->FreeRun(sb, run, n, release_);
}

bool Heap::Post(FreeBlock* first, FreeBlock* last, std::size_t bytes) {
  if (threads.load(std::memory_order_relaxed) == 0 || abandoned) return false;
  if (inbox_bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes > kInboxLimit) {
    inbox_bytes.fetch_sub(bytes, std::memory_order_relaxed);
    return false;
  }
  // A push-only stack (Drain takes the whole list at once), so there is no ABA problem.
  FreeBlock* head = inbox.load(std::memory_order_relaxed);
  do {
    last->next = head;
  } while (!inbox.compare_exchange_weak(head, first, std::memory_order_seq_cst,
                                        std::memory_order_relaxed));
  return true;
}

// Flattened: a run is often a few blocks, so a call per run would cost as much as returning
// them.
[[gnu::flatten]] std::size_t ReturnChain(FreeBlock* b) {
  if (b == nullptr) return 0;
  std::size_t bytes = 0;
  OwnerLocks owners;
  void* run[64];
  for (Superblock *sb = b->superblock, *next_sb; b; sb = next_sb) {
    // A run of blocks of one superblock; their superblock may have moved to another heap since
    // they were freed, and OwnerLocks finds its owner now.
    std::uint32_t n = 0;
    do {
      run[n++] = b;
      b = b->next;
      next_sb = b ? b->superblock : nullptr;
    } while (next_sb == sb && n < 64);
    bytes += std::size_t{n} * sb->block_size;
    owners.Return(sb, run, n);
  }
  return bytes;
}

void Heap::Drain() {
  FreeBlock* b = inbox.exchange(nullptr, std::memory_order_seq_cst);
  if (b == nullptr) return;
  inbox_bytes.fetch_sub(ReturnChain(b), std::memory_order_relaxed);
}

Heap* GlobalHeap() {
  return g_global.load(std::memory_order_acquire);
}
void SetGlobalHeap(Heap* h) {
  g_global.store(h, std::memory_order_release);
}

void Heap::Link(Superblock* sb) {
  Superblock*& head = lists[sb->size_class][sb->group];
  sb->prev = nullptr;
  sb->next = head;
  if (head) head->prev = sb;
  head = sb;
}

void Heap::Unlink(Superblock* sb) {
  if (sb->prev) {
    sb->prev->next = sb->next;
  } else {
    lists[sb->size_class][sb->group] = sb->next;
  }
  if (sb->next) sb->next->prev = sb->prev;
  sb->prev = sb->next = nullptr;
}

void Heap::Refile(Superblock* sb) {
  std::uint32_t g = GroupOf(sb);
  if (g == sb->group) return;
  Unlink(sb);
  sb->group = g;
  Link(sb);
}

void Heap::Adopt(Superblock* sb) {
  sb->owner.store(this, std::memory_order_release);
  sb->group = GroupOf(sb);
  Link(sb);
  in_use += sb->in_use_bytes();
  held += sb->held_bytes();
  superblocks += sb->granules();
  if (sb->empty()) empty_granules += sb->granules();
}

void Heap::Disown(Superblock* sb) {
  Unlink(sb);
  in_use -= sb->in_use_bytes();
  held -= sb->held_bytes();
  superblocks -= sb->granules();
  if (sb->empty()) empty_granules -= sb->granules();
}

// The fullest superblock of class c with a free block, from the global heap or the OS if
// this heap has none.
Superblock* Heap::NonFull(std::uint32_t c, ReleaseList& release) {
  Superblock* const* groups = lists[c];
  Superblock* sb = groups[kGroups - 1];
  for (std::uint32_t g = kGroups - 1; sb == nullptr && g-- > 0;) sb = groups[g];
  if (sb == nullptr) [[unlikely]]
    sb = Acquire(c, release);
  return sb;
}

std::uint32_t Heap::Alloc(std::uint32_t c, HeldBlock* out, std::uint32_t n, ReleaseList& release) {
  Superblock* sb = NonFull(c, release);
  if (sb == nullptr) return 0;
  if (sb->empty()) empty_granules -= sb->granules();  // no longer, after PopInto
  std::uint32_t got = sb->PopInto(out, n);
  in_use += std::size_t{got} * sb->block_size;
  Refile(sb);
  return got;
}

// Called when this heap has no free block of class c: Hoard takes a superblock from the global
// heap, else from the OS. Taking one may break the invariant (it brings free space), so
// rebalance afterwards, keeping the one we are about to use.
Superblock* Heap::Acquire(std::uint32_t c, ReleaseList& release) {
  Superblock* sb = nullptr;
  if (kPolicy.use_global_heap) {
    Heap* global = GlobalHeap();
    LockGuard guard(global->lock);
    sb = global->TakeForClass(c);
    if (sb) Adopt(sb);  // owner changes while both locks are held
  }
  if (sb == nullptr) {
    sb = MapSuperblock(c, index);
    if (sb == nullptr) return nullptr;
    Adopt(sb);
  }
  Rebalance(sb, release);
  return sb;
}

void Heap::Free(Superblock* sb, void* const* blocks, std::uint32_t n, ReleaseList& release) {
  sb->PushBlocks(blocks, n);
  in_use -= std::size_t{n} * sb->block_size;
  Released(sb, release);
}

std::uint32_t Heap::FreeRun(Superblock* sb, const HeldBlock* run, std::uint32_t n,
                            ReleaseList& release) {
  const std::uint32_t k = sb->PushRun(run, n);
  in_use -= std::size_t{k} * sb->block_size;
  Released(sb, release);
  return k;
}

void Heap::UnlockAfterFrees(ReleaseList& release) {
  if (!is_global) Rebalance(nullptr, release);
  lock.Unlock();
}

// After blocks went back to sb: refile it (the invariant waits for UnlockAfterFrees).
void Heap::Released(Superblock* sb, ReleaseList& release) {
  if (sb->empty()) {
    empty_granules += sb->granules();  // it just became empty
    // A per-processor heap keeps a few empty superblocks (so a class that empties and refills
    // one does not shuttle it to the global heap and back); one emptied beyond them goes to
    // the global heap at once, though the invariant does not ask for it yet: it carries no
    // live block (moving it costs no false sharing), and a program that frees millions of
    // blocks gives memory back while it frees, not only once a quarter of its heap is free.
    if (is_global || empty_granules > kPolicy.kept_empty) {
      Disown(sb);
      if (is_global) {
        StoreEmpty(sb, release);
      } else {
        GiveToGlobal(sb, release);
      }
      return;
    }
  }
  Refile(sb);
}

void Heap::Rebalance(const Superblock* keep, ReleaseList& release) {
  if (!kPolicy.use_global_heap) return;
  while (!InvariantHolds()) {
    Superblock* sb = FindMostlyEmpty(keep);
    if (sb == nullptr) return;  // nothing movable: every other superblock is > (1-f) full
    Disown(sb);
    GiveToGlobal(sb, release);
  }
}

// A superblock at least f empty, other than `keep`, from the emptiest group first (an empty one
// carries no live blocks, so moving it costs nothing and may return memory to the OS). Where
// the invariant is broken one exists unless `keep` is the only one (u < (1-f)a means some
// superblock has u_s < (1-f)a_s).
Superblock* Heap::FindMostlyEmpty(const Superblock* keep) {
  for (std::uint32_t g = 0; g < kGroups; ++g) {
    for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
      for (Superblock* sb = lists[c][g]; sb; sb = sb->next) {
        if (sb != keep && MostlyEmpty(sb)) return sb;
      }
    }
  }
  return nullptr;
}

void Heap::GiveToGlobal(Superblock* sb, ReleaseList& release) {
  Heap* global = GlobalHeap();
  LockGuard guard(global->lock);
  if (sb->empty()) {
    global->StoreEmpty(sb, release);
  } else {
    global->Adopt(sb);
  }
}

void Heap::StoreEmpty(Superblock* sb, ReleaseList& release) {
  sb->owner.store(this, std::memory_order_release);
  if (empty_count + sb->granules() > EmptyReserve()) {
    release.Add(sb);
    return;
  }
  sb->next = empties;
  empties = sb;
  empty_count += sb->granules();
}

Superblock* Heap::TakeForClass(std::uint32_t c) {
  for (std::uint32_t g = kGroups; g-- > 0;) {
    if (Superblock* sb = lists[c][g]) {
      Disown(sb);
      return sb;
    }
  }
  // An empty superblock of the class's size (few are kept: see EmptyReserve).
  for (Superblock** link = &empties; Superblock* sb = *link; link = &sb->next) {
    if (sb->granules() != kSizeClasses.granules[c]) continue;
    Superblock* rest = sb->next;
    if (!sb->Format(c)) return nullptr;  // no memory for its state map
    *link = rest;
    empty_count -= sb->granules();
    return sb;
  }
  return nullptr;
}

void Heap::Trim(ReleaseList& release) {
  if (!kPolicy.use_global_heap || is_global) return;
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
    for (std::uint32_t g = 0; g < kGroups; ++g) {
      for (Superblock *sb = lists[c][g], *next; sb; sb = next) {
        next = sb->next;
        if (!MostlyEmpty(sb)) continue;
        Disown(sb);
        GiveToGlobal(sb, release);
      }
    }
  }
}

std::size_t Heap::ReleaseEmpty(std::size_t keep, ReleaseList& release) {
  std::size_t n = 0;
  while (empty_count > keep) {
    Superblock* sb = empties;
    empties = sb->next;
    empty_count -= sb->granules();
    n += sb->granules();
    release.Add(sb);
  }
  // Empty superblocks are filed in group 0 of their class (the global heap files none there).
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
    for (Superblock *sb = lists[c][0], *next; sb; sb = next) {
      next = sb->next;
      if (!sb->empty()) continue;
      n += sb->granules();
      Disown(sb);
      release.Add(sb);
    }
  }
  return n;
}

}  // namespace halloc
