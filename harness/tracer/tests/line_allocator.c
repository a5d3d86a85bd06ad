// A test allocator that places objects where the tracer's test says, so that it can build a
// known active and a known passive false-sharing case. While armed (line_allocator_arm(1)),
// malloc serves 32-byte slots from a cache-line-aligned arena: the most recently freed arena
// slot first (LIFO, whichever thread freed it), else the next unused one. Unarmed calls (the
// runtime's own allocations) and everything else go to glibc.
#include <stddef.h>
#include <stdint.h>

extern void* __libc_malloc(size_t size);
extern void __libc_free(void* p);

#define SLOT 32
#define SLOTS 64

static _Alignas(64) char arena[SLOT * SLOTS];
static size_t bumped;
static void* free_slots[SLOTS];
static size_t free_count;
static int armed;

__attribute__((visibility("default"))) void line_allocator_arm(int on) {
  __atomic_store_n(&armed, on, __ATOMIC_SEQ_CST);
}

static int in_arena(void* p) {
  return (char*)p >= arena && (char*)p < arena + sizeof(arena);
}

void* malloc(size_t size) {
  if (!__atomic_load_n(&armed, __ATOMIC_SEQ_CST)) return __libc_malloc(size);
  if (size <= SLOT && free_count > 0) return free_slots[--free_count];
  const size_t slots = size == 0 ? 1 : (size + SLOT - 1) / SLOT;
  if (bumped + slots > SLOTS) return NULL;
  void* p = arena + bumped * SLOT;
  bumped += slots;
  return p;
}

void free(void* p) {
  if (p == NULL) return;
  if (!in_arena(p)) {
    __libc_free(p);
    return;
  }
  if (free_count < SLOTS) free_slots[free_count++] = p;
}
