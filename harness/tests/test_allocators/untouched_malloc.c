// An allocator that never writes the memory it hands out: blocks are bump-allocated from one
// large reserved mapping and never reused (free does nothing), and each block's size lives in a
// side table (4 bytes per 256-byte granule). So a process's RSS under it is only what the
// program itself writes, plus the side table: the test of mass-alloc uses it to show that the
// workload never touches its blocks outside verify mode. Test use only: it leaks everything.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define GRANULE 256
#define SPACE ((size_t)64 << 30) /* address space reserved, never all used */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char* base;
static uint32_t* sizes; /* sizes[(p - base) / GRANULE] for each block p */
static size_t used;

static void* reserve(size_t length) {
  void* p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

// A block of `size` bytes aligned to `alignment` (a power of two, at least GRANULE or not).
static void* allocate(size_t size, size_t alignment) {
  if (size >= UINT32_MAX || alignment > SPACE) {
    errno = ENOMEM;
    return NULL;
  }
  if (alignment < GRANULE) alignment = GRANULE;
  size_t length = (size + GRANULE - 1) / GRANULE * GRANULE;
  if (length == 0) length = GRANULE;
  void* block = NULL;
  pthread_mutex_lock(&lock);
  if (base == NULL) {
    base = reserve(SPACE);
    sizes = reserve(SPACE / GRANULE * sizeof(uint32_t));
  }
  size_t start = (used + alignment - 1) & ~(alignment - 1);
  if (base != NULL && sizes != NULL && start + length <= SPACE) {
    used = start + length;
    block = base + start;
    sizes[start / GRANULE] = (uint32_t)size;
  }
  pthread_mutex_unlock(&lock);
  if (block == NULL) errno = ENOMEM;
  return block;
}

void* malloc(size_t size) {
  return allocate(size, GRANULE);
}

void free(void* p) {
  (void)p;
}

size_t malloc_usable_size(void* p) {
  return p == NULL ? 0 : sizes[((char*)p - base) / GRANULE];
}

void* calloc(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) {
    errno = ENOMEM;
    return NULL;
  }
  return allocate(count * size, GRANULE);  // never reused, so still zero
}

void* realloc(void* p, size_t size) {
  void* moved = allocate(size, GRANULE);
  if (moved != NULL && p != NULL) {
    size_t old = malloc_usable_size(p);
    memcpy(moved, p, old < size ? old : size);
  }
  return moved;
}

void* memalign(size_t alignment, size_t size) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    errno = EINVAL;
    return NULL;
  }
  return allocate(size, alignment);
}

void* aligned_alloc(size_t alignment, size_t size) {
  return memalign(alignment, size);
}

int posix_memalign(void** out, size_t alignment, size_t size) {
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
  void* p = allocate(size, alignment);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}
