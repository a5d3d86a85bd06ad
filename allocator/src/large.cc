#include "large.h"

#include <atomic>
#include <cstdint>
#include <new>

#include "os.h"
#include "page_map.h"

namespace halloc {
namespace {

std::atomic<std::size_t> g_large_count{0};

constexpr std::size_t kMaxAlignment = std::size_t{1} << 40;

constexpr std::size_t RoundUp(std::size_t n, std::size_t to) {
  return (n + to - 1) & ~(to - 1);
}

// Offset of the user pointer from the mapping's start: room for the header, and aligned.
std::size_t UserOffset(std::size_t alignment) {
  return alignment > sizeof(LargeHeader) ? alignment : kCacheLine;
}

}  // namespace

void* LargeAlloc(std::size_t size, std::size_t alignment) {
  if (alignment > kMaxAlignment) return nullptr;
  // Even a zero-byte object must lie inside its mapping: its granule in the page map must not
  // be one a superblock could take.
  if (size == 0) size = 1;
  std::size_t offset = UserOffset(alignment);
  if (size > PTRDIFF_MAX - offset - kSuperblockSize) return nullptr;
  std::size_t map_size = RoundUp(offset + size, kPageSize);
  std::size_t map_align = alignment > kSuperblockSize ? alignment : kSuperblockSize;
  void* mem = OsMap(map_size, map_align, MapPurpose::kLarge);
  if (mem == nullptr) return nullptr;
  auto* h = new (mem) LargeHeader;
  h->user = static_cast<char*>(mem) + offset;
  h->map_size = map_size;
  h->alignment = alignment;
  // The user pointer's granule is inside this S-aligned mapping, so no other halloc object
  // can claim it.
  if (!g_page_map.SetLarge(h->user, h)) {
    OsUnmap(mem, map_size, MapPurpose::kLarge);
    return nullptr;
  }
  g_large_count.fetch_add(1, std::memory_order_relaxed);
  return h->user;
}

void LargeFree(LargeHeader* h) {
  g_page_map.Clear(h->user);
  g_large_count.fetch_sub(1, std::memory_order_relaxed);
  OsUnmap(h, h->map_size, MapPurpose::kLarge);
}

bool LargeResizeInPlace(LargeHeader* h, std::size_t size) {
  if (size == 0) size = 1;
  std::size_t offset = static_cast<std::size_t>(static_cast<char*>(h->user) - h->base());
  if (size > PTRDIFF_MAX - offset - kSuperblockSize) return false;
  std::size_t map_size = RoundUp(offset + size, kPageSize);
  if (map_size == h->map_size) return true;
  if (!OsResizeInPlace(h, h->map_size, map_size, MapPurpose::kLarge)) return false;
  h->map_size = map_size;
  return true;
}

std::size_t LargeCount() {
  return g_large_count.load(std::memory_order_relaxed);
}

}  // namespace halloc
