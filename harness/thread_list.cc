#include "harness/thread_list.h"

#include <fmt/format.h>

#include <algorithm>

#include "harness/cli_args.h"

namespace allocbench {

namespace {
constexpr long long kMaxThreads = 4096;
}

std::vector<int> parse_thread_list(const std::string& text) {
  std::vector<int> threads;
  for (const std::string& item : split_list("threads", text)) {
    const size_t dots = item.find("..");
    if (dots == std::string::npos) {
      threads.push_back(static_cast<int>(parse_integer("threads", item, 1, kMaxThreads)));
      continue;
    }
    const long long first = parse_integer("threads", item.substr(0, dots), 1, kMaxThreads);
    const long long last = parse_integer("threads", item.substr(dots + 2), 1, kMaxThreads);
    if (first > last) {
      throw UsageError(fmt::format("--threads: range '{}' runs backwards", item));
    }
    for (long long count = first; count <= last; count *= 2) {
      threads.push_back(static_cast<int>(count));
    }
    threads.push_back(static_cast<int>(last));
  }
  std::sort(threads.begin(), threads.end());
  threads.erase(std::unique(threads.begin(), threads.end()), threads.end());
  return threads;
}

std::vector<int> default_thread_list(int cores) {
  std::vector<int> threads;
  for (int count = 1; count <= std::max(1, std::min(4, 2 * cores)); count *= 2) {
    threads.push_back(count);
  }
  return threads;
}

}  // namespace allocbench
