// BusyPoll: whether a worker polls for events before it sleeps.
//
// On a virtual machine whose idle vCPUs halt at once, waking a sleeping
// thread costs the waker a VM exit and the woken thread tens of µs
// (bench/hop.cc pingpong on the Intel box of docs/benchmarks.md: 3.6 µs on
// one CPU, 60 µs across two). A worker that polls epoll for a short window
// after a batch, yielding the CPU to any runnable thread between polls, is
// found awake by the next request or response, and its peers' writes wake
// nobody. A poll that runs out costs its whole window of CPU, so the loop
// polls only while most waits would end inside the window: each wait scores
// +1 when its events came within `max_us` of the end of the batch and
// kMissCost below when they came later or not at all; the score stays in
// [kScoreMin, kScoreMax], and the loop polls for `max_us` while it is
// above 0. So polling pays when more than two waits in three end in time
// (a busy closed loop of queries); a loop whose events come a millisecond
// apart (new connections: the client's SCRAM proof) or an idle one sleeps
// at once. Whether polling pays at all on the host is PollTrial's call
// (poll_trial.h). Measured in docs/benchmarks.md ("Polling before sleeping").
// Thread-safety: none; one per event loop. Pure: the caller measures time.
#pragma once

#include <algorithm>
#include <cstdint>

namespace tusk::router {

/// The largest busy_poll_us a spec or tusk.yaml may ask for (10 ms).
inline constexpr int kMaxBusyPollUs = 10000;

class BusyPoll {
 public:
  /// What a wait whose events came later than `max_us` takes off the score
  /// (one that came in time adds 1): the break-even hit rate is 2/3.
  static constexpr int kMissCost = 2;
  /// Bounds of the score: from fully open, 4 late waits in a row stop the
  /// polling; from idle, 9 waits in time start it.
  static constexpr int kScoreMax = 8;
  static constexpr int kScoreMin = -8;

  /// `max_us`: the window (the spec's busy_poll_us), µs; 0 = never poll.
  explicit BusyPoll(int64_t max_us) : max_us_(std::max<int64_t>(max_us, 0)) {}

  /// Whether this loop polls at all (max_us > 0).
  bool enabled() const { return max_us_ > 0; }

  /// µs to poll after the current batch before a blocking wait; 0 = none.
  int64_t window_us() const { return score_ > 0 ? max_us_ : 0; }

  /// Records one wait: `waited_us` from the end of the last batch until the
  /// next events were fetched (a poll's or a blocking wait's), or more than
  /// max_us when the wait timed out without any.
  void Observe(int64_t waited_us) {
    if (max_us_ == 0) return;
    score_ = std::clamp(score_ + (waited_us <= max_us_ ? 1 : -kMissCost), kScoreMin, kScoreMax);
  }

 private:
  int64_t max_us_;
  int score_ = 0;  // a fresh loop sleeps at once
};

}  // namespace tusk::router
