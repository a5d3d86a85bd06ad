#include "harness/server_process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace allocbench {

namespace {

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (std::string& text : strings) result.push_back(text.data());
  result.push_back(nullptr);
  return result;
}

// One PING over a fresh connection; true on "+PONG".
bool answers_ping(const std::string& socket_path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
  bool pong = false;
  const timeval wait{.tv_sec = 1, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      write(fd, "PING\r\n", 6) == 6) {
    char reply[16] = {};
    const ssize_t got = read(fd, reply, sizeof(reply) - 1);
    pong = got >= 5 && std::strncmp(reply, "+PONG", 5) == 0;
  }
  close(fd);
  return pong;
}

}  // namespace

std::string ServerProcess::start(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& env, const std::string& log_path) {
  std::vector<std::string> argv_strings = argv;
  std::vector<std::string> env_strings = env;
  std::vector<char*> args = pointers(argv_strings);
  std::vector<char*> envp = pointers(env_strings);
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return fmt::format("cannot open {}: {}", log_path, std::strerror(errno));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(log);
    return fmt::format("fork: {}", std::strerror(errno));
  }
  if (pid == 0) {  // only async-signal-safe calls until exec
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the harness died before prctl
    const int null = open("/dev/null", O_RDONLY);
    dup2(null, STDIN_FILENO);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    execve(args[0], args.data(), envp.data());
    const char* message = "allocbench: exec failed\n";
    (void)!write(STDERR_FILENO, message, strlen(message));
    _exit(127);
  }
  setpgid(pid, pid);
  close(log);
  pid_ = pid;
  reaped_ = false;
  return "";
}

bool ServerProcess::poll_exit() {
  if (pid_ < 0 || reaped_) return true;
  const pid_t done = wait4(pid_, &status_, WNOHANG, &usage_);
  if (done == pid_) reaped_ = true;
  return reaped_;
}

std::string ServerProcess::wait_until_ready(const std::string& socket_path, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (poll_exit()) return fmt::format("the server {} before it answered", ending());
    if (answers_ping(socket_path)) return "";
    usleep(10000);
  }
  return fmt::format("the server did not answer PING within {} s", timeout_s);
}

void ServerProcess::stop(double grace_s) {
  if (pid_ < 0 || reaped_) return;
  kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace_s);
  while (!poll_exit() && std::chrono::steady_clock::now() < deadline) usleep(2000);
  // Whatever is left of its group (the server, or anything it started) goes now.
  kill(-pid_, SIGKILL);
  if (!reaped_) {
    while (wait4(pid_, &status_, 0, &usage_) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  // SIGKILL is delivered at once but a process takes a moment to exit, and the ones the server
  // started are not ours to wait for: wait (a bounded time) until the group is gone, so the
  // caller finds no process of the run left.
  const auto gone_by = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (kill(-pid_, 0) == 0 && std::chrono::steady_clock::now() < gone_by) usleep(1000);
}

std::string ServerProcess::ending() const {
  if (!reaped_) return "is still running";
  if (WIFSIGNALED(status_)) {
    const char* name = sigabbrev_np(WTERMSIG(status_));
    return fmt::format("was killed by signal {} (SIG{})", WTERMSIG(status_), name ? name : "?");
  }
  return fmt::format("exited with status {}", WEXITSTATUS(status_));
}

}  // namespace allocbench
