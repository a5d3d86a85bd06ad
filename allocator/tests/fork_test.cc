// Fork: the child of fork() can allocate and free, whatever the parent was doing.
//   (a) other threads are inside malloc/free and stdio while the main thread forks;
//   (b) a single-threaded process forks from a signal handler that interrupted malloc/free.
// Each scenario runs in a child process watched with a timeout, and so does every forked
// child inside it: a deadlock fails the test instead of hanging ctest.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#include <atomic>
#include <csignal>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "test_util.h"

namespace {

// What a forked child does: allocate and free many sizes (small, medium, large), checking
// the contents. Returns 0 on success; async-signal-safe apart from malloc itself.
int ChildAllocates() {
  static const std::size_t kSizes[] = {0, 1, 16, 48, 100, 1000, 4000, 20000, 70000, 1 << 20};
  void* blocks[64];
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 64; ++i) {
      std::size_t n = kSizes[(i + round) % 10];
      blocks[i] = malloc(n);
      if (blocks[i] == nullptr) return 10;
      memset(blocks[i], i, n < 4096 ? n : 4096);  // the head, and the last byte below
      if (n) static_cast<unsigned char*>(blocks[i])[n - 1] = static_cast<unsigned char>(i);
    }
    for (int i = 0; i < 64; ++i) {
      std::size_t n = kSizes[(i + round) % 10];
      if (n && static_cast<unsigned char*>(blocks[i])[n - 1] != i) return 11;
      free(blocks[i]);
    }
  }
  return 0;
}

// Waits for pid at most timeout_ms without blocking signals or allocating. Returns the wait
// status, or -1 (after killing it) when it did not finish.
int WaitWithTimeout(pid_t pid, int timeout_ms) {
  int status = 0;
  for (int waited = 0; waited < timeout_ms * 20; ++waited) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return -2;
    struct timespec pause = {0, 50000};
    nanosleep(&pause, nullptr);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

class Fork : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(halloc_test::WhyNotServed(), "") << "halloc does not serve this process";
  }
};

// (a) Threads busy in malloc/free and in stdio (getline, fflush(NULL), fprintf) while the
// main thread forks 200 times; each child uses stdio and malloc, then _exit(0).
int ForkWhileThreadsAllocate() {
  char path[] = "/tmp/halloc_fork_test_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 20;
  FILE* input = fdopen(fd, "w");
  for (int i = 0; i < 2000; ++i) fprintf(input, "line %d of the getline input\n", i);
  fclose(input);

  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (int t = 0; t < 2; ++t) {
    busy.emplace_back([&, t] {
      std::vector<void*> held(256, nullptr);
      unsigned x = 1 + t;
      while (!stop.load(std::memory_order_relaxed)) {
        x = x * 1103515245 + 12345;
        std::size_t i = (x >> 8) % held.size();
        free(held[i]);
        held[i] = malloc((x >> 16) % (t ? 100000 : 600));
      }
      for (void* p : held) free(p);
    });
  }
  busy.emplace_back([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      FILE* in = fopen(path, "r");
      if (in == nullptr) continue;
      char* line = nullptr;
      std::size_t cap = 0;
      while (getline(&line, &cap, in) > 0) {
      }
      free(line);
      fclose(in);
    }
  });
  busy.emplace_back([&] {
    FILE* devnull = fopen("/dev/null", "w");
    while (!stop.load(std::memory_order_relaxed)) {
      fprintf(devnull, "%s %d %f\n", "some text", 42, 3.5);
      fflush(nullptr);
    }
    fclose(devnull);
  });

  int failures = 0;
  FILE* out = fopen("/dev/null", "w");
  for (int i = 0; i < 200 && failures == 0; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      fprintf(out, "child %d\n", i);
      fflush(out);
      char* text = nullptr;
      if (asprintf(&text, "child %d allocates", i) < 0) _exit(12);
      free(text);
      int rc = ChildAllocates();
      fprintf(out, "child %d done\n", i);
      fflush(nullptr);
      _exit(rc);
    }
    if (pid < 0) return 21;
    int status = WaitWithTimeout(pid, 20000);
    if (status != 0) {
      fprintf(stderr, "fork %d: child %s\n", i, halloc_test::DescribeStatus(status).c_str());
      ++failures;
    }
  }
  fclose(out);
  stop = true;
  for (auto& th : busy) th.join();
  unlink(path);
  return failures ? 22 : 0;
}

TEST_F(Fork, ChildAllocatesWhileOtherThreadsUseMallocAndStdio) {
  int status = halloc_test::RunInChild(ForkWhileThreadsAllocate, 150);
  EXPECT_EQ(status, 0) << halloc_test::DescribeStatus(status);
}

// (c) Threads that map and give back superblocks all the time (bursts of 1000-byte blocks,
// allocated and then freed) while the main thread forks 1000 times; each child allocates
// enough to map superblocks of its own. Every lock a thread may hold at the fork (heaps, the
// descriptor arena, regions, the large cache) must be reset or consistent in the child. (Before
// the arena's lock was reset, about one child in 400 hung here.)
int ForkWhileThreadsMapSuperblocks() {
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (int t = 0; t < 4; ++t) {
    busy.emplace_back([&, t] {
      std::vector<void*> held;
      while (!stop.load(std::memory_order_relaxed)) {
        // More than the global heap keeps in reserve, so superblocks (and their descriptors)
        // are mapped and released on every burst.
        for (int i = 0; i < 2000; ++i) held.push_back(malloc(1000 + 64 * t));
        if (t == 3) held.push_back(malloc(100000));  // and a large object now and then
        for (void* p : held) free(p);
        held.clear();
      }
    });
  }
  int failures = 0;
  for (int i = 0; i < 1000 && failures == 0; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      static void* blocks[3000];  // 3 MB: beyond the reserve, so new superblocks are mapped
      for (void*& b : blocks) b = malloc(1000);
      for (void* b : blocks) free(b);
      _exit(ChildAllocates());
    }
    if (pid < 0) return 21;
    int status = WaitWithTimeout(pid, 30000);
    if (status != 0) {
      fprintf(stderr, "fork %d: child %s\n", i, halloc_test::DescribeStatus(status).c_str());
      ++failures;
    }
  }
  stop = true;
  for (auto& th : busy) th.join();
  return failures ? 22 : 0;
}

TEST_F(Fork, ChildAllocatesWhileOtherThreadsMapAndReleaseSuperblocks) {
  int status = halloc_test::RunInChild(ForkWhileThreadsMapSuperblocks, 350);
  EXPECT_EQ(status, 0) << halloc_test::DescribeStatus(status);
}

// (b) State shared with the SIGALRM handler.
volatile sig_atomic_t g_in_malloc = 0;
volatile sig_atomic_t g_forks = 0;
volatile sig_atomic_t g_forks_inside_malloc = 0;
volatile sig_atomic_t g_child_failures = 0;

void ForkFromHandler(int) {
  int saved = errno;
  if (g_in_malloc) g_forks_inside_malloc = g_forks_inside_malloc + 1;
  pid_t pid = fork();
  if (pid == 0) _exit(ChildAllocates());  // still inside the handler
  if (pid > 0) {
    int status = WaitWithTimeout(pid, 30000);
    if (status != 0) g_child_failures = g_child_failures + 1;
    g_forks = g_forks + 1;
  }
  // One-shot, re-armed here: a periodic timer would fire again while this handler runs and
  // starve the main loop.
  struct itimerval next = {{0, 0}, {0, 1000}};
  if (g_forks < 300 && g_child_failures == 0) setitimer(ITIMER_REAL, &next, nullptr);
  errno = saved;
}

int ForkFromSignalHandlerInsideMalloc() {
  struct sigaction sa = {};
  sa.sa_handler = ForkFromHandler;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGALRM, &sa, nullptr) != 0) return 30;
  struct itimerval first = {{0, 0}, {0, 1000}};
  if (setitimer(ITIMER_REAL, &first, nullptr) != 0) return 31;

  void* held[128] = {};
  unsigned x = 7;
  auto start = std::chrono::steady_clock::now();
  while (g_forks < 300 && g_child_failures == 0 &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(6)) {
    x = x * 1103515245 + 12345;
    std::size_t i = (x >> 8) % 128;
    std::size_t n = (x >> 16) % ((x & 1) ? 200 : 40000);
    g_in_malloc = 1;
    free(held[i]);
    held[i] = malloc(n);
    g_in_malloc = 0;
    if (held[i] == nullptr) return 32;
    memset(held[i], 1, n < 64 ? n : 64);
  }
  struct itimerval off = {};
  setitimer(ITIMER_REAL, &off, nullptr);
  for (void* p : held) free(p);
  printf("forks from the handler: %d, of which inside malloc/free: %d, child failures: %d\n",
         static_cast<int>(g_forks), static_cast<int>(g_forks_inside_malloc),
         static_cast<int>(g_child_failures));
  fflush(stdout);
  if (g_child_failures) return 33;
  if (g_forks_inside_malloc == 0) return 34;  // the scenario never happened
  return 0;
}

TEST_F(Fork, SignalHandlerForksWhileMainLoopIsInsideMalloc) {
  int status = halloc_test::RunInChild(ForkFromSignalHandlerInsideMalloc, 60);
  EXPECT_EQ(status, 0) << halloc_test::DescribeStatus(status)
                       << " (exit 33: a child failed or hung; 34: no fork hit malloc)";
}

}  // namespace
