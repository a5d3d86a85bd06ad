// Introspection: the variant's parameters and the heaps' counters, for tests and the toolkit.
#include <cstdio>

#include "halloc/halloc.h"
#include "heap.h"
#include "large.h"
#include "os.h"
#include "thread_binding.h"
#include "thread_cache.h"

#define HALLOC_EXPORT extern "C" __attribute__((visibility("default")))

namespace halloc {
namespace {

halloc_heap_stats Snapshot(Heap* h) {
  h->Drain();  // so that blocks freed by other threads no longer count as in use
  LockGuard guard(h->lock);
  halloc_heap_stats s{};
  s.in_use_bytes = h->in_use;
  s.held_bytes = h->held;
  s.superblocks = h->superblocks + h->empty_count;
  s.empty_superblocks = h->empty_count;
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
    for (Superblock* sb = h->lists[c][0]; sb; sb = sb->next) {
      if (sb->empty()) s.empty_superblocks += sb->granules();
    }
  }
  s.threads = h->threads.load(std::memory_order_relaxed);
  return s;
}

}  // namespace
}  // namespace halloc

HALLOC_EXPORT void halloc_get_params(halloc_params* out) {
  using namespace halloc;
  *out = halloc_params{
      .variant = kPolicy.name,
      .superblock_size = kSuperblockSize,
      .growth = kPolicy.growth,
      .empty_fraction = static_cast<double>(kPolicy.empty_num) / kPolicy.empty_den,
      .slack_superblocks = kPolicy.slack,
      .max_heaps = HeapLimit(),
      .size_classes = kSizeClasses.count,
      .large_threshold = kLargeThreshold,
      .empty_reserve = EmptyReserve(),
      .thread_cache_bytes = kCacheLimits.bound_bytes,
      .remote_batch_blocks = kThreadCache ? kRemoteBatch : 0,
      .inbox_bytes = kThreadCache ? Heap::kInboxLimit : 0,
  };
}

HALLOC_EXPORT int halloc_get_heap_stats(size_t i, halloc_heap_stats* out) {
  using namespace halloc;
  if (i >= HeapCount()) return -1;
  *out = Snapshot(HeapAt(i));
  return 0;
}

HALLOC_EXPORT void halloc_get_stats(halloc_stats* out) {
  using namespace halloc;
  EnsureInitialized();
  // Exact for the caller: the blocks its cache holds go back first, so they no longer count
  // as in use (other threads' caches still do); so do blocks waiting in any heap's inbox, whose
  // superblocks may have moved to the global heap meanwhile.
  if (kThreadCache) tls_cache.FlushAll();
  for (std::size_t i = 0; i < HeapCount(); ++i) HeapAt(i)->Drain();
  OsCounters total = OsTotal();
  OsCounters sbs = OsBytes(MapPurpose::kSuperblock);
  *out = halloc_stats{
      .heaps = HeapCount(),
      .global = Snapshot(GlobalHeap()),
      .os_bytes = total.bytes,
      .os_bytes_peak = total.peak,
      .superblock_bytes = sbs.bytes,
      .superblock_bytes_peak = sbs.peak,
      .large_bytes = OsBytes(MapPurpose::kLarge).bytes,
      .large_objects = LargeCount(),
      .metadata_bytes = OsBytes(MapPurpose::kMetadata).bytes,
      .released_superblocks = ReleasedSuperblocks(),
      .large_cached_bytes = LargeCachedBytes(),
  };
}

HALLOC_EXPORT size_t halloc_stats_json(char* buf, size_t len) {
  halloc_params p;
  halloc_stats s;
  halloc_get_params(&p);
  halloc_get_stats(&s);
  int n = std::snprintf(
      buf, len,
      "{\"variant\":\"%s\",\"superblock_size\":%zu,\"growth\":%g,\"empty_fraction\":%g,"
      "\"slack_superblocks\":%zu,\"max_heaps\":%zu,\"size_classes\":%zu,"
      "\"large_threshold\":%zu,\"empty_reserve\":%zu,\"thread_cache_bytes\":%zu,"
      "\"remote_batch_blocks\":%zu,\"inbox_bytes\":%zu,\"heaps\":%zu,"
      "\"global\":{\"in_use_bytes\":%zu,\"held_bytes\":%zu,\"superblocks\":%zu},"
      "\"os_bytes\":%zu,\"os_bytes_peak\":%zu,\"superblock_bytes\":%zu,"
      "\"superblock_bytes_peak\":%zu,\"large_bytes\":%zu,\"large_cached_bytes\":%zu,"
      "\"large_objects\":%zu,"
      "\"metadata_bytes\":%zu}",
      p.variant, p.superblock_size, p.growth, p.empty_fraction, p.slack_superblocks, p.max_heaps,
      p.size_classes, p.large_threshold, p.empty_reserve, p.thread_cache_bytes,
      p.remote_batch_blocks, p.inbox_bytes, s.heaps, s.global.in_use_bytes, s.global.held_bytes,
      s.global.superblocks, s.os_bytes, s.os_bytes_peak, s.superblock_bytes,
      s.superblock_bytes_peak, s.large_bytes, s.large_cached_bytes, s.large_objects,
      s.metadata_bytes);
  return n < 0 ? 0 : static_cast<size_t>(n);
}
