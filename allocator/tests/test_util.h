// Helpers shared by halloc's black-box tests.
//
// Three ways a test binary meets the allocator (chosen by a compile definition):
//   HALLOC_TEST_PRELOAD  not linked with halloc; LD_PRELOAD supplies it, the introspection API is
//                        found with dlsym and the expected variant is read from LD_PRELOAD's name.
//   HALLOC_TEST_LINKED   linked with a variant's shared library; HALLOC_EXPECT_VARIANT names it.
//   (neither)            linked with `<variant>_core`: the internal API beside the system malloc.
#pragma once

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "halloc/halloc.h"

namespace halloc_test {

// Hides a constant from the compiler so that it neither warns about huge sizes nor folds
// malloc/free pairs away.
inline std::size_t Opaque(std::size_t v) {
  asm volatile("" : "+r"(v));
  return v;
}

inline void* OpaquePtr(void* p) {
  asm volatile("" : "+r"(p));
  return p;
}

// Sanitized builds run the same tests with less work: they are 5-20x slower.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
inline constexpr int Scaled(int n, int divisor = 8) {
  return kSanitized ? n / divisor : n;
}

// The introspection API of the allocator that serves this process.
struct Api {
  void (*get_params)(halloc_params*) = nullptr;
  void (*get_stats)(halloc_stats*) = nullptr;
  int (*get_heap_stats)(size_t, halloc_heap_stats*) = nullptr;
  int (*check)(char*, size_t) = nullptr;
  bool ok() const { return get_params && get_stats && get_heap_stats && check; }
};

inline const Api& GetApi() {
  static const Api api = [] {
    Api a;
#ifdef HALLOC_TEST_PRELOAD
    a.get_params =
        reinterpret_cast<decltype(a.get_params)>(dlsym(RTLD_DEFAULT, "halloc_get_params"));
    a.get_stats = reinterpret_cast<decltype(a.get_stats)>(dlsym(RTLD_DEFAULT, "halloc_get_stats"));
    a.get_heap_stats =
        reinterpret_cast<decltype(a.get_heap_stats)>(dlsym(RTLD_DEFAULT, "halloc_get_heap_stats"));
    a.check = reinterpret_cast<decltype(a.check)>(dlsym(RTLD_DEFAULT, "halloc_check"));
#else
    a.get_params = &halloc_get_params;
    a.get_stats = &halloc_get_stats;
    a.get_heap_stats = &halloc_get_heap_stats;
    a.check = &halloc_check;
#endif
    return a;
  }();
  return api;
}

// The variant this binary must be served by: "libhalloc-paper.so.0.1.0" -> "halloc-paper".
inline std::string ExpectedVariant() {
#ifdef HALLOC_TEST_PRELOAD
  const char* preload = std::getenv("LD_PRELOAD");
  if (preload == nullptr) return "(LD_PRELOAD not set)";
  std::string name = preload;
  if (auto slash = name.rfind('/'); slash != std::string::npos) name = name.substr(slash + 1);
  if (name.starts_with("lib")) name = name.substr(3);
  if (auto so = name.find(".so"); so != std::string::npos) name = name.substr(0, so);
  return name;
#else
  return HALLOC_EXPECT_VARIANT;
#endif
}

// Empty when halloc of the expected variant serves this process, otherwise why not.
inline std::string WhyNotServed() {
  if (!GetApi().ok()) return "halloc's introspection API is not loaded: glibc would be tested";
#if defined(HALLOC_TEST_PRELOAD) || defined(HALLOC_TEST_LINKED)
  if (dlsym(RTLD_DEFAULT, "halloc_get_params") == nullptr) return "halloc_get_params not exported";
#endif
  halloc_params p;
  GetApi().get_params(&p);
  if (p.variant == nullptr || ExpectedVariant() != p.variant) {
    return "served by variant '" + std::string(p.variant ? p.variant : "(null)") + "', expected '" +
           ExpectedVariant() + "'";
  }
  return "";
}

// Resident bytes of this process, from /proc/self/statm (read without allocating).
inline std::size_t ResidentBytes() {
  char buf[128] = {};
  int fd = open("/proc/self/statm", O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  unsigned long size = 0, resident = 0;
  if (sscanf(buf, "%lu %lu", &size, &resident) != 2) return 0;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

inline halloc_params Params() {
  halloc_params p;
  GetApi().get_params(&p);
  return p;
}

inline halloc_stats Stats() {
  halloc_stats s;
  GetApi().get_stats(&s);
  return s;
}

// Bytes handed out right now: every heap's u_i, the global heap's and the large objects'.
inline std::size_t LiveBytes() {
  halloc_stats s = Stats();
  std::size_t total = s.global.in_use_bytes + s.large_bytes - s.large_cached_bytes;
  for (std::size_t i = 0; i < s.heaps; ++i) {
    halloc_heap_stats h;
    if (GetApi().get_heap_stats(i, &h) == 0) total += h.in_use_bytes;
  }
  return total;
}

// Runs halloc_check; empty when every invariant holds, otherwise its message.
inline std::string CheckInvariants() {
  char buf[1024] = {};
  if (GetApi().check(buf, sizeof buf) == 1) return "";
  return buf[0] ? std::string(buf) : std::string("halloc_check returned 0 with no message");
}

// A byte pattern unique to (tag, offset), so overlapping blocks overwrite each other visibly.
// Byte i is byte i % 8 (little-endian) of word i / 8; words are cheap to compute and compare.
inline std::uint64_t PatternWord(std::uint64_t tag, std::size_t k) {
  return (tag * 0xD6E8FEB86659FD93ull) ^ (k * 0x9E3779B97F4A7C15ull) ^ 0x5555555555555555ull;
}
inline unsigned char PatternByte(std::uint64_t tag, std::size_t i) {
  return static_cast<unsigned char>(PatternWord(tag, i / 8) >> (8 * (i % 8)));
}
inline void Fill(void* p, std::size_t n, std::uint64_t tag) {
  auto* b = static_cast<unsigned char*>(p);
  std::size_t words = n / 8;
  for (std::size_t k = 0; k < words; ++k) {
    std::uint64_t w = PatternWord(tag, k);
    __builtin_memcpy(b + 8 * k, &w, 8);  // builtin: the tests build with -fno-builtin
  }
  for (std::size_t i = 8 * words; i < n; ++i) b[i] = PatternByte(tag, i);
}
// Index of the first byte that differs from the pattern, or n when all match.
inline std::size_t FirstMismatch(const void* p, std::size_t n, std::uint64_t tag) {
  const auto* b = static_cast<const unsigned char*>(p);
  std::size_t k = 0;
  for (; k < n / 8; ++k) {
    std::uint64_t w;
    __builtin_memcpy(&w, b + 8 * k, 8);
    if (w != PatternWord(tag, k)) break;
  }
  for (std::size_t i = 8 * k; i < n; ++i) {
    if (b[i] != PatternByte(tag, i)) return i;
  }
  return n;
}

// Runs fn in a forked child and waits at most timeout_s. Returns the wait status, or -1 when
// the child did not finish in time (it is then killed): a deadlock fails instead of hanging.
inline int RunInChild(const std::function<int()>& fn, double timeout_s) {
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  if (pid < 0) return -2;
  return [&] {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    int status = 0;
    while (true) {
      pid_t r = waitpid(pid, &status, WNOHANG);
      if (r == pid) return status;
      if (r < 0) return -2;
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
      }
      poll(nullptr, 0, 2);
    }
  }();
}

// Human-readable wait status.
inline std::string DescribeStatus(int status) {
  if (status == -1) return "timed out (deadlock?)";
  if (status == -2) return "fork/waitpid failed";
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace halloc_test
