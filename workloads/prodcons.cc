// prodcons (blowup; the Hoard paper's section 2.2 "producer-consumer" pattern): t producers
// allocate blocks and pass them in batches through a bounded queue to t consumers, which free
// them. The blocks alive at once are bounded by the queue, but an allocator with pure private
// heaps returns each freed block to the consumer's heap, where the producer never reuses it, and
// its footprint grows without bound. Fixed work; `threads` counts producer-consumer pairs.
#include <atomic>
#include <cstdlib>
#include <vector>

#include "workloads/random.h"
#include "workloads/thread_team.h"
#include "workloads/verify.h"
#include "workloads/workload.h"

namespace allocbench {
namespace {

struct Block {
  void* pointer;
  size_t size;
};

struct Message {
  std::vector<Block> blocks;  // capacity `batch`, reserved before the clock starts
};

// Single-producer single-consumer ring of messages; head and tail on their own cache lines.
struct Queue {
  alignas(64) std::atomic<uint64_t> head{0};  // next message the producer fills
  alignas(64) std::atomic<uint64_t> tail{0};  // next message the consumer empties
  std::vector<Message> ring;
};

struct Settings {
  uint64_t objects_per_pair;
  uint64_t batch;
  uint64_t min_size;
  uint64_t max_size;
  uint64_t seed;
  Verifier verifier;  // blocks are tagged with their pair's index
};

void produce(Queue& queue, ThreadStats& ops, ThreadStats& live, const Settings& settings,
             int index) {
  FastRandom random(settings.seed + index);
  const uint64_t depth = queue.ring.size();
  uint64_t produced = 0;
  for (uint64_t head = 0; produced < settings.objects_per_pair; ++head) {
    for (uint64_t tail = queue.tail.load(std::memory_order_acquire); head - tail == depth;
         tail = queue.tail.load(std::memory_order_acquire)) {
      queue.tail.wait(tail, std::memory_order_acquire);
    }
    Message& message = queue.ring[head % depth];
    message.blocks.clear();
    for (; message.blocks.size() < settings.batch && produced < settings.objects_per_pair;
         ++produced) {
      const size_t size = random.between(settings.min_size, settings.max_size);
      void* pointer = std::malloc(size);
      static_cast<volatile char*>(pointer)[0] = 1;
      settings.verifier.stamp(pointer, size, index);
      ops.count_op();
      live.add_live_shared(static_cast<int64_t>(size));
      message.blocks.push_back({pointer, size});
    }
    queue.head.store(head + 1, std::memory_order_release);
    queue.head.notify_one();
  }
}

void consume(Queue& queue, ThreadStats& ops, ThreadStats& live, const Settings& settings,
             int index) {
  const uint64_t depth = queue.ring.size();
  uint64_t consumed = 0;
  for (uint64_t tail = 0; consumed < settings.objects_per_pair; ++tail) {
    for (uint64_t head = queue.head.load(std::memory_order_acquire); head == tail;
         head = queue.head.load(std::memory_order_acquire)) {
      queue.head.wait(head, std::memory_order_acquire);
    }
    for (const Block& block : queue.ring[tail % depth].blocks) {
      settings.verifier.check(block.pointer, block.size, index);
      std::free(block.pointer);
      ops.count_op();
      live.add_live_shared(-static_cast<int64_t>(block.size));
      ++consumed;
    }
    queue.tail.store(tail + 1, std::memory_order_release);
    queue.tail.notify_one();
  }
}

Outcome run_prodcons(const RunContext& context) {
  const int pairs = context.threads;
  const Settings settings = {
      .objects_per_pair = context.params.get_uint("objects") / pairs,
      .batch = context.params.get_uint("batch"),
      .min_size = context.params.get_uint("min_size"),
      .max_size = context.params.get_uint("max_size"),
      .seed = context.params.get_uint("seed"),
      .verifier = {context.verify, "prodcons"},
  };
  std::vector<Queue> queues(pairs);
  for (Queue& queue : queues) {
    queue.ring.resize(context.params.get_uint("queue_depth"));
    for (Message& message : queue.ring) message.blocks.reserve(settings.batch);
  }
  // Slots: [0, pairs) bytes in each queue; then producers' and consumers' operation counts.
  const double seconds = run_team(2 * pairs, [&](int index) {
    const int pair = index % pairs;
    ThreadStats& live = context.stats.slot(pair);
    if (index < pairs) {
      produce(queues[pair], context.stats.slot(pairs + pair), live, settings, pair);
    } else {
      consume(queues[pair], context.stats.slot(2 * pairs + pair), live, settings, pair);
    }
  });
  return {seconds};
}

std::string check_prodcons(const Params& params) {
  if (params.get("min_size") > params.get("max_size")) return "--min_size exceeds --max_size";
  return "";
}

}  // namespace

const Workload kProdcons = {
    .name = "prodcons",
    .summary = "blowup: producers allocate, consumers free; threads = producer-consumer pairs",
    .params =
        {
            {"objects", 3000000, 1, 1e12, true,
             "blocks produced in total, split across pairs (our choice: ~0.15 s on glibc)"},
            {"batch", 100, 1, 1e7, true, "blocks per message (our choice)"},
            {"queue_depth", 16, 1, 1e6, true,
             "messages a queue holds; bounds the live blocks (our choice)"},
            {"min_size", 16, 1, 1 << 30, true, "smallest block in bytes (our choice)"},
            {"max_size", 256, 1, 1 << 30, true, "largest block in bytes (our choice)"},
            {"seed", 1, 0, 1e15, true, "random seed; producer i uses seed + i"},
        },
    .slots_per_thread = 3,
    .run = run_prodcons,
    .check = check_prodcons,
};

}  // namespace allocbench
