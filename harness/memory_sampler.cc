#include "harness/memory_sampler.h"

#include <fcntl.h>
#include <unistd.h>

namespace allocbench {

namespace {

// Resident pages are the second field of statm; parsed by hand to avoid allocating.
int64_t read_rss_bytes(int statm_fd) {
  char text[128];
  const ssize_t length = pread(statm_fd, text, sizeof(text) - 1, 0);
  if (length <= 0) return -1;
  text[length] = '\0';
  const char* cursor = text;
  while (*cursor != ' ' && *cursor != '\0') ++cursor;  // skip the total size
  if (*cursor == '\0') return -1;
  ++cursor;
  int64_t pages = 0;
  for (; *cursor >= '0' && *cursor <= '9'; ++cursor) pages = pages * 10 + (*cursor - '0');
  return pages * sysconf(_SC_PAGESIZE);
}

}  // namespace

MemorySampler::MemorySampler(const WorkloadStats& stats, std::chrono::microseconds interval,
                             size_t capacity)
    : stats_(stats), interval_(interval), buffer_(capacity < 2 ? 2 : capacity) {}

MemorySampler::~MemorySampler() {
  if (thread_.joinable()) stop();
  if (statm_fd_ >= 0) close(statm_fd_);
}

int64_t MemorySampler::current_rss_bytes() {
  const int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  const int64_t rss = read_rss_bytes(fd);
  close(fd);
  return rss;
}

void MemorySampler::start() {
  statm_fd_ = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  start_ = std::chrono::steady_clock::now();
  take_sample();
  thread_ = std::thread([this] { loop(); });
}

void MemorySampler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  take_sample();
}

std::vector<MemorySample> MemorySampler::samples() const {
  return {buffer_.begin(), buffer_.begin() + static_cast<ptrdiff_t>(count_)};
}

void MemorySampler::loop() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) take_sample();
}

void MemorySampler::take_sample() {
  if (count_ == buffer_.size()) halve();
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int64_t rss = statm_fd_ >= 0 ? read_rss_bytes(statm_fd_) : -1;
  buffer_[count_++] = {t, rss, stats_.live_bytes()};
}

void MemorySampler::halve() {
  size_t kept = 0;
  for (size_t i = 0; i < count_; i += 2) buffer_[kept++] = buffer_[i];
  count_ = kept;
  interval_ *= 2;
}

}  // namespace allocbench
