// Randomized operation sequences against the internal API, with the invariant checker.
// Every live block carries a pattern derived from its tag; the pattern is verified before each
// free and realloc, so overlapping blocks or a corrupted free list show up as a mismatch, and
// halloc_check runs periodically and at the end.
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cerrno>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "allocator.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace {

struct Block {
  void* p = nullptr;
  std::size_t size = 0;
  std::uint64_t tag = 0;
};

// Sizes: mostly tiny, medium ones log-uniform up to S/2, a few above S/2 (large objects
// straight from the OS) and rarely up to 1 MiB.
std::size_t RandomSize(std::mt19937_64& rng, std::size_t s) {
  std::uint64_t r = rng() % 1000;
  if (r < 650) return rng() % 129;
  if (r < 980) {
    std::size_t n = 129u << (rng() % 16);
    n = std::min(n, s / 2);
    return n / 2 + rng() % (n / 2 + 1);
  }
  if (r < 998) return s / 2 + 1 + rng() % (2 * s);
  return rng() % (std::size_t{1} << 20);
}

// One random operation on `live`. Returns an error message, or "" when all is well.
std::string Step(std::mt19937_64& rng, std::vector<Block>& live, std::uint64_t& next_tag,
                 std::size_t s) {
  auto verify = [](const Block& b) -> std::string {
    std::size_t bad = halloc_test::FirstMismatch(b.p, b.size, b.tag);
    if (bad == b.size) return "";
    return "block " + std::to_string(reinterpret_cast<uintptr_t>(b.p)) + " size " +
           std::to_string(b.size) + " corrupted at byte " + std::to_string(bad);
  };
  std::uint64_t op = rng() % 100;
  bool grow = live.size() < 64 || (live.size() < 1000 && op < 55);
  if (grow) {
    Block b;
    b.size = RandomSize(rng, s);
    b.tag = next_tag++;
    std::uint64_t kind = rng() % 10;
    if (kind < 6) {
      b.p = halloc::Malloc(b.size);
    } else if (kind < 8) {
      std::size_t count = 1 + rng() % 4;
      b.size = (b.size / count + 1) * count;
      b.p = halloc::Calloc(count, b.size / count);
      if (b.p) {
        const auto* bytes = static_cast<const unsigned char*>(b.p);
        if (std::any_of(bytes, bytes + b.size, [](unsigned char c) { return c != 0; }))
          return "calloc(" + std::to_string(b.size) + ") not zeroed";
      }
    } else {
      std::size_t align = std::size_t{16} << (rng() % 13);  // 16 .. 64 KiB
      b.p = halloc::AlignedAlloc(align, b.size);            // size 0 too: must be a unique block
      if (b.p && reinterpret_cast<uintptr_t>(b.p) % align != 0)
        return "AlignedAlloc(" + std::to_string(align) + ") misaligned";
    }
    if (b.p == nullptr) return "allocation of " + std::to_string(b.size) + " failed";
    if (reinterpret_cast<uintptr_t>(b.p) % 16 != 0) return "block not 16-byte aligned";
    if (halloc::UsableSize(b.p) < b.size) return "usable size below request";
    halloc_test::Fill(b.p, b.size, b.tag);
    live.push_back(b);
    return "";
  }
  std::size_t i = rng() % live.size();
  Block& b = live[i];
  if (std::string err = verify(b); !err.empty()) return err;
  if (op < 80) {
    halloc::Free(b.p);
    live[i] = live.back();
    live.pop_back();
    return "";
  }
  std::size_t n = RandomSize(rng, s);
  void* q = halloc::Realloc(b.p, n);
  if (q == nullptr && n != 0) return "realloc to " + std::to_string(n) + " failed";
  std::size_t keep = std::min(n, b.size);
  if (halloc_test::FirstMismatch(q, keep, b.tag) != keep)
    return "realloc " + std::to_string(b.size) + " -> " + std::to_string(n) + " lost contents";
  if (n == 0) {  // realloc(p, 0) freed p
    live[i] = live.back();
    live.pop_back();
    return "";
  }
  b.p = q;
  b.size = n;
  b.tag = next_tag++;
  halloc_test::Fill(b.p, b.size, b.tag);
  return "";
}

class RandomOps : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(halloc_test::WhyNotServed(), "");
    s_ = halloc_test::Params().superblock_size;
  }
  std::size_t s_ = 0;
};

TEST_F(RandomOps, SingleThreadedManySeeds) {
  const int seeds = halloc_test::Scaled(50, 5);
  const int ops = 20000;
  for (int seed = 1; seed <= seeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    std::vector<Block> live;
    std::uint64_t tag = static_cast<std::uint64_t>(seed) << 32;
    for (int i = 0; i < ops; ++i) {
      std::string err = Step(rng, live, tag, s_);
      ASSERT_EQ(err, "") << "op " << i;
      if (i % 5000 == 4999) {
        ASSERT_EQ(halloc_test::CheckInvariants(), "") << "after op " << i;
      }
    }
    for (const Block& b : live) {
      ASSERT_EQ(halloc_test::FirstMismatch(b.p, b.size, b.tag), b.size);
      halloc::Free(b.p);
    }
    ASSERT_EQ(halloc_test::CheckInvariants(), "") << "after freeing everything";
  }
}

// Threads run random sequences and pass some of their blocks to each other through a shared
// exchange, so many frees happen on a thread other than the allocating one. Four times per
// run every thread stops at a barrier and the checker runs while no thread is in the allocator.
TEST_F(RandomOps, MultiThreadedWithCrossThreadFrees) {
  const int seeds = halloc_test::Scaled(6, 3);
  const int threads = 4;
  const int ops = halloc_test::Scaled(20000, 2);
  for (int seed = 1; seed <= seeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mutex exchange_lock;
    std::vector<Block> exchange;
    std::atomic<bool> failed{false};
    std::vector<std::string> errors(threads);
    const int phase = ops / 4;
    std::barrier sync(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        std::mt19937_64 rng(seed * 1000 + t);
        std::vector<Block> live;
        std::uint64_t tag =
            (static_cast<std::uint64_t>(seed) << 40) | (static_cast<std::uint64_t>(t) << 32);
        for (int i = 0; i < ops; ++i) {
          if (i % phase == phase - 1) {
            // All threads pause outside the allocator while one runs the checker.
            sync.arrive_and_wait();
            if (t == 0 && !failed) {
              if (std::string err = halloc_test::CheckInvariants(); !err.empty()) {
                errors[t] = "halloc_check at op " + std::to_string(i) + ": " + err;
                failed = true;
              }
            }
            sync.arrive_and_wait();
          }
          if (failed) continue;  // keep arriving at the barrier
          std::string err = Step(rng, live, tag, s_);
          if (err.empty() && i % 16 == 0 && !live.empty()) {
            // Give one block away and adopt one that another thread gave.
            std::lock_guard guard(exchange_lock);
            std::size_t k = rng() % live.size();
            exchange.push_back(live[k]);
            live[k] = exchange[rng() % exchange.size()];
            exchange.erase(std::find_if(exchange.begin(), exchange.end(),
                                        [&](const Block& b) { return b.p == live[k].p; }));
          }
          if (!err.empty()) {
            errors[t] = "thread " + std::to_string(t) + " op " + std::to_string(i) + ": " + err;
            failed = true;
          }
        }
        for (const Block& b : live) {
          if (halloc_test::FirstMismatch(b.p, b.size, b.tag) != b.size && !failed) {
            errors[t] = "thread " + std::to_string(t) + ": block corrupted at exit";
            failed = true;
          }
          halloc::Free(b.p);
        }
      });
    }
    for (auto& th : pool) th.join();
    for (const std::string& e : errors) ASSERT_EQ(e, "");
    for (const Block& b : exchange) {
      ASSERT_EQ(halloc_test::FirstMismatch(b.p, b.size, b.tag), b.size);
      halloc::Free(b.p);
    }
    ASSERT_EQ(halloc_test::CheckInvariants(), "");
  }
}

}  // namespace
