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
// Unmaps [p, p + size). When the kernel refuses (at vm.max_map_count, unmapping part of a merged
// mapping needs one more), the memory goes back with madvise instead and the range is unmapped
// later, when a later OsUnmap succeeds: memory is never lost to a failed munmap.
void OsUnmap(void* p, std::size_t size, MapPurpose purpose);
// Maps `size` bytes aligned to `alignment` like OsMap, counted by its user through OsAccount.
void* OsReserve(std::size_t size, std::size_t alignment);
// Counts `delta` bytes (in use for `purpose`) that OsReserve mapped.
void OsAccount(std::ptrdiff_t delta, MapPurpose purpose);
// Gives the memory of [p, p + size) back to the OS; the range stays mapped and reads as zeros.
void OsDecommit(void* p, std::size_t size);
// Milliseconds of a coarse monotonic clock (a vDSO read, no syscall); wraps after 49 days, so
// only differences are compared.
std::uint32_t OsNowMs();
// Faults in the pages of [p, p + size) (mapped by halloc) writable, at once, without changing
// their contents; does nothing on kernels before Linux 5.14.
void OsPopulate(void* p, std::size_t size);
// Ranges whose munmap failed and that wait to be unmapped again.
std::size_t OsStrandedRanges();
// Tests only: the next n munmap calls fail as at the mapping limit.
void OsInjectUnmapFailures(int n);
// In a forked child: the list of stranded ranges, if another thread held it, is reset.
void OsAfterForkInChild();
// Tries to grow or shrink a mapping in place; false when the neighbouring range is taken.
bool OsResizeInPlace(void* p, std::size_t old_size, std::size_t new_size, MapPurpose purpose);
// Moves the pages of [p, p + old_size) to `target`, a mapping of new_size >= old_size bytes from
// OsMap that the move replaces, without copying them (the kernel moves page-table entries).
// False, with p unchanged, when the kernel refuses; `target` then still needs an OsUnmap.
bool OsMoveInto(void* p, std::size_t old_size, void* target, std::size_t new_size,
                MapPurpose purpose);

// Maps fresh zero pages over [p, p + size), a range halloc holds and has counted: what a failed
// OsMoveInto into it may have left unmapped (the kernel clears a move's target before it checks
// the source). False when the kernel refuses.
bool OsRemapFresh(void* p, std::size_t size);

struct OsCounters {
  std::size_t bytes, peak;
};
OsCounters OsTotal();
OsCounters OsBytes(MapPurpose purpose);

inline constexpr std::size_t kPageSize = 4096;

}  // namespace halloc
