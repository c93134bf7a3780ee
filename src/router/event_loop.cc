// EventLoop: epoll + eventfd wake-ups + periodic tick.
#include "router/event_loop.h"

#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <string>

#include "router/batch_clock.h"

namespace tusk::router {
namespace {

// The mask of a connection socket: edge-triggered reads and hang-ups, and
// writability when asked for (EventLoop::SetWriteInterest).
uint32_t ConnectionEvents(bool write_interest) {
  return EPOLLIN | EPOLLRDHUP | EPOLLET | (write_interest ? EPOLLOUT : 0u);
}

Status Errno(const char* what) { return Internal(std::string(what) + ": " + std::strerror(errno)); }

}  // namespace

EventLoop::EventLoop() = default;

EventLoop::~EventLoop() {
  if (wakefd_ >= 0) close(wakefd_);
  if (epfd_ >= 0) close(epfd_);
}

Status EventLoop::Init() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return Errno("epoll_create1");
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd_ < 0) return Errno("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the wake fd
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev) != 0) return Errno("epoll_ctl");
  return Status::Ok();
}

Status EventLoop::Add(int fd, IoHandler* handler, bool write_interest) {
  epoll_event ev{};
  ev.events = ConnectionEvents(write_interest);
  ev.data.ptr = handler;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return Errno("epoll_ctl add");
  return Status::Ok();
}

bool EventLoop::SetWriteInterest(int fd, IoHandler* handler, bool on) {
  epoll_event ev{};
  ev.events = ConnectionEvents(on);
  ev.data.ptr = handler;
  return epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0;
}

Status EventLoop::AddListener(int fd, IoHandler* handler) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = handler;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return Errno("epoll_ctl add");
  return Status::Ok();
}

void EventLoop::Remove(int fd) { epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

void EventLoop::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
  }
  uint64_t one = 1;
  ssize_t n = write(wakefd_, &one, sizeof one);
  (void)n;  // EAGAIN means a wake-up is already pending
}

void EventLoop::Stop() {
  stop_ = true;
  uint64_t one = 1;
  ssize_t n = write(wakefd_, &one, sizeof one);
  (void)n;
}

void EventLoop::DrainTasks() {
  uint64_t v;
  while (read(wakefd_, &v, sizeof v) > 0) {
  }
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks.swap(tasks_);
  }
  for (auto& t : tasks) t();
}

int EventLoop::Wait(epoll_event* events, int max_events, int timeout_ms) {
  const int64_t window_us =
      timeout_ms > 0 && poll_trial_.polling_allowed() ? busy_poll_.window_us() : 0;
  const int64_t start_us = busy_poll_.enabled() ? ReadClockUs() : 0;
  int n = epoll_wait(epfd_, events, max_events, window_us > 0 ? 0 : timeout_ms);
  while (window_us > 0 && n == 0 && ReadClockUs() - start_us < window_us) {
    // Any runnable thread on this CPU goes first: the poll uses idle time.
    sched_yield();
    n = epoll_wait(epfd_, events, max_events, 0);
  }
  if (window_us > 0 && n == 0) n = epoll_wait(epfd_, events, max_events, timeout_ms);
  SetBatchTime();
  if (busy_poll_.enabled()) {
    busy_poll_.Observe(n > 0 ? NowUs() - start_us : std::numeric_limits<int64_t>::max());
    poll_trial_.Update(NowUs(), completed_requests);
  }
  return n;
}

void EventLoop::Run(const std::function<void()>& tick, const std::function<void()>& alarm) {
  SetBatchTime();
  int64_t next_tick_us = NowUs() + kTickMs * 1000;
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  while (!stop_) {
    // NowUs() is the time the previous batch was fetched: the wait may run
    // up to that batch's processing time long, which a 100 ms tick absorbs.
    int64_t left_us = std::min(next_tick_us, alarm_us_) - NowUs();
    int timeout = left_us > 0 ? static_cast<int>(left_us / 1000 + 1) : 0;
    int n = Wait(events, kMaxEvents, timeout);
    for (int i = 0; i < n; ++i) {
      auto* h = static_cast<IoHandler*>(events[i].data.ptr);
      if (h == nullptr) {
        DrainTasks();
      } else {
        h->OnEvents(events[i].events);
      }
    }
    // Handlers may ask again while others run (a flush that frees a server).
    for (size_t i = 0; i < batch_end_.size(); ++i) batch_end_[i]->OnBatchEnd();
    batch_end_.clear();
    if (NowUs() >= next_tick_us) {
      tick();
      next_tick_us = NowUs() + kTickMs * 1000;
    }
    if (NowUs() >= alarm_us_) {
      alarm_us_ = std::numeric_limits<int64_t>::max();
      if (alarm) alarm();
    }
    if (!after_batch_.empty()) {
      std::vector<std::function<void()>> fns;
      fns.swap(after_batch_);
      for (auto& fn : fns) fn();
    }
    deferred_.clear();
  }
  DrainTasks();
  deferred_.clear();
}

}  // namespace tusk::router
