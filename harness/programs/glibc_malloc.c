// glibc's malloc for a program that links an allocator of its own (Debian builds redis with
// jemalloc): preloaded into its "glibc" runs, this sends every malloc entry point to glibc's,
// so the glibc column of such a program measures glibc, like every other program's.
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>

extern void* __libc_malloc(size_t size);
extern void __libc_free(void* pointer);
extern void* __libc_calloc(size_t count, size_t size);
extern void* __libc_realloc(void* pointer, size_t size);
extern void* __libc_memalign(size_t alignment, size_t size);
extern void* __libc_valloc(size_t size);
extern void* __libc_pvalloc(size_t size);

void* malloc(size_t size) {
  return __libc_malloc(size);
}
void free(void* pointer) {
  __libc_free(pointer);
}
void* calloc(size_t count, size_t size) {
  return __libc_calloc(count, size);
}
void* realloc(void* pointer, size_t size) {
  return __libc_realloc(pointer, size);
}
void* memalign(size_t alignment, size_t size) {
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) {
  return __libc_memalign(alignment, size);
}
void* valloc(size_t size) {
  return __libc_valloc(size);
}
void* pvalloc(size_t size) {
  return __libc_pvalloc(size);
}

int posix_memalign(void** result, size_t alignment, size_t size) {
  if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  void* pointer = __libc_memalign(alignment, size);
  if (pointer == NULL) return ENOMEM;
  *result = pointer;
  return 0;
}

// glibc has no __libc_ name for it: look it up in libc itself (not the next library, which
// may be the program's own allocator).
size_t malloc_usable_size(void* pointer) {
  static size_t (*glibc_usable_size)(void*);
  if (glibc_usable_size == NULL) {
    void* libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    glibc_usable_size = (size_t(*)(void*))dlsym(libc, "malloc_usable_size");
  }
  return glibc_usable_size(pointer);
}
