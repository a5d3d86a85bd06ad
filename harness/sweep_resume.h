// The sweep's partial file and `sweep --resume DIR`. While a sweep runs, DIR/<results
// file>.partial.jsonl holds a header line {"header": {schema, machine, config, allocators}} and
// then one run record per line, as each finishes. A sweep that was interrupted continues from
// it: the same configuration is required, and cells already recorded are not run again.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "harness/run_record.h"

namespace allocbench {

struct PartialSweep {
  Json header;             // {"schema", "machine", "config", "allocators"}
  std::vector<Json> runs;  // the records that were complete
  size_t unreadable_lines = 0;
};

// The header line a sweep writes first.
Json partial_header(const Json& machine, const Json& config, const Json& allocators);

// Reads a partial file; throws UsageError saying what is wrong when it is missing or has no
// header (then there is nothing to resume). A torn last line is counted, not fatal.
PartialSweep read_partial(const std::filesystem::path& file);

// Throws UsageError naming the first setting that differs between the interrupted sweep's
// config and this command's (`command` and `resumed` aside).
void require_same_config(const Json& recorded, const Json& now);

// "workload/allocator/threads/repetition": a cell's identity in records.
std::string cell_key(const std::string& workload, const std::string& allocator, int threads,
                     int repetition);
std::string cell_key(const Json& record);

}  // namespace allocbench
