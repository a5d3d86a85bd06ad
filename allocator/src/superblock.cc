#include "superblock.h"

#include <bit>

#include "lock.h"
#include "os.h"

namespace halloc {
namespace {

// Descriptors and their state maps, carved from metadata chunks and reused through free
// lists (descriptors linked by `next`, maps by their first word; Format clears a map it takes).
// Taken and returned only when a superblock is mapped, formatted or unmapped, next to a system call
// or a class change.
struct DescriptorArena {
  static constexpr std::size_t kChunkBytes = 64 << 10;
  static constexpr std::size_t kMapSizes = std::bit_width(kStateBytes / 64) + 1;  // 64 B ... max
  static_assert(kChunkBytes >= StateMapBytes(kStateBytes));
  Mutex lock;
  Superblock* free = nullptr;
  void* free_maps[kMapSizes] = {};
  char* bump = nullptr;
  char* end = nullptr;

  // `bytes` (a multiple of 64 up to a chunk) from the current chunk or a new one.
  void* Carve(std::size_t bytes) {
    if (static_cast<std::size_t>(end - bump) < bytes) {
      void* chunk = OsMap(kChunkBytes, kPageSize, MapPurpose::kMetadata);
      if (chunk == nullptr) return nullptr;
      bump = static_cast<char*>(chunk);
      end = bump + kChunkBytes;
    }
    void* p = bump;
    bump += bytes;
    return p;
  }
  static std::size_t MapIndex(std::size_t bytes) { return std::bit_width(bytes / 64) - 1; }
};
constinit DescriptorArena g_arena;

}  // namespace

Superblock* NewSuperblockDescriptor() {
  LockGuard guard(g_arena.lock);
  if (Superblock* sb = g_arena.free) {
    g_arena.free = sb->next;
    return sb;
  }
  return static_cast<Superblock*>(g_arena.Carve(sizeof(Superblock)));
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
  // An empty superblock's map holds no live block: keep it when its size fits the class, and
  // clear what it says of the blocks of the old class.
  std::size_t need = StateMapBytes(kSizeClasses.capacity[c]);
  bool fresh = false;  // a map carved from memory the OS just gave reads all kNeverUsed
  if (states_ == nullptr || StateMapBytes(capacity) != need) {
    LockGuard guard(g_arena.lock);
    void*& free_map = g_arena.free_maps[DescriptorArena::MapIndex(need)];
    void* map = free_map;
    if (map != nullptr) {
      free_map = *static_cast<void**>(map);
    } else if ((map = g_arena.Carve(need)) == nullptr) {
      return false;
    } else {
      fresh = true;
    }
    if (states_ != nullptr) {
      void*& old = g_arena.free_maps[DescriptorArena::MapIndex(StateMapBytes(capacity))];
      *reinterpret_cast<void**>(states_) = old;
      old = states_;
    }
    states_ = static_cast<std::atomic<std::uint8_t>*>(map);
  }
  if (!fresh) {
    for (std::size_t i = 0; i < need; ++i) states_[i].store(kNeverUsed, std::memory_order_relaxed);
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
