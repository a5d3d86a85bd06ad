#include "harness/check_command.h"

#include <fmt/format.h>
#include <string.h>

#include <algorithm>
#include <chrono>

#include "harness/check_battery.h"
#include "harness/child_process.h"
#include "harness/cli_args.h"

namespace allocbench {

namespace {

std::string first_line(const std::string& text) {
  const size_t end = text.find('\n');
  return text.substr(0, end);
}

std::string stderr_suffix(const ChildResult& child) {
  const std::string tail = tail_lines(child.err, 2);
  return tail.empty() ? "" : "; stderr: " + tail;
}

CheckOutcome judge(const std::string& name, const ChildResult& child, double timeout_s) {
  CheckOutcome outcome{.name = name, .passed = false, .message = ""};
  if (!child.spawn_error.empty()) {
    outcome.message = child.spawn_error;
  } else if (child.timed_out) {
    outcome.message = fmt::format("no answer within {} s (it hangs); killed", timeout_s);
  } else if (child.signal != 0) {
    const char* signal_name = sigabbrev_np(child.signal);
    outcome.message = fmt::format("crashed: killed by signal {} (SIG{}){}", child.signal,
                                  signal_name ? signal_name : "?", stderr_suffix(child));
  } else if (child.exit_status == kCheckFailedExitStatus && !child.out.empty()) {
    outcome.message = first_line(child.out);
  } else if (child.exit_status != 0) {
    outcome.message =
        fmt::format("the check exited with status {}{}", child.exit_status, stderr_suffix(child));
  } else {
    outcome.passed = true;
    outcome.message = first_line(child.out);  // notes that do not fail the check, if any
  }
  return outcome;
}

}  // namespace

bool GateReport::passed() const {
  for (const CheckOutcome& check : checks) {
    if (!check.passed) return false;
  }
  return true;
}

GateReport run_gate(const AllocatorInfo& allocator, const CheckOptions& options,
                    const std::function<void(const CheckOutcome&)>& on_each) {
  GateReport report;
  report.seed = options.seed;
  const auto began = std::chrono::steady_clock::now();
  for (const CheckSpec& check : check_battery()) {
    if (!options.only.empty() &&
        std::find(options.only.begin(), options.only.end(), check.name) == options.only.end()) {
      continue;
    }
    ChildSpec spec;
    spec.argv = {executable_path(), "check-child", check.name, "--seed",
                 std::to_string(options.seed)};
    spec.env = environment_with_preload(allocator.path.value_or(""));
    spec.timeout_s = options.timeout_s;
    spec.with_counters = false;
    report.checks.push_back(judge(check.name, run_child(spec), options.timeout_s));
    if (on_each) on_each(report.checks.back());
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  return report;
}

Json gate_json(const GateReport& report) {
  Json checks = Json::array();
  for (const CheckOutcome& check : report.checks) {
    checks.push_back({{"name", check.name}, {"passed", check.passed}, {"message", check.message}});
  }
  return Json{{"passed", report.passed()},
              {"seed", report.seed},
              {"seconds", report.seconds},
              {"checks", checks}};
}

int check_command(const std::vector<std::string>& args) {
  CheckOptions options;
  std::vector<std::string> specs;
  ArgList list(args);
  while (!list.done()) {
    if (!list.peek_is_flag()) {
      specs.push_back(list.next_positional("allocator"));
      continue;
    }
    const std::string flag = list.next_flag();
    if (flag == "seed") {
      options.seed = static_cast<uint64_t>(parse_integer(flag, list.value(flag), 0, INT64_MAX));
    } else if (flag == "timeout") {
      options.timeout_s = parse_number(flag, list.value(flag), 0.1, 1e6);
    } else if (flag == "only") {
      options.only = split_list(flag, list.value(flag));
      for (const std::string& name : options.only) {
        if (find_check(name) == nullptr) {
          std::string known;
          for (const CheckSpec& check : check_battery()) {
            known += (known.empty() ? "" : ", ") + check.name;
          }
          throw UsageError(fmt::format("--only: unknown check '{}' (known: {})", name, known));
        }
      }
    } else {
      throw UsageError(fmt::format("unknown flag --{} (see `allocbench check --help`)", flag));
    }
  }
  if (specs.empty())
    throw UsageError("give at least one allocator (see `allocbench check --help`)");
  std::vector<AllocatorInfo> allocators;
  for (const std::string& spec : specs) {
    AllocatorInfo allocator = resolve_allocator(spec);
    if (!allocator.found) {
      throw UsageError(fmt::format("{}: {}", allocator.name, allocator.note.value_or("not found")));
    }
    allocators.push_back(std::move(allocator));
  }

  bool all_passed = true;
  for (const AllocatorInfo& allocator : allocators) {
    fmt::print("allocbench check: {} ({}), seed {}\n", allocator.name,
               allocator.path.value_or("no LD_PRELOAD"), options.seed);
    std::fflush(stdout);
    const GateReport report = run_gate(allocator, options, [](const CheckOutcome& check) {
      if (check.passed) {
        fmt::print("PASS {}{}\n", check.name,
                   check.message.empty() ? "" : " (note: " + check.message + ")");
      } else {
        fmt::print("FAIL {}: {}\n", check.name, check.message);
      }
      std::fflush(stdout);
    });
    size_t passed = 0;
    for (const CheckOutcome& check : report.checks) passed += check.passed ? 1 : 0;
    fmt::print("{}: {} of {} checks passed in {:.1f} s\n", allocator.name, passed,
               report.checks.size(), report.seconds);
    all_passed = all_passed && report.passed();
  }
  return all_passed ? 0 : 1;
}

}  // namespace allocbench
