// Restart policy state machine for one supervised postmaster.
#include "agent/supervision.h"

#include <algorithm>

namespace tusk::agent {

const char* ToString(ServerState s) {
  switch (s) {
    case ServerState::kStopped:
      return "stopped";
    case ServerState::kStarting:
      return "starting";
    case ServerState::kRunning:
      return "running";
    case ServerState::kBackoff:
      return "backoff";
    case ServerState::kFailed:
      return "failed";
    case ServerState::kStopping:
      return "stopping";
  }
  return "unknown";
}

void Supervision::RequestStart(int64_t now_ms) {
  wanted_ = true;
  if (state_ == ServerState::kFailed || state_ == ServerState::kStopped) {
    failures_.clear();
    backoff_ms_ = 0;
    state_ = ServerState::kBackoff;
    next_start_ms_ = now_ms;
  }
}

void Supervision::RequestStop() {
  wanted_ = false;
  if (state_ == ServerState::kStarting || state_ == ServerState::kRunning) {
    state_ = ServerState::kStopping;
  } else if (state_ == ServerState::kBackoff || state_ == ServerState::kFailed) {
    state_ = ServerState::kStopped;
  }
}

void Supervision::OnStarted(int64_t) { state_ = ServerState::kStarting; }

void Supervision::OnReady() {
  if (state_ == ServerState::kStarting) {
    state_ = ServerState::kRunning;
    reason_.clear();
  }
}

void Supervision::OnExited(int64_t now_ms, const std::string& reason) {
  if (!wanted_ || state_ == ServerState::kStopping) {
    // A requested stop is not a failure. If a start was requested while it was
    // stopping, start again now rather than leaving a wanted server down.
    state_ = wanted_ ? ServerState::kBackoff : ServerState::kStopped;
    next_start_ms_ = now_ms;
    return;
  }
  reason_ = reason;
  failures_.push_back(now_ms);
  while (!failures_.empty() && failures_.front() < now_ms - policy_.window_ms) {
    failures_.pop_front();
  }
  if (failures_.size() == 1) backoff_ms_ = 0;  // first exit in the window: start over
  if (static_cast<int>(failures_.size()) >= policy_.max_failures) {
    state_ = ServerState::kFailed;
    reason_ = "gave up after " + std::to_string(failures_.size()) + " exits within " +
              std::to_string(policy_.window_ms / 1000) + " s; last: " + reason;
    return;
  }
  backoff_ms_ = backoff_ms_ == 0 ? policy_.initial_backoff_ms
                                 : std::min(backoff_ms_ * 2, policy_.max_backoff_ms);
  next_start_ms_ = now_ms + backoff_ms_;
  state_ = ServerState::kBackoff;
  ++restarts_;
}

Action Supervision::Next(int64_t now_ms) const {
  if (state_ == ServerState::kBackoff && wanted_ && now_ms >= next_start_ms_) return Action::kStart;
  if (state_ == ServerState::kStopping) return Action::kStop;
  return Action::kNone;
}

}  // namespace tusk::agent
