#include "harness/run_command.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>

#include "harness/allocators.h"
#include "harness/cli_args.h"
#include "harness/memory_sampler.h"
#include "workloads/workload.h"

namespace allocbench {

RunRequest parse_run_args(const std::vector<std::string>& args) {
  ArgList list(args);
  RunRequest request;
  request.workload = list.next_positional("workload name (one of: " + workload_names() + ")");
  if (find_workload(request.workload) == nullptr) {
    throw UsageError(
        fmt::format("unknown workload '{}' (known: {})", request.workload, workload_names()));
  }
  while (!list.done()) {
    const std::string flag = list.next_flag();
    if (flag == "threads") {
      request.threads = static_cast<int>(parse_integer(flag, list.value(flag), 1, 4096));
    } else if (flag == "sample-interval-ms") {
      const double ms = parse_number(flag, list.value(flag), 0.1, 60000);
      request.sample_interval = std::chrono::microseconds(static_cast<long long>(ms * 1000));
    } else if (flag == "verify") {
      request.verify = true;
    } else if (flag == "no-verify") {
      request.verify = false;
    } else if (flag == "duration") {
      request.params["duration_s"] = list.value(flag);  // the sweep's name for it
    } else {
      request.params[flag] = list.value(flag);
    }
  }
  // Checked here so that a bad parameter is a usage error before anything runs.
  resolve_params(*find_workload(request.workload), request.params);
  return request;
}

Json run_in_process(const RunRequest& request) {
  const Workload& workload = *find_workload(request.workload);
  const Params params = resolve_params(workload, request.params);
  Json params_json = Json::object();
  for (const ParamSpec& spec : workload.params) {
    const double value = params.get(spec.name);
    if (spec.integer) {
      params_json[spec.name] = static_cast<long long>(value);
    } else {
      params_json[spec.name] = value;
    }
  }

  WorkloadStats stats(workload.slots_per_thread * static_cast<size_t>(request.threads));
  MemorySampler sampler(stats, request.sample_interval);
  sampler.start();
  const Outcome outcome = workload.run(
      {.threads = request.threads, .params = params, .stats = stats, .verify = request.verify});
  sampler.stop();

  Json record =
      make_run_record(workload.name, preloaded_allocator_name(), request.threads, 0, params_json,
                      "not measured by `allocbench run` (the sweep opens perf counters "
                      "on its child processes)");
  const uint64_t ops = stats.ops();
  record["ops"] = ops;
  record["seconds"] = outcome.seconds;
  record["throughput_ops_per_s"] =
      outcome.seconds > 0 ? Json(static_cast<double>(ops) / outcome.seconds) : Json(nullptr);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  record["peak_rss_bytes"] = static_cast<int64_t>(usage.ru_maxrss) * 1024;
  record["user_seconds"] =
      static_cast<double>(usage.ru_utime.tv_sec) + usage.ru_utime.tv_usec / 1e6;
  record["sys_seconds"] = static_cast<double>(usage.ru_stime.tv_sec) + usage.ru_stime.tv_usec / 1e6;
  record["peak_live_bytes"] = stats.peak_live_bytes();
  Json samples = Json::array();
  for (const MemorySample& sample : sampler.samples()) {
    samples.push_back(
        {{"t", sample.t}, {"rss_bytes", sample.rss_bytes}, {"live_bytes", sample.live_bytes}});
  }
  record["samples"] = std::move(samples);
  if (stats.live_bytes() != 0) {
    mark_unsuccessful(
        record, "failed",
        fmt::format("workload bug: {} live bytes left at the end", stats.live_bytes()));
  }
  return record;
}

int run_command(const std::vector<std::string>& args) {
  const RunRequest request = parse_run_args(args);
  const std::string problem = preload_problem();
  if (!problem.empty()) {
    fmt::print(stderr, "allocbench run: {}\n", problem);
    return 3;
  }
  const Json record = run_in_process(request);
  const std::string text = record.dump();
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  return record["status"] == "ok" ? 0 : 1;
}

}  // namespace allocbench
