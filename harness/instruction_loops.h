// The fixed loops `allocbench instructions` counts under callgrind: each is a deterministic
// program path that does `count` rounds of mallocs and their frees and nothing that depends on
// time, so its instruction count is a property of the allocator (the one LD_PRELOAD gives it).
// They run in a child, `allocbench instructions-child LOOP COUNT`, never in the driver itself.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace allocbench {

struct InstructionLoop {
  std::string name;
  std::string summary;
  uint64_t pairs_per_round;  // malloc/free pairs one round does (one malloc and its free)
  uint64_t count1;           // the two round counts measured; their difference is the result
  uint64_t count2;
  void (*run)(uint64_t rounds);  // runs that many rounds in this process
};

// alternate, batch64, threadtest, size-mix, remote-free.
const std::vector<InstructionLoop>& instruction_loops();
const InstructionLoop* find_instruction_loop(const std::string& name);

// `allocbench instructions-child LOOP ROUNDS`: runs the loop, after checking that the preloaded
// library serves malloc (else exits with status 3 and a message: a .so that failed to load).
int instructions_child_command(const std::vector<std::string>& args);

}  // namespace allocbench
