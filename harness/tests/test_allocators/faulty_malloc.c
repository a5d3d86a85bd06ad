// A broken allocator for the sweep's tests: it serves malloc through glibc until
// it has served FAULT_AFTER calls, then crashes with SIGSEGV (FAULT_CRASH), never returns
// (FAULT_HANG), or once flips a byte of the block it returned last, if that is still live
// (FAULT_SCRIBBLE: only a workload's verify mode notices). The sweep must record the run as
// failed, timed out or corrupt and carry on.
#include <signal.h>
#include <stddef.h>
#include <unistd.h>

extern void* __libc_malloc(size_t size);
extern void __libc_free(void* pointer);

#define FAULT_AFTER 200000

static unsigned long calls;

#if defined(FAULT_SCRIBBLE)
static void* last;  // the block malloc returned last, while it is live

void free(void* pointer) {
  void* expected = pointer;
  __atomic_compare_exchange_n(&last, &expected, NULL, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
  __libc_free(pointer);
}
#endif

void* malloc(size_t size) {
  const unsigned long call = __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
  if (call > FAULT_AFTER) {
#if defined(FAULT_CRASH)
    raise(SIGSEGV);
#elif defined(FAULT_HANG)
    for (;;) pause();
#endif
  }
#if defined(FAULT_SCRIBBLE)
  if (call == FAULT_AFTER) {
    unsigned char* victim = __atomic_exchange_n(&last, NULL, __ATOMIC_ACQ_REL);
    if (victim != NULL) victim[0] ^= 0xFF;
  }
  void* pointer = __libc_malloc(size);
  __atomic_store_n(&last, pointer, __ATOMIC_RELEASE);
  return pointer;
#else
  return __libc_malloc(size);
#endif
}
