// The steady clock as the router's data path reads it.
//
// A worker thread handles a batch of events per epoll_wait; reading the clock
// for every message (query start, ReadyForQuery, client activity) cost a few
// percent of the router's CPU. EventLoop therefore calls SetBatchTime() after
// each epoll_wait, and NowUs()/NowMs() on that thread return the time the
// batch was fetched (stale by at most the batch's processing time). Threads
// without a loop (main, cancel, auth query) read the clock each call.
// Thread-safety: all functions are thread-safe (the batch time is thread-local).
#pragma once

#include <cstdint>

namespace tusk::router {

/// Microseconds on the steady clock (the batch time on a loop thread).
int64_t NowUs();
/// Milliseconds on the steady clock (the batch time on a loop thread).
int64_t NowMs();
/// Loop threads: makes NowUs()/NowMs() return the current time until the next call.
void SetBatchTime();
/// Microseconds on the steady clock, read now (never the batch time).
int64_t ReadClockUs();

}  // namespace tusk::router
