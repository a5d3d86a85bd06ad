// larson (Larson & Krishnan, ISMM 1998; Hoard paper, Fig. 3c), written from the published
// description: a server simulation. Each of t chains owns an array of slots, filled by the main
// thread before the clock starts. A thread of the chain replaces random slots with blocks of
// random size in [min_size, max_size]; after rounds x slots replacements it hands the array to a
// new thread, which carries on. So most frees hit blocks another thread allocated. The run is
// time-bounded; throughput is operations per second.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "workloads/random.h"
#include "workloads/thread_team.h"
#include "workloads/verify.h"
#include "workloads/workload.h"

namespace allocbench {
namespace {

struct Slot {
  void* pointer = nullptr;
  size_t size = 0;
};

// What a chain hands from one thread to the next.
// A cache line of its own: each thread writes its chain's random state on every replacement,
// and the chains lie side by side in one vector. Unpadded (56 bytes), two chains shared a line
// or not depending on where the allocator put that vector, which made larson measure the
// driver's false sharing: 2 threads ran at 60 Mops/s under halloc, 215 with the padding.
struct alignas(64) Chain {
  std::vector<Slot> slots;
  FastRandom random;
  ThreadStats* stats;
  uint64_t tag;  // the chain's index: its blocks' verify tag, whichever thread holds it
  uint64_t generations = 0;
};
static_assert(sizeof(Chain) % 64 == 0, "chains never share a cache line");

struct Settings {
  uint64_t min_size;
  uint64_t max_size;
  uint64_t replacements;  // per generation
  Verifier verifier;
};

// One generation: replace random slots until the quota is done or the time is up.
void run_generation(Chain& chain, const Settings& settings, const std::atomic<bool>& stop) {
  constexpr uint64_t kStopCheckInterval = 64;  // keep the flag's load out of most iterations
  for (uint64_t done = 0; done < settings.replacements; ++done) {
    if (done % kStopCheckInterval == 0 && stop.load(std::memory_order_relaxed)) return;
    Slot& slot = chain.slots[chain.random.below(chain.slots.size())];
    settings.verifier.check(slot.pointer, slot.size, chain.tag);
    std::free(slot.pointer);
    chain.stats->on_free(slot.size);
    slot.size = chain.random.between(settings.min_size, settings.max_size);
    slot.pointer = std::malloc(slot.size);
    static_cast<volatile char*>(slot.pointer)[0] = 1;
    settings.verifier.stamp(slot.pointer, slot.size, chain.tag);
    chain.stats->on_alloc(slot.size);
  }
}

Outcome run_larson(const RunContext& context) {
  const Settings settings = {
      .min_size = context.params.get_uint("min_size"),
      .max_size = context.params.get_uint("max_size"),
      .replacements = context.params.get_uint("rounds") * context.params.get_uint("slots"),
      .verifier = {context.verify, "larson"},
  };
  const size_t slots = context.params.get_uint("slots");
  const uint64_t seed = context.params.get_uint("seed");
  const auto duration = std::chrono::duration<double>(context.params.get("duration_s"));

  // The main thread allocates every chain's first blocks: their frees are cross-thread.
  std::vector<Chain> chains;
  chains.reserve(context.threads);
  for (int index = 0; index < context.threads; ++index) {
    Chain chain{std::vector<Slot>(slots), FastRandom(seed + index), &context.stats.slot(index),
                static_cast<uint64_t>(index)};
    for (Slot& slot : chain.slots) {
      slot.size = chain.random.between(settings.min_size, settings.max_size);
      slot.pointer = std::malloc(slot.size);
      settings.verifier.stamp(slot.pointer, slot.size, chain.tag);
      chain.stats->add_live(static_cast<int64_t>(slot.size));
    }
    chains.push_back(std::move(chain));
  }

  std::atomic<bool> stop{false};
  std::thread timer;
  const double seconds = run_team(context.threads, [&](int index) {
    if (index == 0) {
      timer = std::thread([&] {
        std::this_thread::sleep_for(duration);
        stop.store(true, std::memory_order_relaxed);
      });
    }
    // This thread only hands over: each generation is a fresh thread (a new allocator client).
    Chain& chain = chains[index];
    while (!stop.load(std::memory_order_relaxed)) {
      std::thread generation([&] { run_generation(chain, settings, stop); });
      generation.join();
      ++chain.generations;
    }
  });
  timer.join();

  for (Chain& chain : chains) {
    for (Slot& slot : chain.slots) {
      settings.verifier.check(slot.pointer, slot.size, chain.tag);
      std::free(slot.pointer);
      chain.stats->add_live(-static_cast<int64_t>(slot.size));
    }
  }
  return {seconds};
}

std::string check_larson(const Params& params) {
  if (params.get("min_size") > params.get("max_size")) return "--min_size exceeds --max_size";
  return "";
}

}  // namespace

const Workload kLarson = {
    .name = "larson",
    .summary = "server simulation: random slot replacement, arrays handed to new threads (timed)",
    .params =
        {
            {"duration_s", 1, 0.001, 1e6, false,
             "measured seconds (sweep: --duration; mimalloc-bench runs 5)"},
            {"min_size", 8, 1, 1 << 30, true, "smallest block in bytes (mimalloc-bench: 8)"},
            {"max_size", 1000, 1, 1 << 30, true, "largest block in bytes (mimalloc-bench: 1000)"},
            {"slots", 5000, 1, 1e8, true, "blocks each chain holds (mimalloc-bench: 5000)"},
            {"rounds", 100, 1, 1e9, true,
             "a thread does rounds x slots replacements, then hands over (mimalloc-bench: 100)"},
            {"seed", 4141, 0, 1e15, true, "random seed; chain i uses seed + i (mimalloc-bench)"},
        },
    .slots_per_thread = 1,
    .run = run_larson,
    .check = check_larson,
};

}  // namespace allocbench
