// The Linux scheduling policy of the calling thread (sched(7)): SCHED_OTHER
// or SCHED_BATCH, the two a thread may switch between without privileges.
// Thread-safety: each call affects only the calling thread.
#pragma once

#include "common/status.h"

namespace tusk::sys {

/// A thread's scheduling policy, at static priority 0.
enum class SchedPolicy {
  /// SCHED_OTHER: the thread's wake-up may preempt the task running on the
  /// CPU it wakes on.
  kNormal,
  /// SCHED_BATCH: its wake-up never preempts; it runs when the running task
  /// sleeps or uses up its time slice, or at once on an idle CPU. The thread
  /// still gets its fair share of CPU time.
  kBatch,
};

/// Sets the calling thread's policy (sched_setscheduler(0, ...), which on
/// Linux applies to the calling thread only). Errors: kInternal with the
/// errno text (EPERM when an RLIMIT_NICE or a seccomp filter forbids it).
Status SetThreadSchedPolicy(SchedPolicy policy);

}  // namespace tusk::sys
