#include "harness/sweep.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "harness/allocators.h"
#include "harness/child_process.h"
#include "harness/cli_args.h"
#include "harness/machine_info.h"
#include "harness/program_workloads.h"
#include "harness/progress.h"
#include "harness/run_command.h"
#include "harness/run_record.h"
#include "harness/sharing_trace.h"
#include "harness/sweep_gate.h"
#include "harness/sweep_resume.h"
#include "harness/thread_list.h"
#include "workloads/verify.h"
#include "workloads/workload.h"

namespace allocbench {

namespace fs = std::filesystem;

namespace {

// A synthetic workload, or a program workload seen as one; nullptr when neither.
const Workload* any_workload(const std::string& name) {
  if (const Workload* workload = find_workload(name)) return workload;
  if (const ProgramWorkload* program = find_program(name)) return &program_as_workload(*program);
  return nullptr;
}

// The workloads of --suite: the synthetic ones, the programs, or both.
std::vector<std::string> suite_workloads(const std::string& suite) {
  std::vector<std::string> names;
  if (suite != "synthetic" && suite != "programs" && suite != "all") {
    throw UsageError(fmt::format("--suite: '{}' is not synthetic, programs or all", suite));
  }
  if (suite != "programs") {
    for (const Workload* workload : all_workloads()) {
      if (workload->name != "noop") names.push_back(workload->name);
    }
  }
  if (suite != "synthetic") {
    for (const ProgramWorkload& program : program_workloads()) names.push_back(program.name);
  }
  return names;
}

// "[WORKLOAD.]NAME=VALUE" into options.params, checked against the selected workloads.
void add_param(SweepOptions& options, const std::string& text) {
  const size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw UsageError(fmt::format("--param: '{}' should be [WORKLOAD.]NAME=VALUE", text));
  }
  std::string name = text.substr(0, equals);
  const std::string value = text.substr(equals + 1);
  std::string only;
  const size_t dot = name.find('.');
  if (dot != std::string::npos) {
    only = name.substr(0, dot);
    name = name.substr(dot + 1);
    if (any_workload(only) == nullptr) {
      throw UsageError(fmt::format("--param: unknown workload '{}' in '{}'", only, text));
    }
  }
  bool used = false;
  for (const std::string& workload_name : options.workloads) {
    if (!only.empty() && workload_name != only) continue;
    const Workload& workload = *any_workload(workload_name);
    for (const ParamSpec& spec : workload.params) {
      if (spec.name == name) {
        options.params[workload_name][name] = value;
        used = true;
      }
    }
  }
  if (!used) {
    throw UsageError(fmt::format("--param: no selected workload has a parameter '{}'", name));
  }
}

}  // namespace

SweepOptions parse_sweep_args(const std::vector<std::string>& args, int cores) {
  SweepOptions options;
  std::vector<std::string> param_texts;
  std::string suite = "synthetic";
  ArgList list(args);
  while (!list.done()) {
    const std::string flag = list.next_flag();
    if (flag == "threads") {
      options.threads = parse_thread_list(list.value(flag));
    } else if (flag == "workloads") {
      options.workloads = split_list(flag, list.value(flag));
      for (const std::string& name : options.workloads) {
        if (any_workload(name) == nullptr || name == "noop") {
          throw UsageError(
              fmt::format("--workloads: unknown workload '{}' (known: {}; programs: {})", name,
                          workload_names(), program_names()));
        }
      }
    } else if (flag == "suite") {
      suite = list.value(flag);
      suite_workloads(suite);  // checks the name now
    } else if (flag == "program") {
      const std::string text = list.value(flag);
      const size_t equals = text.find('=');
      if (equals == std::string::npos || find_program(text.substr(0, equals)) == nullptr) {
        throw UsageError(fmt::format("--program: '{}' should be PROGRAM=PATH (programs: {})", text,
                                     program_names()));
      }
      options.program_binaries[text.substr(0, equals)] = text.substr(equals + 1);
    } else if (flag == "allocators") {
      options.allocators = split_list(flag, list.value(flag));
    } else if (flag == "reps") {
      options.reps = static_cast<int>(parse_integer(flag, list.value(flag), 1, 1000));
    } else if (flag == "duration") {
      options.duration_s = parse_number(flag, list.value(flag), 0.001, 1e6);
    } else if (flag == "timeout") {
      options.timeout_s = parse_number(flag, list.value(flag), 0.1, 1e6);
    } else if (flag == "shard") {
      const std::string text = list.value(flag);
      const size_t slash = text.find('/');
      if (slash == std::string::npos) {
        throw UsageError(fmt::format("--shard: '{}' should be I/N, e.g. 2/8", text));
      }
      options.shard_count = static_cast<int>(parse_integer(flag, text.substr(slash + 1), 1, 1e6));
      options.shard_index =
          static_cast<int>(parse_integer(flag, text.substr(0, slash), 1, options.shard_count));
    } else if (flag == "param") {
      param_texts.push_back(list.value(flag));
    } else if (flag == "micro") {
      options.micro = true;
    } else if (flag == "no-micro") {
      options.micro = false;
    } else if (flag == "trace-sharing") {
      options.trace_sharing = true;
    } else if (flag == "micro-min-time") {
      options.micro_min_time_s = parse_number(flag, list.value(flag), 0.001, 100);
    } else if (flag == "sample-interval-ms") {
      options.sample_interval_ms = parse_number(flag, list.value(flag), 0.1, 60000);
    } else if (flag == "no-progress") {
      options.progress = false;
    } else if (flag == "check") {
      options.check = true;
    } else if (flag == "no-check") {
      options.check = false;
    } else if (flag == "verify") {
      options.verify = true;
    } else if (flag == "no-verify") {
      options.verify = false;
    } else if (flag == "out" || flag == "resume") {
      const std::string directory = list.value(flag);
      if (!options.out.empty() && options.out != directory) {
        throw UsageError(fmt::format("--{}: '{}' differs from the directory given before ('{}')",
                                     flag, directory, options.out));
      }
      options.out = directory;
      options.resume = options.resume || flag == "resume";
    } else {
      throw UsageError(fmt::format("sweep: unknown flag --{} (see `allocbench help`)", flag));
    }
  }
  if (options.out.empty()) throw UsageError("sweep: --out DIR (or --resume DIR) is required");
  if (options.workloads.empty()) options.workloads = suite_workloads(suite);
  if (options.allocators.empty()) options.allocators = known_allocator_names();
  if (options.threads.empty()) options.threads = default_thread_list(cores);
  for (const std::string& text : param_texts) add_param(options, text);
  options.param_texts = param_texts;
  // Every workload's parameters, checked now rather than in a child minutes later.
  for (const std::string& name : options.workloads) {
    const auto given = options.params.find(name);
    resolve_params(*any_workload(name), given == options.params.end()
                                            ? std::map<std::string, std::string>{}
                                            : given->second);
  }
  return options;
}

std::vector<Cell> plan_cells(size_t workloads, size_t allocators, size_t threads, int reps) {
  std::vector<Cell> cells;
  for (size_t w = 0; w < workloads; ++w) {
    for (size_t a = 0; a < allocators; ++a) {
      for (size_t t = 0; t < threads; ++t) {
        for (int r = 0; r < reps; ++r) cells.push_back({w, a, t, r});
      }
    }
  }
  return cells;
}

std::vector<Cell> drop_repeated_thread_counts(const std::vector<Cell>& cells,
                                              const std::vector<std::string>& workloads) {
  std::vector<Cell> kept;
  for (const Cell& cell : cells) {
    const ProgramWorkload* program = find_program(workloads[cell.workload]);
    if (program == nullptr || program->threaded || cell.threads == 0) kept.push_back(cell);
  }
  return kept;
}

std::vector<Cell> shard_cells(const std::vector<Cell>& cells, int index, int count) {
  std::vector<Cell> mine;
  for (size_t i = static_cast<size_t>(index - 1); i < cells.size(); i += count) {
    mine.push_back(cells[i]);
  }
  return mine;
}

std::string results_file_name(int index, int count) {
  return count == 1 ? "run.json" : fmt::format("run.shard-{}-of-{}.json", index, count);
}

namespace {

struct Sweep {
  const SweepOptions& options;
  std::vector<AllocatorInfo> allocators;
  std::vector<Json> baselines;  // per allocator: median noop peak RSS, or null
  std::vector<Json> verdicts;   // per allocator: the gate's JSON, or null
  std::string executable = executable_path();
  ProgramRunner programs;
};

std::string preload_of(const AllocatorInfo& allocator) {
  return allocator.path.value_or("");
}

// The workload's parameters as the child will run them: defaults, --param, --duration.
std::map<std::string, std::string> child_params(const SweepOptions& options,
                                                const Workload& workload) {
  std::map<std::string, std::string> params = options.params.count(workload.name) != 0
                                                  ? options.params.at(workload.name)
                                                  : std::map<std::string, std::string>{};
  for (const ParamSpec& spec : workload.params) {
    if (spec.name == "duration_s" && params.count("duration_s") == 0) {
      params["duration_s"] = fmt::format("{}", options.duration_s);
    }
  }
  return params;
}

Json params_json(const Workload& workload, const std::map<std::string, std::string>& overrides) {
  const Params params = resolve_params(workload, overrides);
  Json json = Json::object();
  for (const ParamSpec& spec : workload.params) {
    if (spec.integer) {
      json[spec.name] = static_cast<long long>(params.get(spec.name));
    } else {
      json[spec.name] = params.get(spec.name);
    }
  }
  return json;
}

ChildSpec workload_child(const Sweep& sweep, const AllocatorInfo& allocator,
                         const Workload& workload, int threads) {
  ChildSpec spec;
  spec.argv = {sweep.executable,
               "run",
               workload.name,
               "--threads",
               std::to_string(threads),
               "--sample-interval-ms",
               fmt::format("{}", sweep.options.sample_interval_ms)};
  for (const auto& [name, value] : child_params(sweep.options, workload)) {
    spec.argv.push_back("--" + name);
    spec.argv.push_back(value);
  }
  if (!sweep.options.verify) spec.argv.push_back("--no-verify");
  spec.env = environment_with_preload(preload_of(allocator));
  spec.timeout_s = sweep.options.timeout_s;
  return spec;
}

// Why a child's run is not "ok", or "" when it is.
std::string failure_of(const ChildResult& child, double timeout_s, std::string& status) {
  const std::string stderr_tail = tail_lines(child.err, 5);
  const std::string suffix = stderr_tail.empty() ? "" : "; stderr: " + stderr_tail;
  if (!child.spawn_error.empty()) {
    status = "failed";
    return child.spawn_error;
  }
  if (child.timed_out) {
    status = "timeout";
    return fmt::format("no result within the {} s timeout; killed{}", timeout_s, suffix);
  }
  if (child.signal != 0) {
    status = "failed";
    const char* name = sigabbrev_np(child.signal);
    return fmt::format("killed by signal {} (SIG{}){}", child.signal, name ? name : "?", suffix);
  }
  if (child.exit_status == kCorruptExitStatus) {
    status = "corrupt";
    return stderr_tail.empty() ? "verify found a wrong byte" : stderr_tail;
  }
  if (child.exit_status != 0) {
    status = "failed";
    return fmt::format("exited with status {}{}", child.exit_status, suffix);
  }
  return "";
}

// A program workload's cell (program_workloads.h): one command, or a server and its client.
Json measure_program_cell(Sweep& sweep, const Cell& cell, const ProgramWorkload& program) {
  const SweepOptions& options = sweep.options;
  const AllocatorInfo& allocator = sweep.allocators[cell.allocator];
  const int threads = program.threaded ? options.threads[cell.threads] : 1;
  const Params params = resolve_params(program_as_workload(program),
                                       child_params(options, program_as_workload(program)));
  if (!allocator.found) {
    Json record = make_run_record(program.name, allocator.name, threads, cell.repetition,
                                  {{"scale", params.get_uint("scale")}}, "not run");
    record["kind"] = "program";
    mark_unsuccessful(record, "skipped", allocator.note.value_or("allocator not found"));
    record["exit_status"] = nullptr;
    return record;
  }
  return sweep.programs.measure(program, allocator.name, preload_of(allocator), threads,
                                cell.repetition, static_cast<int64_t>(params.get_uint("scale")));
}

Json measure_cell(Sweep& sweep, const Cell& cell) {
  const SweepOptions& options = sweep.options;
  if (const ProgramWorkload* program = find_program(options.workloads[cell.workload])) {
    return measure_program_cell(sweep, cell, *program);
  }
  const AllocatorInfo& allocator = sweep.allocators[cell.allocator];
  const Workload& workload = *find_workload(options.workloads[cell.workload]);
  const int threads = options.threads[cell.threads];
  Json record = make_run_record(workload.name, allocator.name, threads, cell.repetition,
                                params_json(workload, child_params(options, workload)), "not run");
  record["baseline_rss_bytes"] = sweep.baselines[cell.allocator];
  if (!allocator.found) {
    mark_unsuccessful(record, "skipped", allocator.note.value_or("allocator not found"));
    record["exit_status"] = nullptr;
    return record;
  }
  const ChildResult child = run_child(workload_child(sweep, allocator, workload, threads));
  record["exit_status"] = child.exit_status >= 0 ? Json(child.exit_status) : Json(nullptr);
  record["signal"] = child.signal != 0 ? Json(child.signal) : Json(nullptr);
  if (child.max_rss_bytes > 0) record["peak_rss_bytes"] = child.max_rss_bytes;
  if (child.spawn_error.empty()) {
    record["user_seconds"] = child.user_seconds;
    record["sys_seconds"] = child.sys_seconds;
  }
  if (!child.counters.empty()) {
    record["counters"] = child.counters;
    record["counters_unavailable"] = child.counters_unavailable;
  }
  std::string status = "ok";
  std::string error = failure_of(child, options.timeout_s, status);
  if (error.empty()) {
    const Json reported = Json::parse(child.out, nullptr, false);
    if (reported.is_discarded() || !reported.is_object() || !reported.contains("ops")) {
      status = "failed";
      error = "the child printed no JSON record: " + tail_lines(child.out, 3);
    } else if (reported.value("status", "") != "ok") {
      status = "failed";
      error = reported.value("error", "the child reported a failure");
    } else {
      for (const char* key :
           {"params", "ops", "seconds", "throughput_ops_per_s", "peak_live_bytes", "samples"}) {
        record[key] = reported[key];
      }
      record["blowup"] = blowup_of(record["peak_rss_bytes"], record["baseline_rss_bytes"],
                                   record["peak_live_bytes"]);
      if (options.trace_sharing) {
        record["sharing"] =
            cell.repetition == 0
                ? trace_sharing(workload_child(sweep, allocator, workload, threads),
                                preload_of(allocator),
                                (fs::path(options.out) / ".sharing-counts.json").string())
                : Json(nullptr);
      }
      return record;
    }
  }
  mark_unsuccessful(record, status, error);
  return record;
}

// Median peak RSS of the idle workload under an allocator; null when every try failed.
Json measure_baseline(const Sweep& sweep, const AllocatorInfo& allocator, Progress& progress) {
  std::vector<int64_t> peaks;
  for (int rep = 0; rep < sweep.options.reps; ++rep) {
    ChildSpec spec;
    spec.argv = {sweep.executable, "run", "noop", "--threads", "1"};
    spec.env = environment_with_preload(preload_of(allocator));
    spec.timeout_s = sweep.options.timeout_s;
    spec.with_counters = false;
    const ChildResult child = run_child(spec);
    if (child.spawn_error.empty() && !child.timed_out && child.exit_status == 0 &&
        child.max_rss_bytes > 0) {
      peaks.push_back(child.max_rss_bytes);
    }
    progress.advance(fmt::format("baseline {}", allocator.name));
  }
  if (peaks.empty()) return nullptr;
  std::sort(peaks.begin(), peaks.end());
  const size_t middle = peaks.size() / 2;
  return peaks.size() % 2 == 1 ? peaks[middle] : (peaks[middle - 1] + peaks[middle]) / 2;
}

// Google Benchmark's JSON for one allocator, or an empty one with the error.
Json run_micro(const Sweep& sweep, const AllocatorInfo& allocator) {
  const std::string binary = executable_directory() + "/allocbench-micro";
  Json failed = {{"context", Json::object()}, {"benchmarks", Json::array()}, {"error", nullptr}};
  std::error_code error;
  if (!fs::exists(binary, error)) {
    failed["error"] = "allocbench-micro is not built next to allocbench";
    return failed;
  }
  ChildSpec spec;
  spec.argv = {binary, "--benchmark_format=json",
               fmt::format("--benchmark_min_time={}", sweep.options.micro_min_time_s)};
  spec.env = environment_with_preload(preload_of(allocator));
  spec.timeout_s = sweep.options.timeout_s;
  spec.with_counters = false;
  const ChildResult child = run_child(spec);
  std::string status;
  std::string problem = failure_of(child, sweep.options.timeout_s, status);
  if (problem.empty()) {
    Json report = Json::parse(child.out, nullptr, false);
    if (!report.is_discarded() && report.is_object()) return report;
    problem = "allocbench-micro printed no JSON";
  }
  failed["error"] = problem;
  return failed;
}

Json config_json(const Sweep& sweep) {
  const SweepOptions& options = sweep.options;
  Json names = Json::array();
  for (const AllocatorInfo& allocator : sweep.allocators) names.push_back(allocator.name);
  return Json{
      {"workloads", options.workloads},
      {"allocators", names},
      {"threads", options.threads},
      {"reps", options.reps},
      {"duration_s", options.duration_s},
      {"timeout_s", options.timeout_s},
      {"shard", {{"index", options.shard_index}, {"count", options.shard_count}}},
      {"trace_sharing", options.trace_sharing},
      {"command", options.command},
      {"check", options.check},
      {"verify", options.verify},
      {"params", options.param_texts},
      {"resumed", options.resume},
  };
}

Json allocators_json(const Sweep& sweep) {
  Json list = Json::array();
  for (size_t a = 0; a < sweep.allocators.size(); ++a) {
    const AllocatorInfo& allocator = sweep.allocators[a];
    list.push_back({{"name", allocator.name},
                    {"path", allocator.path ? Json(*allocator.path) : Json(nullptr)},
                    {"version", allocator.version ? Json(*allocator.version) : Json(nullptr)},
                    {"found", allocator.found},
                    {"note", allocator.note ? Json(*allocator.note) : Json(nullptr)},
                    {"check", sweep.verdicts[a]}});
  }
  return list;
}

void write_file_atomically(const fs::path& path, const std::string& text) {
  const fs::path temporary = path.string() + ".tmp";
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    file << text;
    if (!file) throw std::runtime_error("cannot write " + temporary.string());
  }
  fs::rename(temporary, path);
}

}  // namespace

int run_sweep(const SweepOptions& options) {
  Sweep sweep{.options = options,
              .allocators = {},
              .baselines = {},
              .verdicts = {},
              .programs = ProgramRunner(
                  {.binaries = options.program_binaries, .timeout_s = options.timeout_s})};
  sweep.allocators = resolve_allocators(options.allocators);
  sweep.verdicts.assign(sweep.allocators.size(), nullptr);
  const fs::path out = options.out;
  const fs::path partial =
      out / (results_file_name(options.shard_index, options.shard_count) + ".partial.jsonl");
  Json machine = machine_info();
  const Json config = config_json(sweep);

  std::vector<Cell> cells = shard_cells(
      drop_repeated_thread_counts(plan_cells(options.workloads.size(), sweep.allocators.size(),
                                             options.threads.size(), options.reps),
                                  options.workloads),
      options.shard_index, options.shard_count);
  std::map<std::string, size_t> index_of;  // cell key -> index in `cells`
  for (size_t i = 0; i < cells.size(); ++i) {
    const Cell& cell = cells[i];
    index_of[cell_key(options.workloads[cell.workload], sweep.allocators[cell.allocator].name,
                      options.threads[cell.threads], cell.repetition)] = i;
  }

  // A resumed sweep keeps what was recorded (and the gate's verdicts) under the same config.
  std::vector<Json> recorded;
  std::set<size_t> done;
  if (options.resume) {
    const PartialSweep previous = read_partial(partial);
    require_same_config(previous.header["config"], config);
    if (previous.header["machine"].value("git_commit", Json(nullptr)) != machine["git_commit"]) {
      throw UsageError(fmt::format(
          "--resume: the interrupted sweep ran commit {}, this allocbench was built from {}; "
          "results of different code do not mix",
          previous.header["machine"].value("git_commit", Json(nullptr)).dump(),
          machine["git_commit"].dump()));
    }
    machine = previous.header["machine"];
    for (const Json& run : previous.runs) {
      const auto found = index_of.find(cell_key(run));
      if (found != index_of.end() && done.insert(found->second).second) recorded.push_back(run);
    }
    for (size_t a = 0; a < sweep.allocators.size(); ++a) {
      for (const Json& before : previous.header.value("allocators", Json::array())) {
        if (before.value("name", "") == sweep.allocators[a].name && before.contains("check")) {
          sweep.verdicts[a] = before["check"];
        }
      }
    }
    fmt::print(
        stderr, "allocbench: resuming {}: {} of {} runs recorded{}\n", out.string(), done.size(),
        cells.size(),
        previous.unreadable_lines > 0
            ? fmt::format(" ({} torn line(s) dropped and run again)", previous.unreadable_lines)
            : "");
  }
  fs::create_directories(out);

  std::vector<bool> used(sweep.allocators.size(), false);
  for (const Cell& cell : cells) used[cell.allocator] = true;
  size_t found_used = 0;
  for (size_t a = 0; a < sweep.allocators.size(); ++a) {
    found_used += used[a] && sweep.allocators[a].found ? 1 : 0;
  }
  for (const AllocatorInfo& allocator : sweep.allocators) {
    if (!allocator.found)
      fmt::print(stderr, "allocbench: skipping {}: {}\n", allocator.name,
                 allocator.note.value_or(""));
  }
  const bool run_gate = options.check && !options.resume;
  Progress progress((run_gate ? found_used * gate_steps_per_allocator() : 0) +
                        found_used * options.reps + (cells.size() - done.size()) +
                        (options.micro ? found_used : 0),
                    options.progress);

  if (run_gate) {
    CheckOptions check_options;
    check_options.timeout_s = std::min(options.timeout_s, check_options.timeout_s);
    sweep.verdicts = gate_allocators(sweep.allocators, used, check_options, progress);
  }

  sweep.baselines.assign(sweep.allocators.size(), nullptr);
  for (size_t a = 0; a < sweep.allocators.size(); ++a) {
    if (used[a] && sweep.allocators[a].found) {
      sweep.baselines[a] = measure_baseline(sweep, sweep.allocators[a], progress);
    }
  }

  // Run repetition by repetition, allocators innermost, so slow drift of a shared machine
  // spreads over every allocator instead of landing on one. Records go to disk as they come,
  // so the sweep's own memory (which every forked child starts from) stays small, and an
  // interrupted sweep can be resumed from them.
  std::vector<size_t> order(cells.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    const Cell& a = cells[x];
    const Cell& b = cells[y];
    return std::tie(a.repetition, a.workload, a.threads, a.allocator) <
           std::tie(b.repetition, b.workload, b.threads, b.allocator);
  });
  {
    std::ofstream stream(partial, std::ios::trunc);
    stream << partial_header(machine, config, allocators_json(sweep)).dump() << '\n';
    for (const Json& run : recorded) stream << run.dump() << '\n';
    stream.flush();
    if (!stream) throw std::runtime_error("cannot write " + partial.string());
    for (size_t index : order) {
      if (done.count(index) != 0) continue;
      const Cell& cell = cells[index];
      const Json record = measure_cell(sweep, cell);
      stream << record.dump() << '\n';
      stream.flush();
      progress.advance(fmt::format("{} {} t={} rep {}: {}", options.workloads[cell.workload],
                                   sweep.allocators[cell.allocator].name,
                                   options.threads[cell.threads], cell.repetition,
                                   record["status"].get<std::string>()));
    }
  }

  Json micro = Json::object();
  if (options.micro) {
    for (size_t a = 0; a < sweep.allocators.size(); ++a) {
      if (!used[a] || !sweep.allocators[a].found) continue;
      micro[sweep.allocators[a].name] = run_micro(sweep, sweep.allocators[a]);
      progress.advance(fmt::format("micro {}", sweep.allocators[a].name));
    }
  }
  progress.finish();

  std::vector<Json> runs(cells.size());
  const PartialSweep written = read_partial(partial);
  for (const Json& run : written.runs) runs.at(index_of.at(cell_key(run))) = run;
  size_t ok = 0;
  std::map<std::string, size_t> other;
  for (const Json& run : runs) {
    const std::string status = run["status"];
    if (status == "ok") {
      ++ok;
    } else {
      ++other[status];
    }
  }

  Json document = {
      {"schema", kSchemaVersion},
      {"machine", machine},
      {"config", config},
      {"allocators", allocators_json(sweep)},
      {"runs", runs},
  };
  if (options.micro) document["micro"] = micro;
  const fs::path file = out / results_file_name(options.shard_index, options.shard_count);
  write_file_atomically(file, document.dump(1) + "\n");
  fs::remove(partial);
  std::string summary = fmt::format("{} ok", ok);
  for (const auto& [status, count] : other) summary += fmt::format(", {} {}", count, status);
  fmt::print(stderr, "allocbench: {} runs ({}) -> {}\n", runs.size(), summary, file.string());
  return 0;
}

int sweep_command(const std::vector<std::string>& args, const std::string& command) {
  SweepOptions options = parse_sweep_args(args, static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  options.command = command;
  return run_sweep(options);
}

}  // namespace allocbench
