#include "large.h"

#include <sys/mman.h>

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <new>
#include <utility>

#include "lock.h"
#include "os.h"
#include "page_map.h"
#include "region.h"
#include "thread_binding.h"

namespace halloc {

constinit thread_local LargeHeader* tls_large_spare [[gnu::tls_model("initial-exec")]] = nullptr;

namespace {

// Mappings not in the shared cache: live objects and the threads' spares.
constinit std::atomic<std::size_t> g_mapping_count{0};

constexpr std::size_t RoundUp(std::size_t n, std::size_t to) {
  return (n + to - 1) & ~(to - 1);
}

// The largest mapping a region can give; above it every mapping is one of its own.
constexpr std::size_t kRegionMax = kRegionMaxRun * kSuperblockSize;

// The smallest run of pages moved from one kept mapping to another, and the least a donor keeps:
// each run may cost the kernel a mapping of its own (or two), so runs are long, and a program
// holding G bytes of large objects gets at most about 2 G / kMinPiece more mappings from them.
constexpr std::size_t kMinPiece = std::size_t{1} << 20;

// Size bins of kept mappings: four a power of two of pages, so the entries of one bin are
// within 25% of each other in size.
constexpr std::size_t kBins = 4 * 48;
constexpr std::size_t BinOf(std::size_t map_size) {
  std::size_t pages = map_size / kPageSize;
  unsigned e = 63 - static_cast<unsigned>(std::countl_zero(pages | 1));
  return e < 2 ? pages : 4 * e + ((pages >> (e - 2)) & 3);
}

// Kept mappings the threads gave up; entries wait outside it, uncounted, while a thread works
// on them with no lock (decommitting, unmapping).
struct Work {
  LargeHeader* decommit = nullptr;  // linked through age_next
  LargeHeader* unmap = nullptr;
};

// Kept mappings by an address (where they start, or where they end), so a mapping joining the
// cache finds its neighbours there without touching memory that may no longer be mapped. Open
// addressing with linear probing; when 3/4 full an entry is left out (it then never merges).
class AddressSet {
 public:
  static constexpr std::size_t kSlots = 4096;

  void Add(const void* at, LargeHeader* h) {
    if (size_ >= kSlots / 4 * 3) return;
    std::size_t i = Slot(at);
    while (key_[i] != nullptr) i = (i + 1) % kSlots;
    key_[i] = at;
    value_[i] = h;
    ++size_;
  }
  LargeHeader* Find(const void* at) const {
    for (std::size_t i = Slot(at); key_[i] != nullptr; i = (i + 1) % kSlots) {
      if (key_[i] == at) return value_[i];
    }
    return nullptr;
  }
  void Erase(const void* at) {
    std::size_t i = Slot(at);
    for (; key_[i] != at; i = (i + 1) % kSlots) {
      if (key_[i] == nullptr) return;
    }
    // Backward shift: later keys of the run that may sit in slot i move there.
    for (std::size_t j = (i + 1) % kSlots; key_[j] != nullptr; j = (j + 1) % kSlots) {
      std::size_t home = Slot(key_[j]);
      bool stays = i < j ? (home > i && home <= j) : (home > i || home <= j);
      if (stays) continue;
      key_[i] = key_[j];
      value_[i] = value_[j];
      i = j;
    }
    key_[i] = nullptr;
    --size_;
  }
  std::size_t size() const { return size_; }
  void Clear() {
    for (const void*& k : key_) k = nullptr;
    size_ = 0;
  }

 private:
  static std::size_t Slot(const void* at) {
    auto page = reinterpret_cast<std::uintptr_t>(at) / kPageSize;
    return static_cast<std::size_t>((page * 0x9E3779B97F4A7C15ull) >> 52) % kSlots;
  }
  const void* key_[kSlots] = {};
  LargeHeader* value_[kSlots] = {};
  std::size_t size_ = 0;
};

// Freed mappings of objects with the default alignment, kept for reuse. Lock-protected: it is
// the slow path behind the threads' spares.
struct LargeCache {
  Mutex lock;
  std::size_t count = 0;
  std::size_t bytes = 0;
  std::size_t decommitted_bytes = 0;
  std::uint32_t last_decay_ms = 0;
  LargeHeader* bins[kBins] = {};
  std::uint64_t nonempty[kBins / 64] = {};
  // Age lists, oldest first: committed entries (by when they were freed), and decommitted ones
  // (by when they were decommitted).
  struct AgeList {
    LargeHeader* first = nullptr;
    LargeHeader* last = nullptr;
  } committed, decommitted;
  // Mappings of their own, by start and by end: neighbours that are both kept merge.
  AddressSet starts, ends;

  AgeList& AgeOf(LargeHeader* h) { return h->decommitted ? decommitted : committed; }

  void Insert(LargeHeader* h, std::uint32_t now) {
    std::size_t b = BinOf(h->map_size);
    h->bin_prev = nullptr;
    h->bin_next = bins[b];
    if (bins[b]) bins[b]->bin_prev = h;
    bins[b] = h;
    nonempty[b / 64] |= std::uint64_t{1} << (b % 64);
    AgeList& age = AgeOf(h);
    h->since_ms = now;
    h->age_prev = age.last;
    h->age_next = nullptr;
    (age.last ? age.last->age_next : age.first) = h;
    age.last = h;
    ++count;
    bytes += h->map_size;
    if (h->decommitted) decommitted_bytes += h->map_size;
    if (!h->in_region) {
      starts.Add(h, h);
      ends.Add(h->base() + h->map_size, h);
    }
  }

  void Remove(LargeHeader* h) {
    std::size_t b = BinOf(h->map_size);
    (h->bin_prev ? h->bin_prev->bin_next : bins[b]) = h->bin_next;
    if (h->bin_next) h->bin_next->bin_prev = h->bin_prev;
    if (bins[b] == nullptr) nonempty[b / 64] &= ~(std::uint64_t{1} << (b % 64));
    AgeList& age = AgeOf(h);
    (h->age_prev ? h->age_prev->age_next : age.first) = h->age_next;
    (h->age_next ? h->age_next->age_prev : age.last) = h->age_prev;
    --count;
    bytes -= h->map_size;
    if (h->decommitted) decommitted_bytes -= h->map_size;
    if (!h->in_region) {
      starts.Erase(h);
      ends.Erase(h->base() + h->map_size);
    }
  }

  // The first bin from `b` up that holds an entry, or kBins.
  std::size_t NextBin(std::size_t b) const {
    for (; b < kBins; b = (b / 64 + 1) * 64) {
      std::uint64_t w = nonempty[b / 64] & (~std::uint64_t{0} << (b % 64));
      if (w) return b / 64 * 64 + static_cast<std::size_t>(std::countr_zero(w));
    }
    return kBins;
  }
  // The last bin from `b` down that holds an entry, or kBins.
  std::size_t PrevBin(std::size_t b) const {
    for (std::size_t i = b / 64 + 1; i-- > 0;) {
      std::uint64_t w = nonempty[i];
      if (i == b / 64) w &= b % 64 == 63 ? ~std::uint64_t{0} : (std::uint64_t{2} << (b % 64)) - 1;
      if (w) return i * 64 + 63 - static_cast<std::size_t>(std::countl_zero(w));
    }
    return kBins;
  }

  // Mapping h (of its own, about to join) absorbs the kept mappings right after and right
  // before it, so pieces split off a buffer join again once all are freed. Returns the header
  // of the whole. A merged range may span several kernel mappings: growing it in place or
  // moving it then fails, and it is handed out as it is or unmapped, which works across them.
  LargeHeader* Merge(LargeHeader* h) {
    if (h->in_region) return h;
    while (LargeHeader* next = starts.Find(h->base() + h->map_size)) {
      Remove(next);
      g_page_map.SetFreedLarge(next->base() + kCacheLine);  // its last object stays freed
      h->map_size += next->map_size;
      h->decommitted = false;  // next's header page is resident, and holds its old header
    }
    while (LargeHeader* prev = ends.Find(h)) {
      Remove(prev);
      g_page_map.SetFreedLarge(h->base() + kCacheLine);
      prev->map_size += h->map_size;
      prev->decommitted = false;  // so is h's
      h = prev;
    }
    return h;
  }

  // The bytes the cache may hold: max(C, U / d), U the bytes of live large objects.
  std::size_t Limit() const {
    std::size_t mapped = OsBytes(MapPurpose::kLarge).bytes;
    std::size_t live = mapped > bytes ? mapped - bytes : 0;
    std::size_t share = live / kPolicy.large_cache_live_den;
    return share > kPolicy.large_cache_bytes ? share : kPolicy.large_cache_bytes;
  }

  // Unmaps the oldest entries (decommitted ones first: they hold no memory, but address space)
  // until the cache holds at most `limit` bytes (its bound, Limit(): unmapping cached entries
  // leaves U as it is).
  void Enforce(Work& w, std::size_t limit) {
    while (bytes > limit) {
      LargeHeader* h = decommitted.first ? decommitted.first : committed.first;
      Remove(h);
      h->age_next = w.unmap;
      w.unmap = h;
    }
  }

  // Entries idle past the policy's times leave for decommitting or unmapping (a few a call, so
  // no call does much of this work).
  void Decay(std::uint32_t now, Work& w) {
    if (now - last_decay_ms < kPolicy.large_decommit_ms / 4) return;
    last_decay_ms = now;
    TakeIdle(committed, now, kPolicy.large_decommit_ms, w.decommit);
    TakeIdle(decommitted, now, kPolicy.large_unmap_ms, w.unmap);
  }
  // Moves up to 8 of `list`'s entries idle `idle_ms` or longer (the oldest first) onto `out`.
  void TakeIdle(AgeList& list, std::uint32_t now, unsigned idle_ms, LargeHeader*& out) {
    for (int n = 0; n < 8 && list.first && now - list.first->since_ms >= idle_ms; ++n) {
      LargeHeader* h = list.first;
      Remove(h);
      h->age_next = out;
      out = h;
    }
  }

  // The entry to serve a request of `need` bytes, removed from the cache, or nullptr: the
  // smallest that suits it; else, for a request above a region's largest run, the mapping of
  // its own nearest in size (the caller trims or grows it).
  LargeHeader* Take(std::size_t need, LargeUse use) {
    std::size_t b = BinOf(need);
    LargeHeader* above = nullptr;  // the smallest entry of at least `need` bytes found
    LargeHeader* below = nullptr;  // the largest smaller one found
    int looked = 0;
    for (LargeHeader* h = bins[b]; h && looked < 8; h = h->bin_next, ++looked) {
      if (h->map_size >= need) {
        if (!above || h->map_size < above->map_size) above = h;
      } else if (!below || h->map_size > below->map_size) {
        below = h;
      }
    }
    if (!above) {
      if (std::size_t up = NextBin(b + 1); up < kBins) above = bins[up];
    }
    LargeHeader* pick = nullptr;
    if (above && Suits(above->map_size, need, use)) {
      pick = above;
    } else if (need > kRegionMax && use == LargeUse::kExact) {
      if (!below && b > 0) {
        if (std::size_t down = PrevBin(b - 1); down < kBins) below = bins[down];
      }
      if (below && below->in_region) below = nullptr;  // a region's run cannot grow that far
      // A larger one gives its tail back (Fit splits it); a smaller one grows.
      pick = above && !above->in_region ? above : below;
    }
    if (pick) Remove(pick);
    return pick;
  }

  // The smallest kept mapping of its own of at least kMinPiece bytes, removed from the cache,
  // to lend its pages to a mapping that grows (fragments go first: larger entries serve whole
  // requests with no move); nullptr when there is none among the first 8 entries from there.
  LargeHeader* TakeDonor() {
    std::size_t b = BinOf(kMinPiece);
    int looked = 0;  // entries, over the bins: at most 8
    for (b = NextBin(b); b < kBins; b = NextBin(b + 1)) {
      for (LargeHeader* d = bins[b]; d; d = d->bin_next) {
        if (++looked > 8) return nullptr;
        if (d->in_region) continue;  // every entry from kMinPiece's bin on is large enough
        Remove(d);
        return d;
      }
    }
    return nullptr;
  }
};
// constinit: malloc may run before this library's constructors.
constinit LargeCache g_cache;

constexpr std::size_t kMaxAlignment = std::size_t{1} << 40;
constexpr std::size_t kMaxGrowthRoom = std::size_t{64} << 20;

// Room for an object that grows: three times its size (up to 64 MiB), so a loop growing it by a
// constant factor moves it only every few steps. Room is address space, not memory, until the
// program writes there.
constexpr std::size_t GrowthRoom(std::size_t size) {
  return size < kMaxGrowthRoom / 3 ? 3 * size : kMaxGrowthRoom;
}

// Offset of the user pointer from the mapping's start: room for the header, and aligned.
constexpr std::size_t UserOffset(std::size_t alignment) {
  return alignment > sizeof(LargeHeader) ? alignment : kCacheLine;
}

// The page-map granule of a mapping's objects (the user pointer's, kept or live).
const void* Granule(LargeHeader* h) {
  return h->base() + UserOffset(h->alignment());
}

// Memory for `map_size` bytes aligned to map_align: region granules when a run can hold it
// (map_size then grows to whole granules), else a mapping of its own.
void* MapLarge(std::size_t& map_size, std::size_t map_align, bool& in_region) {
  RegionsBeforeLargeMapping();
  in_region = map_align <= kSuperblockSize && map_size <= kRegionMax;
  if (!in_region) return OsMap(map_size, map_align, MapPurpose::kLarge);
  map_size = RoundUp(map_size, kSuperblockSize);
  return RegionAlloc(RegionKind::kLarge, map_size / kSuperblockSize);
}

void UnmapLarge(void* mem, std::size_t map_size, bool in_region) {
  if (in_region) {
    RegionFree(RegionKind::kLarge, mem, map_size / kSuperblockSize);
  } else {
    OsUnmap(mem, map_size, MapPurpose::kLarge);
  }
}

void Unmap(LargeHeader* h) {
  g_page_map.SetFreedLarge(Granule(h));
  UnmapLarge(h, h->map_size, h->in_region);
}

// Gives the memory of kept mapping h back but for its first page (the header's).
void Decommit(LargeHeader* h) {
  OsDecommit(h->base() + kPageSize, h->map_size - kPageSize);
  h->decommitted = true;
}

void Put(LargeHeader* h);

// The work the cache handed out, done with no lock held: decommitted entries go back in.
void Finish(Work& w) {
  while (LargeHeader* h = w.unmap) {
    w.unmap = h->age_next;
    Unmap(h);
  }
  while (LargeHeader* h = w.decommit) {
    w.decommit = h->age_next;
    Decommit(h);
    Put(h);
  }
}

// Kept mapping h joins the shared cache (the oldest entries leave when it is full).
void Put(LargeHeader* h) {
  Work w;
  {
    LockGuard guard(g_cache.lock);
    std::uint32_t now = OsNowMs();
    h = g_cache.Merge(h);
    g_cache.Insert(h, now);
    g_cache.Enforce(w, g_cache.Limit());
    g_cache.Decay(now, w);
  }
  Finish(w);
}

// The live large objects just shrank (a free or a shrink that bypassed the cache): so may the
// cache's bound.
void Shrunk() {
  if constexpr (!kLargeCache) return;
  Work w;
  {
    LockGuard guard(g_cache.lock);
    g_cache.Enforce(w, g_cache.Limit());
  }
  Finish(w);
}

// A kept mapping leaves the threads' side for the shared cache.
void Retire(LargeHeader* h) {
  g_mapping_count.fetch_sub(1, std::memory_order_relaxed);
  Put(h);
}

// Moves the pages of h (live or kept) into a new mapping of map_size bytes, the page map
// following: returns the new header, or nullptr (h unchanged) when the OS refuses.
LargeHeader* MoveTo(LargeHeader* h, std::size_t map_size) {
  std::size_t map_align = h->alignment() > kSuperblockSize ? h->alignment() : kSuperblockSize;
  RegionsBeforeLargeMapping();
  void* target = OsMap(map_size, map_align, MapPurpose::kLarge);
  if (target == nullptr) return nullptr;
  // Enter the new granule before the move: it lies in our own mapping, so nothing else can claim
  // it. Leave the old granule before the move too: the move frees the old range, another thread
  // may map there at once and enter its own object, and a later Clear would erase that.
  auto* moved = static_cast<LargeHeader*>(target);
  std::size_t offset = UserOffset(h->alignment());
  const void* granule = moved->base() + offset;
  if (g_page_map.SetLarge(granule, moved)) {
    const void* old_granule = Granule(h);
    g_page_map.SetFreedLarge(old_granule);
    // Only h's bytes move (the rest of target stays as mapped): a move that keeps its size may
    // span several kernel mappings (Linux 6.17 on), as a merged or borrowing mapping does.
    if (OsMoveInto(h, h->map_size, target, h->map_size, MapPurpose::kLarge)) {
      moved->map_size = map_size;
      if (moved->user) moved->user = moved->base() + offset;
      return moved;
    }
    // The object stays where it was. Its leaf exists, so entering it again cannot fail.
    g_page_map.SetLarge(old_granule, h);
    g_page_map.Clear(granule);
  }
  OsUnmap(target, map_size, MapPurpose::kLarge);
  return nullptr;
}

enum class Borrowed { kNothing, kPages, kBroken };

// Fills the bytes of h from `from` on (just grown: fresh pages, not yet touched) with pages of
// other kept mappings, moved there by the kernel (nothing is copied), so growing a kept mapping
// faults few new pages while the cache holds any. kBroken: a move failed and the range it may
// have cleared could not be mapped again (h then has a hole and must go back to the OS).
Borrowed Borrow(LargeHeader* h, std::size_t from) {
  char* at = h->base() + from;
  char* end = h->base() + h->map_size;
  Borrowed result = Borrowed::kNothing;
  for (int n = 0; n < 4 && static_cast<std::size_t>(end - at) >= kMinPiece; ++n) {
    LargeHeader* d;
    {
      LockGuard guard(g_cache.lock);
      d = g_cache.TakeDonor();
    }
    if (d == nullptr) break;
    std::size_t want = static_cast<std::size_t>(end - at);
    bool whole = d->map_size <= want;  // all of it, header too, else its tail
    std::size_t take = whole                             ? d->map_size
                       : d->map_size - want >= kMinPiece ? want
                                                         : d->map_size - kMinPiece;
    if (take < kMinPiece) {  // a run this short is not worth a kernel mapping
      Put(d);
      break;
    }
    char* src = d->base() + d->map_size - take;
    if (whole) g_page_map.SetFreedLarge(Granule(d));  // its last object stays freed
    if (!OsMoveInto(src, take, at, take, MapPurpose::kLarge)) {
      if (whole) g_page_map.SetLarge(Granule(d), d);  // its leaf exists: this cannot fail
      Put(d);
      return OsRemapFresh(at, static_cast<std::size_t>(end - at)) ? result : Borrowed::kBroken;
    }
    at += take;
    result = Borrowed::kPages;
    if (!whole) {
      d->map_size -= take;
      Put(d);
    }
  }
  return result;
}

// Kept mapping h, taken from the cache for `need` bytes, made to fit. A mapping of its own
// that is larger by a granule or more is split: its tail, from the first granule past the
// request, becomes a kept mapping of its own (no syscall; its pages stay for the next request).
// A smaller one grows, in place or by moving its pages, and borrows pages of other kept
// mappings for the rest (new pages come zeroed). Returns the header (moved or not), or nullptr
// when growing failed (h then goes back to the cache, or to the OS when a failed move left it a
// hole). `dirty` becomes the bytes after the header that may hold old data.
LargeHeader* Fit(LargeHeader* h, std::size_t need, std::size_t& dirty) {
  dirty = h->decommitted ? kPageSize - kCacheLine : h->map_size - kCacheLine;
  if (h->in_region || h->map_size == need) return h;
  if (h->map_size > need) {
    std::size_t keep = RoundUp(need, kSuperblockSize);
    if (keep >= h->map_size || h->map_size - keep < kSuperblockSize) return h;
    auto* tail = new (h->base() + keep) LargeHeader{};
    tail->map_size = h->map_size - keep;
    tail->decommitted = h->decommitted;
    if (!g_page_map.SetLarge(Granule(tail), tail)) return h;
    h->map_size = keep;
    Put(tail);
    return h;
  }
  std::size_t have = h->map_size;
  if (OsResizeInPlace(h, have, need, MapPurpose::kLarge)) {
    h->map_size = need;
  } else if (LargeHeader* moved = MoveTo(h, need)) {
    h = moved;
  } else {
    Put(h);
    return nullptr;
  }
  switch (Borrow(h, have)) {
    case Borrowed::kNothing:
      break;
    case Borrowed::kPages:
      dirty = need - kCacheLine;
      break;
    case Borrowed::kBroken:
      Unmap(h);
      return nullptr;
  }
  return h;
}

// A kept mapping that serves `need` bytes: the thread's spare, else one from the shared cache.
LargeHeader* TakeKept(std::size_t need, LargeUse use, std::size_t& dirty) {
  if (LargeHeader* s = tls_large_spare; s && Suits(s->map_size, need, use)) {
    tls_large_spare = nullptr;
    dirty = s->map_size - kCacheLine;
    return s;
  }
  LargeHeader* h;
  Work w;
  {
    LockGuard guard(g_cache.lock);
    h = g_cache.Take(need, use);
    g_cache.Decay(OsNowMs(), w);
  }
  Finish(w);
  if (h == nullptr) return nullptr;
  h = Fit(h, need, dirty);
  if (h) {
    h->decommitted = false;
    g_mapping_count.fetch_add(1, std::memory_order_relaxed);
  }
  return h;
}

// LargeRealloc for an object in a region: granules are given back from the end on a real
// shrink, taken from those that follow when they are free, or nullptr (the caller moves it).
void* RegionRealloc(LargeHeader* h, std::size_t size, std::size_t need) {
  std::size_t have = h->map_size / kSuperblockSize;
  std::size_t want = RoundUp(need, kSuperblockSize) / kSuperblockSize;
  if (want < have && size < h->size && need <= h->map_size / 2) {
    RegionFree(RegionKind::kLarge, h->base() + want * kSuperblockSize, have - want);
    h->map_size = want * kSuperblockSize;
    Shrunk();
  } else if (want > have) {
    if (!RegionExtend(RegionKind::kLarge, h, have, want - have)) return nullptr;
    h->map_size = want * kSuperblockSize;
  }
  h->size = size;
  return h->user;
}

}  // namespace

// calloc of memory the kernel will zero: its pages are faulted in, writable, in one call. A
// program that reads a calloc'd buffer before writing it otherwise maps the shared zero page at
// the read and copies it at the write, a second fault and, once it has threads, a TLB shootdown
// per page. Only up to kPopulateMax: a bigger calloc is likelier a sparse table, which must not
// cost its whole size in memory.
constexpr std::size_t kPopulateMax = std::size_t{64} << 20;

void PopulateZeroed(void* p, std::size_t size) {
  if (size <= kPopulateMax) OsPopulate(p, size);
}

void* LargeAlloc(std::size_t size, std::size_t alignment, bool zero, LargeUse use) {
  if (alignment > kMaxAlignment) return nullptr;
  // Even a zero-byte object must lie inside its mapping: its granule in the page map must not
  // be one a superblock could take.
  if (size == 0) size = 1;
  std::size_t offset = UserOffset(alignment);
  if (size > PTRDIFF_MAX - offset - kSuperblockSize - kMaxGrowthRoom) return nullptr;
  // An object expected to grow gets its room from a kept mapping too.
  std::size_t room = use == LargeUse::kGrowing ? GrowthRoom(size) : 0;
  std::size_t map_size = RoundUp(offset + size + room, kPageSize);
  if (kLargeCache && offset == kCacheLine) {
    std::size_t dirty;
    if (LargeHeader* h = TakeKept(map_size, use, dirty)) {
      void* p = h->Reuse(size, alignment);
      // Only what the last object may have written needs clearing: decommitted pages and pages
      // a kept mapping grew by read as zeros.
      if (zero) {
        std::memset(p, 0, size < dirty ? size : dirty);
        if (size > dirty) PopulateZeroed(static_cast<char*>(p) + dirty, size - dirty);
      }
      return p;
    }
  }
  std::size_t map_align = alignment > kSuperblockSize ? alignment : kSuperblockSize;
  bool in_region;
  void* mem = MapLarge(map_size, map_align, in_region);
  // Refused: kept mappings (which serve only the default alignment, and only sizes they fit)
  // may be holding the memory or address space, so they go back and the request tries again.
  if (mem == nullptr && LargeTrim() > 0) mem = MapLarge(map_size, map_align, in_region);
  if (mem == nullptr) return nullptr;
  auto* h = new (mem) LargeHeader{};
  h->user = static_cast<char*>(mem) + offset;
  h->map_size = map_size;
  h->align_shift = static_cast<std::uint8_t>(std::countr_zero(alignment));
  h->size = size;
  h->in_region = in_region;
  // The user pointer's granule is inside this S-aligned memory, so no other halloc object
  // can claim it.
  if (!g_page_map.SetLarge(h->user, h)) {
    UnmapLarge(mem, map_size, in_region);
    return nullptr;
  }
  g_mapping_count.fetch_add(1, std::memory_order_relaxed);
  if (zero) PopulateZeroed(h->user, size);
  return h->user;
}

void LargeFree(LargeHeader* h) {
  if (!kLargeCache || UserOffset(h->alignment()) != kCacheLine) {
    g_mapping_count.fetch_sub(1, std::memory_order_relaxed);
    Unmap(h);
    Shrunk();
    return;
  }
  h->user = nullptr;  // kept: a second free of the same pointer no longer matches
  Retire(h);
}

void* LargeRealloc(LargeHeader* h, std::size_t size) {
  if (size == 0) size = 1;
  std::size_t offset = static_cast<std::size_t>(static_cast<char*>(h->user) - h->base());
  if (size > PTRDIFF_MAX - offset - kSuperblockSize - kMaxGrowthRoom) return nullptr;
  std::size_t need = RoundUp(offset + size, kPageSize);
  if (h->in_region) return RegionRealloc(h, size, need);
  if (need <= h->map_size) {
    // Growing into its room, or shrinking a little: stay. A real shrink unmaps the tail.
    bool shrink = size < h->size && need <= h->map_size / 2;
    if (shrink && !OsResizeInPlace(h, h->map_size, need, MapPurpose::kLarge)) return nullptr;
    if (shrink) {
      h->map_size = need;
      Shrunk();
    }
    h->size = size;
    return h->user;
  }
  // Growing past its mapping: move its pages into a larger one, with room to grow on.
  LargeHeader* moved = MoveTo(h, RoundUp(offset + size + GrowthRoom(size), kPageSize));
  if (moved == nullptr) return nullptr;
  moved->size = size;
  return moved->user;
}

std::size_t LargeCount() {
  return g_mapping_count.load(std::memory_order_relaxed) - (tls_large_spare != nullptr);
}

std::size_t LargeCachedBytes() {
  LockGuard guard(g_cache.lock);
  return g_cache.bytes + (tls_large_spare ? tls_large_spare->map_size : 0);
}

std::size_t LargeCachedCount() {
  LockGuard guard(g_cache.lock);
  return g_cache.count + (tls_large_spare != nullptr);
}

std::size_t LargeCacheLimit() {
  LockGuard guard(g_cache.lock);
  return g_cache.Limit();
}

std::size_t LargeDecommittedBytes() {
  LockGuard guard(g_cache.lock);
  return g_cache.decommitted_bytes;
}

std::size_t LargeTrim() {
  std::size_t bytes = 0;
  Work w;
  {
    LockGuard guard(g_cache.lock);
    bytes = g_cache.bytes;
    g_cache.Enforce(w, 0);
  }
  Finish(w);
  if (LargeHeader* s = std::exchange(tls_large_spare, nullptr)) {
    g_mapping_count.fetch_sub(1, std::memory_order_relaxed);
    bytes += s->map_size;
    Unmap(s);
  }
  return bytes;
}

namespace {

// Whether kept mapping h has a resident page past its first (looked at in its first 64 pages
// after the header's): a decommitted one must not, unless the program wrote to freed memory.
bool HasResidentPages(LargeHeader* h) {
  unsigned char resident[64];
  std::size_t pages = h->map_size / kPageSize - 1;
  if (pages > sizeof resident) pages = sizeof resident;
  if (pages == 0 || mincore(h->base() + kPageSize, pages * kPageSize, resident) != 0) return false;
  for (std::size_t i = 0; i < pages; ++i) {
    if (resident[i] & 1) return true;
  }
  return false;
}

// The entries of one age list, checked: returns nullptr when all hold, else what does not.
const char* CheckAgeList(const LargeCache::AgeList& age, bool decommitted, std::size_t& count,
                         std::size_t& bytes, std::size_t& registered_starts,
                         std::size_t& registered_ends) {
  LargeHeader* prev = nullptr;
  for (LargeHeader* h = age.first; h; prev = h, h = h->age_next) {
    if (++count > g_cache.count) return "large cache: an age list is longer than the cache";
    if (h->age_prev != prev) return "large cache: an age list is broken";
    if (h->map_size % kPageSize != 0 || reinterpret_cast<std::uintptr_t>(h) % kSuperblockSize)
      return "large cache: entry not a page-sized, S-aligned mapping";
    if (h->user != nullptr || h->alignment() > kCacheLine ||
        g_page_map.Lookup(Granule(h)).large() != h)
      return "large cache: an entry is not in the page map as a kept mapping";
    if (h->in_region && h->map_size > kRegionMax) return "large cache: a region entry too large";
    if (h->decommitted != decommitted) return "large cache: an entry is in the wrong age list";
    if (prev && static_cast<std::int32_t>(h->since_ms - prev->since_ms) < 0)
      return "large cache: an age list is out of order";
    if (decommitted && HasResidentPages(h))
      return "large cache: a decommitted entry has resident pages";
    if (LargeHeader* s = g_cache.starts.Find(h); s && s != h)
      return "large cache: the set of starts names another entry";
    if (LargeHeader* e = g_cache.ends.Find(h->base() + h->map_size); e && e != h)
      return "large cache: the set of ends names another entry";
    registered_starts += g_cache.starts.Find(h) == h;
    registered_ends += g_cache.ends.Find(h->base() + h->map_size) == h;
    // In its size bin.
    LargeHeader* b = g_cache.bins[BinOf(h->map_size)];
    while (b && b != h) b = b->bin_next;
    if (b == nullptr) return "large cache: an entry is not in its size bin";
    bytes += h->map_size;
  }
  if (age.last != prev) return "large cache: an age list's last entry is wrong";
  return nullptr;
}

}  // namespace

const char* LargeCacheViolation() {
  LockGuard guard(g_cache.lock);
  std::size_t count = 0, bytes = 0, decommitted_bytes = 0, starts = 0, ends = 0;
  if (const char* why = CheckAgeList(g_cache.committed, false, count, bytes, starts, ends))
    return why;
  if (const char* why =
          CheckAgeList(g_cache.decommitted, true, count, decommitted_bytes, starts, ends))
    return why;
  if (starts != g_cache.starts.size() || ends != g_cache.ends.size())
    return "large cache: the address sets hold entries the cache does not";
  bytes += decommitted_bytes;
  if (count != g_cache.count) return "large cache: entry count differs from its entries";
  if (bytes != g_cache.bytes || decommitted_bytes != g_cache.decommitted_bytes)
    return "large cache: byte count differs from its entries";
  std::size_t binned = 0;
  for (std::size_t b = 0; b < kBins; ++b) {
    bool nonempty = g_cache.nonempty[b / 64] >> (b % 64) & 1;
    if (nonempty != (g_cache.bins[b] != nullptr))
      return "large cache: the bitmap of size bins is wrong";
    for (LargeHeader* h = g_cache.bins[b]; h; h = h->bin_next) {
      if (++binned > count || BinOf(h->map_size) != b)
        return "large cache: a size bin holds an entry not in an age list";
    }
  }
  if (binned != count) return "large cache: size bins and age lists differ";
  if (bytes > g_cache.Limit()) return "large cache: holds more bytes than its bound";
  if (LargeHeader* s = tls_large_spare) {
    if (s->user != nullptr || s->map_size > kSpareMax || g_page_map.Lookup(Granule(s)).large() != s)
      return "large cache: the thread's spare mapping is not a kept mapping";
  }
  return nullptr;
}

void LargeThreadExit() {
  if (LargeHeader* s = std::exchange(tls_large_spare, nullptr)) Retire(s);
}

void LargeAfterForkInChild() {
  tls_large_spare = nullptr;
  if (!g_cache.lock.IsLocked()) return;
  // Its lists may be half linked: start empty (the kept mappings leak).
  g_cache.lock.Reset();
  g_cache.count = 0;
  g_cache.bytes = 0;
  g_cache.decommitted_bytes = 0;
  g_cache.committed = {};
  g_cache.decommitted = {};
  g_cache.starts.Clear();
  g_cache.ends.Clear();
  for (LargeHeader*& b : g_cache.bins) b = nullptr;
  for (std::uint64_t& w : g_cache.nonempty) w = 0;
}

}  // namespace halloc
