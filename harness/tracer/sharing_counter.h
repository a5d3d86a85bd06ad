// The false-sharing pass: the Hoard paper's Table 3 metric, counted from allocation events.
//
// Fed every malloc and free of a process in one global order (the tracer serialises them), it
// counts the objects that the allocator placed on a cache line holding a live object that
// ANOTHER thread allocated, a thread still running (one that has exited writes nothing more:
// larson hands a finished thread's objects to its successor): those objects can be falsely
// shared. Each such object is either
//   passive: its memory is a block that this thread freed after another thread had allocated
//            it (the program passed an object over, the receiver freed it, and the allocator
//            gave the block back to the receiver: passively induced false sharing), or a block
//            this thread got that way before and freed again (the reuse goes on), or
//   active:  any other way (the allocator itself handed neighbouring memory to two threads).
// An object is examined once, when it is allocated, so each one counts at most once; only its
// first and last cache lines can hold anyone else's bytes.
//
// Memory: a fixed table (the caller's buffer, no malloc) with an entry per live object's first
// and last line and per freed block until its memory is reused; a full table drops events and
// says so (complete = false), never grows.
#pragma once

#include <cstddef>
#include <cstdint>

namespace allocbench::tracer {

inline constexpr uint64_t kLineBytes = 64;

struct SharingCounts {
  uint64_t objects = 0;          // allocations seen
  uint64_t active = 0;           // objects placed beside another thread's live object
  uint64_t passive = 0;          // ... in a block another thread allocated and this one freed
  uint64_t lines = 0;            // distinct cache lines where such an object was placed
  uint64_t frees = 0;            // frees of objects the table knew
  uint64_t untracked_frees = 0;  // frees of pointers it did not know (allocated before tracing)
  uint64_t dropped = 0;          // events lost because the table was full
  uint64_t threads = 0;          // distinct threads seen (set by the tracer)
  uint64_t peak_entries = 0;     // the table's high-water mark
  uint64_t capacity = 0;         // the table's size in entries
};

class SharingCounter {
 public:
  // One table entry: an object (or a freed block) as seen from one of its cache lines.
  struct Entry {
    uint64_t line;  // 0 = empty slot
    uint64_t addr;
    uint64_t size;
    uint32_t alloc_thread;
    uint32_t free_thread;  // 0 while the object is live
    bool passed;           // its memory came to alloc_thread by a passive reuse
  };

  // `entries` slots (a power of two) and `line_slots` slots for the set of shared lines, both
  // zero-filled by the caller and owned by it.
  SharingCounter(Entry* entries, size_t capacity, uint64_t* line_set, size_t line_slots);

  // Threads are numbered from 1; 0 means "none".
  void on_alloc(uint32_t thread, uint64_t addr, uint64_t size);
  void on_free(uint32_t thread, uint64_t addr);
  // From then on, the thread's live objects no longer make their neighbours shared.
  void on_thread_exit(uint32_t thread);

  const SharingCounts& counts() const { return counts_; }
  SharingCounts& counts() { return counts_; }

 private:
  size_t home(uint64_t line) const;
  bool insert(const Entry& entry);
  void erase_at(size_t slot);
  // Erases the entries of the block at `addr` on its first and last line.
  void erase_block(uint64_t addr, uint64_t size);
  // The slot of the entry for the block starting at `addr` on `line`, or capacity_ if none.
  size_t find(uint64_t line, uint64_t addr) const;
  void note_shared_line(uint64_t line);
  bool running(uint32_t thread) const;

  static constexpr uint32_t kTrackedThreads = 1 << 16;  // later ids always count as running

  Entry* table_;
  size_t capacity_;
  size_t used_ = 0;
  uint64_t* line_set_;
  size_t line_slots_;
  size_t lines_used_ = 0;
  SharingCounts counts_;
  uint64_t exited_[kTrackedThreads / 64] = {};
};

}  // namespace allocbench::tracer
