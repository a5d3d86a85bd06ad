#include "harness/tracer/sharing_counter.h"

namespace allocbench::tracer {

namespace {

// Fill limits: probing stays short, and the last slots are never needed to end a probe.
constexpr size_t kMaxFillPercent = 85;
// A freed block is recorded on each of its lines, so that a later object anywhere inside it
// finds it, up to this many lines; a larger one only on its first and last (an object placed
// in its interior then misses that it reuses it: passive may be counted as active).
constexpr uint64_t kInteriorLinesScanned = 64;
// Freed blocks (and stale records) one allocation can cover and erase at once.
constexpr size_t kMaxErased = 128;

uint64_t mix(uint64_t line) {
  uint64_t h = line * 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 29);
}

bool overlaps(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size) {
  return a < b + b_size && b < a + a_size;
}

}  // namespace

SharingCounter::SharingCounter(Entry* entries, size_t capacity, uint64_t* line_set,
                               size_t line_slots)
    : table_(entries), capacity_(capacity), line_set_(line_set), line_slots_(line_slots) {
  counts_.capacity = capacity;
}

size_t SharingCounter::home(uint64_t line) const {
  return mix(line) & (capacity_ - 1);
}

bool SharingCounter::insert(const Entry& entry) {
  if ((used_ + 1) * 100 > capacity_ * kMaxFillPercent) return false;
  size_t slot = home(entry.line);
  while (table_[slot].line != 0) slot = (slot + 1) & (capacity_ - 1);
  table_[slot] = entry;
  ++used_;
  if (used_ > counts_.peak_entries) counts_.peak_entries = used_;
  return true;
}

// Backward-shift deletion: later entries of the probe run move up, so no probe ever stops early.
void SharingCounter::erase_at(size_t hole) {
  const size_t mask = capacity_ - 1;
  size_t next = hole;
  while (true) {
    next = (next + 1) & mask;
    if (table_[next].line == 0) break;
    const size_t wanted = home(table_[next].line);
    // The entry may fill the hole when its home is not cyclically in (hole, next].
    const bool movable =
        hole <= next ? (wanted <= hole || wanted > next) : (wanted <= hole && wanted > next);
    if (movable) {
      table_[hole] = table_[next];
      hole = next;
    }
  }
  table_[hole].line = 0;
  --used_;
}

size_t SharingCounter::find(uint64_t line, uint64_t addr) const {
  for (size_t slot = home(line); table_[slot].line != 0; slot = (slot + 1) & (capacity_ - 1)) {
    if (table_[slot].line == line && table_[slot].addr == addr) return slot;
  }
  return capacity_;
}

void SharingCounter::erase_block(uint64_t addr, uint64_t size) {
  const uint64_t first = addr / kLineBytes;
  const uint64_t last = (addr + size - 1) / kLineBytes;
  const bool interior = last - first <= kInteriorLinesScanned;
  for (uint64_t line = first; line <= last; ++line) {
    if (!interior && line != first) line = last;
    const size_t slot = find(line, addr);
    if (slot != capacity_) erase_at(slot);
  }
}

void SharingCounter::note_shared_line(uint64_t line) {
  const size_t mask = line_slots_ - 1;
  size_t slot = mix(line) & mask;
  while (line_set_[slot] != 0) {
    if (line_set_[slot] == line) return;
    slot = (slot + 1) & mask;
  }
  if ((lines_used_ + 1) * 100 > line_slots_ * kMaxFillPercent) {
    ++counts_.dropped;  // `lines` is a lower bound from here on
    return;
  }
  line_set_[slot] = line;
  ++lines_used_;
  ++counts_.lines;
}

bool SharingCounter::running(uint32_t thread) const {
  return thread >= kTrackedThreads || (exited_[thread / 64] >> (thread % 64) & 1) == 0;
}

void SharingCounter::on_thread_exit(uint32_t thread) {
  if (thread < kTrackedThreads) exited_[thread / 64] |= uint64_t{1} << (thread % 64);
}

void SharingCounter::on_alloc(uint32_t thread, uint64_t addr, uint64_t size) {
  if (size == 0) size = 1;
  ++counts_.objects;
  const uint64_t first = addr / kLineBytes;
  const uint64_t last = (addr + size - 1) / kLineBytes;
  const uint64_t scan_last = last - first <= kInteriorLinesScanned ? last : first;

  bool shared_first = false, shared_last = false, reused_foreign = false;
  struct Block {
    uint64_t addr, size;
  } erase[kMaxErased];
  size_t erase_count = 0;
  auto visit = [&](uint64_t line) {
    for (size_t slot = home(line); table_[slot].line != 0; slot = (slot + 1) & (capacity_ - 1)) {
      const Entry& e = table_[slot];
      if (e.line != line) continue;
      const bool same_bytes = overlaps(e.addr, e.size, addr, size);
      if (e.free_thread == 0 && !same_bytes) {
        if (e.alloc_thread != thread && running(e.alloc_thread)) {
          (line == first ? shared_first : shared_last) = true;
        }
        continue;
      }
      // A freed block this object now covers (or a live record whose free we never saw).
      if (!same_bytes) continue;
      if (e.free_thread == thread && (e.alloc_thread != thread || e.passed)) reused_foreign = true;
      bool listed = false;
      for (size_t i = 0; i < erase_count; ++i) listed |= erase[i].addr == e.addr;
      if (!listed && erase_count < kMaxErased) erase[erase_count++] = {e.addr, e.size};
    }
  };
  visit(first);
  for (uint64_t line = first + 1; line <= scan_last; ++line) visit(line);
  if (scan_last != last) visit(last);
  for (size_t i = 0; i < erase_count; ++i) erase_block(erase[i].addr, erase[i].size);

  const bool room = (used_ + 2) * 100 <= capacity_ * kMaxFillPercent;
  if (room) {
    insert({first, addr, size, thread, 0, reused_foreign});
    if (last != first) insert({last, addr, size, thread, 0, reused_foreign});
  } else {
    ++counts_.dropped;
  }
  if (shared_first || shared_last) {
    ++(reused_foreign ? counts_.passive : counts_.active);
    if (shared_first) note_shared_line(first);
    if (shared_last && last != first) note_shared_line(last);
  }
}

void SharingCounter::on_free(uint32_t thread, uint64_t addr) {
  const uint64_t first = addr / kLineBytes;
  size_t slot = find(first, addr);
  if (slot == capacity_ || table_[slot].free_thread != 0) {
    ++counts_.untracked_frees;
    return;
  }
  ++counts_.frees;
  const uint64_t size = table_[slot].size;
  const uint64_t last = (addr + size - 1) / kLineBytes;
  // Keep the block as a freed record (who allocated, who freed) on each of its lines until its
  // memory is reused, unless the table is filling up: then forget it (a passive case may go
  // unrecognised, so it counts as dropped).
  const uint32_t alloc_thread = table_[slot].alloc_thread;
  const bool passed = table_[slot].passed;
  const uint64_t interior =
      last - first <= kInteriorLinesScanned && last > first ? last - first - 1 : 0;
  if ((used_ + interior) * 100 > capacity_ * (kMaxFillPercent - 10)) {
    erase_block(addr, size);
    ++counts_.dropped;
    return;
  }
  table_[slot].free_thread = thread;
  if (last != first) {
    slot = find(last, addr);
    if (slot != capacity_) table_[slot].free_thread = thread;
  }
  for (uint64_t line = first + 1; line < first + 1 + interior; ++line) {
    insert({line, addr, size, alloc_thread, thread, passed});
  }
}

}  // namespace allocbench::tracer
