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
#include <errno.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <new>

#include "allocator.h"
#include "halloc/halloc.h"

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

// operator new: retry through the new-handler, as the standard requires, then throw.
[[gnu::noinline]] void* NewSlow(std::size_t size, std::size_t alignment) {
  while (true) {
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
    void* p = halloc::AlignedAlloc(alignment, size);
    if (p) return p;
  }
}

inline void* New(std::size_t size, std::size_t alignment = 16) {
  void* p = alignment <= 16 ? halloc::Malloc(size) : halloc::AlignedAlloc(alignment, size);
  return p ? p : NewSlow(size, alignment);
}

inline void* NewNothrow(std::size_t size, std::size_t alignment = 16) noexcept {
  try {
    return New(size, alignment);
  } catch (...) {
    errno = ENOMEM;  // as malloc's failure left it; unwinding need not preserve it
    return nullptr;
  }
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

// C++ operators. Sized and aligned deletes need no size: the page map knows every block.
HALLOC_API void* operator new(std::size_t n) {
  return New(n);
}
HALLOC_API void* operator new[](std::size_t n) {
  return New(n);
}
HALLOC_API void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return NewNothrow(n);
}
HALLOC_API void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return NewNothrow(n);
}
HALLOC_API void* operator new(std::size_t n, std::align_val_t a) {
  return New(n, static_cast<std::size_t>(a));
}
HALLOC_API void* operator new[](std::size_t n, std::align_val_t a) {
  return New(n, static_cast<std::size_t>(a));
}
HALLOC_API void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return NewNothrow(n, static_cast<std::size_t>(a));
}
HALLOC_API void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return NewNothrow(n, static_cast<std::size_t>(a));
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
