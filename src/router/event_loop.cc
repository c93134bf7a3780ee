// EventLoop: epoll + eventfd wake-ups + periodic tick.
#include "router/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

namespace tusk::router {
namespace {

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

Status EventLoop::Add(int fd, IoHandler* handler) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = handler;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return Errno("epoll_ctl add");
  return Status::Ok();
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

void EventLoop::Run(const std::function<void()>& tick) {
  using Clock = std::chrono::steady_clock;
  auto next_tick = Clock::now() + std::chrono::milliseconds(kTickMs);
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  while (!stop_) {
    auto now = Clock::now();
    int timeout = 0;
    if (now < next_tick) {
      timeout = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - now).count() + 1);
    }
    int n = epoll_wait(epfd_, events, kMaxEvents, timeout);
    for (int i = 0; i < n; ++i) {
      auto* h = static_cast<IoHandler*>(events[i].data.ptr);
      if (h == nullptr) {
        DrainTasks();
      } else {
        h->OnEvents(events[i].events);
      }
    }
    now = Clock::now();
    if (now >= next_tick) {
      tick();
      next_tick = now + std::chrono::milliseconds(kTickMs);
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
