// What redis-cli sends after the benchmark: strings, lists and small hashes under keys of its
// own, then reads them back. Their replies are the output compared between allocators (the
// benchmark's random keys and timings are not deterministic, these are).
#include <fmt/format.h>

#include "harness/programs/inputs.h"

namespace allocbench::programs {

std::string redis_check_commands(int64_t scale) {
  Lcg random(9);
  std::string commands;
  const int64_t keys = 200 + 20 * scale;
  for (int64_t i = 0; i < keys; ++i) {
    const std::string value(1 + random.below(2000), static_cast<char>('a' + i % 26));
    commands += fmt::format("SET check:s:{} {}\n", i, value);
    commands += fmt::format("APPEND check:s:{} -{}\n", i, i);
    commands += fmt::format("RPUSH check:l:{} {} {} {}\n", i % 17, i, value.substr(0, 40), i * 3);
    commands += fmt::format("HSET check:h:{} f{} {}\n", i % 13, i % 50, value.size());
  }
  for (int64_t i = 0; i < keys; i += 3) commands += fmt::format("DEL check:s:{}\n", i);
  for (int64_t i = 0; i < keys; ++i) {
    commands += fmt::format("STRLEN check:s:{}\n", i);
    if (i % 10 == 0) commands += fmt::format("GET check:s:{}\n", i);
  }
  for (int i = 0; i < 17; ++i) commands += fmt::format("LRANGE check:l:{} 0 -1\n", i);
  for (int i = 0; i < 13; ++i) commands += fmt::format("HGETALL check:h:{}\n", i);
  return commands;
}

}  // namespace allocbench::programs
