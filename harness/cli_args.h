// Command-line reading shared by every subcommand: `--flag value` and `--flag=value`, with
// errors that name the bad flag and value (main turns them into exit status 2).
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace allocbench {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ArgList {
 public:
  explicit ArgList(std::vector<std::string> args) : args_(std::move(args)) {}

  bool done() const { return position_ >= args_.size(); }
  // Whether the next argument is a flag (starts with --).
  bool peek_is_flag() const { return !done() && args_[position_].compare(0, 2, "--") == 0; }
  // The next argument, which must be a flag; returns its name without "--".
  std::string next_flag();
  // The value of the flag just read: the text after '=' or the next argument.
  std::string value(const std::string& flag);
  // The next argument, which must not be a flag; `what` names it in the error.
  std::string next_positional(const std::string& what);

 private:
  std::vector<std::string> args_;
  size_t position_ = 0;
  std::string inline_value_;
  bool has_inline_value_ = false;
};

// Strict number parsing: the whole text, within [min, max]; errors name the flag.
long long parse_integer(const std::string& flag, const std::string& text, long long min,
                        long long max);
double parse_number(const std::string& flag, const std::string& text, double min, double max);
// "a,b,c" -> {"a","b","c"}; empty items are an error naming the flag.
std::vector<std::string> split_list(const std::string& flag, const std::string& text);

}  // namespace allocbench
