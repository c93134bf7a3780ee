// BusyPoll: how long a worker keeps polling for events before it sleeps.
//
// On a virtual machine whose idle vCPUs halt at once, waking a sleeping
// thread costs the waker a VM exit and the woken thread tens of µs
// (bench/hop.cc pingpong on the Intel box of docs/benchmarks.md: 3.6 µs on
// one CPU, 60 µs across two). A worker that polls epoll for a short window
// after a batch, yielding the CPU to any runnable thread between polls, is
// found awake by the next request or response, and its peers' writes wake
// nobody. The window adapts like the kernel's cpuidle haltpoll governor, so
// a router with sparse traffic stops polling and a busy one keeps at it:
//  - the next event came while polling: the window stays;
//  - it came after the window but within `max_us`: the window grows
//    (doubles, at least max_us / 4) up to max_us;
//  - it came later than max_us (or not at all): the window shrinks (halves;
//    below max_us / 4 it is 0).
// Measured in docs/benchmarks.md ("Polling before sleeping").
// Thread-safety: none; one per event loop. Pure: the caller measures time.
#pragma once

#include <algorithm>
#include <cstdint>

namespace tusk::router {

/// The largest busy_poll_us a spec or tusk.yaml may ask for (10 ms).
inline constexpr int kMaxBusyPollUs = 10000;

class BusyPoll {
 public:
  /// `max_us`: the longest window (the spec's busy_poll_us); 0 = never poll.
  explicit BusyPoll(int64_t max_us) : max_us_(std::max<int64_t>(max_us, 0)) {}

  /// Whether this loop polls at all (max_us > 0).
  bool enabled() const { return max_us_ > 0; }

  /// µs to poll after the current batch before a blocking wait; 0 = none.
  int64_t window_us() const { return window_us_; }

  /// Records one wait: `waited_us` from the end of the last batch until the
  /// next events were fetched (or the wait timed out without any), and
  /// whether the polling found them (`caught`).
  void Observe(int64_t waited_us, bool caught) {
    if (max_us_ == 0 || caught) return;
    const int64_t start = std::max<int64_t>(max_us_ / 4, 1);
    if (waited_us <= max_us_) {
      window_us_ = std::min(std::max(window_us_ * 2, start), max_us_);
    } else {
      window_us_ /= 2;
      if (window_us_ < start) window_us_ = 0;
    }
  }

 private:
  int64_t max_us_;
  int64_t window_us_ = 0;
};

}  // namespace tusk::router
