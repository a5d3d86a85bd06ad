#include "harness/program_workloads.h"

#include <fmt/format.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness/allocators.h"
#include "harness/child_process.h"
#include "harness/cli_args.h"
#include "harness/programs/inputs.h"
#include "harness/server_process.h"

namespace allocbench {

namespace fs = std::filesystem;

namespace {

ParamSpec scale(double default_value, const std::string& help) {
  return {"scale", default_value, 1, 1e6, true, help + " (our choice: about a second on glibc)"};
}

}  // namespace

// The table. Adding a program is one entry here and one generator in programs/.
const std::vector<ProgramWorkload>& program_workloads() {
  static const std::vector<ProgramWorkload> table = {
      {.name = "redis",
       .summary = "redis-server under the allocator, driven by redis-benchmark over a Unix "
                  "socket (-P 16, SET/GET/LPUSH/LRANGE_100); server I/O threads = threads",
       .scale = scale(5, "requests per benchmark test: 5000 x scale"),
       .input_name = "",
       .generate = nullptr,
       .command = {"/usr/bin/redis-server",
                   "redis-server",
                   {"--unixsocket", "{socket}", "--unixsocketperm", "700", "--port", "0", "--save",
                    "", "--appendonly", "no", "--io-threads", "{threads}", "--io-threads-do-reads",
                    "yes", "--dir", "{dir}", "--daemonize", "no"}},
       .output_file = "",
       .metric = "requests_per_s",
       .higher_is_better = true,
       .threaded = true,
       .own_allocator = true,
       .server = true,
       .client = {"/usr/bin/redis-benchmark",
                  "redis-tools",
                  {"-s", "{socket}", "-n", "{requests}", "-r", "1000000", "-P", "16", "-q", "-t",
                   "set,get,lpush,lrange_100"}},
       .check = {"/usr/bin/redis-cli", "redis-tools", {"-s", "{socket}"}},
       .check_input = programs::redis_check_commands},
      {.name = "sqlite",
       .summary = "sqlite3 on a generated SQL script (inserts, indexes, joins, updates, "
                  "deletes) in an in-memory database",
       .scale = scale(40, "1000 x scale orders, 100 x scale customers"),
       .input_name = "script.sql",
       .generate = programs::sqlite_script,
       .command = {"/usr/bin/sqlite3", "sqlite3", {"-batch", ":memory:", ".read {input}"}},
       .output_file = "",
       .metric = "seconds",
       .higher_is_better = false,
       .threaded = false},
      {.name = "ghostscript",
       .summary = "gs renders a generated PostScript document (text and curves) to 60 dpi "
                  "grey pages",
       .scale = scale(20, "pages"),
       .input_name = "document.ps",
       .generate = programs::postscript_document,
       .command = {"/usr/bin/gs",
                   "ghostscript",
                   {"-q", "-dBATCH", "-dNOPAUSE", "-dSAFER", "-sDEVICE=pgmraw", "-r60",
                    "-sOutputFile={dir}/pages.pgm", "{input}"}},
       .output_file = "pages.pgm",
       .metric = "seconds",
       .higher_is_better = false,
       .threaded = false},
      {.name = "lua",
       .summary = "lua5.4 on a generated script: binary trees, string building, tables",
       .scale = scale(2, "rounds"),
       .input_name = "script.lua",
       .generate = programs::lua_script,
       .command = {"/usr/bin/lua5.4", "lua5.4", {"{input}"}},
       .output_file = "",
       .metric = "seconds",
       .higher_is_better = false,
       .threaded = false},
      {.name = "python",
       .summary = "CPython on a generated script: dicts, strings, json, regex, split over "
                  "`threads` threads",
       .scale = scale(15, "4000 x scale records"),
       .input_name = "script.py",
       .generate = programs::python_script,
       .command = {"/usr/bin/python3", "python3", {"-I", "{input}", "{threads}"}},
       .output_file = "",
       .metric = "seconds",
       .higher_is_better = false,
       .threaded = true},
      {.name = "g++",
       .summary = "g++ -O2 -c on a generated translation unit (templates over the STL, many "
                  "functions)",
       .scale = scale(4, "classes and functions"),
       .input_name = "unit.cc",
       .generate = programs::cxx_translation_unit,
       .command = {"/usr/bin/g++",
                   "g++",
                   {"-std=c++17", "-O2", "-c", "-frandom-seed=allocbench", "-o", "{dir}/unit.o",
                    "{input}"}},
       .output_file = "unit.o",
       .metric = "seconds",
       .higher_is_better = false,
       .threaded = false},
      {.name = "z3",
       .summary = "z3 on generated SMT-LIB scheduling queries (QF_LIA); smt.threads = threads",
       .scale = scale(300, "queries"),
       .input_name = "queries.smt2",
       .generate = programs::smtlib_script,
       .command = {"/usr/bin/z3", "z3", {"-smt2", "smt.threads={threads}", "{input}"}},
       .output_file = "",
       .metric = "seconds",
       .higher_is_better = false,
       .threaded = true},
      {.name = "ruby",
       .summary = "ruby on a generated allocation stress script (objects, strings, arrays, "
                  "hashes through the GC)",
       .scale = scale(3, "rounds of 20 x 2000 objects"),
       .input_name = "stress.rb",
       .generate = programs::ruby_script,
       .command = {"/usr/bin/ruby", "ruby", {"--disable-gems", "{input}"}},
       .output_file = "",
       .metric = "seconds",
       .higher_is_better = false,
       .threaded = false},
  };
  return table;
}

const ProgramWorkload* find_program(const std::string& name) {
  for (const ProgramWorkload& program : program_workloads()) {
    if (program.name == name) return &program;
  }
  return nullptr;
}

std::string program_names() {
  std::string names;
  for (const ProgramWorkload& program : program_workloads()) {
    names += (names.empty() ? "" : ", ") + program.name;
  }
  return names;
}

const Workload& program_as_workload(const ProgramWorkload& program) {
  static const std::vector<Workload> mirrors = [] {
    std::vector<Workload> list;
    for (const ProgramWorkload& entry : program_workloads()) {
      list.push_back({.name = entry.name,
                      .summary = entry.summary,
                      .params = {entry.scale},
                      .slots_per_thread = 0,
                      .run = nullptr,
                      .check = nullptr});
    }
    return list;
  }();
  return mirrors.at(static_cast<size_t>(&program - program_workloads().data()));
}

int program_input_command(const std::vector<std::string>& args) {
  ArgList list(args);
  const std::string name = list.next_positional("program");
  const ProgramWorkload* program = find_program(name);
  if (program == nullptr) {
    throw UsageError(fmt::format("unknown program '{}' ({})", name, program_names()));
  }
  std::map<std::string, std::string> given;
  while (!list.done()) {
    const std::string flag = list.next_flag();
    given[flag] = list.value(flag);
  }
  const Params params = resolve_params(program_as_workload(*program), given);
  const auto scale = static_cast<int64_t>(params.get_uint("scale"));
  const std::string text =
      program->generate != nullptr ? program->generate(scale) : program->check_input(scale);
  fmt::print("{}", text);
  return 0;
}

std::string digest_of(const std::string& text) {
  uint64_t hash = 14695981039346656037ULL;
  for (const unsigned char byte : text) {
    hash ^= byte;
    hash *= 1099511628211ULL;
  }
  return fmt::format("{:016x}", hash);
}

double redis_requests_per_s(const std::string& output) {
  double inverse_sum = 0;
  int tests = 0;
  std::string text = output;  // progress lines end in '\r', results in '\n'
  std::replace(text.begin(), text.end(), '\r', '\n');
  std::string line;
  std::istringstream stream(text);
  while (std::getline(stream, line)) {
    const size_t rate = line.find(" requests per second");
    const size_t colon = line.find(": ");
    if (rate == std::string::npos || colon == std::string::npos || colon > rate) continue;
    const double value = std::strtod(line.c_str() + colon + 2, nullptr);
    if (!(value > 0)) continue;
    inverse_sum += 1 / value;
    ++tests;
  }
  return tests == 0 ? -1 : tests / inverse_sum;
}

namespace {

// A folder of its own for one run's input and output, removed afterwards.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name) {
    const char* base = getenv("TMPDIR");
    std::string pattern =
        fmt::format("{}/allocbench-{}-XXXXXX", base != nullptr && *base ? base : "/tmp", name);
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Placeholders {
  std::string dir, input, threads, socket, requests;
};

std::string substitute(std::string text, const Placeholders& values) {
  const std::pair<const char*, const std::string*> names[] = {{"{dir}", &values.dir},
                                                              {"{input}", &values.input},
                                                              {"{threads}", &values.threads},
                                                              {"{socket}", &values.socket},
                                                              {"{requests}", &values.requests}};
  for (const auto& [name, value] : names) {
    for (size_t at = text.find(name); at != std::string::npos;
         at = text.find(name, at + value->size())) {
      text.replace(at, std::strlen(name), *value);
    }
  }
  return text;
}

std::vector<std::string> argv_of(const std::string& binary, const ProgramCommand& command,
                                 const Placeholders& values) {
  std::vector<std::string> argv = {binary};
  for (const std::string& arg : command.args) argv.push_back(substitute(arg, values));
  return argv;
}

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  if (!file) throw std::runtime_error("cannot write " + path);
}

std::string missing(const std::string& binary, const std::string& package) {
  return fmt::format(
      "{} not found: install the Debian package {} (make deps, or apt-get install "
      "{})",
      binary, package, package);
}

// Why a child's run is not "ok" (status set), or "" when it is.
std::string child_failure(const ChildResult& child, double timeout_s, const std::string& what,
                          std::string& status) {
  const std::string stderr_tail = tail_lines(child.err, 5);
  const std::string suffix = stderr_tail.empty() ? "" : "; stderr: " + stderr_tail;
  status = child.timed_out ? "timeout" : "failed";
  if (!child.spawn_error.empty()) return what + ": " + child.spawn_error;
  if (child.timed_out) {
    return fmt::format("{}: no result within the {} s timeout; killed{}", what, timeout_s, suffix);
  }
  if (child.signal != 0) {
    const char* name = sigabbrev_np(child.signal);
    return fmt::format("{}: killed by signal {} (SIG{}){}", what, child.signal, name ? name : "?",
                       suffix);
  }
  if (child.exit_status != 0) {
    return fmt::format("{}: exited with status {}{}", what, child.exit_status, suffix);
  }
  status = "ok";
  return "";
}

// glibc's malloc as a library to preload (see own_allocator), next to libhalloc.so.
std::string glibc_malloc_library() {
  const std::string path = executable_directory() + "/../lib/liballocbench-glibc-malloc.so";
  if (access(path.c_str(), R_OK) != 0) {
    throw std::runtime_error(path + " is missing: build the allocbench-glibc-malloc target");
  }
  return fs::weakly_canonical(path).string();
}

double seconds_of(const timeval& time) {
  return static_cast<double>(time.tv_sec) + static_cast<double>(time.tv_usec) * 1e-6;
}

}  // namespace

std::string ProgramRunner::binary_of(const ProgramWorkload& program) const {
  const auto given = options_.binaries.find(program.name);
  return given != options_.binaries.end() ? given->second : program.command.binary;
}

ProgramRunner::Outcome ProgramRunner::run_once(const ProgramWorkload& program,
                                               const std::string& preload, int threads,
                                               int64_t scale, Json& record) {
  Outcome outcome;
  const std::string binary = binary_of(program);
  for (const auto& [path, package] : {std::pair{binary, program.command.package},
                                      {program.client.binary, program.client.package},
                                      {program.check.binary, program.check.package}}) {
    if (!path.empty() && access(path.c_str(), X_OK) != 0) {
      outcome.status = "skipped";
      outcome.error = missing(path, package);
      return outcome;
    }
  }
  const std::string allocator =
      preload.empty() && program.own_allocator ? glibc_malloc_library() : preload;
  if (allocator.empty() != preload.empty()) {
    record["allocator_library"] = allocator;
  }
  const ScratchDir dir(program.name == "g++" ? "gxx" : program.name);
  Placeholders values{.dir = dir.path(),
                      .input = dir.path() + "/" + program.input_name,
                      .threads = std::to_string(threads),
                      .socket = dir.path() + "/server.sock",
                      .requests = std::to_string(5000 * scale)};
  if (program.generate != nullptr) write_file(values.input, program.generate(scale));
  const double timeout_s = options_.timeout_s;

  if (!program.server) {
    ChildSpec spec{.argv = argv_of(binary, program.command, values),
                   .env = environment_with_preload(allocator),
                   .timeout_s = timeout_s,
                   .with_counters = true};
    const ChildResult child = run_child(spec);
    record["exit_status"] = child.exit_status >= 0 ? Json(child.exit_status) : Json(nullptr);
    record["signal"] = child.signal != 0 ? Json(child.signal) : Json(nullptr);
    if (child.max_rss_bytes > 0) record["peak_rss_bytes"] = child.max_rss_bytes;
    record["user_seconds"] = child.user_seconds;
    record["sys_seconds"] = child.sys_seconds;
    record["page_faults"] = child.page_faults;
    if (!child.counters.empty()) {
      record["counters"] = child.counters;
      record["counters_unavailable"] = child.counters_unavailable;
    }
    outcome.error = child_failure(child, timeout_s, program.command.binary, outcome.status);
    if (outcome.status != "ok") return outcome;
    record["seconds"] = child.wall_s;
    record["metric"]["value"] = child.wall_s;
    std::string output = child.out;
    if (!program.output_file.empty()) {
      output += '\0' + read_file(dir.path() + "/" + program.output_file);
    }
    outcome.digest = digest_of(output);
    return outcome;
  }

  // A server: started here with the allocator, driven by the client, checked, always stopped.
  const auto began = std::chrono::steady_clock::now();
  const auto left = [&] {
    return timeout_s -
           std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  };
  ServerProcess server;
  outcome.status = "failed";
  outcome.error = server.start(argv_of(binary, program.command, values),
                               environment_with_preload(allocator), dir.path() + "/server.log");
  if (outcome.error.empty()) {
    outcome.error = server.wait_until_ready(values.socket, std::min(left(), 30.0));
  }
  ChildResult client;
  ChildResult check;
  if (outcome.error.empty()) {
    const std::vector<std::string> plain = environment_with_preload("");
    client = run_child({.argv = argv_of(program.client.binary, program.client, values),
                        .env = plain,
                        .timeout_s = std::max(left(), 0.1),
                        .with_counters = false});
    outcome.error = child_failure(client, timeout_s, program.client.binary, outcome.status);
    if (outcome.status == "ok") {
      write_file(dir.path() + "/check.txt", program.check_input(scale));
      check = run_child({.argv = argv_of(program.check.binary, program.check, values),
                         .env = plain,
                         .timeout_s = std::max(left(), 0.1),
                         .with_counters = false,
                         .stdin_path = dir.path() + "/check.txt"});
      outcome.error = child_failure(check, timeout_s, program.check.binary, outcome.status);
    }
  } else if (left() <= 0) {
    outcome.status = "timeout";
  }
  const bool died = server.exited();
  server.stop(5.0);
  const rusage& usage = server.usage();
  record["peak_rss_bytes"] = static_cast<int64_t>(usage.ru_maxrss) * 1024;
  record["user_seconds"] = seconds_of(usage.ru_utime);
  record["sys_seconds"] = seconds_of(usage.ru_stime);
  record["page_faults"] = static_cast<int64_t>(usage.ru_minflt + usage.ru_majflt);
  if (outcome.status == "ok" && died) {
    outcome.status = "failed";
    outcome.error = "the server " + server.ending() + " during the run";
  }
  if (outcome.status != "ok") {
    const std::string log = tail_lines(read_file(dir.path() + "/server.log"), 3);
    if (!log.empty()) outcome.error += "; server log: " + log;
    return outcome;
  }
  const double rate = redis_requests_per_s(client.out);
  if (rate <= 0) {
    outcome.status = "failed";
    outcome.error = "no requests per second in the client's output: " + tail_lines(client.out, 2);
    return outcome;
  }
  record["seconds"] = client.wall_s;
  record["ops"] = static_cast<int64_t>(std::round(rate * client.wall_s));
  record["throughput_ops_per_s"] = rate;
  record["metric"]["value"] = rate;
  outcome.digest = digest_of(check.out);
  return outcome;
}

Json ProgramRunner::measure(const ProgramWorkload& program, const std::string& allocator,
                            const std::string& preload, int threads, int repetition,
                            int64_t scale) {
  Json record =
      make_run_record(program.name, allocator, threads, repetition, Json{{"scale", scale}},
                      program.server ? "not measured for a server" : "not measured");
  record["kind"] = "program";
  record["metric"] = {
      {"name", program.metric}, {"value", nullptr}, {"higher_is_better", program.higher_is_better}};
  record["output_digest"] = nullptr;
  record["output_matches_glibc"] = nullptr;
  record["user_seconds"] = nullptr;
  record["sys_seconds"] = nullptr;
  record["page_faults"] = nullptr;
  Outcome outcome = run_once(program, preload, threads, scale, record);
  if (outcome.status != "ok") {
    mark_unsuccessful(record, outcome.status, outcome.error);
    record["metric"]["value"] = nullptr;
    return record;
  }
  record["output_digest"] = outcome.digest;
  const std::string key = fmt::format("{} {} {}", program.name, threads, scale);
  if (reference_digests_.count(key) == 0) {
    if (preload.empty()) {
      reference_digests_[key] = outcome.digest;
    } else {
      Json scratch = record;
      const Outcome glibc = run_once(program, "", threads, scale, scratch);
      if (glibc.status == "ok") reference_digests_[key] = glibc.digest;
    }
  }
  const auto reference = reference_digests_.find(key);
  if (reference == reference_digests_.end()) return record;  // glibc failed: nothing to judge by
  record["output_matches_glibc"] = reference->second == outcome.digest;
  if (reference->second != outcome.digest) {
    mark_unsuccessful(
        record, "wrong_output",
        fmt::format("output digest {} differs from glibc's {}", outcome.digest, reference->second));
    record["metric"]["value"] = nullptr;
  }
  return record;
}

}  // namespace allocbench
