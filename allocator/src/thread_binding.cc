#include "thread_binding.h"

#include <pthread.h>
#include <sched.h>
#include <sys/sysinfo.h>

#include "large.h"
#include "lock.h"
#include "os.h"
#include "region.h"
#include "thread_cache.h"

namespace halloc {

namespace {

enum : int { kUninitialized, kInitializing, kReady };
constinit std::atomic<int> g_state{kUninitialized};
pthread_key_t g_exit_key;
constinit std::atomic<std::size_t> g_heap_limit{1};  // mallopt may change it at any time

constinit Mutex g_binding_lock;  // guards binding and heap creation
constinit std::atomic<Heap*> g_heaps[kPolicy.max_heaps];
constinit std::atomic<std::size_t> g_heap_count{0};

void UnbindThread(void* arg) {
  auto* heap = static_cast<Heap*>(arg);
  LargeThreadExit();
  tls_cache.Unbind();
  bool last;
  {
    LockGuard guard(g_binding_lock);
    last = heap->threads.fetch_sub(1, std::memory_order_seq_cst) == 1;
  }
  // Take back what was posted here; a post that races with this sees no thread and drains
  // the inbox itself (ThreadCache::FlushRemote).
  heap->Drain();
  if (!last) return;
  ReleaseList release;
  {
    LockGuard guard(heap->lock);
    heap->Trim(release);
  }
  release.ReleaseAll();
}

// In the child of fork() only the forking thread survives, and any lock another thread held at
// the fork stays held forever. halloc does not take its locks around fork (that deadlocks against
// glibc's stdio lock when another thread is in fflush and malloc at once); instead the child
// replaces each heap that was locked, since its lists may be half updated, with a fresh one.
// Blocks of a replaced heap stay valid but are never reused: their frees are ignored.
void AfterForkInChild() {
  Heap* mine = tls_cache.heap;
  CacheSlots* slots = tls_cache.slots;
  // The fork may have interrupted this thread inside its own cache (from a signal handler):
  // start the child with an empty one; the cached blocks are leaked, its slots reused.
  tls_cache = ThreadCache{};
  g_binding_lock.Reset();
  CacheSlots::AfterForkInChild();
  if (slots != nullptr) CacheSlots::Give(slots);
  DescriptorArenaAfterForkInChild();
  RegionsAfterForkInChild();
  OsAfterForkInChild();
  LargeAfterForkInChild();
  if (Heap* global = GlobalHeap(); global->lock.IsLocked()) {
    global->abandoned = true;
    SetGlobalHeap(NewHeap(0, true));
  }
  std::size_t n = g_heap_count.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < n; ++i) {
    Heap* h = g_heaps[i].load(std::memory_order_relaxed);
    if (h->lock.IsLocked()) {
      h->abandoned = true;
      Heap* fresh = NewHeap(static_cast<std::uint32_t>(i), false);
      g_heaps[i].store(fresh, std::memory_order_relaxed);
      if (mine == h) mine = fresh;
      h = fresh;
    }
    h->threads.store(h == mine ? 1 : 0, std::memory_order_relaxed);
  }
  tls_cache.Bind(mine);
  if (mine) pthread_setspecific(g_exit_key, mine);
}

void Initialize() {
  int expected = kUninitialized;
  if (!g_state.compare_exchange_strong(expected, kInitializing, std::memory_order_acquire)) {
    while (g_state.load(std::memory_order_acquire) != kReady) sched_yield();
    return;
  }
  // Nothing here may allocate: get_nprocs and pthread_key_create do not.
  std::size_t cpus = static_cast<std::size_t>(get_nprocs());
  if (cpus == 0) cpus = 1;
  std::size_t limit = kPolicy.heaps_per_cpu ? kPolicy.heaps_per_cpu * cpus : kPolicy.max_heaps;
  g_heap_limit.store(limit < kPolicy.max_heaps ? limit : kPolicy.max_heaps,
                     std::memory_order_relaxed);
  SetGlobalHeap(NewHeap(0, true));
  pthread_key_create(&g_exit_key, UnbindThread);
  g_state.store(kReady, std::memory_order_release);
  // Registering may allocate, which works now.
  pthread_atfork(nullptr, nullptr, AfterForkInChild);
}

}  // namespace

void EnsureInitialized() {
  if (g_state.load(std::memory_order_acquire) != kReady) [[unlikely]]
    Initialize();
}

Heap* BindThread() {
  EnsureInitialized();
  Heap* chosen = nullptr;
  {
    LockGuard guard(g_binding_lock);
    std::size_t n = g_heap_count.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < n && chosen == nullptr; ++i) {
      Heap* h = g_heaps[i].load(std::memory_order_relaxed);
      if (h->threads.load(std::memory_order_relaxed) == 0) chosen = h;
    }
    if (chosen == nullptr && n < g_heap_limit.load(std::memory_order_relaxed)) {
      chosen = NewHeap(static_cast<std::uint32_t>(n), false);
      if (chosen) {
        g_heaps[n].store(chosen, std::memory_order_release);
        g_heap_count.store(n + 1, std::memory_order_release);
      }
    }
    if (chosen == nullptr) {  // every heap is taken: share the least loaded
      for (std::size_t i = 0; i < n; ++i) {
        Heap* h = g_heaps[i].load(std::memory_order_relaxed);
        if (chosen == nullptr || h->threads.load(std::memory_order_relaxed) <
                                     chosen->threads.load(std::memory_order_relaxed))
          chosen = h;
      }
    }
    if (chosen == nullptr) return nullptr;
    chosen->threads.fetch_add(1, std::memory_order_relaxed);
  }
  // Bind before registering the exit hook: pthread_setspecific may allocate, and that
  // allocation must find the binding in place.
  tls_cache.Bind(chosen);
  pthread_setspecific(g_exit_key, chosen);
  return chosen;
}

std::size_t HeapCount() {
  return g_heap_count.load(std::memory_order_acquire);
}
Heap* HeapAt(std::size_t i) {
  return g_heaps[i].load(std::memory_order_acquire);
}
std::size_t HeapLimit() {
  EnsureInitialized();
  return g_heap_limit.load(std::memory_order_relaxed);
}

std::size_t SetHeapLimit(std::size_t n) {
  EnsureInitialized();
  std::size_t limit = n < 1 ? 1 : n < kPolicy.max_heaps ? n : kPolicy.max_heaps;
  g_heap_limit.store(limit, std::memory_order_relaxed);
  return limit;
}

}  // namespace halloc
