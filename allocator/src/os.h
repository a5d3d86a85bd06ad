// The OS layer: every byte halloc takes from the kernel goes through here, so the counters
// (current and peak, per purpose) are exact.
#pragma once

#include <atomic>
#include <cstddef>

namespace halloc {

enum class MapPurpose { kSuperblock, kLarge, kMetadata, kCount };

// Maps `size` bytes (a multiple of the page size) aligned to `alignment` (a power of two).
// Returns nullptr when the kernel refuses. Memory is zeroed.
void* OsMap(std::size_t size, std::size_t alignment, MapPurpose purpose);
void OsUnmap(void* p, std::size_t size, MapPurpose purpose);
// Tries to grow or shrink a mapping in place; false when the neighbouring range is taken.
bool OsResizeInPlace(void* p, std::size_t old_size, std::size_t new_size, MapPurpose purpose);
// Moves the pages of [p, p + old_size) to `target`, a mapping of new_size >= old_size bytes from
// OsMap that the move replaces, without copying them (the kernel moves page-table entries).
// False, with p unchanged, when the kernel refuses; `target` then still needs an OsUnmap.
bool OsMoveInto(void* p, std::size_t old_size, void* target, std::size_t new_size,
                MapPurpose purpose);

struct OsCounters {
  std::size_t bytes, peak;
};
OsCounters OsTotal();
OsCounters OsBytes(MapPurpose purpose);

inline constexpr std::size_t kPageSize = 4096;

}  // namespace halloc
