#include "harness/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "harness/perf_counters.h"

extern char** environ;

namespace allocbench {

namespace {

struct Pipe {
  int read_end = -1;
  int write_end = -1;
  bool open() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return false;
    read_end = fds[0];
    write_end = fds[1];
    return true;
  }
  void close_read() {
    if (read_end >= 0) close(read_end);
    read_end = -1;
  }
  void close_write() {
    if (write_end >= 0) close(write_end);
    write_end = -1;
  }
  ~Pipe() {
    close_read();
    close_write();
  }
};

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (std::string& text : strings) result.push_back(text.data());
  result.push_back(nullptr);
  return result;
}

// Runs in the forked child: only async-signal-safe calls until exec.
[[noreturn]] void become_child(Pipe& out, Pipe& err, Pipe& go, int in, char** argv, char** envp) {
  setpgid(0, 0);  // its own group, so a timeout kills its descendants too
  if (in >= 0) dup2(in, STDIN_FILENO);
  dup2(out.write_end, STDOUT_FILENO);
  dup2(err.write_end, STDERR_FILENO);
  char byte;
  while (read(go.read_end, &byte, 1) < 0 && errno == EINTR) {
  }
  execve(argv[0], argv, envp);
  const char* message = "allocbench: exec failed: ";
  write(STDERR_FILENO, message, strlen(message));
  const char* reason = strerror(errno);
  write(STDERR_FILENO, reason, strlen(reason));
  _exit(127);
}

}  // namespace

std::vector<std::string> environment_with_preload(const std::string& preload) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (std::strncmp(*entry, "LD_PRELOAD=", 11) != 0) env.emplace_back(*entry);
  }
  if (!preload.empty()) env.push_back("LD_PRELOAD=" + preload);
  return env;
}

std::string tail_lines(const std::string& text, int lines) {
  size_t position = text.size();
  while (position > 0 && text[position - 1] == '\n') --position;
  const size_t end = position;
  while (position > 0 && lines > 0) {
    --position;
    if (text[position] == '\n') --lines;
  }
  if (lines == 0) ++position;
  return text.substr(position, end - position);
}

ChildResult run_child(const ChildSpec& spec) {
  ChildResult result;
  std::vector<std::string> argv_strings = spec.argv;
  std::vector<std::string> env_strings = spec.env;
  std::vector<char*> argv = pointers(argv_strings);
  std::vector<char*> envp = pointers(env_strings);

  Pipe out, err, go;
  if (!out.open() || !err.open() || !go.open()) {
    result.spawn_error = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  const int in = spec.stdin_path.empty() ? -1 : open(spec.stdin_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (!spec.stdin_path.empty() && in < 0) {
    result.spawn_error = "cannot open " + spec.stdin_path + ": " + std::strerror(errno);
    return result;
  }
  const auto began = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) {
    if (in >= 0) close(in);
    result.spawn_error = std::string("fork: ") + std::strerror(errno);
    return result;
  }
  if (pid == 0) become_child(out, err, go, in, argv.data(), envp.data());
  if (in >= 0) close(in);
  setpgid(pid, pid);  // also here, so the group exists before any kill
  out.close_write();
  err.close_write();
  go.close_read();

  PerfCounters counters;
  if (spec.with_counters) counters.open(pid);
  char byte = 1;
  (void)!write(go.write_end, &byte, 1);
  go.close_write();

  const auto deadline = began + std::chrono::duration<double>(spec.timeout_s);
  pollfd fds[2] = {{out.read_end, POLLIN, 0}, {err.read_end, POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_streams = 2;
  while (open_streams > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    const int ready = poll(fds, 2, static_cast<int>(left.count()) + 1);
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[65536];
      const ssize_t got = read(fds[i].fd, buffer, sizeof(buffer));
      if (got > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open_streams;
      }
    }
  }

  int status = 0;
  rusage usage{};
  // The streams are closed; the child may still be exiting, or hang with them closed.
  while (!result.timed_out) {
    const pid_t done = wait4(pid, &status, WNOHANG, &usage);
    if (done == pid) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      break;
    }
    usleep(1000);
  }
  if (result.timed_out) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    wait4(pid, &status, 0, &usage);
  }
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  result.max_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;
  result.user_seconds = static_cast<double>(usage.ru_utime.tv_sec) + usage.ru_utime.tv_usec / 1e6;
  result.sys_seconds = static_cast<double>(usage.ru_stime.tv_sec) + usage.ru_stime.tv_usec / 1e6;
  result.page_faults = static_cast<int64_t>(usage.ru_minflt) + usage.ru_majflt;
  if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  if (spec.with_counters) counters.read_into(result.counters, result.counters_unavailable);
  return result;
}

}  // namespace allocbench
