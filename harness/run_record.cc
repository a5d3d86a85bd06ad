#include "harness/run_record.h"

namespace allocbench {

const std::vector<std::string>& counter_names() {
  static const std::vector<std::string> names = {
      "cycles",          "instructions", "cache_references", "cache_misses",
      "l1d_load_misses", "page_faults",  "context_switches", "task_clock_ns"};
  return names;
}

Json make_run_record(const std::string& workload, const std::string& allocator, int threads,
                     int repetition, const Json& params, const std::string& counter_reason) {
  Json counters = Json::object();
  Json unavailable = Json::object();
  for (const std::string& name : counter_names()) {
    counters[name] = nullptr;
    unavailable[name] = counter_reason;
  }
  return Json{
      {"workload", workload},
      {"allocator", allocator},
      {"threads", threads},
      {"repetition", repetition},
      {"params", params},
      {"status", "ok"},
      {"exit_status", 0},
      {"signal", nullptr},
      {"error", nullptr},
      {"ops", nullptr},
      {"seconds", nullptr},
      {"throughput_ops_per_s", nullptr},
      {"peak_rss_bytes", nullptr},
      {"baseline_rss_bytes", nullptr},
      {"peak_live_bytes", nullptr},
      {"blowup", nullptr},
      {"user_seconds", nullptr},
      {"sys_seconds", nullptr},
      {"samples", Json::array()},
      {"counters", counters},
      {"counters_unavailable", unavailable},
  };
}

void mark_unsuccessful(Json& record, const std::string& status, const std::string& error) {
  record["status"] = status;
  record["error"] = error;
  for (const char* key : {"ops", "seconds", "throughput_ops_per_s", "blowup"}) {
    record[key] = nullptr;
  }
}

Json blowup_of(const Json& peak_rss, const Json& baseline_rss, const Json& peak_live) {
  if (!peak_rss.is_number() || !baseline_rss.is_number() || !peak_live.is_number()) {
    return nullptr;
  }
  const double live = peak_live.get<double>();
  if (live <= 0) return nullptr;
  return (peak_rss.get<double>() - baseline_rss.get<double>()) / live;
}

}  // namespace allocbench
