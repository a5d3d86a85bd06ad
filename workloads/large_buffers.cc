// large-buffers: a set of big buffers (tens of MiB), each replaced again and again: a new buffer
// of random size is allocated zeroed (calloc) and used, then the old one is freed. "Used" means
// the workload reads a word at every `page_stride` bytes (and the last byte) of the new buffer,
// which must be zero, and writes a marker there, as a program filling its buffer would touch
// every page. So an allocator pays whatever its way of recycling big blocks costs: a fresh
// mapping (page faults, kernel zeroing, munmap), or reuse (it must zero what it hands out). A
// non-zero byte in a fresh calloc is corruption, checked on every replacement, verify mode or
// not. The buffers are split among the threads (thread i holds buffers i, i + t, ...), so total
// memory and work do not grow with the thread count; threads beyond the buffers idle.
// Written here from issue 11's description of the pattern.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "workloads/random.h"
#include "workloads/thread_team.h"
#include "workloads/verify.h"
#include "workloads/workload.h"

namespace allocbench {
namespace {

constexpr const char* kName = "large-buffers";
constexpr size_t kMarkerBytes = 8;
constexpr unsigned char kMarker = 0xA5;

struct Buffer {
  unsigned char* pointer = nullptr;
  size_t size = 0;
};

// Ends the process as corrupt unless `buffer`'s byte at `offset` and the few after it are 0.
void expect_zero(const Buffer& buffer, size_t offset) {
  const size_t end = std::min(buffer.size, offset + kMarkerBytes);
  for (size_t at = offset; at < end; ++at) {
    if (buffer.pointer[at] != 0) report_corrupt_block(kName, buffer.pointer, buffer.size, at, 0);
  }
}

// calloc's buffer, checked to be zero where it will be used, then used: a marker every stride.
Buffer new_buffer(size_t size, size_t stride) {
  Buffer buffer{static_cast<unsigned char*>(std::calloc(1, size)), size};
  if (buffer.pointer == nullptr) {
    std::fprintf(stderr, "allocbench: %s: calloc(1, %zu) returned NULL\n", kName, size);
    std::exit(1);
  }
  for (size_t offset = 0; offset < size; offset += stride) expect_zero(buffer, offset);
  expect_zero(buffer, size - 1);
  for (size_t offset = 0; offset < size; offset += stride) {
    std::memset(buffer.pointer + offset, kMarker, std::min(kMarkerBytes, size - offset));
  }
  return buffer;
}

Outcome run_large_buffers(const RunContext& context) {
  const uint64_t buffers = context.params.get_uint("buffers");
  const uint64_t replacements = context.params.get_uint("replacements");
  const uint64_t min_size = context.params.get_uint("min_size");
  const uint64_t max_size = context.params.get_uint("max_size");
  const size_t stride = context.params.get_uint("page_stride");
  const uint64_t seed = context.params.get_uint("seed");
  const Verifier verifier{context.verify, kName};

  PhaseClock clock(context.threads);
  const uint64_t threads = static_cast<uint64_t>(context.threads);
  std::vector<std::vector<Buffer>> sets(context.threads);
  for (uint64_t index = 0; index < threads; ++index) {
    sets[index].resize(buffers / threads + (index < buffers % threads ? 1 : 0));
  }
  run_team(context.threads, [&](int index) {
    ThreadStats& stats = context.stats.slot(index);
    FastRandom random(seed + index);
    std::vector<Buffer>& mine = sets[index];
    for (Buffer& buffer : mine) {
      buffer = new_buffer(random.between(min_size, max_size), stride);
      verifier.stamp(buffer.pointer, buffer.size, index);
      stats.add_live(static_cast<int64_t>(buffer.size));
    }
    clock.ready();
    // Round-robin over this thread's buffers, so each is replaced `replacements` times.
    for (uint64_t round = 0; round < replacements; ++round) {
      for (Buffer& buffer : mine) {
        const Buffer old = buffer;
        buffer = new_buffer(random.between(min_size, max_size), stride);
        verifier.stamp(buffer.pointer, buffer.size, index);
        stats.add_live(static_cast<int64_t>(buffer.size));
        verifier.check(old.pointer, old.size, index);
        std::free(old.pointer);
        stats.add_live(-static_cast<int64_t>(old.size));
        stats.count_op();
      }
    }
    clock.done();
    for (Buffer& buffer : mine) {
      verifier.check(buffer.pointer, buffer.size, index);
      std::free(buffer.pointer);
      stats.add_live(-static_cast<int64_t>(buffer.size));
    }
  });
  return {clock.seconds()};
}

std::string check_large_buffers(const Params& params) {
  if (params.get("min_size") > params.get("max_size")) return "--min_size exceeds --max_size";
  return "";
}

}  // namespace

const Workload kLargeBuffers = {
    .name = "large-buffers",
    .summary = "buffers of 5-25 MiB, each replaced by a zeroed (calloc) one that is then used",
    .params =
        {
            {"buffers", 20, 1, 1e6, true,
             "buffers in total, split among the threads (issue 11: 20)"},
            {"replacements", 2, 1, 1e9, true,
             "times each buffer is replaced (one op each; issue 11: 2,000; 2 keeps a quick sweep "
             "short: --param large-buffers.replacements=2000 for the issue's shape)"},
            {"min_size", 5 << 20, 1, 1ull << 40, true,
             "smallest buffer in bytes (issue 11: 5 MiB)"},
            {"max_size", 25 << 20, 1, 1ull << 40, true,
             "largest buffer in bytes (issue 11: 25 MiB)"},
            {"page_stride", 4096, 1, 1ull << 40, true,
             "a zero check and a marker write every this many bytes of a new buffer (our choice: "
             "every 4 KiB page, so every page is used)"},
            {"seed", 1, 0, 1e15, true, "random seed; thread i uses seed + i"},
        },
    .slots_per_thread = 1,
    .run = run_large_buffers,
    .check = check_large_buffers,
};

}  // namespace allocbench
