#include "superblock.h"

#include <bit>

#include "lock.h"
#include "os.h"

namespace halloc {
namespace {

// Descriptors and their state maps, carved from metadata chunks and reused through free
// lists (descriptors linked by `next`, maps by their first word; Format clears a map it takes).
// Taken and returned only when a superblock is mapped, formatted or unmapped, next to a system call
// or a class change. A new chunk is mapped with no lock held: threads that map superblocks at
// once (a mass allocation) waited on this lock while its holder was in mmap.
struct DescriptorArena {
  static constexpr std::size_t kChunkBytes = 64 << 10;
  static constexpr std::size_t kMapSizes = std::bit_width(kStateBytes / 64) + 1;  // 64 B ... max
  static_assert(kChunkBytes >= StateMapBytes(kStateBytes));
  Mutex lock;
  Superblock* free = nullptr;
  void* free_maps[kMapSizes] = {};
  char* bump = nullptr;
  char* end = nullptr;

  // `bytes` (a multiple of 64 up to a chunk) from the current chunk, or nullptr when it has no
  // room (then Grow). Lock held.
  void* Carve(std::size_t bytes) {
    if (static_cast<std::size_t>(end - bump) < bytes) return nullptr;
    void* p = bump;
    bump += bytes;
    return p;
  }
  // A map of `need` bytes, from the free list or carved (then `fresh`), in place of `old` (of
  // `old_bytes`; nullptr for none), which goes on its free list; nullptr, keeping `old`, when the
  // chunk has no room (then Grow). Takes the lock.
  void* SwapMap(void* old, std::size_t old_bytes, std::size_t need, bool& fresh) {
    LockGuard guard(lock);
    void*& free_map = free_maps[MapIndex(need)];
    void* map = free_map;
    if (map != nullptr) {
      free_map = *static_cast<void**>(map);
    } else if ((map = Carve(need)) == nullptr) {
      return nullptr;
    } else {
      fresh = true;
    }
    if (old != nullptr) {
      void*& list = free_maps[MapIndex(old_bytes)];
      *static_cast<void**>(old) = list;
      list = old;
    }
    return map;
  }
  // Gives the arena a chunk with room for `bytes`; false when the OS refuses. Hold no lock.
  bool Grow(std::size_t bytes) {
    void* chunk = OsMap(kChunkBytes, kPageSize, MapPurpose::kMetadata);
    if (chunk == nullptr) return false;
    {
      LockGuard guard(lock);
      if (static_cast<std::size_t>(end - bump) < bytes) {  // nobody grew it meanwhile
        bump = static_cast<char*>(chunk);
        end = bump + kChunkBytes;
        chunk = nullptr;
      }
    }
    if (chunk != nullptr) OsUnmap(chunk, kChunkBytes, MapPurpose::kMetadata);
    return true;
  }
  static std::size_t MapIndex(std::size_t bytes) { return std::bit_width(bytes / 64) - 1; }
};
constinit DescriptorArena g_arena;

}  // namespace

Superblock* NewSuperblockDescriptor() {
  do {
    LockGuard guard(g_arena.lock);
    if (Superblock* sb = g_arena.free) {
      g_arena.free = sb->next;
      return sb;
    }
    if (void* p = g_arena.Carve(sizeof(Superblock))) return static_cast<Superblock*>(p);
  } while (g_arena.Grow(sizeof(Superblock)));
  return nullptr;
}

void FreeSuperblockDescriptor(Superblock* sb) {
  sb->memory_.store(nullptr, std::memory_order_relaxed);  // no longer describes any memory
  LockGuard guard(g_arena.lock);
  sb->next = g_arena.free;
  g_arena.free = sb;
}

void DescriptorArenaAfterForkInChild() {
  if (!g_arena.lock.IsLocked()) return;
  // The fork interrupted another thread inside: the free list is consistent after every store
  // (a push links the node before publishing it; a pop is one store), bump and end may not be.
  g_arena.lock.Reset();
  g_arena.bump = g_arena.end = nullptr;
}

bool Superblock::Format(std::uint32_t c) {
  // An empty superblock that keeps its memory and its class keeps its map as it is: it holds
  // no live or held block, and kFreed from the bump index on is what PopInto expects of blocks
  // freed before. (threadtest empties its superblocks every round; clearing their maps each
  // time it took them back was 3% of its time.)
  if (memory() == nullptr || states_ == nullptr || size_class != c) {
    // Otherwise keep the map when its size fits the class, and clear what it says of the
    // blocks of the old class.
    const std::size_t need = StateMapBytes(kSizeClasses.capacity[c]);
    bool fresh = false;  // a map carved from memory the OS just gave reads all kNeverUsed
    if (states_ == nullptr || StateMapBytes(capacity) != need) {
      void* map;
      while ((map = g_arena.SwapMap(states_, StateMapBytes(capacity), need, fresh)) == nullptr) {
        if (!g_arena.Grow(need)) return false;
      }
      states_ = static_cast<std::atomic<std::uint8_t>*>(map);
    }
    if (!fresh) {
      for (std::size_t i = 0; i < need; ++i)
        states_[i].store(kNeverUsed, std::memory_order_relaxed);
    }
  }
  prev = next = nullptr;
  scan = 0;
  used = 0;
  bump = 0;
  size_class = static_cast<std::uint8_t>(c);
  block_size = kSizeClasses.block_size[c];
  capacity = static_cast<std::uint16_t>(kSizeClasses.capacity[c]);
  inverse = kSizeClasses.inverse[c];
  shift = kSizeClasses.shift[c];
  group = 0;
  return true;
}

}  // namespace halloc
