// halloc: a Hoard-style scalable memory allocator.
//
// halloc exports the whole malloc family (malloc, free, calloc, realloc, ...) and every C++
// operator new/delete under their usual names, so it works both under LD_PRELOAD and linked.
// This header adds only what libc has no name for: the variant's parameters, statistics and
// the invariant checker the tests and the toolkit call.
#ifndef HALLOC_HALLOC_H
#define HALLOC_HALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// The compile-time policy of the loaded variant (halloc, halloc-paper or halloc-serial).
typedef struct halloc_params {
  const char* variant;       // "halloc", "halloc-paper", "halloc-serial"
  size_t superblock_size;    // S, bytes
  double growth;             // b: consecutive size classes are at most this factor apart
  double empty_fraction;     // f: a superblock at least f empty may move to the global heap
  size_t slack_superblocks;  // K
  size_t max_heaps;          // per-processor heaps (the global heap not counted)
  size_t size_classes;       // number of small size classes
  size_t large_threshold;    // requests above this many bytes go straight to the OS (S/2)
  size_t empty_reserve;      // empty superblocks the global heap keeps before releasing to the OS
  // Freed blocks not yet back in their superblocks (they count as in use; see the README's bound):
  size_t thread_cache_bytes;   // the most one thread's cache holds of its own heap's blocks
  size_t remote_batch_blocks;  // blocks of other heaps one thread holds before passing them on
  size_t inbox_bytes;          // the most bytes of such blocks waiting in one heap's inbox
} halloc_params;

// One heap's counters, read under that heap's lock.
typedef struct halloc_heap_stats {
  size_t in_use_bytes;       // u_i: bytes in blocks handed out
  size_t held_bytes;         // a_i: bytes in blocks of superblocks this heap owns
  size_t superblocks;        // superblocks this heap owns, in units of superblock_size (one of a
                             // class with few blocks to S spans 2, 4 or 8)
  size_t empty_superblocks;  // the empty ones among them, in the same units
  size_t threads;            // threads bound to this heap now
} halloc_heap_stats;

typedef struct halloc_stats {
  size_t heaps;                  // per-processor heaps created so far
  halloc_heap_stats global;      // the global heap
  size_t os_bytes;               // bytes currently mapped from the OS (superblocks+large+meta)
  size_t os_bytes_peak;          // high-water mark of os_bytes
  size_t superblock_bytes;       // bytes currently mapped as superblocks
  size_t superblock_bytes_peak;  // high-water mark of superblock_bytes
  size_t large_bytes;            // bytes currently mapped for large objects
  size_t large_objects;          // large objects live now
  size_t metadata_bytes;         // heaps and the page map
  size_t released_superblocks;   // empty superblocks given back to the OS so far
  size_t large_cached_bytes;     // of large_bytes, freed mappings kept for reuse (shared cache
                                 // and the calling thread's spare)
} halloc_stats;

void halloc_get_params(halloc_params* out);
// Exact for the calling thread: its per-thread cache goes back to the heaps first. Blocks in
// other running threads' caches count as in use, and each such thread's one kept large mapping
// as a live large object, until they reuse them or exit.
void halloc_get_stats(halloc_stats* out);
// Heap i's counters, 0 <= i < stats.heaps. Returns 0, or -1 when i is out of range. Blocks
// other threads freed into heap i's inbox are taken back first.
int halloc_get_heap_stats(size_t i, halloc_heap_stats* out);

// Walks every heap, superblock, free list and the page map and verifies every internal
// invariant, Hoard's emptiness invariant included. Returns 1 when all hold; otherwise 0 and,
// when buf is not NULL, writes a description of the first violation into buf (NUL-terminated).
// Takes each heap's lock in turn: call it when no other thread is inside the allocator for an
// exact answer.
int halloc_check(char* buf, size_t len);

// Writes the statistics as one JSON object into buf; returns the length it needed.
size_t halloc_stats_json(char* buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif  // HALLOC_HALLOC_H
