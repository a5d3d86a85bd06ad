// Verify mode: a workload stamps each block it allocates with a pattern derived from the block's
// address and a tag (its owner), and checks the pattern just before it frees the block. A wrong
// allocator (overlapping blocks, a block handed out twice, memory scribbled by free) then ends
// the run as `corrupt` instead of being timed. Large blocks are stamped at both ends only, so
// verify costs about the same per block whatever its size. `allocbench check` uses the same
// pattern with a larger edge to cover whole blocks.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

namespace allocbench {

// The exit status of a child whose verify found a wrong byte (the sweep records "corrupt").
inline constexpr int kCorruptExitStatus = 4;
// Bytes stamped at each end of a block larger than twice this.
inline constexpr size_t kVerifyEdge = 64;

// The 8 pattern bytes at offsets [8 * index, 8 * index + 8) of a block stamped with `seed`: a
// different value for every word of every block, and cheap enough (one multiply-add, which a
// loop turns into an add) that verify mode costs little more than the memory it touches.
inline uint64_t pattern_word(uint64_t seed, size_t index) {
  return seed + static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ull;
}

inline uint8_t pattern_byte(uint64_t seed, size_t offset) {
  return static_cast<uint8_t>(pattern_word(seed, offset / 8) >> (8 * (offset % 8)));
}

// Which block and owner a pattern belongs to: two owners of one address stamp differently.
inline uint64_t block_seed(const void* block, uint64_t tag) {
  return reinterpret_cast<uintptr_t>(block) * 0xD6E8FEB86659FD93ull ^
         (tag + 1) * 0xA0761D6478BD642Full;
}

// Writes the pattern over offsets [begin, end) of `block` (any alignment).
inline void stamp_range(void* block, size_t begin, size_t end, uint64_t seed) {
  unsigned char* bytes = static_cast<unsigned char*>(block);
  size_t offset = begin;
  for (; offset < end && offset % 8 != 0; ++offset) bytes[offset] = pattern_byte(seed, offset);
  for (; offset < end && end - offset >= 8; offset += 8) {
    const uint64_t word = pattern_word(seed, offset / 8);
    std::memcpy(bytes + offset, &word, 8);
  }
  for (; offset < end; ++offset) bytes[offset] = pattern_byte(seed, offset);
}

// The first offset in [begin, end) whose byte is not the pattern's, or `end`.
inline size_t mismatch_in_range(const void* block, size_t begin, size_t end, uint64_t seed) {
  const unsigned char* bytes = static_cast<const unsigned char*>(block);
  size_t offset = begin;
  for (; offset < end && offset % 8 != 0; ++offset) {
    if (bytes[offset] != pattern_byte(seed, offset)) return offset;
  }
  for (; offset < end && end - offset >= 8; offset += 8) {
    uint64_t word;
    std::memcpy(&word, bytes + offset, 8);
    if (word != pattern_word(seed, offset / 8)) break;  // the byte loop below finds which
  }
  for (; offset < end; ++offset) {
    if (bytes[offset] != pattern_byte(seed, offset)) return offset;
  }
  return end;
}

// Stamps the whole block when it is at most 2 x `edge` bytes, else its first and last `edge`.
inline void stamp_block(void* block, size_t size, uint64_t seed, size_t edge = kVerifyEdge) {
  if (size <= 2 * edge) {
    stamp_range(block, 0, size, seed);
  } else {
    stamp_range(block, 0, edge, seed);
    stamp_range(block, size - edge, size, seed);
  }
}

// The first stamped offset that lost its pattern, or `size` when the block is intact.
inline size_t block_mismatch(const void* block, size_t size, uint64_t seed,
                             size_t edge = kVerifyEdge) {
  if (size <= 2 * edge) return mismatch_in_range(block, 0, size, seed);
  const size_t head = mismatch_in_range(block, 0, edge, seed);
  return head != edge ? head : mismatch_in_range(block, size - edge, size, seed);
}

// Prints what was wrong to stderr (without allocating: the heap may be broken) and ends the
// process at once with kCorruptExitStatus; other threads may be touching the same memory.
[[noreturn]] inline void report_corrupt_block(const char* workload, const void* block, size_t size,
                                              size_t offset, uint8_t expected) {
  char message[256];
  const int length = std::snprintf(
      message, sizeof(message),
      "allocbench: corrupt: %s: block %p (%zu bytes) byte %zu is 0x%02x, expected 0x%02x\n",
      workload, block, size, offset, static_cast<const unsigned char*>(block)[offset], expected);
  if (length > 0) (void)!write(STDERR_FILENO, message, static_cast<size_t>(length));
  _exit(kCorruptExitStatus);
}

// What a workload holds to verify its blocks: off means every call is a no-op.
struct Verifier {
  bool on = false;
  const char* workload = "";

  void stamp(void* block, size_t size, uint64_t tag) const {
    if (on) stamp_block(block, size, block_seed(block, tag));
  }
  // Checks a block's pattern before it is freed; ends the process when it changed.
  void check(const void* block, size_t size, uint64_t tag) const {
    if (!on) return;
    const uint64_t seed = block_seed(block, tag);
    const size_t offset = block_mismatch(block, size, seed);
    if (offset != size) {
      report_corrupt_block(workload, block, size, offset, pattern_byte(seed, offset));
    }
  }
};

}  // namespace allocbench
