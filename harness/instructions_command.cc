#include "harness/instructions_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "harness/allocators.h"
#include "harness/child_process.h"
#include "harness/cli_args.h"
#include "harness/instruction_loops.h"
#include "harness/machine_info.h"
#include "harness/progress.h"

namespace allocbench {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSchema = "allocbench-instructions-1";
constexpr const char* kUnit = "instructions per malloc/free pair";

struct Options {
  std::vector<std::string> allocators;  // empty: every known allocator found here
  std::vector<const InstructionLoop*> loops;
  int repeats = 1;
  double scale = 1;
  int jobs = 0;  // 0: nproc
  double timeout_s = 600;
  std::string out_dir;
  std::string json_path;
};

// One callgrind run: an allocator, a loop, a repetition, and which of the two round counts.
struct Task {
  size_t allocator;
  size_t loop;
  int repetition;
  int which;  // 0: count1, 1: count2
  std::optional<uint64_t> ir;
  std::string error;
};

struct Measurement {
  std::vector<double> per_pair;  // one per repetition
  std::vector<std::array<uint64_t, 2>> ir;
  std::string error;  // the first failure, if any
};

std::string find_valgrind() {
  const char* path = std::getenv("PATH");
  std::istringstream directories(path == nullptr ? "" : path);
  std::string directory;
  while (std::getline(directories, directory, ':')) {
    const std::string candidate = (directory.empty() ? "." : directory) + "/valgrind";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error(
      "valgrind not found on PATH: run `make deps` (as root it installs valgrind), or "
      "`apt-get install valgrind`");
}

std::string valgrind_version(const std::string& valgrind) {
  const ChildResult result = run_child({.argv = {valgrind, "--version"},
                                        .env = environment_with_preload(""),
                                        .timeout_s = 30,
                                        .with_counters = false});
  std::string version = result.out;
  while (!version.empty() && (version.back() == '\n' || version.back() == ' ')) version.pop_back();
  if (result.exit_status != 0 || version.empty()) {
    throw std::runtime_error(
        fmt::format("{} --version failed: {}", valgrind, tail_lines(result.out + result.err, 2)));
  }
  return version;
}

uint64_t rounds_of(const InstructionLoop& loop, int which, double scale) {
  const uint64_t count = which == 0 ? loop.count1 : loop.count2;
  return std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(count * scale)));
}

Options parse_options(const std::vector<std::string>& args) {
  Options options;
  ArgList list(args);
  while (!list.done()) {
    const std::string flag = list.next_flag();
    if (flag == "allocators") {
      options.allocators = split_list(flag, list.value(flag));
    } else if (flag == "loops") {
      for (const std::string& name : split_list(flag, list.value(flag))) {
        const InstructionLoop* loop = find_instruction_loop(name);
        if (loop == nullptr) {
          std::string known;
          for (const InstructionLoop& each : instruction_loops())
            known += (known.empty() ? "" : ", ") + each.name;
          throw UsageError(fmt::format("--loops: unknown loop '{}' (known: {})", name, known));
        }
        options.loops.push_back(loop);
      }
    } else if (flag == "repeats") {
      options.repeats = static_cast<int>(parse_integer(flag, list.value(flag), 1, 100));
    } else if (flag == "scale") {
      options.scale = parse_number(flag, list.value(flag), 1e-4, 1e3);
    } else if (flag == "jobs") {
      options.jobs = static_cast<int>(parse_integer(flag, list.value(flag), 1, 1024));
    } else if (flag == "timeout") {
      options.timeout_s = parse_number(flag, list.value(flag), 1, 1e6);
    } else if (flag == "out") {
      options.out_dir = list.value(flag);
    } else if (flag == "json") {
      options.json_path = list.value(flag);
    } else {
      throw UsageError(
          fmt::format("unknown flag --{} (see `allocbench instructions --help`)", flag));
    }
  }
  if (options.loops.empty()) {
    for (const InstructionLoop& loop : instruction_loops()) options.loops.push_back(&loop);
  }
  if (options.jobs == 0)
    options.jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return options;
}

// The named allocators, or every known one found here (the others noted on stderr).
std::vector<AllocatorInfo> chosen_allocators(const Options& options) {
  if (!options.allocators.empty()) return resolve_allocators(options.allocators);
  std::vector<AllocatorInfo> allocators;
  for (const std::string& name : known_allocator_names()) {
    AllocatorInfo allocator = resolve_allocator(name);
    if (allocator.found) {
      allocators.push_back(std::move(allocator));
    } else {
      fmt::print(stderr, "allocbench instructions: {} skipped: {}\n", name,
                 allocator.note.value_or("not found"));
    }
  }
  return allocators;
}

void run_task(Task& task, const std::string& valgrind, const std::string& temp_dir,
              const AllocatorInfo& allocator, const InstructionLoop& loop, const Options& options) {
  const std::string out_file = fmt::format("{}/{}.{}.{}.{}.out", temp_dir, task.allocator,
                                           loop.name, task.repetition, task.which);
  ChildSpec spec;
  spec.argv = {valgrind,          "--tool=callgrind",
               "--quiet",         "--callgrind-out-file=" + out_file,
               executable_path(), "instructions-child",
               loop.name,         std::to_string(rounds_of(loop, task.which, options.scale))};
  spec.env = environment_with_preload(allocator.path.value_or(""));
  spec.timeout_s = options.timeout_s;
  spec.with_counters = false;
  const ChildResult child = run_child(spec);
  std::string stderr_tail = tail_lines(child.err, 3);
  if (!child.spawn_error.empty()) {
    task.error = child.spawn_error;
  } else if (child.timed_out) {
    task.error = fmt::format("no answer within {} s; killed", options.timeout_s);
  } else if (child.exit_status != 0 || child.signal != 0) {
    task.error = fmt::format("{} {} under callgrind: {}", loop.name,
                             child.signal != 0 ? fmt::format("died of signal {}", child.signal)
                                               : fmt::format("exited {}", child.exit_status),
                             stderr_tail);
  } else {
    std::ifstream in(out_file);
    std::stringstream text;
    text << in.rdbuf();
    task.ir = callgrind_total(text.str());
    if (!task.ir) task.error = "no instruction total in callgrind's output " + out_file;
  }
  std::error_code ignored;
  fs::remove(out_file, ignored);
}

// Runs every task, `jobs` at a time.
void run_tasks(std::vector<Task>& tasks, const std::string& valgrind,
               const std::vector<AllocatorInfo>& allocators, const Options& options) {
  std::string pattern = (fs::temp_directory_path() / "allocbench-callgrind-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot make a temp directory");
  const std::string temp_dir = pattern;
  std::atomic<size_t> next{0};
  std::mutex print_mutex;
  Progress progress(tasks.size(), true);
  auto worker = [&] {
    for (size_t i = next++; i < tasks.size(); i = next++) {
      Task& task = tasks[i];
      run_task(task, valgrind, temp_dir, allocators[task.allocator], *options.loops[task.loop],
               options);
      std::lock_guard lock(print_mutex);
      if (!task.error.empty()) {
        fmt::print(stderr, "allocbench instructions: {}: {}\n", allocators[task.allocator].name,
                   task.error);
      }
      progress.advance(allocators[task.allocator].name + " " + options.loops[task.loop]->name);
    }
  };
  std::vector<std::thread> workers;
  for (int j = 0; j < std::min<int>(options.jobs, static_cast<int>(tasks.size())); ++j)
    workers.emplace_back(worker);
  for (std::thread& thread : workers) thread.join();
  progress.finish();
  std::error_code ignored;
  fs::remove_all(temp_dir, ignored);
}

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// "87.0", or "87.0 ±0.5" (half the spread) when the loop was repeated.
std::string cell_text(const Measurement& measurement) {
  if (!measurement.error.empty()) return "error";
  const auto [low, high] =
      std::minmax_element(measurement.per_pair.begin(), measurement.per_pair.end());
  const std::string median = fmt::format("{:.1f}", median_of(measurement.per_pair));
  if (measurement.per_pair.size() == 1) return median;
  return fmt::format("{} ±{:.1f}", median, (*high - *low) / 2);
}

// Rows are loops, columns allocators: "loop | a | b ...", Markdown or aligned text.
std::string table(const std::vector<AllocatorInfo>& allocators, const Options& options,
                  const std::vector<std::vector<Measurement>>& measured, bool markdown) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"loop"};
  for (const AllocatorInfo& allocator : allocators) header.push_back(allocator.name);
  rows.push_back(header);
  for (size_t l = 0; l < options.loops.size(); ++l) {
    std::vector<std::string> row = {options.loops[l]->name};
    for (size_t a = 0; a < allocators.size(); ++a) {
      row.push_back(cell_text(measured[a][l]));
    }
    rows.push_back(row);
  }
  std::vector<size_t> widths(header.size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string text;
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < rows[r].size(); ++c) {
      const std::string& item = rows[r][c];
      if (markdown) {
        text += "| " + item + " ";
      } else {
        text += c == 0 ? fmt::format("{:<{}}", item, widths[c])
                       : fmt::format("  {:>{}}", item, widths[c]);
      }
    }
    text += markdown ? "|\n" : "\n";
    if (markdown && r == 0) {
      text += "|---";
      for (size_t c = 1; c < header.size(); ++c) text += "|---:";
      text += "|\n";
    }
  }
  return text;
}

Json results_json(const std::vector<AllocatorInfo>& allocators, const Options& options,
                  const std::vector<std::vector<Measurement>>& measured,
                  const std::string& valgrind_text, const std::string& command_line) {
  Json loops = Json::array();
  for (const InstructionLoop* loop : options.loops) {
    const uint64_t rounds1 = rounds_of(*loop, 0, options.scale);
    const uint64_t rounds2 = rounds_of(*loop, 1, options.scale);
    loops.push_back(
        {{"name", loop->name},
         {"summary", loop->summary},
         {"rounds", {rounds1, rounds2}},
         {"pairs", {rounds1 * loop->pairs_per_round, rounds2 * loop->pairs_per_round}}});
  }
  Json allocator_list = Json::array();
  Json results = Json::array();
  for (size_t a = 0; a < allocators.size(); ++a) {
    const AllocatorInfo& allocator = allocators[a];
    allocator_list.push_back({{"name", allocator.name},
                              {"path", allocator.path ? Json(*allocator.path) : Json(nullptr)},
                              {"version", allocator.version ? Json(*allocator.version) : nullptr},
                              {"found", allocator.found}});
    for (size_t l = 0; l < options.loops.size(); ++l) {
      const Measurement& cell = measured[a][l];
      const bool ok = cell.error.empty();
      Json ir = Json::array();
      for (const auto& pair : cell.ir) ir.push_back({pair[0], pair[1]});
      Json spread = nullptr;
      if (ok) {
        const auto [low, high] = std::minmax_element(cell.per_pair.begin(), cell.per_pair.end());
        spread = *high - *low;
      }
      results.push_back({{"allocator", allocator.name},
                         {"loop", options.loops[l]->name},
                         {"instructions_per_pair", ok ? Json(median_of(cell.per_pair)) : nullptr},
                         {"repetitions", ok ? Json(cell.per_pair) : Json::array()},
                         {"spread", spread},
                         {"ir", ir},
                         {"error", ok ? Json(nullptr) : Json(cell.error)}});
    }
  }
  return Json{{"schema", kSchema},
              {"machine", machine_info()},
              {"config",
               {{"command", command_line},
                {"unit", kUnit},
                {"valgrind", valgrind_text},
                {"scale", options.scale},
                {"repeats", options.repeats}}},
              {"loops", loops},
              {"allocators", allocator_list},
              {"results", results}};
}

void write_file(const fs::path& path, const std::string& text) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

std::optional<uint64_t> callgrind_total(const std::string& callgrind_out) {
  std::istringstream lines(callgrind_out);
  std::string line;
  std::optional<uint64_t> total;
  while (std::getline(lines, line)) {
    for (const char* key : {"summary:", "totals:"}) {
      if (line.rfind(key, 0) != 0) continue;
      std::istringstream numbers(line.substr(std::string(key).size()));
      uint64_t value = 0;
      // The first event is Ir (callgrind's default `events: Ir`).
      if (numbers >> value) total = value;
    }
  }
  return total;
}

double instructions_per_pair(uint64_t ir1, uint64_t ir2, uint64_t pairs1, uint64_t pairs2) {
  if (pairs2 <= pairs1) {
    throw std::invalid_argument(
        fmt::format("the second run must do more pairs ({} <= {})", pairs2, pairs1));
  }
  if (ir2 < ir1) {
    throw std::invalid_argument(fmt::format(
        "{} pairs took fewer instructions ({}) than {} pairs ({})", pairs2, ir2, pairs1, ir1));
  }
  return static_cast<double>(ir2 - ir1) / static_cast<double>(pairs2 - pairs1);
}

int instructions_command(const std::vector<std::string>& args) {
  const Options options = parse_options(args);
  std::vector<AllocatorInfo> allocators = chosen_allocators(options);
  if (allocators.empty()) throw UsageError("no allocator to measure");
  const std::string valgrind = find_valgrind();
  const std::string version = valgrind_version(valgrind);
  std::string command_line = "allocbench instructions";
  for (const std::string& arg : args) command_line += " " + arg;

  std::vector<std::vector<Measurement>> measured(allocators.size(),
                                                 std::vector<Measurement>(options.loops.size()));
  std::vector<Task> tasks;
  for (size_t a = 0; a < allocators.size(); ++a) {
    if (!allocators[a].found) {
      const std::string why =
          fmt::format("not found: {}", allocators[a].note.value_or("no such library"));
      fmt::print(stderr, "allocbench instructions: {}: {}\n", allocators[a].name, why);
      for (Measurement& cell : measured[a]) cell.error = why;
      continue;
    }
    for (size_t l = 0; l < options.loops.size(); ++l) {
      for (int r = 0; r < options.repeats; ++r) {
        for (int which = 0; which < 2; ++which) tasks.push_back({a, l, r, which, {}, {}});
      }
    }
  }
  fmt::print(stderr, "allocbench instructions: {} callgrind runs ({}), {} at a time\n",
             tasks.size(), version, options.jobs);
  run_tasks(tasks, valgrind, allocators, options);

  for (size_t i = 0; i < tasks.size(); i += 2) {
    const Task& first = tasks[i];
    const Task& second = tasks[i + 1];
    Measurement& cell = measured[first.allocator][first.loop];
    if (!cell.error.empty()) continue;
    if (!first.error.empty() || !second.error.empty()) {
      cell.error = first.error.empty() ? second.error : first.error;
      continue;
    }
    const InstructionLoop& loop = *options.loops[first.loop];
    const uint64_t pairs1 = rounds_of(loop, 0, options.scale) * loop.pairs_per_round;
    const uint64_t pairs2 = rounds_of(loop, 1, options.scale) * loop.pairs_per_round;
    try {
      cell.per_pair.push_back(instructions_per_pair(*first.ir, *second.ir, pairs1, pairs2));
      cell.ir.push_back({*first.ir, *second.ir});
    } catch (const std::invalid_argument& error) {
      cell.error = error.what();
    }
  }

  fmt::print(
      "Instructions per malloc/free pair (callgrind, {}; the difference between two "
      "round counts){}:\n",
      version, options.repeats > 1 ? "; median ±half the spread of the repeats" : "");
  fmt::print("{}", table(allocators, options, measured, false));
  const Json document = results_json(allocators, options, measured, version, command_line);
  if (!options.json_path.empty()) write_file(options.json_path, document.dump(2) + "\n");
  if (!options.out_dir.empty()) {
    write_file(fs::path(options.out_dir) / "instructions.json", document.dump(2) + "\n");
    const Json& machine = document["machine"];
    const std::string commit =
        machine["git_commit"].is_string()
            ? machine["git_commit"].get<std::string>().substr(0, 7) +
                  (machine["git_dirty"] == true ? " (with uncommitted changes)" : "")
            : "an unknown commit";
    std::string markdown = fmt::format(
        "Instructions per malloc/free pair, source tree at {}, {} ({}; `{}`):\n\n", commit,
        machine["date"].get<std::string>().substr(0, 10), version, command_line);
    markdown += table(allocators, options, measured, true);
    for (size_t a = 0; a < allocators.size(); ++a) {
      for (size_t l = 0; l < options.loops.size(); ++l) {
        const std::string& error = measured[a][l].error;
        if (!error.empty()) {
          markdown += fmt::format("\n- error, {} on {}: {}", allocators[a].name,
                                  options.loops[l]->name, error);
        }
      }
    }
    if (markdown.back() != '\n') markdown += "\n";
    write_file(fs::path(options.out_dir) / "instructions.md", markdown);
    fmt::print("wrote {}/instructions.json and instructions.md\n", options.out_dir);
  }
  bool failed = false;
  for (const auto& row : measured) {
    for (const Measurement& cell : row) failed = failed || !cell.error.empty();
  }
  return failed ? 1 : 0;
}

}  // namespace allocbench
