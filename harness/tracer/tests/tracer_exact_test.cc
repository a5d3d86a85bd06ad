// The tracer counts a known active and a known passive false-sharing case exactly. Run as
//   LD_PRELOAD="libsharetrace.so libtest_line_allocator.so" tracer_exact_test
// The test allocator (line_allocator.c) puts 32-byte slots two to a cache line, so each step
// below decides which objects share a line, and with whom. Threads run one step at a time.
#include <dlfcn.h>
#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <functional>

#include "harness/tracer/sharing_counter.h"

using allocbench::tracer::SharingCounts;

namespace {

void (*arm)(int) = nullptr;
void (*counts_of)(SharingCounts*) = nullptr;
int failures = 0;

// malloc(24) from the test allocator's arena.
void* place() {
  arm(1);
  void* p = std::malloc(24);
  arm(0);
  return p;
}

// Runs `step` on a new thread (the tracer sees a new thread id) and waits for it.
void on_new_thread(std::function<void()> step) {
  pthread_t thread;
  auto body = [](void* arg) -> void* {
    (*static_cast<std::function<void()>*>(arg))();
    return nullptr;
  };
  pthread_create(&thread, nullptr, body, &step);
  pthread_join(thread, nullptr);
}

// Checks that `step` added exactly `active` and `passive` counts.
void expect(const char* what, uint64_t active, uint64_t passive, std::function<void()> step) {
  SharingCounts before, after;
  counts_of(&before);
  step();
  counts_of(&after);
  const uint64_t got_active = after.active - before.active;
  const uint64_t got_passive = after.passive - before.passive;
  const bool ok = got_active == active && got_passive == passive;
  std::printf("%s %s: active +%llu (want %llu), passive +%llu (want %llu)\n", ok ? "ok  " : "FAIL",
              what, (unsigned long long)got_active, (unsigned long long)active,
              (unsigned long long)got_passive, (unsigned long long)passive);
  failures += ok ? 0 : 1;
}

}  // namespace

int main() {
  arm = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "line_allocator_arm"));
  counts_of = reinterpret_cast<void (*)(SharingCounts*)>(dlsym(RTLD_DEFAULT, "sharetrace_counts"));
  if (arm == nullptr || counts_of == nullptr) {
    std::fprintf(stderr, "run me with LD_PRELOAD=\"libsharetrace.so libtest_line_allocator.so\"\n");
    return 2;
  }
  void *p, *q, *x, *y, *o, *z;
  expect("first object on line 0 (main)", 0, 0, [&] { p = place(); });
  expect("a second thread's object beside it: active", 1, 0,
         [&] { on_new_thread([&] { q = place(); }); });
  expect("two objects of one thread on line 1: no sharing", 0, 0, [&] {
    x = place();
    y = place();
  });
  expect("a thread frees main's x and gets its block back beside y: passive", 0, 1, [&] {
    on_new_thread([&] {
      std::free(x);
      o = place();
    });
  });
  expect("main frees y and gets its block back beside o, whose thread has exited: nothing", 0, 0,
         [&] {
           std::free(y);
           z = place();
         });
  expect("frees are not objects", 0, 0, [&] {
    for (void* object : {p, q, o, z}) std::free(object);
  });
  SharingCounts total;
  counts_of(&total);
  std::printf("total: %llu objects, %llu active, %llu passive, %llu lines, %llu threads\n",
              (unsigned long long)total.objects, (unsigned long long)total.active,
              (unsigned long long)total.passive, (unsigned long long)total.lines,
              (unsigned long long)total.threads);
  return failures == 0 ? 0 : 1;
}
