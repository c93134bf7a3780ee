// fork/exec helpers: capture output, spawn supervised or detached children.
#include "sys/process.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace tusk::sys {
namespace {

// Runs in the child after fork: set up the environment and exec. Only
// async-signal-safe-ish calls; reports errno through `err_fd` on failure.
[[noreturn]] void ExecChild(const std::vector<std::string>& argv, const SpawnOptions& o,
                            int err_fd) {
  auto fail = [&](int stage) {
    int payload[2] = {stage, errno};
    (void)!::write(err_fd, payload, sizeof payload);
    ::_exit(127);
  };
  if (o.new_session) ::setsid();
  // Children start with default signal handling and an empty mask.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s : {SIGHUP, SIGINT, SIGTERM, SIGCHLD, SIGPIPE}) ::signal(s, SIG_DFL);
  if (o.run_as) {
    if (::setgroups(0, nullptr) != 0 && errno != EPERM) fail(1);
    if (::setgid(o.run_as->gid) != 0) fail(1);
    if (::setuid(o.run_as->uid) != 0) fail(1);
    ::setenv("HOME", o.run_as->home.c_str(), 1);
    ::setenv("USER", o.run_as->name.c_str(), 1);
    ::setenv("LOGNAME", o.run_as->name.c_str(), 1);
  }
  for (const auto& [k, v] : o.env) ::setenv(k.c_str(), v.c_str(), 1);
  if (!o.cwd.empty() && ::chdir(o.cwd.c_str()) != 0) fail(2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  fail(3);
  ::_exit(127);
}

std::string StageMessage(const std::string& cmd, int stage, int err) {
  const char* what = stage == 1 ? "switch user" : stage == 2 ? "change directory" : "exec";
  return "cannot start " + cmd + ": " + what + ": " + std::strerror(err);
}

// Waits for the exec-status pipe: EOF means exec succeeded.
Status AwaitExec(int err_read, const std::string& cmd) {
  int payload[2];
  ssize_t n;
  do {
    n = ::read(err_read, payload, sizeof payload);
  } while (n < 0 && errno == EINTR);
  ::close(err_read);
  if (n == static_cast<ssize_t>(sizeof payload)) {
    return Internal(StageMessage(cmd, payload[0], payload[1]));
  }
  return Status::Ok();
}

}  // namespace

Result<pid_t> Spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty()) return InvalidArgument("empty command");
  int errp[2];
  if (::pipe2(errp, O_CLOEXEC) != 0) return Internal(std::string("pipe: ") + std::strerror(errno));
  int out_fd = -1;
  if (!options.output_path.empty()) {
    out_fd = ::open(options.output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (out_fd < 0) {
      ::close(errp[0]);
      ::close(errp[1]);
      return Internal("cannot open " + options.output_path + ": " + std::strerror(errno));
    }
    if (options.run_as) (void)!::fchown(out_fd, options.run_as->uid, options.run_as->gid);
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    if (out_fd >= 0) ::close(out_fd);
    ::close(errp[0]);
    ::close(errp[1]);
    return Internal(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::close(errp[0]);
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 0);
    int target = out_fd >= 0 ? out_fd : devnull;
    ::dup2(target, 1);
    ::dup2(target, 2);
    ExecChild(argv, options, errp[1]);
  }
  ::close(errp[1]);
  if (out_fd >= 0) ::close(out_fd);
  Status st = AwaitExec(errp[0], argv[0]);
  if (!st.ok()) {
    int ws;
    ::waitpid(pid, &ws, 0);
    return st;
  }
  return pid;
}

Result<CommandResult> RunCommand(const std::vector<std::string>& argv, const SpawnOptions& options,
                                 const std::string& input) {
  if (argv.empty()) return InvalidArgument("empty command");
  int errp[2], outp[2], inp[2];
  if (::pipe2(errp, O_CLOEXEC) != 0 || ::pipe2(outp, O_CLOEXEC) != 0 ||
      ::pipe2(inp, O_CLOEXEC) != 0) {
    return Internal(std::string("pipe: ") + std::strerror(errno));
  }
  pid_t pid = ::fork();
  if (pid < 0) return Internal(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(inp[0], 0);
    ::dup2(outp[1], 1);
    ::dup2(outp[1], 2);
    ExecChild(argv, options, errp[1]);
  }
  ::close(errp[1]);
  ::close(outp[1]);
  ::close(inp[0]);
  Status st = AwaitExec(errp[0], argv[0]);
  // Feed stdin and drain stdout together so neither side blocks.
  size_t written = 0;
  int in_fd = inp[1];
  if (input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  }
  std::string output;
  char buf[8192];
  ::signal(SIGPIPE, SIG_IGN);
  while (true) {
    pollfd fds[2] = {{outp[0], POLLIN, 0}, {in_fd, POLLOUT, 0}};
    int nfds = in_fd >= 0 ? 2 : 1;
    if (::poll(fds, nfds, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (in_fd >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = ::write(in_fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 || written == input.size()) {
        ::close(in_fd);
        in_fd = -1;
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(outp[0], buf, sizeof buf);
      if (n > 0) {
        output.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
  }
  if (in_fd >= 0) ::close(in_fd);
  ::close(outp[0]);
  int ws = 0;
  while (::waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
  }
  if (!st.ok()) return st;
  CommandResult r;
  r.output = std::move(output);
  r.exit_code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  return r;
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

std::string SelfExecutable() {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).string();
}

}  // namespace tusk::sys
