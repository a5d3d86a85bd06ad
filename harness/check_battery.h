// The correctness gate's checks, the side that runs in a child process under LD_PRELOAD=LIB
// (`allocbench check-child NAME --seed N`). A check exits 0 when the allocator passed it, or
// prints one line saying what was wrong on stdout and exits 1. A crash or a hang is for the
// parent (check_command.h) to report: the child never has to survive a broken allocator.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace allocbench {

struct CheckSpec {
  std::string name;
  std::string summary;
  void (*run)(uint64_t seed);  // returns when the check passed; never returns otherwise
};

// Every check, in the order they run and are reported.
const std::vector<CheckSpec>& check_battery();
// nullptr when there is no such check.
const CheckSpec* find_check(std::string_view name);
// Exit status of a check child whose check failed (it printed why on stdout).
inline constexpr int kCheckFailedExitStatus = 1;

// `allocbench check-child NAME [--seed N]`: runs one check in this process.
int check_child_command(const std::vector<std::string>& args);

}  // namespace allocbench
