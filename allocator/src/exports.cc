// The libc names: the only file that knows them. Each follows glibc's documented behaviour:
//   malloc(0) returns a unique pointer; sizes above PTRDIFF_MAX, and overflowing calloc,
//   reallocarray, valloc and pvalloc requests, return NULL with errno ENOMEM;
//   memalign, aligned_alloc and posix_memalign reject an alignment that is not a power of two
//   with EINVAL (posix_memalign also one that is not a multiple of sizeof(void*), returning the
//   error and leaving *memptr untouched); realloc(p, 0) frees p and returns NULL;
//   free(NULL) does nothing and free never changes errno.
//   Every failure to allocate sets errno to ENOMEM: posix_memalign too (and returns ENOMEM),
//   and the nothrow operator new forms.
// Invalid pointers: free, realloc, malloc_usable_size and free_sized of a pointer that is not a
// live block halloc handed out print "halloc: free(): invalid pointer 0x..." (a foreign,
// interior or misaligned pointer, or a block never handed out) or "halloc: free(): double free
// of 0x..." (realloc and the others: "freed pointer") and abort. The page map and the
// superblocks' state maps make the check constant time; free_sized also checks that the size
// fits the block.
// glibc's introspection and tuning calls (mallinfo, mallinfo2, malloc_trim, malloc_stats,
// malloc_info, mallopt) report and act on halloc's own structures (introspection.h).
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <new>

#include "allocator.h"
#include "halloc/halloc.h"
#include "introspection.h"
#include "report.h"
#include "thread_binding.h"

#define HALLOC_API __attribute__((visibility("default")))
#define HALLOC_EXPORT extern "C" HALLOC_API

namespace {

bool IsPowerOfTwo(std::size_t n) {
  return n != 0 && (n & (n - 1)) == 0;
}

std::size_t PageSize() {
  return static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

void* CheckedAligned(std::size_t alignment, std::size_t size) {
  if (!IsPowerOfTwo(alignment)) {
    errno = EINVAL;
    return nullptr;
  }
  return halloc::AlignedAlloc(alignment, size);
}

// operator new's failure path. libhalloc needs no C++ runtime (a C program that preloads it
// does not load libstdc++, which cost it 2 MiB of RSS), so the new-handler and bad_alloc come
// from the program's own libstdc++, looked up when first needed: a program that calls
// operator new has one loaded.
std::new_handler CurrentNewHandler() {
  auto get =
      reinterpret_cast<std::new_handler (*)()>(dlsym(RTLD_DEFAULT, "_ZSt15get_new_handlerv"));
  return get ? get() : nullptr;
}

[[noreturn]] void ThrowBadAlloc() {
  if (auto raise = reinterpret_cast<void (*)()>(dlsym(RTLD_DEFAULT, "_ZSt17__throw_bad_allocv")))
    raise();  // std::__throw_bad_alloc()
  halloc::Fatal("operator new", "out of memory, with no C++ runtime to throw std::bad_alloc",
                nullptr);
}

// Retry through the new-handler, as the standard requires, then throw.
[[gnu::noinline]] void* NewSlow(std::size_t size, std::size_t alignment) {
  while (true) {
    std::new_handler handler = CurrentNewHandler();
    if (handler == nullptr) ThrowBadAlloc();
    handler();
    void* p = halloc::AlignedAlloc(alignment, size);
    if (p) return p;
  }
}

inline void* New(std::size_t size, std::size_t alignment = 16) {
  void* p = alignment <= 16 ? halloc::Malloc(size) : halloc::AlignedAlloc(alignment, size);
  return p ? p : NewSlow(size, alignment);
}

// The nothrow forms return nullptr when the throwing form would throw. With no new-handler
// that is at once; with one, the handler may end the retries by throwing, and catching that
// takes the C++ runtime, so the same form of libstdc++ (which calls the throwing one, halloc's,
// inside a try) does the retrying. `form` is its mangled name.
[[gnu::noinline]] void* NewNothrowSlow(const char* form, std::size_t size,
                                       std::align_val_t alignment) noexcept {
  void* p = nullptr;
  const std::nothrow_t nothrow;  // not std::nothrow: that object lives in libstdc++
  if (CurrentNewHandler() != nullptr) {
    if (void* runtime = dlsym(RTLD_NEXT, form)) {
      p = alignment == std::align_val_t{0}
              ? reinterpret_cast<void* (*)(std::size_t, const std::nothrow_t&)>(runtime)(size,
                                                                                         nothrow)
              : reinterpret_cast<void* (*)(std::size_t, std::align_val_t, const std::nothrow_t&)>(
                    runtime)(size, alignment, nothrow);
    }
  }
  if (p == nullptr) errno = ENOMEM;  // as malloc's failure left it; unwinding need not keep it
  return p;
}

// glibc's mallinfo fields are int: they wrap above 2 GiB there too.
int Truncated(std::size_t n) {
  return static_cast<int>(n);
}

}  // namespace

HALLOC_EXPORT void* malloc(std::size_t size) {
  return halloc::Malloc(size);
}
HALLOC_EXPORT void free(void* p) {
  halloc::Free(p);
}
HALLOC_EXPORT void cfree(void* p) {
  halloc::Free(p);
}
HALLOC_EXPORT void free_sized(void* p, std::size_t size) {
  halloc::FreeSized(p, size);
}
HALLOC_EXPORT void free_aligned_sized(void* p, std::size_t, std::size_t size) {
  halloc::FreeSized(p, size);
}
HALLOC_EXPORT void* calloc(std::size_t n, std::size_t size) {
  return halloc::Calloc(n, size);
}
HALLOC_EXPORT void* realloc(void* p, std::size_t size) {
  return halloc::Realloc(p, size);
}
HALLOC_EXPORT std::size_t malloc_usable_size(void* p) {
  return halloc::UsableSize(p);
}

HALLOC_EXPORT void* reallocarray(void* p, std::size_t n, std::size_t size) {
  std::size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return halloc::Realloc(p, bytes);
}

HALLOC_EXPORT void* memalign(std::size_t alignment, std::size_t size) {
  return CheckedAligned(alignment, size);
}

HALLOC_EXPORT void* aligned_alloc(std::size_t alignment, std::size_t size) {
  return CheckedAligned(alignment, size);
}

HALLOC_EXPORT int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  if (!IsPowerOfTwo(alignment) || alignment % sizeof(void*) != 0) return EINVAL;
  void* p = halloc::AlignedAlloc(alignment, size);
  if (p == nullptr) {
    errno = ENOMEM;  // as glibc: its tst-malloc-thread-fail checks it
    return ENOMEM;
  }
  *out = p;
  return 0;
}

HALLOC_EXPORT void* valloc(std::size_t size) {
  return halloc::AlignedAlloc(PageSize(), size);
}

HALLOC_EXPORT void* pvalloc(std::size_t size) {
  std::size_t page = PageSize();
  std::size_t rounded;
  if (__builtin_add_overflow(size, page - 1, &rounded)) {
    errno = ENOMEM;
    return nullptr;
  }
  rounded &= ~(page - 1);
  return halloc::AlignedAlloc(page, rounded ? rounded : page);
}

// glibc's introspection (the README maps each field to halloc's numbers).
HALLOC_EXPORT struct mallinfo2 mallinfo2() {
  halloc::Summary s = halloc::Summarize();
  struct mallinfo2 m = {};
  m.arena = s.arena;
  m.ordblks = s.free_chunks;
  m.hblks = s.large_objects;
  m.hblkhd = s.large_bytes;
  m.uordblks = s.in_use;
  m.fordblks = s.free_bytes;
  m.keepcost = s.releasable;
  return m;
}

HALLOC_EXPORT struct mallinfo mallinfo() {
  struct mallinfo2 w = mallinfo2();
  struct mallinfo m = {};
  m.arena = Truncated(w.arena);
  m.ordblks = Truncated(w.ordblks);
  m.hblks = Truncated(w.hblks);
  m.hblkhd = Truncated(w.hblkhd);
  m.uordblks = Truncated(w.uordblks);
  m.fordblks = Truncated(w.fordblks);
  m.keepcost = Truncated(w.keepcost);
  return m;
}

HALLOC_EXPORT int malloc_trim(std::size_t pad) {
  return halloc::Trim(pad) > 0 ? 1 : 0;
}

HALLOC_EXPORT void malloc_stats() {
  halloc::PrintStats(stderr);
}

HALLOC_EXPORT int malloc_info(int options, FILE* out) {
  if (options != 0) {
    errno = EINVAL;
    return -1;
  }
  halloc::PrintInfo(out);
  return 0;
}

// Returns 1 for what halloc applies, 0 for the rest (M_MMAP_THRESHOLD too: objects above S/2
// are mapped because the size classes end there, and a lower threshold would cost every malloc).
HALLOC_EXPORT int mallopt(int param, int value) {
  switch (param) {
    case M_TRIM_THRESHOLD:  // negative: never trim, as glibc's (unsigned) reading of it
      return halloc::SetTrimThreshold(value < 0 ? SIZE_MAX : static_cast<std::size_t>(value));
    case M_ARENA_MAX:
      if (value <= 0) return 0;
      halloc::SetHeapLimit(static_cast<std::size_t>(value));
      return 1;
    default:
      return 0;
  }
}

// C++ operators. Sized and aligned deletes need no size: the page map knows every block.
HALLOC_API void* operator new(std::size_t n) {
  return New(n);
}
HALLOC_API void* operator new[](std::size_t n) {
  return New(n);
}
HALLOC_API void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  void* p = halloc::Malloc(n);
  return p ? p : NewNothrowSlow("_ZnwmRKSt9nothrow_t", n, std::align_val_t{0});
}
HALLOC_API void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  void* p = halloc::Malloc(n);
  return p ? p : NewNothrowSlow("_ZnamRKSt9nothrow_t", n, std::align_val_t{0});
}
HALLOC_API void* operator new(std::size_t n, std::align_val_t a) {
  return New(n, static_cast<std::size_t>(a));
}
HALLOC_API void* operator new[](std::size_t n, std::align_val_t a) {
  return New(n, static_cast<std::size_t>(a));
}
HALLOC_API void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  void* p = halloc::AlignedAlloc(static_cast<std::size_t>(a), n);
  return p ? p : NewNothrowSlow("_ZnwmSt11align_val_tRKSt9nothrow_t", n, a);
}
HALLOC_API void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  void* p = halloc::AlignedAlloc(static_cast<std::size_t>(a), n);
  return p ? p : NewNothrowSlow("_ZnamSt11align_val_tRKSt9nothrow_t", n, a);
}

HALLOC_API void operator delete(void* p) noexcept {
  halloc::Free(p);
}
HALLOC_API void operator delete[](void* p) noexcept {
  halloc::Free(p);
}
HALLOC_API void operator delete(void* p, const std::nothrow_t&) noexcept {
  halloc::Free(p);
}
HALLOC_API void operator delete[](void* p, const std::nothrow_t&) noexcept {
  halloc::Free(p);
}
HALLOC_API void operator delete(void* p, std::size_t) noexcept {
  halloc::Free(p);
}
HALLOC_API void operator delete[](void* p, std::size_t) noexcept {
  halloc::Free(p);
}
HALLOC_API void operator delete(void* p, std::align_val_t) noexcept {
  halloc::Free(p);
}
HALLOC_API void operator delete[](void* p, std::align_val_t) noexcept {
  halloc::Free(p);
}
HALLOC_API void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  halloc::Free(p);
}
HALLOC_API void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  halloc::Free(p);
}
HALLOC_API void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  halloc::Free(p);
}
HALLOC_API void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  halloc::Free(p);
}
