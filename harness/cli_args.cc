#include "harness/cli_args.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace allocbench {

std::string ArgList::next_flag() {
  const std::string& arg = args_[position_++];
  if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
    throw UsageError(fmt::format("unexpected argument '{}' (flags start with --)", arg));
  }
  const size_t equals = arg.find('=');
  has_inline_value_ = equals != std::string::npos;
  inline_value_ = has_inline_value_ ? arg.substr(equals + 1) : "";
  return arg.substr(2, has_inline_value_ ? equals - 2 : std::string::npos);
}

std::string ArgList::value(const std::string& flag) {
  if (has_inline_value_) {
    has_inline_value_ = false;
    return inline_value_;
  }
  if (done()) throw UsageError(fmt::format("--{} needs a value", flag));
  return args_[position_++];
}

std::string ArgList::next_positional(const std::string& what) {
  if (done()) throw UsageError(fmt::format("missing {}", what));
  const std::string& arg = args_[position_];
  if (arg.compare(0, 2, "--") == 0) {
    throw UsageError(fmt::format("expected {} before '{}'", what, arg));
  }
  ++position_;
  return arg;
}

long long parse_integer(const std::string& flag, const std::string& text, long long min,
                        long long max) {
  long long value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || ptr != end) {
    throw UsageError(fmt::format("--{}: '{}' is not an integer", flag, text));
  }
  if (value < min || value > max) {
    throw UsageError(fmt::format("--{}: {} is outside [{}, {}]", flag, value, min, max));
  }
  return value;
}

double parse_number(const std::string& flag, const std::string& text, double min, double max) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || ptr != end || !std::isfinite(value)) {
    throw UsageError(fmt::format("--{}: '{}' is not a number", flag, text));
  }
  if (value < min || value > max) {
    throw UsageError(fmt::format("--{}: {} is outside [{}, {}]", flag, text, min, max));
  }
  return value;
}

std::vector<std::string> split_list(const std::string& flag, const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? comma : comma - start);
    if (item.empty()) throw UsageError(fmt::format("--{}: empty item in '{}'", flag, text));
    items.push_back(std::move(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

}  // namespace allocbench
