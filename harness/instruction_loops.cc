#include "harness/instruction_loops.h"

#include <fmt/format.h>

#include <array>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "harness/allocators.h"
#include "harness/cli_args.h"

namespace allocbench {

namespace {

// Every block goes through here, so the compiler cannot pair a malloc with its free and drop
// both (this file is also built with -fno-builtin).
void* volatile sink;

void* take(size_t size) {
  void* block = std::malloc(size);
  if (block == nullptr) {
    fmt::print(stderr, "instructions-child: malloc({}) returned NULL\n", size);
    std::exit(1);
  }
  sink = block;
  return block;
}

// Small sizes of a few classes, as a program's small objects come (16..128 B).
constexpr std::array<size_t, 8> kSmallSizes = {16, 32, 48, 64, 80, 96, 112, 128};

// One malloc(32) and its free, `rounds` times.
void alternate(uint64_t rounds) {
  for (uint64_t i = 0; i < rounds; ++i) std::free(take(32));
}

// 64 mallocs of the small sizes, then their 64 frees in the same order.
void batch64(uint64_t rounds) {
  std::array<void*, 64> blocks;
  for (uint64_t round = 0; round < rounds; ++round) {
    for (size_t i = 0; i < blocks.size(); ++i)
      blocks[i] = take(kSmallSizes[i % kSmallSizes.size()]);
    for (void* block : blocks) std::free(block);
  }
}

// Hoard's threadtest, one thread: 10,000 blocks of 8 B, then their frees.
constexpr size_t kThreadtestBlocks = 10000;
void threadtest(uint64_t rounds) {
  static std::array<void*, kThreadtestBlocks> blocks;
  for (uint64_t round = 0; round < rounds; ++round) {
    for (void*& block : blocks) block = take(8);
    for (void* block : blocks) std::free(block);
  }
}

// A fixed-seed generator (splitmix64): the same sizes and choices in every run.
struct Random {
  uint64_t state = 0x9e3779b97f4a7c15u;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
  }
};

// 4 B..32 KiB, small sizes far more frequent: the power of two is 2^(2 + the smaller of two
// uniform picks in 0..12), then uniform up to its double.
size_t mixed_size(Random& random) {
  const uint64_t r = random.next();
  const unsigned exponent = 2 + static_cast<unsigned>(std::min(r % 13, (r >> 8) % 13));
  const size_t base = size_t{1} << exponent;
  return base + static_cast<size_t>((r >> 16) % (base + 1));
}

// A working set of 1,000 blocks of mixed sizes; each round frees a random one and puts a new
// block of a new size in its place. The choices come from a table made before the loop (64 Ki
// of them, used in turn), so the loop itself costs a few instructions a round; making the table,
// filling the set and emptying it cost the same at every round count.
constexpr size_t kWorkingSet = 1000;
constexpr size_t kChoices = 65536;
void size_mix(uint64_t rounds) {
  struct Choice {
    uint32_t victim;
    uint32_t size;
  };
  static std::array<Choice, kChoices> choices;
  static std::array<void*, kWorkingSet> blocks;
  Random random;
  for (Choice& choice : choices) {
    choice.victim = static_cast<uint32_t>(random.next() % kWorkingSet);
    choice.size = static_cast<uint32_t>(mixed_size(random));
  }
  for (void*& block : blocks) block = take(mixed_size(random));
  for (uint64_t round = 0; round < rounds; ++round) {
    const Choice& choice = choices[round % kChoices];
    std::free(blocks[choice.victim]);
    blocks[choice.victim] = take(choice.size);
  }
  for (void* block : blocks) std::free(block);
}

// One thread allocates batches of 256 small blocks and hands each to a second thread that frees
// them: every free is a remote free. The two take turns (a mutex and a condition variable, no
// spinning), so what each does, and in which order, does not depend on timing: with room for
// several batches in flight, how far the first ran ahead changed what the second's frees met.
constexpr size_t kRemoteBatch = 256;
void remote_free(uint64_t rounds) {
  static std::array<void*, kRemoteBatch> batch;
  std::mutex mutex;
  std::condition_variable changed;
  uint64_t produced = 0;
  uint64_t consumed = 0;
  std::thread consumer([&] {
    for (uint64_t round = 0; round < rounds; ++round) {
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return consumed < produced; });
      }
      for (void* block : batch) std::free(block);
      {
        std::lock_guard lock(mutex);
        ++consumed;
      }
      changed.notify_one();
    }
  });
  for (uint64_t round = 0; round < rounds; ++round) {
    {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return produced == consumed; });
    }
    for (size_t i = 0; i < batch.size(); ++i) batch[i] = take(kSmallSizes[i % kSmallSizes.size()]);
    {
      std::lock_guard lock(mutex);
      ++produced;
    }
    changed.notify_one();
  }
  consumer.join();
}

}  // namespace

const std::vector<InstructionLoop>& instruction_loops() {
  static const std::vector<InstructionLoop> loops = {
      {"alternate", "malloc(32), free, alternately", 1, 100'000, 1'100'000, alternate},
      {"batch64", "64 mallocs of 16..128 B, then their 64 frees", 64, 2'000, 12'000, batch64},
      {"threadtest", "10,000 mallocs of 8 B, then their frees", kThreadtestBlocks, 10, 60,
       threadtest},
      {"size-mix", "1,000 blocks of 4 B..32 KiB (small-skewed); replace a random one", 1, 50'000,
       550'000, size_mix},
      {"remote-free", "a thread mallocs batches of 256 (16..128 B), another frees them",
       kRemoteBatch, 200, 2'200, remote_free},
  };
  return loops;
}

const InstructionLoop* find_instruction_loop(const std::string& name) {
  for (const InstructionLoop& loop : instruction_loops()) {
    if (loop.name == name) return &loop;
  }
  return nullptr;
}

int instructions_child_command(const std::vector<std::string>& args) {
  ArgList list(args);
  const std::string name = list.next_positional("loop");
  const InstructionLoop* loop = find_instruction_loop(name);
  if (loop == nullptr) throw UsageError(fmt::format("unknown loop '{}'", name));
  const auto rounds =
      static_cast<uint64_t>(parse_integer("rounds", list.next_positional("rounds"), 1, INT64_MAX));
  if (!list.done()) throw UsageError(fmt::format("unknown flag --{}", list.next_flag()));
  // A library that failed to load leaves glibc's malloc serving: count nothing then.
  if (const std::string problem = preload_problem(); !problem.empty()) {
    fmt::print(stderr, "allocbench instructions-child: {}\n", problem);
    return 3;
  }
  loop->run(rounds);
  return 0;
}

}  // namespace allocbench
