// Regions: superblocks and all but the largest large objects are carved from regions of
// R = 64 S bytes, reserved 16 at a time, kept for the life of the process. So halloc needs one
// mapping per 16 R bytes rather than one per superblock or large object (a program far below the
// memory limit never meets vm.max_map_count), granules go back to the OS with madvise, and the
// two kinds never share an address: superblocks come from regions of their own, so a stale
// pointer to a freed large object never lands in a superblock (see page_map.h).
//
// Superblocks for different heaps come from different pools of regions (kSuperblockPools of
// them, by heap index), so threads faulting in fresh superblocks at once rarely share a 2 MiB
// page-table page: the kernel takes that page's lock on every fault, and two threads carving
// one region in turn spent a tenth of a mass allocation waiting for it.
//
// A region's first granule holds its header; bit g of `used` says whether granule g is taken.
// A new superblock region leaves out granules the page map still remembers (the address of a
// large object freed before the region was mapped there).
#pragma once

#include <cstddef>

#include "policy.h"

namespace halloc {

enum class RegionKind { kSuperblocks, kLarge };

inline constexpr std::size_t kRegionGranules = 64;
inline constexpr std::size_t kRegionSize = kRegionGranules * kSuperblockSize;
// The longest run of granules one region can give (all but the header's).
inline constexpr std::size_t kRegionMaxRun = kRegionGranules - 1;
inline constexpr std::size_t kSuperblockPools = 4;

// `granules` (1..kRegionMaxRun) contiguous S-aligned granules, or nullptr when the OS refuses;
// superblocks from the pool of `stream` (the heap's index). Zero-filled for large objects;
// superblock granules may hold an earlier superblock's blocks (their batch had not gone back to
// the OS yet).
void* RegionAlloc(RegionKind kind, std::size_t granules, std::size_t stream = 0);
// Gives back granules [p, p + granules S) of one region: their memory goes back to the OS, at
// once for large objects. Superblock granules keep theirs for reuse until at least
// kDecommitBatch of them (in all pools) have waited the policy's superblock_decommit_ms (checked
// when more are given back), halloc maps fresh memory for a large object, or malloc_trim; then
// all go back together, one madvise per run.
void RegionFree(RegionKind kind, void* p, std::size_t granules);
// Called before halloc maps fresh memory for a large object: superblock memory waiting to go
// back (at least a batch) goes now, so the two kinds together never keep more than a batch
// beyond what the program had in use.
void RegionsBeforeLargeMapping();
// Gives back the memory of every freed superblock granule still waiting for its batch
// (malloc_trim); returns how many granules.
std::size_t RegionDecommitAll();
// Takes the `more` granules that follow [p, p + granules S) when they are free; false otherwise.
bool RegionExtend(RegionKind kind, void* p, std::size_t granules, std::size_t more);
// Regions mapped so far, of both kinds, and the reservations of address space they came from.
std::size_t RegionCount();
std::size_t RegionReservations();
// In a forked child: a pool another thread held locked at the fork forgets its free granules.
void RegionsAfterForkInChild();

}  // namespace halloc
