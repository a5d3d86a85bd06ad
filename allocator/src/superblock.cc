#include "superblock.h"

namespace halloc {

void Superblock::Format(std::uint32_t c) {
  prev = next = nullptr;
  free_list = nullptr;
  used = 0;
  bump = 0;
  size_class = c;
  block_size = kSizeClasses.block_size[c];
  capacity = kSizeClasses.capacity[c];
  reciprocal = kSizeClasses.reciprocal[c];
  group = 0;
}

}  // namespace halloc
