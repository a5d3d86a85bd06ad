// z3's input: queries that mix linear integer arithmetic with boolean structure (a random
// scheduling problem with resource conflicts), each in its own push/pop scope. The output is
// the sat/unsat answer of each, which does not depend on the allocator or the thread count.
#include <fmt/format.h>

#include <vector>

#include "harness/programs/inputs.h"

namespace allocbench::programs {

std::string smtlib_script(int64_t scale) {
  Lcg random(5);
  std::string smt = "(set-logic QF_LIA)\n(set-option :produce-models false)\n";
  constexpr int kJobs = 18;
  for (int j = 0; j < kJobs; ++j) smt += fmt::format("(declare-fun s{} () Int)\n", j);
  for (int j = 0; j < kJobs; ++j) smt += fmt::format("(assert (>= s{} 0))\n", j);
  for (int64_t query = 0; query < scale; ++query) {
    smt += "(push 1)\n";
    std::vector<uint64_t> length(kJobs);
    for (int j = 0; j < kJobs; ++j) length[j] = 1 + random.below(9);
    const uint64_t horizon = 30 + random.below(25);
    for (int j = 0; j < kJobs; ++j) {
      smt += fmt::format("(assert (<= (+ s{} {}) {}))\n", j, length[j], horizon);
    }
    // Jobs that share a machine must not overlap.
    for (int a = 0; a < kJobs; ++a) {
      for (int b = a + 1; b < kJobs; ++b) {
        if (random.below(3) != 0) continue;
        smt += fmt::format("(assert (or (<= (+ s{0} {2}) s{1}) (<= (+ s{1} {3}) s{0})))\n", a, b,
                           length[a], length[b]);
      }
    }
    for (int k = 0; k < 4; ++k) {
      const uint64_t a = random.below(kJobs);
      const uint64_t b = random.below(kJobs);
      if (a != b) smt += fmt::format("(assert (< s{} s{}))\n", a, b);
    }
    smt += "(check-sat)\n(pop 1)\n";
  }
  return smt;
}

}  // namespace allocbench::programs
