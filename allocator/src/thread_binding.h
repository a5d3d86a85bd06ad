// Which heap serves the calling thread. A thread binds on its first allocation to a heap no
// other thread uses (creating heaps up to the policy's count), or, when every heap is taken,
// to the one with the fewest threads. It unbinds when it exits, and the last thread to leave
// a heap gives the heap's mostly-empty superblocks to the global heap.
//
// The binding (ThreadCache::heap) lives in initial-exec TLS, so the fast path reads it with one
// instruction and no call into the dynamic loader.
#pragma once

#include <atomic>
#include <cstddef>

#include "heap.h"
#include "thread_cache.h"

namespace halloc {

// Binds the calling thread to a heap (the slow path of CurrentHeap).
Heap* BindThread();

// The calling thread's heap, binding it (and initialising halloc) on first use. nullptr only
// when the OS refuses memory for a heap.
inline Heap* CurrentHeap() {
  Heap* h = tls_cache.heap;
  if (h == nullptr) [[unlikely]]
    h = BindThread();
  return h;
}

// Heaps created so far; heap i for i < HeapCount() never changes except in a forked child.
std::size_t HeapCount();
Heap* HeapAt(std::size_t i);
std::size_t HeapLimit();
// mallopt(M_ARENA_MAX): no heaps beyond max(1, min(n, the policy's max_heaps)) are created from
// now on (heaps that exist stay); returns the limit now in force.
std::size_t SetHeapLimit(std::size_t n);

// Runs once per process: the global heap, the thread-exit key, the fork handler.
void EnsureInitialized();

}  // namespace halloc
