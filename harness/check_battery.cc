// The gate's checks. Their own bookkeeping (the live-block tables) lives in mappings of its own
// (MappedArray), never in the allocator under test, so a broken heap cannot corrupt what judges
// it; messages are formatted without allocating. Every check is bounded (well under a second on
// a correct allocator) and deterministic for a seed, apart from thread interleavings.
// Built with -fno-builtin: the compiler must not fold malloc(SIZE_MAX) or drop malloc/free pairs.
#include "harness/check_battery.h"

#include <dlfcn.h>
#include <errno.h>
#include <fmt/format.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "harness/cli_args.h"
#include "workloads/random.h"
#include "workloads/verify.h"

namespace allocbench {

namespace {

// Blocks up to 2 x this many bytes carry the pattern over every byte; larger ones at both ends.
constexpr size_t kCheckEdge = 32 * 1024;
constexpr size_t kMaxAlign = alignof(std::max_align_t);

// Prints what was wrong (one line, stdout) and ends the check as failed.
[[noreturn]] __attribute__((format(printf, 1, 2))) void fail(const char* format, ...) {
  char message[600];
  va_list args;
  va_start(args, format);
  int length = std::vsnprintf(message, sizeof(message) - 1, format, args);
  va_end(args);
  if (length < 0) length = 0;
  if (static_cast<size_t>(length) > sizeof(message) - 2) length = sizeof(message) - 2;
  message[length] = '\n';
  (void)!write(STDOUT_FILENO, message, static_cast<size_t>(length) + 1);
  _exit(kCheckFailedExitStatus);
}

// Things worth knowing that do not make the allocator wrong (errno after a failure, say): the
// check still passes, and the parent shows them beside PASS.
char notes[600];
size_t notes_length = 0;

__attribute__((format(printf, 1, 2))) void note(const char* format, ...) {
  if (notes_length + 3 >= sizeof(notes)) return;
  if (notes_length > 0) {
    notes[notes_length++] = ';';
    notes[notes_length++] = ' ';
  }
  va_list args;
  va_start(args, format);
  const int length =
      std::vsnprintf(notes + notes_length, sizeof(notes) - notes_length, format, args);
  va_end(args);
  if (length > 0) notes_length = std::min(sizeof(notes) - 1, notes_length + length);
}

// A fixed-capacity array in an anonymous mapping of its own.
template <typename T>
class MappedArray {
 public:
  explicit MappedArray(size_t capacity) : capacity_(capacity) {
    void* memory = mmap(nullptr, capacity * sizeof(T), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) fail("the check could not map %zu bytes for its tables", bytes());
    items_ = static_cast<T*>(memory);
  }
  ~MappedArray() { munmap(items_, bytes()); }
  MappedArray(const MappedArray&) = delete;
  MappedArray& operator=(const MappedArray&) = delete;

  size_t size() const { return size_; }
  bool full() const { return size_ == capacity_; }
  bool empty() const { return size_ == 0; }
  T& operator[](size_t i) { return items_[i]; }
  T* begin() { return items_; }
  T* end() { return items_ + size_; }
  void push_back(const T& item) {
    if (full()) fail("internal: a check table of %zu entries is full", capacity_);
    items_[size_++] = item;
  }
  // Removes item i by moving the last one into its place.
  T take(size_t i) {
    T item = items_[i];
    items_[i] = items_[--size_];
    return item;
  }
  void clear() { size_ = 0; }

 private:
  size_t bytes() const { return capacity_ * sizeof(T); }
  size_t capacity_;
  size_t size_ = 0;
  T* items_ = nullptr;
};

// A live block the check allocated: its pattern's seed depends on its address and id.
struct Live {
  unsigned char* address;
  size_t size;
  uint64_t seed;
  const char* how;  // the call that made it, for messages
};

Live make_live(void* address, size_t size, uint64_t id, const char* how) {
  Live block{static_cast<unsigned char*>(address), size, block_seed(address, id), how};
  stamp_block(block.address, block.size, block.seed, kCheckEdge);
  return block;
}

void expect_intact(const Live& block, const char* when) {
  const size_t offset = block_mismatch(block.address, block.size, block.seed, kCheckEdge);
  if (offset == block.size) return;
  fail("%s(%zu) = %p lost its contents %s: byte %zu is 0x%02x, expected 0x%02x", block.how,
       block.size, static_cast<void*>(block.address), when, offset, block.address[offset],
       pattern_byte(block.seed, offset));
}

// The alignment a block of `size` bytes needs: alignof(max_align_t), or less for a block too
// small to hold an object that needs it (C23 7.24.3; DR 445): 8 bytes need 8, 1 byte needs 1.
size_t fundamental_alignment(size_t size) {
  size_t alignment = 1;
  while (alignment * 2 <= size && alignment < kMaxAlign) alignment *= 2;
  return alignment;
}

// `call` is the call's text up to its size argument, e.g. "realloc(p, ".
void expect_aligned(const char* call, size_t size, const void* pointer) {
  const size_t alignment = fundamental_alignment(size);
  if (reinterpret_cast<uintptr_t>(pointer) % alignment == 0) return;
  fail(
      "%s%zu) returned %p, not aligned to %zu (alignof(max_align_t), or the largest power of "
      "two <= the size)",
      call, size, pointer, alignment);
}

// Sorts `blocks` by address and fails when two of them share a byte.
void expect_no_overlap(MappedArray<Live>& blocks, const char* when) {
  std::sort(blocks.begin(), blocks.end(),
            [](const Live& a, const Live& b) { return a.address < b.address; });
  for (size_t i = 1; i < blocks.size(); ++i) {
    const Live& a = blocks[i - 1];
    const Live& b = blocks[i];
    if (a.address + a.size > b.address) {
      fail("live blocks overlap %s: %s(%zu) = %p and %s(%zu) = %p", when, a.how, a.size,
           static_cast<void*>(a.address), b.how, b.size, static_cast<void*>(b.address));
    }
  }
}

// Mostly small sizes, some medium, a few large (served from the OS by most allocators).
size_t random_size(FastRandom& random, size_t largest) {
  const uint64_t draw = random.below(100);
  size_t size;
  if (draw < 70) {
    size = random.between(1, 256);
  } else if (draw < 90) {
    size = random.between(257, 4096);
  } else if (draw < 98) {
    size = random.between(4097, 64 * 1024);
  } else {
    size = random.between(64 * 1024 + 1, 1024 * 1024);
  }
  return std::min(size, largest);
}

// A block from one of the allocation calls, chosen at random; never NULL.
void* allocate_any(FastRandom& random, size_t size, const char** how) {
  void* pointer = nullptr;
  const uint64_t kind = random.below(10);
  const size_t alignment = size_t{16} << random.below(6);  // 16 .. 512
  if (kind < 5) {
    *how = "malloc";
    pointer = malloc(size);
  } else if (kind == 5) {
    *how = "calloc";
    pointer = calloc(1, size);
  } else if (kind == 6) {
    *how = "realloc";
    pointer = realloc(nullptr, size);
  } else if (kind == 7) {
    *how = "aligned_alloc";
    pointer = aligned_alloc(alignment, size);
  } else if (kind == 8) {
    *how = "posix_memalign";
    if (posix_memalign(&pointer, alignment, size) != 0) pointer = nullptr;
  } else {
    *how = "memalign";
    pointer = memalign(alignment, size);
  }
  if (pointer == nullptr) fail("%s(%zu) returned NULL", *how, size);
  return pointer;
}

// --- serves-all --------------------------------------------------------------------------------

constexpr const char* kEntryPoints[] = {
    "malloc",         "free",          "calloc",   "realloc",
    "posix_memalign", "aligned_alloc", "memalign", "malloc_usable_size"};

std::string object_of(void* symbol) {
  Dl_info info{};
  if (symbol == nullptr || dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) return "";
  std::error_code error;
  const auto canonical = std::filesystem::canonical(info.dli_fname, error);
  return error ? std::string(info.dli_fname) : canonical.string();
}

// Every entry point comes from the library under test (LD_PRELOAD's first), or all from glibc
// when nothing is preloaded. One served elsewhere means two heaps in one process.
void check_serves_all(uint64_t) {
  const char* preload = std::getenv("LD_PRELOAD");
  std::string expected;
  std::string expected_name;
  if (preload != nullptr && *preload != '\0') {
    std::string first = preload;
    first = first.substr(0, first.find_first_of(": "));
    std::error_code error;
    expected = std::filesystem::canonical(first, error).string();
    if (error) fail("LD_PRELOAD names %s, which does not exist", first.c_str());
    expected_name = first;
  } else {
    expected = object_of(reinterpret_cast<void*>(&gnu_get_libc_version));
    expected_name = "glibc";
  }
  const std::string malloc_object = object_of(dlsym(RTLD_DEFAULT, "malloc"));
  if (malloc_object != expected) {
    fail(
        "malloc is served by %s, not by %s: the library does not replace malloc (it exports "
        "none, or did not load)",
        malloc_object.empty() ? "nothing" : malloc_object.c_str(), expected_name.c_str());
  }
  std::string wrong;
  for (const char* name : kEntryPoints) {
    const std::string serving = object_of(dlsym(RTLD_DEFAULT, name));
    if (serving == expected) continue;
    if (!wrong.empty()) wrong += ", ";
    wrong += fmt::format("{} by {}", name, serving.empty() ? "nothing" : serving);
  }
  if (!wrong.empty()) {
    fail("malloc is served by %s but %s (a mixed heap: blocks of one freed by the other)",
         expected_name.c_str(), wrong.c_str());
  }
}

// --- edge-cases --------------------------------------------------------------------------------

// A failed allocation returns NULL; POSIX also asks for errno ENOMEM, which some allocators
// leave unset: a note, since it cannot corrupt anything.
void expect_enomem(const char* call, void* pointer) {
  if (pointer != nullptr) fail("%s returned %p, expected NULL", call, pointer);
  if (errno != ENOMEM) {
    const char* name = strerrorname_np(errno);
    note("%s returned NULL with errno %s, not ENOMEM", call, name != nullptr ? name : "0");
  }
}

// A size the compiler cannot see (it would warn about, or fold, a call with SIZE_MAX).
size_t opaque(size_t size) {
  volatile size_t hidden = size;
  return hidden;
}

void check_edge_cases(uint64_t) {
  void* zero_a = malloc(0);
  void* zero_b = malloc(0);
  if (zero_a != nullptr && zero_a == zero_b) fail("malloc(0) returned %p twice", zero_a);
  free(zero_a);
  free(zero_b);
  free(nullptr);

  errno = 0;
  expect_enomem("malloc(SIZE_MAX)", malloc(opaque(SIZE_MAX)));
  errno = 0;
  expect_enomem("malloc(SIZE_MAX - 4096)", malloc(opaque(SIZE_MAX - 4096)));
  errno = 0;
  expect_enomem("calloc(SIZE_MAX / 2 + 2, 2) (the product overflows)",
                calloc(opaque(SIZE_MAX / 2 + 2), 2));

  // realloc(NULL, n) is malloc(n); a realloc that fails leaves the block as it was.
  Live block = make_live(realloc(nullptr, 100), 100, 1, "realloc(NULL, n)");
  if (block.address == nullptr) fail("realloc(NULL, 100) returned NULL");
  errno = 0;
  void* huge = realloc(block.address, opaque(SIZE_MAX - 4096));
  expect_enomem("realloc(p, SIZE_MAX - 4096)", huge);
  expect_intact(block, "after a realloc that failed");
  free(block.address);

  void* pointer = nullptr;
  const int result = posix_memalign(&pointer, 24, 100);
  if (result != EINVAL) {
    fail("posix_memalign(&p, 24, 100) returned %d, expected EINVAL (24 is not a power of two)",
         result);
  }
}

// --- alignment ---------------------------------------------------------------------------------

void check_alignment(uint64_t seed) {
  FastRandom random(seed);
  MappedArray<void*> held(4096);
  auto hold = [&](void* pointer) {
    if (held.full()) {
      for (void* p : held) free(p);
      held.clear();
    }
    held.push_back(pointer);
  };
  for (size_t size = 1; size <= 1024; ++size) {
    void* p = malloc(size);
    if (p == nullptr) fail("malloc(%zu) returned NULL", size);
    expect_aligned("malloc(", size, p);
    hold(p);
    void* c = calloc(1, size);
    if (c == nullptr) fail("calloc(1, %zu) returned NULL", size);
    expect_aligned("calloc(1, ", size, c);
    hold(c);
  }
  for (int i = 0; i < 3000; ++i) {
    const size_t size = random_size(random, 4 << 20);
    void* p = malloc(size);
    if (p == nullptr) fail("malloc(%zu) returned NULL", size);
    expect_aligned("malloc(", size, p);
    const size_t bigger = size + random_size(random, 4 << 20);
    void* r = realloc(p, bigger);
    if (r == nullptr) fail("realloc(p, %zu) returned NULL", bigger);
    expect_aligned("realloc(p, ", bigger, r);
    hold(r);
  }
  for (void* p : held) free(p);
}

// --- aligned-alloc -----------------------------------------------------------------------------

// aligned_alloc, posix_memalign and memalign for alignments 16 B .. 64 KiB, each block written
// in full, all of one alignment live at once and checked before they are freed.
void check_aligned_alloc(uint64_t seed) {
  MappedArray<Live> live(256);
  uint64_t id = seed;
  for (size_t alignment = 16; alignment <= 64 * 1024; alignment *= 2) {
    const size_t sizes[] = {
        1, 8, 100, alignment / 2, alignment - 1, alignment, alignment + 1, 3 * alignment, 5000};
    for (size_t size : sizes) {
      for (int call = 0; call < 3; ++call) {
        void* pointer = nullptr;
        const char* how = nullptr;
        if (call == 0) {
          how = "aligned_alloc";
          pointer = aligned_alloc(alignment, size);
        } else if (call == 1) {
          how = "posix_memalign";
          const int result = posix_memalign(&pointer, alignment, size);
          if (result != 0)
            fail("posix_memalign(&p, %zu, %zu) returned %d", alignment, size, result);
        } else {
          how = "memalign";
          pointer = memalign(alignment, size);
        }
        if (pointer == nullptr) fail("%s(%zu, %zu) returned NULL", how, alignment, size);
        const uintptr_t address = reinterpret_cast<uintptr_t>(pointer);
        if (address % alignment != 0) {
          fail("%s(%zu, %zu) returned %p (aligned to %zu only)", how, alignment, size, pointer,
               static_cast<size_t>(address & (~address + 1)));
        }
        const size_t usable = malloc_usable_size(pointer);
        if (usable < size) {
          fail("malloc_usable_size(%s(%zu, %zu)) = %zu, less than asked", how, alignment, size,
               usable);
        }
        live.push_back(make_live(pointer, size, ++id, how));
      }
    }
    for (const Live& block : live) expect_intact(block, "while its neighbours were allocated");
    expect_no_overlap(live, "(aligned allocations)");
    for (const Live& block : live) {
      expect_intact(block, "before free");
      free(block.address);
    }
    live.clear();
  }
}

// --- no-overlap --------------------------------------------------------------------------------

void check_no_overlap(uint64_t seed) {
  FastRandom random(seed);
  MappedArray<Live> live(4096);
  MappedArray<Live> sorted(4096);
  uint64_t id = 0;
  for (int step = 1; step <= 30000; ++step) {
    if (!live.full() && (live.empty() || random.below(100) < 55)) {
      const size_t size = random_size(random, 1 << 20);
      const char* how = nullptr;
      void* pointer = allocate_any(random, size, &how);
      live.push_back(Live{static_cast<unsigned char*>(pointer), size, ++id, how});
    } else {
      free(live.take(random.below(live.size())).address);
    }
    if (step % 1000 == 0) {
      sorted.clear();
      for (const Live& block : live) sorted.push_back(block);
      expect_no_overlap(sorted, "(one thread)");
    }
  }
  for (const Live& block : live) free(block.address);
}

// --- usable-size -------------------------------------------------------------------------------

void check_usable_size(uint64_t seed) {
  auto expect_at_least = [](void* pointer, size_t size, const char* how) {
    if (pointer == nullptr) fail("%s(%zu) returned NULL", how, size);
    const size_t usable = malloc_usable_size(pointer);
    if (usable < size)
      fail("malloc_usable_size(%s(%zu)) = %zu, less than asked", how, size, usable);
  };
  for (size_t size = 0; size <= 4096; ++size) {
    void* p = malloc(size);
    if (size > 0) expect_at_least(p, size, "malloc");
    free(p);
  }
  for (size_t power = 4096; power <= (size_t{8} << 20); power *= 2) {
    for (size_t size : {power - 1, power, power + 1, power + power / 2}) {
      void* p = malloc(size);
      expect_at_least(p, size, "malloc");
      void* r = realloc(p, size / 3 + 1);
      expect_at_least(r, size / 3 + 1, "realloc");
      free(r);
    }
  }
  // Writing every usable byte of a block must not touch any other block.
  FastRandom random(seed);
  MappedArray<Live> live(2000);
  for (uint64_t id = 1; !live.full(); ++id) {
    const size_t size = random_size(random, 256 * 1024);
    void* p = malloc(size);
    expect_at_least(p, size, "malloc");
    live.push_back(Live{static_cast<unsigned char*>(p), size, block_seed(p, id), "malloc"});
    stamp_range(p, 0, malloc_usable_size(p), live[live.size() - 1].seed);
  }
  for (const Live& block : live) {
    const size_t usable = malloc_usable_size(block.address);
    const size_t offset = mismatch_in_range(block.address, 0, usable, block.seed);
    if (offset != usable) {
      fail(
          "after every block was written up to its malloc_usable_size, malloc(%zu) = %p "
          "(usable %zu) changed at byte %zu: a neighbour's usable size reaches into it",
          block.size, static_cast<void*>(block.address), usable, offset);
    }
  }
  for (const Live& block : live) free(block.address);
}

// --- contents ----------------------------------------------------------------------------------

void check_contents(uint64_t seed) {
  FastRandom random(seed);
  MappedArray<Live> live(4096);
  uint64_t id = 0;
  auto allocate = [&] {
    const size_t size = random_size(random, 4 << 20);
    const char* how = nullptr;
    void* pointer = allocate_any(random, size, &how);
    live.push_back(make_live(pointer, size, ++id, how));
  };
  while (live.size() < 2000) allocate();
  for (int round = 0; round < 8; ++round) {
    for (size_t freed = 0, target = live.size() / 3; freed < target; ++freed) {
      const Live block = live.take(random.below(live.size()));
      expect_intact(block, "before free");
      free(block.address);
    }
    while (live.size() < 2000) allocate();
    for (const Live& block : live) {
      expect_intact(block, "after neighbours were freed and allocated");
    }
  }
  for (const Live& block : live) {
    expect_intact(block, "before free");
    free(block.address);
  }
}

// --- realloc -----------------------------------------------------------------------------------

// Grows a block from `start` bytes past 8 MiB and shrinks it back, with neighbours allocated in
// between so the block has to move; every step keeps the first min(old, new) bytes.
void check_realloc_from(size_t start, uint64_t seed, MappedArray<void*>& neighbours) {
  const uint64_t pattern = seed * 0x9E3779B97F4A7C15ull + start;
  size_t size = start;
  unsigned char* block = static_cast<unsigned char*>(malloc(size));
  if (block == nullptr) fail("malloc(%zu) returned NULL", size);
  stamp_range(block, 0, size, pattern);
  auto step = [&](size_t new_size) {
    unsigned char* moved = static_cast<unsigned char*>(realloc(block, new_size));
    if (moved == nullptr) fail("realloc(p, %zu) of a %zu-byte block returned NULL", new_size, size);
    expect_aligned("realloc(p, ", new_size, moved);
    const size_t kept = std::min(size, new_size);
    const size_t offset = mismatch_in_range(moved, 0, kept, pattern);
    if (offset != kept) {
      fail(
          "realloc(p, %zu) of a %zu-byte block (%p -> %p) lost byte %zu: 0x%02x, expected "
          "0x%02x",
          new_size, size, static_cast<void*>(block), static_cast<void*>(moved), offset,
          moved[offset], pattern_byte(pattern, offset));
    }
    if (new_size > size) stamp_range(moved, size, new_size, pattern);
    block = moved;
    size = new_size;
    if (!neighbours.full()) neighbours.push_back(malloc(1 + size % 200));
  };
  while (size < (size_t{8} << 20)) step(size + size / 2 + 7);
  step(size);
  while (size > 1) step(size - size / 3 - 1);
  free(block);
}

void check_realloc(uint64_t seed) {
  MappedArray<void*> neighbours(1024);
  for (size_t start : {1, 7, 16, 24, 100, 1000, 5000, 70000}) {
    check_realloc_from(start, seed, neighbours);
  }
  for (void* neighbour : neighbours) free(neighbour);
}

// --- calloc ------------------------------------------------------------------------------------

void expect_zeroed(const void* pointer, size_t count, size_t size, const char* when) {
  if (pointer == nullptr) fail("calloc(%zu, %zu) returned NULL", count, size);
  const unsigned char* bytes = static_cast<const unsigned char*>(pointer);
  for (size_t i = 0; i < count * size; ++i) {
    if (bytes[i] != 0) {
      fail("calloc(%zu, %zu) returned %p with byte %zu = 0x%02x %s", count, size, pointer, i,
           bytes[i], when);
    }
  }
}

// Fresh memory, then recycled memory: blocks dirtied and freed, then calloc'ed again.
void check_calloc(uint64_t) {
  constexpr size_t kBlocks = 64;
  MappedArray<void*> blocks(kBlocks);
  for (size_t size : {1, 8, 24, 100, 1000, 4000, 30000, 200000, 2 << 20}) {
    const size_t count = size >= 8 ? size / 8 : 1;
    const size_t unit = size >= 8 ? 8 : size;
    for (int round = 0; round < 2; ++round) {
      blocks.clear();
      const size_t how_many = size >= 200000 ? 4 : kBlocks;
      for (size_t i = 0; i < how_many; ++i) {
        void* block = calloc(count, unit);
        expect_zeroed(block, count, unit,
                      round == 0 ? "(fresh memory)" : "(recycled memory not zeroed)");
        std::memset(block, 0xA5, count * unit);
        blocks.push_back(block);
      }
      for (void* block : blocks) free(block);
    }
  }
}

// --- threads -----------------------------------------------------------------------------------

// What the threads check shares: each thread's live blocks and inbox (blocks other threads sent
// it to free), a barrier for whole-heap overlap checks, and the first failure.
struct Team {
  struct Member {
    MappedArray<Live> live{512};
    MappedArray<Live> inbox{4096};
    std::mutex inbox_lock;
  };
  explicit Team(int size) : count(size) {
    pthread_barrier_init(&barrier, nullptr, static_cast<unsigned>(size));
  }
  ~Team() { pthread_barrier_destroy(&barrier); }

  int count;
  Member members[8];
  pthread_barrier_t barrier;
  MappedArray<Live> all{8 * (512 + 4096)};
};

void verify_and_free(const Live& block, const char* when) {
  expect_intact(block, when);
  free(block.address);
}

// Thread 0, while every thread waits at the barrier: no two live blocks of any thread overlap.
void check_whole_heap(Team& team) {
  team.all.clear();
  for (int i = 0; i < team.count; ++i) {
    for (const Live& block : team.members[i].live) team.all.push_back(block);
    for (const Live& block : team.members[i].inbox) team.all.push_back(block);
  }
  for (const Live& block : team.all) expect_intact(block, "(threads, at a pause)");
  expect_no_overlap(team.all, "(threads)");
}

void team_member(Team& team, int index, uint64_t seed, int steps) {
  FastRandom random(seed + static_cast<uint64_t>(index) * 7919);
  Team::Member& me = team.members[index];
  uint64_t id = static_cast<uint64_t>(index + 1) << 40;
  for (int step = 1; step <= steps; ++step) {
    const uint64_t draw = random.below(100);
    if (draw < 45 && !me.live.full()) {
      const size_t size = random_size(random, 64 * 1024);
      const char* how = nullptr;
      void* pointer = allocate_any(random, size, &how);
      me.live.push_back(make_live(pointer, size, ++id, how));
    } else if (draw < 70 && !me.live.empty()) {
      verify_and_free(me.live.take(random.below(me.live.size())), "before free (threads)");
    } else if (draw < 88 && !me.live.empty()) {
      // Hand a block to another thread, which frees it: a cross-thread free.
      const Live block = me.live.take(random.below(me.live.size()));
      Team::Member& other = team.members[(index + 1 + random.below(team.count - 1)) % team.count];
      std::lock_guard<std::mutex> guard(other.inbox_lock);
      if (other.inbox.full()) {
        verify_and_free(block, "before free (threads)");
      } else {
        other.inbox.push_back(block);
      }
    } else if (draw < 93 && !me.live.empty()) {
      const size_t i = random.below(me.live.size());
      Live& block = me.live[i];
      expect_intact(block, "before realloc (threads)");
      const size_t new_size = random_size(random, 64 * 1024);
      void* moved = realloc(block.address, new_size);
      if (moved == nullptr) fail("realloc(p, %zu) returned NULL (threads)", new_size);
      const size_t kept = std::min(block.size, new_size);
      const size_t offset = mismatch_in_range(moved, 0, kept, block.seed);
      if (offset != kept) {
        fail("realloc(p, %zu) of a %zu-byte block lost byte %zu (threads)", new_size, block.size,
             offset);
      }
      block = make_live(moved, new_size, ++id, "realloc");
    } else {
      std::lock_guard<std::mutex> guard(me.inbox_lock);
      for (const Live& block : me.inbox)
        verify_and_free(block, "before a cross-thread free (threads)");
      me.inbox.clear();
    }
    if (step % 4000 == 0) {
      pthread_barrier_wait(&team.barrier);
      if (index == 0) check_whole_heap(team);
      pthread_barrier_wait(&team.barrier);
    }
  }
  pthread_barrier_wait(&team.barrier);
  if (index == 0) check_whole_heap(team);
  pthread_barrier_wait(&team.barrier);
  for (const Live& block : me.live) verify_and_free(block, "before free (threads)");
  me.live.clear();
  pthread_barrier_wait(&team.barrier);
  for (const Live& block : me.inbox) verify_and_free(block, "before a cross-thread free (threads)");
  me.inbox.clear();
}

// Races show only when threads really run at once, which a busy machine makes rare: the rounds
// repeat (new seeds) until 1.5 s have passed, so a racy allocator meets enough overlap.
void check_threads(uint64_t seed) {
  const auto began = std::chrono::steady_clock::now();
  for (uint64_t round = 0; round < 20; ++round) {
    for (int threads : {2, 4, 8}) {
      Team team(threads);
      const int steps = 96000 / threads;
      std::thread workers[8];
      for (int i = 0; i < threads; ++i) {
        workers[i] = std::thread(team_member, std::ref(team), i, seed + round * 1000003, steps);
      }
      for (int i = 0; i < threads; ++i) workers[i].join();
    }
    if (std::chrono::steady_clock::now() - began > std::chrono::milliseconds(1500)) break;
  }
}

}  // namespace

const std::vector<CheckSpec>& check_battery() {
  static const std::vector<CheckSpec> checks = {
      {"serves-all",
       "the library serves malloc, free, calloc, realloc, posix_memalign, aligned_alloc, "
       "memalign and malloc_usable_size (else two heaps share the process)",
       check_serves_all},
      {"edge-cases",
       "malloc(0), free(NULL); malloc(SIZE_MAX), an overflowing calloc and a failing realloc "
       "return NULL with ENOMEM; posix_memalign rejects a bad alignment",
       check_edge_cases},
      {"alignment", "malloc, calloc and realloc return pointers aligned to alignof(max_align_t)",
       check_alignment},
      {"aligned-alloc",
       "aligned_alloc, posix_memalign and memalign honour alignments from 16 B to 64 KiB",
       check_aligned_alloc},
      {"no-overlap", "no two live blocks overlap (30,000 random allocations and frees)",
       check_no_overlap},
      {"usable-size",
       "malloc_usable_size(p) >= the size asked, and writing all of it touches no other block",
       check_usable_size},
      {"contents",
       "a pattern from each block's address and id survives neighbours being freed and "
       "allocated, up to 4 MiB blocks",
       check_contents},
      {"realloc", "realloc keeps the first min(old, new) bytes growing to 8 MiB and shrinking back",
       check_realloc},
      {"calloc", "calloc returns zeroed memory, fresh and recycled", check_calloc},
      {"threads", "2, 4 and 8 threads with cross-thread frees keep contents and never overlap",
       check_threads},
  };
  return checks;
}

const CheckSpec* find_check(std::string_view name) {
  for (const CheckSpec& check : check_battery()) {
    if (check.name == name) return &check;
  }
  return nullptr;
}

int check_child_command(const std::vector<std::string>& args) {
  ArgList list(args);
  const std::string name = list.next_positional("check name");
  const CheckSpec* check = find_check(name);
  if (check == nullptr) throw UsageError(fmt::format("unknown check '{}'", name));
  uint64_t seed = 42;
  while (!list.done()) {
    const std::string flag = list.next_flag();
    if (flag == "seed") {
      seed = static_cast<uint64_t>(parse_integer(flag, list.value(flag), 0, INT64_MAX));
    } else {
      throw UsageError(fmt::format("check-child: unknown flag --{}", flag));
    }
  }
  check->run(seed);
  if (notes_length > 0) std::printf("%.*s\n", static_cast<int>(notes_length), notes);
  return 0;
}

}  // namespace allocbench
