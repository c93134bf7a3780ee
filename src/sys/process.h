// Child processes: run-and-capture, supervised spawn, detached daemons.
//
// All functions are blocking only where they say so and are safe to call from
// one thread at a time (they fork; no locks are held across fork). Errors are
// Status values; nothing throws.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace tusk::sys {

/// An OS account to run a child as (root only); uid/gid of the target user.
struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
  std::string home;
};

/// How to start a child.
struct SpawnOptions {
  std::optional<RunAs> run_as;             ///< switch user in the child (requires root)
  std::string cwd;                         ///< empty: inherit
  std::map<std::string, std::string> env;  ///< added to (or replacing in) the environment
  std::string output_path;                 ///< append stdout+stderr here; empty: /dev/null
  bool new_session = false;                ///< setsid(): detach from the terminal
};

/// A finished command: its exit status (128+signal when killed) and output.
struct CommandResult {
  int exit_code = 0;
  std::string output;  ///< stdout and stderr interleaved
};

/// Runs argv[0] (a path or a name looked up in PATH) to completion, feeding
/// `input` on stdin and capturing stdout+stderr (output_path is ignored).
/// Returns kInternal only when the process could not be started; a non-zero
/// exit is reported in CommandResult, not as an error.
Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                 const SpawnOptions& options = {}, const std::string& input = "");

/// Starts argv and returns its pid without waiting. The caller reaps it.
/// Returns kInternal when fork/exec fails (exec failure is detected through a
/// close-on-exec pipe, so a missing binary is reported here).
Result<pid_t> Spawn(const std::vector<std::string>& argv, const SpawnOptions& options);

/// True when a process with this pid exists (kill(pid, 0)).
bool ProcessAlive(pid_t pid);

/// Absolute path of the running executable (/proc/self/exe).
std::string SelfExecutable();

}  // namespace tusk::sys
