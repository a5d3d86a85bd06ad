// Which allocators a sweep can use: the names the toolkit knows (found on this machine or
// skipped with a note saying how to get them), or any path to a .so (a student's allocator).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace allocbench {

struct AllocatorInfo {
  std::string name;
  std::optional<std::string> path;  // the .so to LD_PRELOAD; none for glibc
  std::optional<std::string> version;
  bool found = false;
  std::optional<std::string> note;  // why it was not found, or what it is
};

// halloc, halloc-paper, halloc-serial, glibc, jemalloc, tcmalloc, mimalloc, tbbmalloc.
const std::vector<std::string>& known_allocator_names();
// The ablation steps between halloc-paper and halloc (allocator/CMakeLists.txt, policy.h):
// accepted by name, not in the default sweep.
const std::vector<std::string>& halloc_ablation_names();

// A known name, a halloc ablation step (halloc-abl-*, see allocator/src/policy.h), a path to a
// .so (named by its file name without ".so"), or NAME=PATH.
// Throws UsageError for a word that is neither a known name nor a path.
AllocatorInfo resolve_allocator(const std::string& spec);
// Each of --allocators' specs resolved; a UsageError when two get the same name.
std::vector<AllocatorInfo> resolve_allocators(const std::vector<std::string>& specs);

// Directory holding this executable (from /proc/self/exe).
std::string executable_directory();
std::string executable_path();

// The name a run reports for the allocator it is under: LD_PRELOAD's file, or glibc.
std::string preloaded_allocator_name();

// Non-empty when LD_PRELOAD names a library that does not serve malloc in this process (for
// instance the loader could not load it and silently went on with glibc), or, with nothing
// preloaded, when malloc is not the C library's.
std::string preload_problem();

}  // namespace allocbench
