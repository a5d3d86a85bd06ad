// Per-operation costs of allocation patterns, under whatever allocator is preloaded:
// malloc/free pairs by size, batches, frees from another thread, realloc growth and aligned
// allocation, each from 1 thread up to the number of cores (ThreadRange).
#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "harness/allocators.h"

namespace {

int max_threads() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(cores);
}

void BM_MallocFree(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    void* object = std::malloc(size);
    benchmark::DoNotOptimize(object);
    std::free(object);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Batch(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  constexpr size_t kBatch = 1000;
  std::vector<void*> objects(kBatch);
  for (auto _ : state) {
    for (void*& object : objects) object = std::malloc(size);
    benchmark::DoNotOptimize(objects.data());
    for (void* object : objects) std::free(object);
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

// Each thread allocates a batch and swaps it with its neighbour's mailbox, freeing the batch it
// receives: every free (with 2+ threads) is of memory another thread allocated.
constexpr size_t kCrossBatch = 64;
struct CrossBatch {
  std::array<void*, kCrossBatch> objects;
};
constexpr int kMaxMailboxes = 1024;
std::array<std::atomic<CrossBatch*>, kMaxMailboxes> mailboxes;

void free_batch(CrossBatch* batch) {
  if (batch == nullptr) return;
  for (void* object : batch->objects) std::free(object);
  delete batch;
}

void BM_CrossThreadFree(benchmark::State& state) {
  const int me = state.thread_index() % kMaxMailboxes;
  const int neighbour = (state.thread_index() + 1) % state.threads() % kMaxMailboxes;
  const size_t size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    auto* batch = new CrossBatch;
    for (void*& object : batch->objects) object = std::malloc(size);
    free_batch(mailboxes[me].exchange(batch));
    free_batch(mailboxes[neighbour].exchange(nullptr));
  }
  free_batch(mailboxes[me].exchange(nullptr));
  state.SetItemsProcessed(state.iterations() * kCrossBatch);
}

void BM_ReallocGrowth(benchmark::State& state) {
  const size_t limit = static_cast<size_t>(state.range(0));
  int64_t reallocs = 0;
  for (auto _ : state) {
    void* object = std::malloc(16);
    for (size_t size = 16; size < limit; size += size / 2) {
      object = std::realloc(object, size);
      static_cast<char*>(object)[size - 1] = 1;
      ++reallocs;
    }
    std::free(object);
  }
  state.SetItemsProcessed(reallocs);
}

void BM_AlignedAlloc(benchmark::State& state) {
  const size_t alignment = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    void* object = std::aligned_alloc(alignment, alignment);
    benchmark::DoNotOptimize(object);
    std::free(object);
  }
  state.SetItemsProcessed(state.iterations());
}

void register_benchmarks() {
  const int threads = max_threads();
  benchmark::RegisterBenchmark("malloc_free", BM_MallocFree)
      ->Arg(16)
      ->Arg(64)
      ->Arg(512)
      ->Arg(4096)
      ->Arg(65536)
      ->ThreadRange(1, threads)
      ->UseRealTime();
  benchmark::RegisterBenchmark("batch_1000", BM_Batch)
      ->Arg(16)
      ->Arg(256)
      ->ThreadRange(1, threads)
      ->UseRealTime();
  benchmark::RegisterBenchmark("cross_thread_free", BM_CrossThreadFree)
      ->Arg(64)
      ->ThreadRange(2, std::max(2, threads))
      ->UseRealTime();
  benchmark::RegisterBenchmark("realloc_growth", BM_ReallocGrowth)
      ->Arg(1 << 20)
      ->ThreadRange(1, threads)
      ->UseRealTime();
  benchmark::RegisterBenchmark("aligned_alloc", BM_AlignedAlloc)
      ->Arg(64)
      ->Arg(4096)
      ->ThreadRange(1, threads)
      ->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  // Under a library that does not serve malloc (none exported, or it failed to load) these
  // numbers would be glibc's under another name: refuse, as `allocbench run` does.
  const std::string problem = allocbench::preload_problem();
  if (!problem.empty()) {
    std::fprintf(stderr, "allocbench-micro: %s\n", problem.c_str());
    return 3;
  }
  register_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
