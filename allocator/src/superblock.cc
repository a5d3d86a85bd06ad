#include "superblock.h"

#include "lock.h"
#include "os.h"

namespace halloc {
namespace {

// Descriptors, carved from metadata chunks and reused through a free list (linked by `next`).
// Taken and returned only when a superblock is mapped or unmapped, next to a system call.
struct DescriptorArena {
  static constexpr std::size_t kChunkBytes = 64 << 10;
  Mutex lock;
  Superblock* free = nullptr;
  Superblock* bump = nullptr;
  Superblock* end = nullptr;
};
constinit DescriptorArena g_arena;

}  // namespace

Superblock* NewSuperblockDescriptor() {
  LockGuard guard(g_arena.lock);
  if (Superblock* sb = g_arena.free) {
    g_arena.free = sb->next;
    return sb;
  }
  if (g_arena.bump == g_arena.end) {
    void* chunk = OsMap(DescriptorArena::kChunkBytes, kPageSize, MapPurpose::kMetadata);
    if (chunk == nullptr) return nullptr;
    g_arena.bump = static_cast<Superblock*>(chunk);
    g_arena.end = g_arena.bump + DescriptorArena::kChunkBytes / sizeof(Superblock);
  }
  return g_arena.bump++;
}

void FreeSuperblockDescriptor(Superblock* sb) {
  sb->memory_.store(nullptr, std::memory_order_relaxed);  // no longer describes any memory
  LockGuard guard(g_arena.lock);
  sb->next = g_arena.free;
  g_arena.free = sb;
}

void Superblock::Format(std::uint32_t c) {
  prev = next = nullptr;
  free_list = nullptr;
  used = 0;
  bump = 0;
  size_class = static_cast<std::uint16_t>(c);
  block_size = kSizeClasses.block_size[c];
  capacity = kSizeClasses.capacity[c];
  reciprocal = kSizeClasses.reciprocal[c];
  group = 0;
}

}  // namespace halloc
