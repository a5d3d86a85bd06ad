#include "harness/sweep_resume.h"

#include <fmt/format.h>

#include <fstream>

#include "harness/cli_args.h"

namespace allocbench {

Json partial_header(const Json& machine, const Json& config, const Json& allocators) {
  return Json{{"header",
               {{"schema", kSchemaVersion},
                {"machine", machine},
                {"config", config},
                {"allocators", allocators}}}};
}

PartialSweep read_partial(const std::filesystem::path& file) {
  std::ifstream stream(file);
  if (!stream) {
    throw UsageError(
        fmt::format("--resume: no {} to resume from (it is written while a sweep "
                    "runs and removed when it finishes)",
                    file.string()));
  }
  PartialSweep partial;
  std::string line;
  if (!std::getline(stream, line))
    throw UsageError(fmt::format("--resume: {} is empty", file.string()));
  const Json first = Json::parse(line, nullptr, false);
  if (first.is_discarded() || !first.is_object() || !first.contains("header") ||
      !first["header"].contains("config")) {
    throw UsageError(fmt::format(
        "--resume: {} does not start with a header line (written by an older allocbench?)",
        file.string()));
  }
  partial.header = first["header"];
  while (std::getline(stream, line)) {
    const Json record = Json::parse(line, nullptr, false);
    if (record.is_discarded() || !record.is_object() || !record.contains("status")) {
      ++partial.unreadable_lines;  // the line being written when the sweep was stopped
      continue;
    }
    partial.runs.push_back(record);
  }
  return partial;
}

void require_same_config(const Json& recorded, const Json& now) {
  for (const auto& [key, value] : now.items()) {
    if (key == "command" || key == "resumed") continue;
    const Json before = recorded.contains(key) ? recorded[key] : Json(nullptr);
    if (before != value) {
      throw UsageError(fmt::format(
          "--resume: this command's {} is {} but the interrupted sweep's was {}; resume with "
          "the same flags (it was: {})",
          key, value.dump(), before.dump(), recorded.value("command", "?")));
    }
  }
}

std::string cell_key(const std::string& workload, const std::string& allocator, int threads,
                     int repetition) {
  return fmt::format("{}/{}/{}/{}", workload, allocator, threads, repetition);
}

std::string cell_key(const Json& record) {
  return cell_key(record.value("workload", ""), record.value("allocator", ""),
                  record.value("threads", 0), record.value("repetition", -1));
}

}  // namespace allocbench
