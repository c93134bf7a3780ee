// Batch clock: one steady-clock read per event batch on loop threads.
#include "router/batch_clock.h"

#include <chrono>

namespace tusk::router {
namespace {

thread_local int64_t batch_us = 0;  // 0: not a loop thread

}  // namespace

int64_t ReadClockUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t NowUs() { return batch_us != 0 ? batch_us : ReadClockUs(); }

int64_t NowMs() { return NowUs() / 1000; }

void SetBatchTime() { batch_us = ReadClockUs(); }

}  // namespace tusk::router
