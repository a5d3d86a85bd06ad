#include "harness/perf_counters.h"

#include <fmt/format.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>

namespace allocbench {

namespace {

struct EventSpec {
  const char* name;
  uint32_t type;
  uint64_t config;
};

constexpr EventSpec kEvents[] = {
    {"cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES},
    {"instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS},
    {"cache_references", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_REFERENCES},
    {"cache_misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES},
    {"l1d_load_misses", PERF_TYPE_HW_CACHE,
     PERF_COUNT_HW_CACHE_L1D | (PERF_COUNT_HW_CACHE_OP_READ << 8) |
         (PERF_COUNT_HW_CACHE_RESULT_MISS << 16)},
    {"page_faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS},
    {"context_switches", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES},
    {"task_clock_ns", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK},
};

int paranoid_level() {
  std::ifstream file("/proc/sys/kernel/perf_event_paranoid");
  int level = -99;
  file >> level;
  return level;
}

std::string explain(int error, uint32_t type) {
  const char* name = strerrorname_np(error);
  std::string reason =
      fmt::format("perf_event_open: {} ({})", name != nullptr ? name : "?", std::strerror(error));
  if ((error == ENOENT || error == EOPNOTSUPP || error == ENODEV) && type != PERF_TYPE_SOFTWARE) {
    reason += "; no hardware PMU counter for it on this machine (common in VMs)";
  } else if (error == EACCES || error == EPERM) {
    reason += fmt::format("; not permitted at kernel.perf_event_paranoid={}", paranoid_level());
  } else if (error == ENOSYS) {
    reason += "; perf events are not available in this kernel or container";
  }
  return reason;
}

// Read layout for PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING.
struct Reading {
  uint64_t value;
  uint64_t time_enabled;
  uint64_t time_running;
};

}  // namespace

PerfCounters::~PerfCounters() {
  for (const Counter& counter : counters_) {
    if (counter.fd >= 0) close(counter.fd);
  }
}

namespace {

long open_event(const EventSpec& event, pid_t pid, bool exclude_kernel) {
  perf_event_attr attr{};
  attr.size = sizeof(attr);
  attr.type = event.type;
  attr.config = event.config;
  attr.disabled = 1;
  attr.enable_on_exec = 1;
  attr.inherit = 1;  // count the threads the child creates
  attr.exclude_kernel = exclude_kernel ? 1 : 0;
  attr.exclude_hv = 1;
  attr.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
  return syscall(SYS_perf_event_open, &attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

}  // namespace

void PerfCounters::open(pid_t pid) {
  for (const EventSpec& event : kEvents) {
    Counter counter{.name = event.name, .fd = -1, .reason = {}};
    // Kernel-side counting first (page faults and context switches happen in the kernel);
    // user-space only where perf_event_paranoid forbids more.
    long fd = open_event(event, pid, false);
    if (fd < 0 && (errno == EACCES || errno == EPERM)) {
      fd = open_event(event, pid, true);
      if (fd >= 0 && event.type == PERF_TYPE_SOFTWARE &&
          event.config == PERF_COUNT_SW_CONTEXT_SWITCHES) {
        // Switches are counted in kernel context, so a user-only counter reads 0: useless.
        close(static_cast<int>(fd));
        fd = -1;
        counter.reason = fmt::format(
            "context switches are counted in the kernel, and kernel.perf_event_paranoid={} "
            "allows only user-space counting (which would read 0)",
            paranoid_level());
      }
    }
    if (fd < 0 && counter.reason.empty()) {
      counter.reason = explain(errno, event.type);
    } else if (fd >= 0) {
      counter.fd = static_cast<int>(fd);
    }
    counters_.push_back(std::move(counter));
  }
}

void PerfCounters::read_into(Json& counters, Json& unavailable) const {
  unavailable = Json::object();
  for (const Counter& counter : counters_) {
    counters[counter.name] = nullptr;
    if (counter.fd < 0) {
      unavailable[counter.name] = counter.reason;
      continue;
    }
    Reading reading{};
    const ssize_t got = read(counter.fd, &reading, sizeof(reading));
    if (got != static_cast<ssize_t>(sizeof(reading))) {
      unavailable[counter.name] =
          fmt::format("read of the perf counter failed: {}", std::strerror(errno));
    } else if (reading.time_running == 0) {
      unavailable[counter.name] = "the counter never ran (no PMU slot was free)";
    } else {
      // Scale when the kernel multiplexed the counter for part of the run.
      const double scale = static_cast<double>(reading.time_enabled) / reading.time_running;
      counters[counter.name] = static_cast<uint64_t>(static_cast<double>(reading.value) * scale);
    }
  }
}

}  // namespace allocbench
