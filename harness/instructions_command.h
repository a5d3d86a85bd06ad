// `allocbench instructions`: instructions per malloc/free pair of every allocator on the fixed
// loops of instruction_loops.h, counted by callgrind. Each loop runs at two round counts in a
// child (`valgrind --tool=callgrind allocbench instructions-child LOOP N`, the allocator by
// LD_PRELOAD); the whole program's instruction count is taken at both, so start-up, the loop's
// set-up and exit cancel in the difference:
//     Ir per pair = (Ir(N2) - Ir(N1)) / (pairs(N2) - pairs(N1)).
// What remains is the allocator's malloc and free plus the loop's own few instructions (the same
// for every allocator). Callgrind runs threads one at a time, so it is deterministic; the
// remote-free loop's handoff can vary by a few waits, which --repeats shows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/run_record.h"

namespace allocbench {

// The total Ir of a callgrind output file's text (its `summary:` or `totals:` line), or none.
std::optional<uint64_t> callgrind_total(const std::string& callgrind_out);

// (ir2 - ir1) / (pairs2 - pairs1). Throws std::invalid_argument when pairs2 <= pairs1 or the
// count went down (ir2 < ir1): that is no measurement.
double instructions_per_pair(uint64_t ir1, uint64_t ir2, uint64_t pairs1, uint64_t pairs2);

// The subcommand. 0 when every allocator was measured on every loop, 1 when something failed
// (its error is printed and recorded; the others go on), 2 usage errors.
int instructions_command(const std::vector<std::string>& args);

}  // namespace allocbench
