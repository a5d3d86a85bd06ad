#include "size_class.h"

namespace halloc {

std::uint32_t SizeClassOfAligned(std::size_t size, std::size_t alignment) {
  std::uint32_t c = SizeClassOf(size);
  while (c < kSizeClasses.count && kSizeClasses.block_size[c] % alignment != 0) ++c;
  return c;
}

}  // namespace halloc
