// Large objects (above S/2, or aligned beyond a cache line): each one is its own mapping from
// the OS, as in the paper. The mapping is S-aligned so its granule in the page map is its own;
// a 64-byte header at the mapping's start records what free() and realloc() need.
#pragma once

#include <cstddef>
#include <cstdint>

namespace halloc {

struct LargeHeader {
  void* user;            // the pointer handed out
  std::size_t map_size;  // bytes mapped, from the header on
  std::size_t alignment;
  std::size_t reserved;
  char* base() { return reinterpret_cast<char*>(this); }
  std::size_t usable() {
    return map_size - static_cast<std::size_t>(static_cast<char*>(user) - base());
  }
};

void* LargeAlloc(std::size_t size, std::size_t alignment);
void LargeFree(LargeHeader* h);
// Grows or shrinks in place when the mapping allows; returns false otherwise.
bool LargeResizeInPlace(LargeHeader* h, std::size_t size);
std::size_t LargeCount();

}  // namespace halloc
