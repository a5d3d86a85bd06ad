// The allocator's fuzz target: decodes bytes into a sequence of malloc, calloc, realloc,
// aligned allocations, frees, usable-size checks, frees and allocations by a second thread
// (remote frees both ways), thread exits, trims and reserve changes, and checks every block
// against a shadow model: its contents (a pattern unique to the block), its alignment and
// usable size, and that no two live blocks overlap. Every input ends by freeing everything
// and running halloc_check. A failure prints what broke and aborts.
//
// Built two ways (tests/CMakeLists.txt): as a libFuzzer target with clang (`make fuzz`), and,
// with any compiler, beside fuzz_replay_main.cc, a driver that replays a corpus and mutates
// inputs for a while without coverage feedback (`make test`). Linked with `<variant>_core`.
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "allocator.h"
#include "halloc/halloc.h"
#include "introspection.h"
#include "test_util.h"

namespace {

[[noreturn, gnu::format(printf, 1, 2)]] void Fail(const char* format, ...) {
  std::fprintf(stderr, "fuzz_allocator: ");
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fprintf(stderr, "\n");
  std::abort();
}

struct Block {
  char* p = nullptr;
  std::size_t size = 0;
  std::uint64_t tag = 0;
};

// A block's pattern covers it whole when small, else its first and last kEdge bytes (where an
// allocator's own writes, free-list links and headers, would land), so a run stays fast.
constexpr std::size_t kEdge = 2048;

void Fill(const Block& b) {
  if (b.size <= 2 * kEdge) return halloc_test::Fill(b.p, b.size, b.tag);
  halloc_test::Fill(b.p, kEdge, b.tag);
  halloc_test::Fill(b.p + b.size - kEdge, kEdge, ~b.tag);
}

// The first byte of the first `n` bytes that differs from the pattern of b, or n.
std::size_t FirstMismatch(const char* p, const Block& b, std::size_t n) {
  if (b.size <= 2 * kEdge) return halloc_test::FirstMismatch(p, n < b.size ? n : b.size, b.tag);
  std::size_t head = n < kEdge ? n : kEdge;
  if (std::size_t at = halloc_test::FirstMismatch(p, head, b.tag); at != head) return at;
  if (n < b.size) return n;  // the tail lies beyond what is compared
  std::size_t at = halloc_test::FirstMismatch(p + b.size - kEdge, kEdge, ~b.tag);
  return at == kEdge ? n : b.size - kEdge + at;
}

void CheckContents(const Block& b, const char* when) {
  std::size_t at = FirstMismatch(b.p, b, b.size);
  if (at != b.size) Fail("%s: block %p (%zu bytes) changed at byte %zu", when, b.p, b.size, at);
}

// The bytes an input is made of, read front to back; zeros once it runs out.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool done() const { return at_ >= size_; }
  std::uint8_t Byte() { return at_ < size_ ? data_[at_++] : 0; }
  std::uint16_t U16() { return static_cast<std::uint16_t>(Byte() | Byte() << 8); }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

// A second thread that runs tasks in order; Sync waits until it ran all posted so far.
class Worker {
 public:
  Worker() : thread_([this] { Run(); }) {}
  ~Worker() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_all();
  }
  void Sync() {
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait(lock, [this] { return tasks_.empty() && !busy_; });
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stop_, and nothing left
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      busy_ = true;
      lock.unlock();
      task();
      lock.lock();
      busy_ = false;
      if (tasks_.empty()) idle_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_, idle_;
  std::deque<std::function<void()>> tasks_;
  bool busy_ = false, stop_ = false;
  std::thread thread_;  // last: starts once the rest exists
};

class Session {
 public:
  static constexpr std::size_t kSlots = 64;

  explicit Session(const halloc_params& params) : params_(params) {}

  void Run(Input& in) {
    while (!in.done()) Step(in);
    // Free everything, half of it from the other thread, then check every structure.
    for (std::size_t i = 0; i < kSlots; ++i) {
      if (slots_[i].p == nullptr) continue;
      if (i % 2) {
        FreeRemotely(i);
      } else {
        Release(i);
      }
    }
    worker_.reset();  // the thread exits: its cache, batch and spare mapping go back
    std::string why = halloc_test::CheckInvariants();
    if (!why.empty()) Fail("halloc_check: %s", why.c_str());
    // Nothing is live now, so a trim must leave nothing mapped: a leaked block or mapping shows.
    halloc::Trim(0);
    halloc_stats s;
    halloc_get_stats(&s);
    if (s.superblock_bytes != 0 || s.large_bytes != 0)
      Fail(
          "after freeing everything and trimming, %zu bytes of superblocks and %zu of large "
          "objects are still mapped",
          s.superblock_bytes, s.large_bytes);
  }

 private:
  Worker& worker() {
    if (!worker_) worker_ = std::make_unique<Worker>();
    return *worker_;
  }

  std::size_t DecodeSize(Input& in) {
    std::uint8_t kind = in.Byte();
    std::uint16_t v = in.U16();
    switch (kind % 8) {
      case 0:
      case 1:
      case 2:
        return v % 257;
      case 3:
        return v % 4097;
      case 4:  // around the large threshold (S/2)
        return params_.large_threshold - 256 + v % 512;
      case 5:
        return v % (params_.superblock_size + 1);
      case 6:  // multiples of 16 near the class boundaries
        return (v % 512) * 16;
      default:  // large: up to 512 KiB (beyond what a thread keeps for reuse)
        return (v % 512) * 1024 + kind / 8;
    }
  }

  std::uint64_t NextTag() { return ++tag_; }

  // A new block must be aligned, usable for its size and clear of every block we hold.
  void Adopt(std::size_t slot, void* p, std::size_t size, std::size_t alignment, const char* how) {
    if (p == nullptr) Fail("%s(%zu) returned NULL", how, size);
    auto a = reinterpret_cast<std::uintptr_t>(p);
    if (a % alignment != 0) Fail("%s(%zu) returned %p, not %zu-aligned", how, size, p, alignment);
    if (halloc::UsableSize(p) < size)
      Fail("%s(%zu): usable size %zu", how, size, halloc::UsableSize(p));
    std::uintptr_t end = a + (size ? size : 1);
    for (const Block& b : slots_) {
      if (b.p == nullptr) continue;
      auto q = reinterpret_cast<std::uintptr_t>(b.p);
      if (a < q + (b.size ? b.size : 1) && q < end)
        Fail("%s(%zu) returned %p, overlapping live block %p (%zu bytes)", how, size, p, b.p,
             b.size);
    }
    Block& b = slots_[slot];
    b = {static_cast<char*>(p), size, NextTag()};
    Fill(b);
  }

  void Release(std::size_t slot) {
    Block& b = slots_[slot];
    CheckContents(b, "before free");
    halloc::Free(b.p);
    b = {};
  }

  void FreeRemotely(std::size_t slot) {
    Block b = slots_[slot];
    slots_[slot] = {};
    worker().Post([b] {
      CheckContents(b, "before a free by the other thread");
      halloc::Free(b.p);
    });
  }

  void Step(Input& in) {
    std::uint8_t op = in.Byte();
    std::size_t slot = in.Byte() % kSlots;
    Block& b = slots_[slot];
    switch (op % 14) {
      case 0: {  // malloc
        if (b.p) Release(slot);
        std::size_t size = DecodeSize(in);
        Adopt(slot, halloc::Malloc(size), size, 16, "malloc");
        break;
      }
      case 1: {  // calloc, into memory that may have been used before
        if (b.p) Release(slot);
        std::size_t n = 1 + in.Byte() % 16;
        std::size_t size = DecodeSize(in) / n;
        auto* p = static_cast<char*>(halloc::Calloc(n, size));
        for (std::size_t i = 0; p && i < n * size; ++i) {
          if (p[i] != 0) Fail("calloc(%zu, %zu) = %p: byte %zu is not zero", n, size, p, i);
        }
        Adopt(slot, p, n * size, 16, "calloc");
        break;
      }
      case 2: {  // realloc keeps the common prefix
        std::size_t size = DecodeSize(in);
        if (b.p == nullptr) {
          Adopt(slot, halloc::Realloc(nullptr, size), size, 16, "realloc(NULL)");
          break;
        }
        CheckContents(b, "before realloc");
        Block old = b;
        b = {};
        auto* p = static_cast<char*>(halloc::Realloc(old.p, size));
        if (size == 0) {
          if (p != nullptr) Fail("realloc(%p, 0) returned %p, not NULL", old.p, p);
          break;
        }
        std::size_t kept = size < old.size ? size : old.size;
        if (p == nullptr) Fail("realloc(%p, %zu) returned NULL", old.p, size);
        std::size_t at = FirstMismatch(p, old, kept);
        if (at != kept) Fail("realloc(%p, %zu) = %p lost byte %zu", old.p, size, p, at);
        Adopt(slot, p, size, 16, "realloc");
        break;
      }
      case 3: {  // aligned: every power of two up to 64 KiB
        if (b.p) Release(slot);
        std::size_t alignment = std::size_t{1} << (in.Byte() % 17);
        std::size_t size = DecodeSize(in);
        Adopt(slot, halloc::AlignedAlloc(alignment, size), size, alignment, "aligned");
        break;
      }
      case 4:
      case 5:
        if (b.p) Release(slot);
        break;
      case 6:
        if (b.p) FreeRemotely(slot);
        break;
      case 7: {  // the other thread allocates blocks that this thread frees later
        std::size_t count = 1 + in.Byte() % 8;
        std::size_t size = DecodeSize(in);
        std::vector<void*> got(count);
        worker().Post([&got, size] {
          for (void*& p : got) p = halloc::Malloc(size);
        });
        worker().Sync();
        for (std::size_t i = 0; i < count; ++i) {
          std::size_t s = (slot + i) % kSlots;
          if (slots_[s].p) Release(s);
          Adopt(s, got[i], size, 16, "malloc on the other thread");
        }
        break;
      }
      case 8: {  // the whole usable size may be written
        if (b.p == nullptr) break;
        CheckContents(b, "before growing to the usable size");
        b.size = halloc::UsableSize(b.p);
        b.tag = NextTag();
        Fill(b);
        break;
      }
      case 9: {  // a burst: many blocks of one size, freed in an order the input picks
        std::size_t count = 1 + in.Byte();
        std::size_t size = DecodeSize(in) % (params_.large_threshold + 1);
        std::uint8_t order = in.Byte();
        std::vector<Block> burst;
        for (std::size_t i = 0; i < count; ++i) {
          Block nb{static_cast<char*>(halloc::Malloc(size)), size, NextTag()};
          if (nb.p == nullptr) Fail("malloc(%zu) in a burst returned NULL", size);
          Fill(nb);
          burst.push_back(nb);
        }
        for (std::size_t i = 0; i < count; ++i) {
          std::size_t k = order % 2 ? count - 1 - i : (i * 7 + order) % count;
          if (burst[k].p == nullptr) k = i;  // the stride hit a freed one: free in order
          if (burst[k].p == nullptr) continue;
          CheckContents(burst[k], "burst");
          if (order % 4 == 2) {
            Block gone = burst[k];
            worker().Post([gone] { halloc::Free(gone.p); });
          } else {
            halloc::Free(burst[k].p);
          }
          burst[k].p = nullptr;
        }
        for (Block& left : burst) {
          if (left.p) halloc::Free(left.p);
        }
        break;
      }
      case 10:  // the other thread exits (its cache, batch and spare mapping go back)
        worker_.reset();
        break;
      case 11: {  // wait for the other thread, then check every structure
        worker().Sync();
        std::string why = halloc_test::CheckInvariants();
        if (!why.empty()) Fail("halloc_check: %s", why.c_str());
        break;
      }
      case 12:  // malloc_trim, while the other thread may be freeing
        halloc::Trim(std::size_t{in.Byte()} * 4096);
        (void)halloc::Summarize();
        break;
      case 13:  // mallopt(M_TRIM_THRESHOLD): a different reserve of empty superblocks
        halloc::SetTrimThreshold(static_cast<std::size_t>(in.Byte() % 40) *
                                 params_.superblock_size);
        break;
    }
  }

  const halloc_params params_;
  Block slots_[kSlots];
  std::uint64_t tag_ = 0;
  std::unique_ptr<Worker> worker_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const halloc_params params = [] {
    halloc_params p;
    halloc_get_params(&p);
    return p;
  }();
  Input in(data, size);
  Session session(params);
  session.Run(in);
  return 0;
}
