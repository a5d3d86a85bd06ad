// A broken allocator for the sweep's tests: it serves malloc through glibc until it has served
// FAULT_AFTER calls, then crashes with SIGSEGV (FAULT_CRASH) or never returns (FAULT_HANG).
// The sweep must record the run as failed or timed out and carry on.
#include <signal.h>
#include <stddef.h>
#include <unistd.h>

extern void* __libc_malloc(size_t size);

#define FAULT_AFTER 200000

static unsigned long calls;

void* malloc(size_t size) {
  if (__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) > FAULT_AFTER) {
#if defined(FAULT_CRASH)
    raise(SIGSEGV);
#elif defined(FAULT_HANG)
    for (;;) pause();
#endif
  }
  return __libc_malloc(size);
}
