#include "harness/sharing_trace.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "harness/allocators.h"

namespace allocbench {

namespace fs = std::filesystem;

std::string tracer_library() {
  const fs::path path = fs::path(executable_directory()) / ".." / "lib" / "libsharetrace.so";
  std::error_code error;
  if (!fs::exists(path, error)) return "";
  return fs::absolute(path, error).lexically_normal().string();
}

namespace {

Json failed(const std::string& why) {
  return Json{{"error", why}};
}

// The tracer's lines (one per traced process) summed: counts add up, `complete` only if every
// process was complete, `capacity` and `line_bytes` as they are; null when there is no line.
Json sum_process_counts(const std::string& path) {
  std::ifstream file(path);
  std::string line;
  Json total;
  int processes = 0;
  while (std::getline(file, line)) {
    const Json one = Json::parse(line, nullptr, false);
    if (one.is_discarded() || !one.is_object() || !one.contains("active")) continue;
    ++processes;
    if (total.is_null()) {
      total = one;
      continue;
    }
    for (const auto& [key, value] : one.items()) {
      if (key == "complete") {
        total[key] = total[key].get<bool>() && value.get<bool>();
      } else if (key != "capacity" && key != "line_bytes" && value.is_number_unsigned()) {
        total[key] = total[key].get<uint64_t>() + value.get<uint64_t>();
      }
    }
  }
  if (!total.is_null()) total["processes"] = processes;
  return total;
}

}  // namespace

Json trace_sharing(ChildSpec spec, const std::string& allocator_preload,
                   const std::string& counts_path) {
  const std::string tracer = tracer_library();
  if (tracer.empty()) return failed("libsharetrace.so is not built next to allocbench");
  std::error_code error;
  fs::remove(counts_path, error);
  spec.env = environment_with_preload(allocator_preload.empty() ? tracer
                                                                : tracer + " " + allocator_preload);
  spec.env.push_back("ALLOCBENCH_SHARING_OUT=" + counts_path);
  spec.with_counters = false;
  const ChildResult child = run_child(spec);
  if (!child.spawn_error.empty()) return failed(child.spawn_error);
  if (child.timed_out)
    return failed(fmt::format("traced run timed out after {} s", spec.timeout_s));
  if (child.signal != 0 || child.exit_status != 0) {
    return failed(fmt::format("traced run ended with status {} signal {}: {}", child.exit_status,
                              child.signal, tail_lines(child.err, 3)));
  }
  Json counts = sum_process_counts(counts_path);
  fs::remove(counts_path, error);
  if (counts.is_null()) return failed("the tracer wrote no counts (" + counts_path + ")");
  const Json reported = Json::parse(child.out, nullptr, false);
  if (!reported.is_discarded() && reported.is_object()) {
    counts["traced_ops"] = reported.value("ops", Json(nullptr));
    counts["traced_seconds"] = reported.value("seconds", Json(nullptr));
    counts["traced_throughput_ops_per_s"] = reported.value("throughput_ops_per_s", Json(nullptr));
  }
  return counts;
}

}  // namespace allocbench
