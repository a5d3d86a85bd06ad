// A three-state futex mutex (unlocked, locked, locked with waiters). It never allocates, so the
// allocator can use it anywhere, and its state is one word a forked child can inspect.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

namespace halloc {

class Mutex {
 public:
  void Lock() {
    uint32_t expected = 0;
    if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire)) [[likely]]
      return;
    LockSlow();
  }

  void Unlock() {
    if (state_.exchange(0, std::memory_order_release) == 2) [[unlikely]]
      Futex(FUTEX_WAKE_PRIVATE, 1);
  }

  bool IsLocked() const { return state_.load(std::memory_order_relaxed) != 0; }
  // Only for a forked child, where the holder no longer exists.
  void Reset() { state_.store(0, std::memory_order_relaxed); }

 private:
  [[gnu::noinline]] void LockSlow() {
    // Spin briefly: critical sections are short and the holder is usually running.
    for (int i = 0; i < 64; ++i) {
      __builtin_ia32_pause();
      uint32_t expected = 0;
      if (state_.load(std::memory_order_relaxed) == 0 &&
          state_.compare_exchange_weak(expected, 1, std::memory_order_acquire))
        return;
    }
    while (state_.exchange(2, std::memory_order_acquire) != 0) Futex(FUTEX_WAIT_PRIVATE, 2);
  }

  void Futex(int op, uint32_t value) {
    int saved = errno;  // free() must not change errno
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&state_), op, value, nullptr, nullptr, 0);
    errno = saved;
  }

  std::atomic<uint32_t> state_{0};
};

class LockGuard {
 public:
  explicit LockGuard(Mutex& m) : m_(m) { m_.Lock(); }
  ~LockGuard() { m_.Unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  Mutex& m_;
};

}  // namespace halloc
