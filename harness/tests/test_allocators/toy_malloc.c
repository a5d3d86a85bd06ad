// A small allocator for the correctness gate's tests, built once correct and once per mistake a
// student could make (one TOY_* macro each), so that the tests can show `allocbench check` fails
// each mistake with the right check and passes the correct, if leaky, versions.
//
// The correct design: power-of-two size classes from 32 to 64 KiB with a 16-byte header before
// each block (its class, or its mapping's length), one free list per class behind one lock,
// fresh memory bump-allocated from 1 MiB mappings; larger blocks are mappings of their own.
// Aligned blocks over-allocate and keep a header pointing at the real block.
//
//   TOY_MISALIGNED         8-byte header (pointers 8 mod 16) and memalign ignores the alignment
//   TOY_THREAD_OVERLAP     threads other than the first get blocks that overlap their neighbours
//   TOY_CALLOC_DIRTY       calloc does not zero recycled memory (fresh mappings are zero anyway)
//   TOY_REALLOC_TRUNCATES  realloc copies at most 4 KiB of the old contents
//   TOY_NO_LOCK            no lock at all around the free lists and the bump pointer
//   TOY_NO_POSIX_MEMALIGN  posix_memalign is not defined, so glibc's serves it (a mixed heap)
//   TOY_LEAKY              free does nothing (wasteful, not wrong)
//   TOY_SLOW               malloc first counts to 1,000 (correct, but slow: the instruction
//                          counts must see about 1,000 more instructions per malloc at least)
//   TOY_CRASHES            the 20,000th allocation raises SIGSEGV
//   TOY_HANGS              the 20,000th allocation never returns
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef TOY_MISALIGNED
#define HEADER 8
#else
#define HEADER 16
#endif
#define MIN_SHIFT 5  /* 32-byte blocks, header included */
#define MAX_SHIFT 16 /* 64 KiB */
#define CLASSES (MAX_SHIFT - MIN_SHIFT + 1)
#define CHUNK (1u << 20)
#define LARGE_TAG ((size_t)1 << 63)
#define ALIGNED_TAG ((size_t)1 << 62)

struct free_block {
  struct free_block* next;
};

static struct free_block* free_lists[CLASSES];
static char* bump;
static char* bump_end;
static pid_t first_thread;

#ifdef TOY_NO_LOCK
static void acquire(void) {}
static void release(void) {}
#else
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void acquire(void) {
  pthread_mutex_lock(&lock);
}
static void release(void) {
  pthread_mutex_unlock(&lock);
}
#endif

// The header's one word: the class index, LARGE_TAG | mapping length, or ALIGNED_TAG | offset
// back to the real block.
static size_t* header_of(void* p) {
  return (size_t*)((char*)p - sizeof(size_t));
}

static void* map(size_t length) {
  void* p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static int class_of(size_t size) {
  int shift = MIN_SHIFT;
  while (((size_t)1 << shift) < size + HEADER) ++shift;
  return shift - MIN_SHIFT;
}

static size_t block_usable(void* p);

#ifdef TOY_THREAD_OVERLAP
// The mistake: outside the first thread, blocks come from an arena where each one starts halfway
// through the one before. The arena keeps its blocks' sizes in a side table and never reuses
// memory, so the overlap spoils only the program's data, never the toy's lists or headers: the
// gate must report the overlap, not a crash it caused. Block starts are 16 mod 32, so an aligned
// block (a multiple of 32) never shares a side-table entry with the start of another block.
#define ARENA_BYTES ((size_t)1 << 30)
static char* arena;
static size_t* arena_usable; /* per 16 bytes of arena: the usable size of a block starting there */
static size_t arena_used = 16;

static int in_arena(const void* p) {
  return arena != NULL && (const char*)p >= arena && (const char*)p < arena + ARENA_BYTES;
}

static size_t* arena_entry(const void* p) {
  return &arena_usable[((const char*)p - arena) / 16];
}

// A block of `usable` bytes from the arena, or NULL once it is spent (the toy then allocates
// correctly).
static void* arena_allocate(size_t usable) {
  size_t stride = ((usable / 2) + 31) & ~(size_t)31;
  if (stride == 0) stride = 32;
  char* p = NULL;
  acquire();
  if (arena != NULL && arena_used + usable <= ARENA_BYTES) {
    p = arena + arena_used;
    arena_used += stride;
    *arena_entry(p) = usable;
  }
  release();
  return p;
}
#endif

// `recycled` says whether the block came from a free list (it may hold old data).
static void* allocate(size_t size, int* recycled) {
  *recycled = 0;
#if defined(TOY_CRASHES) || defined(TOY_HANGS)
  static unsigned long calls;
  if (__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) >= 20000) {
#ifdef TOY_CRASHES
    raise(SIGSEGV);
#else
    for (;;) pause();
#endif
  }
#endif
  if (size > ((size_t)1 << 40)) {
    errno = ENOMEM;
    return NULL;
  }
  if (size + HEADER > ((size_t)1 << MAX_SHIFT)) {
    size_t length = (size + HEADER + 4095) & ~(size_t)4095;
    char* base = map(length);
    if (base == NULL) {
      errno = ENOMEM;
      return NULL;
    }
    *(size_t*)(base + HEADER - sizeof(size_t)) = LARGE_TAG | length;
    return base + HEADER;
  }
  int index = class_of(size);
  size_t block = (size_t)1 << (index + MIN_SHIFT);
#ifdef TOY_THREAD_OVERLAP
  if (gettid() != first_thread) {
    void* overlapping = arena_allocate(block - HEADER);
    if (overlapping != NULL) {
      *recycled = 1;  // its neighbours may have written into it
      return overlapping;
    }
  }
#endif
  char* base;
  acquire();
  if (free_lists[index] != NULL) {
    base = (char*)free_lists[index];
    free_lists[index] = free_lists[index]->next;
    *recycled = 1;
  } else {
    if (bump == NULL || (size_t)(bump_end - bump) < block) {
      bump = map(CHUNK);
      if (bump == NULL) {
        release();
        errno = ENOMEM;
        return NULL;
      }
      bump_end = bump + CHUNK;
    }
    base = bump;
    bump += block;
  }
  release();
  *(size_t*)(base + HEADER - sizeof(size_t)) = (size_t)index;
  return base + HEADER;
}

void* malloc(size_t size) {
#ifdef TOY_SLOW
  for (volatile int i = 0; i < 1000; ++i) {
  }
#endif
  int recycled;
  return allocate(size, &recycled);
}

void free(void* p) {
#ifdef TOY_LEAKY
  (void)p;
#else
  if (p == NULL) return;
#ifdef TOY_THREAD_OVERLAP
  if (in_arena(p)) return;  // never reused
#endif
  size_t word = *header_of(p);
  if (word & ALIGNED_TAG) {
    free((char*)p - (word & ~ALIGNED_TAG));
    return;
  }
  char* base = (char*)p - HEADER;
  if (word & LARGE_TAG) {
    munmap(base, word & ~LARGE_TAG);
    return;
  }
  acquire();
  ((struct free_block*)base)->next = free_lists[word];
  free_lists[word] = (struct free_block*)base;
  release();
#endif
}

static size_t block_usable(void* p) {
#ifdef TOY_THREAD_OVERLAP
  if (in_arena(p)) return *arena_entry(p);
#endif
  size_t word = *header_of(p);
  if (word & ALIGNED_TAG) {
    char* real = (char*)p - (word & ~ALIGNED_TAG);
    return block_usable(real) - (word & ~ALIGNED_TAG);
  }
  if (word & LARGE_TAG) return (word & ~LARGE_TAG) - HEADER;
  return ((size_t)1 << (word + MIN_SHIFT)) - HEADER;
}

size_t malloc_usable_size(void* p) {
  return p == NULL ? 0 : block_usable(p);
}

void* calloc(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) {
    errno = ENOMEM;
    return NULL;
  }
  int recycled;
  void* p = allocate(count * size, &recycled);
#ifdef TOY_CALLOC_DIRTY
  if (p != NULL && !recycled) memset(p, 0, count * size);  // the mistake: recycled stays dirty
#else
  if (p != NULL && recycled) memset(p, 0, count * size);  // fresh mappings are zero already
#endif
  return p;
}

void* realloc(void* p, size_t size) {
  if (p == NULL) return malloc(size);
  size_t old = block_usable(p);
  void* moved = malloc(size);
  if (moved == NULL) return NULL;
  size_t keep = old < size ? old : size;
#ifdef TOY_REALLOC_TRUNCATES
  if (keep > 4096) keep = 4096;
#endif
  memcpy(moved, p, keep);
  free(p);
  return moved;
}

void* memalign(size_t alignment, size_t size) {
#ifdef TOY_MISALIGNED
  (void)alignment;
  return malloc(size);
#else
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    errno = EINVAL;
    return NULL;
  }
  if (alignment <= 16) return malloc(size);
  if (size > SIZE_MAX / 2) {
    errno = ENOMEM;
    return NULL;
  }
  char* real = malloc(size + alignment + 16);
  if (real == NULL) return NULL;
  uintptr_t aligned = ((uintptr_t)real + 16 + alignment - 1) & ~(uintptr_t)(alignment - 1);
  *header_of((void*)aligned) = ALIGNED_TAG | (aligned - (uintptr_t)real);
#ifdef TOY_THREAD_OVERLAP
  if (in_arena(real))
    *arena_entry((void*)aligned) = block_usable(real) - (aligned - (uintptr_t)real);
#endif
  return (void*)aligned;
#endif
}

void* aligned_alloc(size_t alignment, size_t size) {
  return memalign(alignment, size);
}

#ifndef TOY_NO_POSIX_MEMALIGN
int posix_memalign(void** out, size_t alignment, size_t size) {
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
  void* p = memalign(alignment, size);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}
#endif

void* valloc(size_t size) {
  return memalign(4096, size);
}
void* pvalloc(size_t size) {
  return memalign(4096, (size + 4095) & ~(size_t)4095);
}

__attribute__((constructor)) static void remember_first_thread(void) {
  first_thread = getpid();
#ifdef TOY_THREAD_OVERLAP
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;  // touched only as far as used
  void* bytes = mmap(NULL, ARENA_BYTES, PROT_READ | PROT_WRITE, flags, -1, 0);
  void* table = mmap(NULL, ARENA_BYTES / 16 * sizeof(size_t), PROT_READ | PROT_WRITE, flags, -1, 0);
  if (bytes != MAP_FAILED && table != MAP_FAILED) {
    arena = bytes;
    arena_usable = table;
  }
#endif
}
