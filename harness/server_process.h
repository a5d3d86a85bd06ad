// A server program (redis-server) run for the length of one measurement: started in its own
// process group with its output in a log file, asked whether it answers, and always stopped and
// reaped, also when the measurement fails or the harness unwinds (the destructor kills the
// group). If the harness itself dies, the kernel kills the server (PR_SET_PDEATHSIG).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace allocbench {

class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() { stop(1.0); }

  // Starts argv[0] with `env`, stdout and stderr appended to `log_path`. "" or the error.
  std::string start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                    const std::string& log_path);
  // Waits until the server answers PING on the Unix socket, or exits, or `timeout_s` passes.
  // "" when it answers, else why not.
  std::string wait_until_ready(const std::string& socket_path, double timeout_s);
  // SIGTERM, up to `grace_s` seconds to exit, then SIGKILL to its whole group; reaps it.
  void stop(double grace_s);

  bool exited() const { return reaped_; }
  // How it ended ("exited with status 1", "killed by signal 9"), once stopped.
  std::string ending() const;
  const rusage& usage() const { return usage_; }  // valid once stopped
  pid_t pid() const { return pid_; }

 private:
  bool poll_exit();  // reaps it if it has exited; true when it is gone

  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  rusage usage_{};
};

}  // namespace allocbench
