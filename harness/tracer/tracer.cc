// libsharetrace.so: the false-sharing tracer, an LD_PRELOAD shim for any allocator.
//
//   LD_PRELOAD="libsharetrace.so liballoc.so" ALLOCBENCH_SHARING_OUT=counts.json program
//
// Every malloc-family call is forwarded to the next library that defines it (dlsym RTLD_NEXT:
// the allocator under test, or glibc) and recorded, under one lock, in a SharingCounter (the
// thread, address, size and lifetime of each object; see sharing_counter.h). At exit the counts
// are appended to $ALLOCBENCH_SHARING_OUT as one JSON line per process; sharetrace_counts()
// reads them in-process.
//
// Cost: one uncontended-or-not mutex and a few hash probes per call, so the traced program is
// serialised on the tracer's lock (the counts need one global order; the traced run's speed
// means nothing). Memory: a fixed table, mmap'd once (ALLOCBENCH_SHARING_ENTRIES, default 4 Mi
// entries = 160 MiB of address space, touched as used); when it fills, events are dropped and
// counted, never allocated for.
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "harness/tracer/sharing_counter.h"

using allocbench::tracer::SharingCounter;
using allocbench::tracer::SharingCounts;

#define TRACER_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using MallocFn = void* (*)(size_t);
using FreeFn = void (*)(void*);
using CallocFn = void* (*)(size_t, size_t);
using ReallocFn = void* (*)(void*, size_t);
using MemalignFn = int (*)(void**, size_t, size_t);
using AlignedAllocFn = void* (*)(size_t, size_t);
using UsableSizeFn = size_t (*)(void*);

struct Next {
  MallocFn malloc;
  FreeFn free;
  CallocFn calloc;
  ReallocFn realloc;
  MemalignFn posix_memalign;
  AlignedAllocFn aligned_alloc;
  AlignedAllocFn memalign;
  UsableSizeFn malloc_usable_size;
};
Next next;

pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

// 0: not resolved, 1: resolving (dlsym may call calloc: served from `bootstrap`), 2: ready.
std::atomic<int> state{0};
alignas(64) char bootstrap[16384];
std::atomic<size_t> bootstrap_used{0};

bool from_bootstrap(const void* p) {
  return p >= bootstrap && p < bootstrap + sizeof(bootstrap);
}

void* bootstrap_alloc(size_t size) {
  const size_t rounded = (size + 15) & ~size_t{15};
  const size_t offset = bootstrap_used.fetch_add(rounded);
  if (offset + rounded > sizeof(bootstrap)) return nullptr;
  return bootstrap + offset;  // zero: static storage, never reused
}

SharingCounter* counter = nullptr;
alignas(SharingCounter) char counter_storage[sizeof(SharingCounter)];
std::atomic<uint32_t> thread_count{0};
thread_local uint32_t thread_id = 0;
pthread_key_t exit_key;  // its destructor tells the counter a thread has exited
bool exit_key_made = false;

void on_thread_exit(void* id) {
  pthread_mutex_lock(&lock);
  if (counter != nullptr)
    counter->on_thread_exit(static_cast<uint32_t>(reinterpret_cast<uintptr_t>(id)));
  pthread_mutex_unlock(&lock);
}

uint32_t current_thread() {
  if (thread_id == 0) {
    thread_id = thread_count.fetch_add(1, std::memory_order_relaxed) + 1;
    // Set after thread_id: if setspecific allocates, this thread is already numbered.
    if (exit_key_made) {
      pthread_setspecific(exit_key, reinterpret_cast<void*>(static_cast<uintptr_t>(thread_id)));
    }
  }
  return thread_id;
}

size_t env_entries() {
  const char* text = std::getenv("ALLOCBENCH_SHARING_ENTRIES");
  size_t wanted = text != nullptr ? std::strtoull(text, nullptr, 10) : 0;
  if (wanted < 1024) wanted = size_t{1} << 22;
  size_t capacity = 1024;
  while (capacity < wanted) capacity <<= 1;
  return capacity;
}

void* map_zeroed(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void resolve() {
  int expected = 0;
  if (!state.compare_exchange_strong(expected, 1)) return;  // resolving (dlsym's own calls)
  next.malloc = reinterpret_cast<MallocFn>(dlsym(RTLD_NEXT, "malloc"));
  next.free = reinterpret_cast<FreeFn>(dlsym(RTLD_NEXT, "free"));
  next.calloc = reinterpret_cast<CallocFn>(dlsym(RTLD_NEXT, "calloc"));
  next.realloc = reinterpret_cast<ReallocFn>(dlsym(RTLD_NEXT, "realloc"));
  next.posix_memalign = reinterpret_cast<MemalignFn>(dlsym(RTLD_NEXT, "posix_memalign"));
  next.aligned_alloc = reinterpret_cast<AlignedAllocFn>(dlsym(RTLD_NEXT, "aligned_alloc"));
  next.memalign = reinterpret_cast<AlignedAllocFn>(dlsym(RTLD_NEXT, "memalign"));
  next.malloc_usable_size = reinterpret_cast<UsableSizeFn>(dlsym(RTLD_NEXT, "malloc_usable_size"));
  if (next.malloc == nullptr || next.free == nullptr) {
    static const char message[] = "libsharetrace: no malloc/free after it in the link order\n";
    (void)!write(2, message, sizeof(message) - 1);
    _exit(127);
  }
  const size_t capacity = env_entries();
  const size_t line_slots = capacity / 4;
  auto* entries =
      static_cast<SharingCounter::Entry*>(map_zeroed(capacity * sizeof(SharingCounter::Entry)));
  auto* lines = static_cast<uint64_t*>(map_zeroed(line_slots * sizeof(uint64_t)));
  if (entries != nullptr && lines != nullptr) {
    counter = new (counter_storage) SharingCounter(entries, capacity, lines, line_slots);
  }
  exit_key_made = pthread_key_create(&exit_key, on_thread_exit) == 0;
  // A fork while another thread holds the lock must not leave the child's copy locked.
  pthread_atfork([] { pthread_mutex_lock(&lock); }, [] { pthread_mutex_unlock(&lock); },
                 [] { pthread_mutex_unlock(&lock); });
  state.store(2);
}

// False while dlsym runs: its own allocations are served from `bootstrap`, not recursed into.
inline bool ready() {
  const int now = state.load(std::memory_order_acquire);
  if (now == 2) return true;
  if (now == 0) resolve();
  return state.load(std::memory_order_acquire) == 2;
}

void record_alloc(void* p, size_t size) {
  if (p == nullptr || counter == nullptr) return;
  const uint32_t thread = current_thread();
  pthread_mutex_lock(&lock);
  counter->on_alloc(thread, reinterpret_cast<uintptr_t>(p), size);
  pthread_mutex_unlock(&lock);
}

void record_free(void* p) {
  if (p == nullptr || counter == nullptr) return;
  const uint32_t thread = current_thread();
  pthread_mutex_lock(&lock);
  counter->on_free(thread, reinterpret_cast<uintptr_t>(p));
  pthread_mutex_unlock(&lock);
}

void* traced_aligned(size_t alignment, size_t size) {
  void* p = nullptr;
  if (next.aligned_alloc != nullptr) {
    p = next.aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
  } else if (next.posix_memalign == nullptr || next.posix_memalign(&p, alignment, size) != 0) {
    p = nullptr;
  }
  record_alloc(p, size);
  return p;
}

SharingCounts snapshot() {
  SharingCounts counts;
  pthread_mutex_lock(&lock);
  if (counter != nullptr) counts = counter->counts();
  pthread_mutex_unlock(&lock);
  counts.threads = thread_count.load();
  return counts;
}

// At exit: the counts as one JSON object in $ALLOCBENCH_SHARING_OUT (no allocation here).
__attribute__((destructor)) void write_counts() {
  const char* path = std::getenv("ALLOCBENCH_SHARING_OUT");
  if (path == nullptr || *path == '\0') return;
  const SharingCounts c = snapshot();
  char text[1024];
  const int length = std::snprintf(
      text, sizeof(text),
      "{\"objects\": %llu, \"active\": %llu, \"passive\": %llu, \"lines\": %llu, "
      "\"frees\": %llu, \"untracked_frees\": %llu, \"dropped\": %llu, \"threads\": %llu, "
      "\"peak_entries\": %llu, \"capacity\": %llu, \"complete\": %s, \"line_bytes\": %llu}\n",
      (unsigned long long)c.objects, (unsigned long long)c.active, (unsigned long long)c.passive,
      (unsigned long long)c.lines, (unsigned long long)c.frees,
      (unsigned long long)c.untracked_frees, (unsigned long long)c.dropped,
      (unsigned long long)c.threads, (unsigned long long)c.peak_entries,
      (unsigned long long)c.capacity, c.dropped == 0 && counter != nullptr ? "true" : "false",
      (unsigned long long)allocbench::tracer::kLineBytes);
  // One line per process (a traced program's children inherit the variable); a line is far
  // below PIPE_BUF, so appends from processes exiting together do not interleave.
  const int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (length > 0) (void)!write(fd, text, static_cast<size_t>(length));
  close(fd);
}

}  // namespace

// The counts so far (tests and curious programs: dlsym(RTLD_DEFAULT, "sharetrace_counts")).
TRACER_EXPORT void sharetrace_counts(SharingCounts* out) {
  *out = snapshot();
}

TRACER_EXPORT void* malloc(size_t size) {
  if (!ready()) return bootstrap_alloc(size);
  void* p = next.malloc(size);
  record_alloc(p, size);
  return p;
}

TRACER_EXPORT void free(void* p) {
  if (p == nullptr || from_bootstrap(p)) return;
  if (!ready()) return;
  record_free(p);
  next.free(p);
}

TRACER_EXPORT void* calloc(size_t count, size_t size) {
  if (!ready()) return bootstrap_alloc(count * size);
  void* p = next.calloc(count, size);
  record_alloc(p, count * size);
  return p;
}

TRACER_EXPORT void* realloc(void* old, size_t size) {
  if (!ready() || from_bootstrap(old)) {
    void* p = ready() ? malloc(size) : bootstrap_alloc(size);
    if (p != nullptr && old != nullptr) {
      const size_t room =
          static_cast<size_t>(bootstrap + sizeof(bootstrap) - static_cast<char*>(old));
      std::memcpy(p, old, size < room ? size : room);  // the old block's size is not recorded
    }
    return p;
  }
  if (old != nullptr) record_free(old);
  void* p = next.realloc(old, size);
  if (p == nullptr && size != 0 && old != nullptr) {
    record_alloc(old, size);  // it failed: the old block is still live
  } else {
    record_alloc(p, size);
  }
  return p;
}

TRACER_EXPORT int posix_memalign(void** out, size_t alignment, size_t size) {
  if (!ready()) return ENOMEM;
  if (next.posix_memalign == nullptr) return ENOMEM;
  const int result = next.posix_memalign(out, alignment, size);
  if (result == 0) record_alloc(*out, size);
  return result;
}

TRACER_EXPORT void* aligned_alloc(size_t alignment, size_t size) {
  if (!ready()) return nullptr;
  void* p = next.aligned_alloc != nullptr ? next.aligned_alloc(alignment, size) : nullptr;
  record_alloc(p, size);
  return p;
}

TRACER_EXPORT void* memalign(size_t alignment, size_t size) {
  if (!ready()) return nullptr;
  void* p = next.memalign != nullptr ? next.memalign(alignment, size) : nullptr;
  record_alloc(p, size);
  return p;
}

TRACER_EXPORT size_t malloc_usable_size(void* p) {
  if (p == nullptr || from_bootstrap(p) || !ready() || next.malloc_usable_size == nullptr) {
    return 0;
  }
  return next.malloc_usable_size(p);
}

// C++ allocation goes through the traced malloc and free, whatever the allocator under test
// exports for operator new (tcmalloc, jemalloc and mimalloc define their own).
void* operator new(size_t size) {
  void* p = malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t size) {
  return operator new(size);
}
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  return malloc(size ? size : 1);
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  return malloc(size ? size : 1);
}
void* operator new(size_t size, std::align_val_t alignment) {
  void* p = traced_aligned(static_cast<size_t>(alignment), size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t size, std::align_val_t alignment) {
  return operator new(size, alignment);
}
void operator delete(void* p) noexcept {
  free(p);
}
void operator delete[](void* p) noexcept {
  free(p);
}
void operator delete(void* p, size_t) noexcept {
  free(p);
}
void operator delete[](void* p, size_t) noexcept {
  free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  free(p);
}
void operator delete(void* p, size_t, std::align_val_t) noexcept {
  free(p);
}
void operator delete[](void* p, size_t, std::align_val_t) noexcept {
  free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  free(p);
}
