// Thread counts as users write them: "1..64" doubles from the first to the last (1, 2, 4, ...,
// 64; the last is kept even when doubling skips it), "1,2,3,4" lists them, and the two mix.
#pragma once

#include <string>
#include <vector>

namespace allocbench {

// Sorted, without duplicates. Throws UsageError naming --threads and the bad item.
std::vector<int> parse_thread_list(const std::string& text);

// The quick default: 1, 2, 4, ... up to 2 x cores, at most 4.
std::vector<int> default_thread_list(int cores);

}  // namespace allocbench
