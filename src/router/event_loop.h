// EventLoop: one epoll instance driven by one worker thread.
//
// Handlers register a file descriptor once (edge-triggered, read+write+hangup)
// and get OnEvents() calls on the loop thread. Other threads talk to a loop
// only through Post(), which queues a closure and wakes the loop via an
// eventfd. A periodic tick (every kTickMs) drives timeouts, and a one-shot
// alarm (WakeAt) wakes the loop sooner when a decision falls due. Between batches
// the loop may poll for events before it sleeps (SetBusyPoll, BusyPoll,
// PollTrial).
// Objects handed to Defer() are destroyed after the current batch of events,
// so a handler that closes a connection never leaves a dangling pointer in
// the same batch.
// Thread-safety: Post() and Stop() from any thread; everything else only on
// the loop thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <vector>

#include "common/status.h"
#include "router/busy_poll.h"
#include "router/poll_trial.h"

struct epoll_event;

namespace tusk::router {

/// Requests completed on this thread (ReadyForQuery forwarded to a client):
/// the throughput the loop's PollTrial compares. Loop threads only.
inline thread_local uint64_t completed_requests = 0;

/// Receives readiness events for one fd.
class IoHandler {
 public:
  virtual ~IoHandler() = default;
  /// `events` is an EPOLL* bit mask.
  virtual void OnEvents(uint32_t events) = 0;
  /// Called once at the end of the batch for handlers that asked with
  /// EventLoop::AtBatchEnd() (the handler is still alive then).
  virtual void OnBatchEnd() {}
};

class EventLoop {
 public:
  static constexpr int kTickMs = 100;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// kInternal when epoll/eventfd could not be created.
  Status Init();
  /// Registers fd (EPOLLIN|EPOLLRDHUP|EPOLLET, and EPOLLOUT when
  /// `write_interest`). kInternal on failure.
  Status Add(int fd, IoHandler* handler, bool write_interest);
  /// Adds or drops EPOLLOUT for a registered fd (EPOLL_CTL_MOD). With it on,
  /// an edge arrives at once for a writable socket (also right after Add,
  /// waking the loop), and a unix socket signals every read of its peer, so
  /// connections turn it on only while a write would block, or for TLS.
  /// false when epoll_ctl fails (the fd is not registered).
  bool SetWriteInterest(int fd, IoHandler* handler, bool on);
  /// Registers a listening socket (level-triggered EPOLLIN).
  Status AddListener(int fd, IoHandler* handler);
  /// Unregisters fd (before close()).
  void Remove(int fd);
  /// Runs until Stop(); calls `tick` every kTickMs on the loop thread, and
  /// `alarm` (when set) after a batch once the time given to WakeAt() passed.
  void Run(const std::function<void()>& tick, const std::function<void()>& alarm = {});
  /// Calls Run()'s `alarm` once NowUs() >= `at_us` (µs), or sooner when an
  /// earlier time is asked; one alarm is pending at a time (the earliest).
  /// REQUIRES: on the loop thread.
  void WakeAt(int64_t at_us) { alarm_us_ = std::min(alarm_us_, at_us); }
  /// After a batch, poll for events for up to `max_us` (µs; only while
  /// BusyPoll finds that most waits end that soon and PollTrial that it
  /// pays, and the CPU yielded between polls) before sleeping; 0 = sleep at
  /// once (the default).
  /// REQUIRES: on the loop thread, or before Run().
  void SetBusyPoll(int64_t max_us) { busy_poll_ = BusyPoll(max_us); }
  /// Queues `task` to run on the loop thread. Thread-safe.
  void Post(std::function<void()> task);
  /// Makes Run() return after the current batch. Thread-safe.
  void Stop();
  /// Destroys `object` after the current batch of events.
  void Defer(std::shared_ptr<void> object) { deferred_.push_back(std::move(object)); }
  /// Runs `fn` on the loop thread once the current batch of events (and the
  /// tick) is done: no event fetched before it can reach a handler after it.
  void AfterBatch(std::function<void()> fn) { after_batch_.push_back(std::move(fn)); }
  /// Calls h->OnBatchEnd() once the current batch of events is handled (the
  /// caller avoids asking twice per batch).
  void AtBatchEnd(IoHandler* h) { batch_end_.push_back(h); }

 private:
  void DrainTasks();
  /// epoll_wait for up to `timeout_ms`, first polling for the busy-poll
  /// window if it is open; records the wait in busy_poll_. Returns epoll_wait's count.
  int Wait(epoll_event* events, int max_events, int timeout_ms);
  int epfd_ = -1;
  int wakefd_ = -1;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::function<void()>> tasks_;  // guarded by mu_
  std::vector<std::shared_ptr<void>> deferred_;
  std::vector<std::function<void()>> after_batch_;
  std::vector<IoHandler*> batch_end_;
  BusyPoll busy_poll_{0};
  PollTrial poll_trial_;
  int64_t alarm_us_ = std::numeric_limits<int64_t>::max();  ///< WakeAt; max = none
};

}  // namespace tusk::router
