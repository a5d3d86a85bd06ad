// The inputs of the program workloads, generated deterministically: the same scale gives the
// same bytes on every machine and in every run, so every allocator gets the same work and the
// programs' outputs can be compared byte for byte. One file per program.
#pragma once

#include <cstdint>
#include <string>

namespace allocbench::programs {

// A small linear congruential generator (Knuth's MMIX constants): deterministic everywhere.
class Lcg {
 public:
  explicit Lcg(uint64_t seed) : state_(seed * 2862933555777941757ULL + 3037000493ULL) {}
  uint64_t next() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return state_ >> 33;
  }
  // Uniform in [0, bound).
  uint64_t below(uint64_t bound) { return next() % bound; }

 private:
  uint64_t state_;
};

// An SQL script for sqlite3: inserts of about 1000 x scale orders, indexes, joins, updates,
// deletes, and queries whose results are the output.
std::string sqlite_script(int64_t scale);
// A PostScript document of `scale` pages of text and filled paths; it prints a checksum.
std::string postscript_document(int64_t scale);
// A Lua 5.4 script: binary trees, string building, tables; prints checksums.
std::string lua_script(int64_t scale);
// A Python 3 script: dicts, strings, json, regex over items split across argv[1] threads.
std::string python_script(int64_t scale);
// A C++ translation unit of about `scale` templated classes and functions over the STL.
std::string cxx_translation_unit(int64_t scale);
// An SMT-LIB 2 script: `scale` satisfiability queries over integers and booleans.
std::string smtlib_script(int64_t scale);
// A Ruby script: strings, arrays, hashes and objects churned through the garbage collector.
std::string ruby_script(int64_t scale);
// redis-cli commands whose replies check the server's data after the benchmark.
std::string redis_check_commands(int64_t scale);

}  // namespace allocbench::programs
