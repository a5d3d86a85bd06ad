// The run record of the results contract (SCHEMA.md, schema allocbench-1): one place that knows
// its keys and their order, used by `allocbench run` and by the sweep.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace allocbench {

using Json = nlohmann::ordered_json;

inline constexpr const char* kSchemaVersion = "allocbench-1";

// The perf counters every record carries, in the contract's order.
const std::vector<std::string>& counter_names();

// A record with every key of the contract: status "ok", measurements null, samples empty,
// every counter null with `counter_reason` as its reason.
Json make_run_record(const std::string& workload, const std::string& allocator, int threads,
                     int repetition, const Json& params, const std::string& counter_reason);

// Marks a record as not "ok": status, error text, and the measurements that then mean nothing
// set to null (the contract's rule for failed, timed-out and skipped runs).
void mark_unsuccessful(Json& record, const std::string& status, const std::string& error);

// (peak_rss - baseline_rss) / peak_live, or null when any part is unknown or peak_live is 0.
Json blowup_of(const Json& peak_rss, const Json& baseline_rss, const Json& peak_live);

}  // namespace allocbench
