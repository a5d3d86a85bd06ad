// glibc's introspection and tuning calls in halloc's terms: what mallinfo2 reports, what
// malloc_trim gives back, malloc_stats' and malloc_info's reports, and mallopt's settings.
// exports.cc gives them libc's names; the README maps each field. None of them allocates, and
// none prints while it holds a lock of halloc's (a stream's own lock may be held by a thread
// that is inside malloc).
#pragma once

#include <cstddef>
#include <cstdio>

namespace halloc {

struct Summary {
  std::size_t arena;          // bytes of superblocks mapped, plus freed large mappings kept
  std::size_t free_chunks;    // empty superblocks and kept large mappings
  std::size_t large_objects;  // live large objects, each its own mapping
  std::size_t large_bytes;    // bytes mapped for them
  std::size_t in_use;         // bytes of small blocks handed out (arena's share in use)
  std::size_t free_bytes;     // arena - in_use
  std::size_t releasable;     // bytes of the free chunks: what Trim(0) gives back at most
};
// Exact for the calling thread, like halloc_get_stats: its cache goes back first.
Summary Summarize();

// Gives back to the OS every empty superblock (the global heap keeps pad bytes of them) and
// every kept large mapping of the shared cache and the calling thread; returns the bytes.
std::size_t Trim(std::size_t pad);

// glibc's malloc_stats report (one "Arena" per heap, the global heap last) and malloc_info's
// XML document, with halloc's numbers.
void PrintStats(std::FILE* out);
void PrintInfo(std::FILE* out);

// mallopt(M_TRIM_THRESHOLD): the global heap keeps at most `bytes` of empty superblocks (it
// gives back any beyond at once). False, changing nothing, for a variant without a global heap.
bool SetTrimThreshold(std::size_t bytes);

}  // namespace halloc
