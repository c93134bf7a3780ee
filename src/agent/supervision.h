// Supervision: the restart policy for one postmaster, as a pure state machine.
//
// The agent feeds it events (started, ready, exited, stop/start requests) with
// the current time and asks it what to do next. A server that dies is
// restarted after a backoff that doubles (1 s, 2 s, 4 s, ... up to 30 s);
// after `max_failures` exits within `window_ms` it gives up (kFailed) and
// reason() says why. Clock injected (ms since any epoch); not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

namespace tusk::agent {

/// Lifecycle of one supervised server.
enum class ServerState {
  kStopped,   ///< not running, not wanted (or never started)
  kStarting,  ///< process started, not yet accepting connections
  kRunning,   ///< accepting connections
  kBackoff,   ///< exited unexpectedly; waiting to restart
  kFailed,    ///< too many exits in the window; no more restarts until a start request
  kStopping,  ///< shutdown requested; waiting for the process to exit
};

/// "stopped", "starting", ...
const char* ToString(ServerState s);

/// Tunables of the restart policy (milliseconds).
struct RestartPolicy {
  int64_t initial_backoff_ms = 1000;
  int64_t max_backoff_ms = 30000;
  int max_failures = 5;
  int64_t window_ms = 120000;
};

/// What the agent should do now.
enum class Action { kNone, kStart, kStop };

class Supervision {
 public:
  explicit Supervision(RestartPolicy policy = {}) : policy_(policy) {}

  /// The operator wants it running (clears kFailed) or stopped.
  void RequestStart(int64_t now_ms);
  void RequestStop();
  /// The agent started the process / saw it accept connections.
  void OnStarted(int64_t now_ms);
  void OnReady();
  /// The process exited; `reason` is kept for status (e.g. "killed by signal 9").
  void OnExited(int64_t now_ms, const std::string& reason);
  /// Starting failed before a process existed (e.g. exec error): counts as an exit.
  void OnStartFailed(int64_t now_ms, const std::string& reason) { OnExited(now_ms, reason); }

  /// The next action at `now_ms`.
  Action Next(int64_t now_ms) const;

  ServerState state() const { return state_; }
  bool wanted() const { return wanted_; }
  int restarts() const { return restarts_; }
  const std::string& reason() const { return reason_; }
  /// When kBackoff: the time the next start is due.
  int64_t next_start_ms() const { return next_start_ms_; }

 private:
  RestartPolicy policy_;
  ServerState state_ = ServerState::kStopped;
  bool wanted_ = false;
  int restarts_ = 0;
  int64_t backoff_ms_ = 0;
  int64_t next_start_ms_ = 0;
  std::deque<int64_t> failures_;
  std::string reason_;
};

}  // namespace tusk::agent
