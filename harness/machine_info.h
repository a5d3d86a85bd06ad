// The "machine" block of the results: what ran the sweep, so results can be compared honestly.
#pragma once

#include "harness/run_record.h"

namespace allocbench {

Json machine_info();

// Now, UTC, ISO 8601 ("2026-11-26T04:10:00Z").
std::string utc_timestamp();

}  // namespace allocbench
