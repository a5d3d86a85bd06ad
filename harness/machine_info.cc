#include "harness/machine_info.h"

#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>

#ifndef ALLOCBENCH_SOURCE_DIR
#define ALLOCBENCH_SOURCE_DIR "."
#endif

namespace allocbench {

namespace {

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

std::string compiler() {
#if defined(__clang__)
  return "clang++ " __clang_version__;
#elif defined(__GNUC__)
  return "g++ " __VERSION__;
#else
  return "unknown";
#endif
}

// The commit of the source tree allocbench was built from; null outside a git checkout.
Json git_commit() {
  FILE* pipe = popen("git -C '" ALLOCBENCH_SOURCE_DIR "' rev-parse HEAD 2>/dev/null", "r");
  if (pipe == nullptr) return nullptr;
  std::array<char, 128> buffer{};
  std::string output;
  if (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) output = buffer.data();
  if (pclose(pipe) != 0) return nullptr;
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  if (output.size() != 40) return nullptr;
  return output;
}

// Whether the source tree has changes not in that commit (modified or new files); null outside
// a git checkout.
Json git_dirty() {
  FILE* pipe = popen("git -C '" ALLOCBENCH_SOURCE_DIR "' status --porcelain 2>/dev/null", "r");
  if (pipe == nullptr) return nullptr;
  std::array<char, 256> buffer{};
  bool changed = false;
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) changed = true;
  if (pclose(pipe) != 0) return nullptr;
  return changed;
}

}  // namespace

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::array<char, 32> text{};
  std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text.data();
}

Json machine_info() {
  utsname names{};
  uname(&names);
  struct sysinfo memory {};
  sysinfo(&memory);
  std::array<char, 256> hostname{};
  gethostname(hostname.data(), hostname.size() - 1);
  return Json{
      {"cpu_model", cpu_model()},
      {"cores", sysconf(_SC_NPROCESSORS_ONLN)},
      {"memory_bytes", static_cast<uint64_t>(memory.totalram) * memory.mem_unit},
      {"kernel", names.release},
      {"compiler", compiler()},
      {"git_commit", git_commit()},
      {"git_dirty", git_dirty()},
      {"date", utc_timestamp()},
      {"hostname", hostname.data()},
  };
}

}  // namespace allocbench
