#include "harness/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace allocbench {

namespace {

std::string duration_text(double seconds) {
  const long total = static_cast<long>(seconds + 0.5);
  if (total >= 3600) return fmt::format("{}h{:02}m", total / 3600, total % 3600 / 60);
  if (total >= 60) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}s", total);
}

}  // namespace

Progress::Progress(size_t total, bool enabled)
    : total_(total),
      enabled_(enabled),
      terminal_(isatty(STDERR_FILENO) != 0),
      began_(std::chrono::steady_clock::now()) {}

void Progress::advance(const std::string& label) {
  ++done_;
  if (!enabled_ || total_ == 0) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began_).count();
  const double eta = elapsed / static_cast<double>(done_) * static_cast<double>(total_ - done_);
  constexpr size_t kWidth = 30;
  const size_t filled = kWidth * done_ / total_;
  const std::string bar = std::string(filled, '#') + std::string(kWidth - filled, '.');
  const std::string line = fmt::format("[{}] {}/{} {} elapsed, ETA {}  {}", bar, done_, total_,
                                       duration_text(elapsed), duration_text(eta), label);
  if (terminal_) {
    fmt::print(stderr, "\r\033[K{}", line);
    std::fflush(stderr);
    return;
  }
  const size_t tenth = 10 * done_ / total_;
  if (tenth != last_tenth_ || done_ == 1) {
    last_tenth_ = tenth;
    fmt::print(stderr, "{}\n", line);
  }
}

void Progress::finish() {
  if (enabled_ && terminal_ && total_ > 0) fmt::print(stderr, "\n");
}

}  // namespace allocbench
