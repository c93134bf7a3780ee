// SetThreadSchedPolicy: sched_setscheduler on the calling thread.
#include "sys/sched_policy.h"

#include <sched.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace tusk::sys {

Status SetThreadSchedPolicy(SchedPolicy policy) {
  sched_param param{};
  param.sched_priority = 0;
  int native = policy == SchedPolicy::kBatch ? SCHED_BATCH : SCHED_OTHER;
  if (sched_setscheduler(0, native, &param) != 0) {
    return Internal(std::string("sched_setscheduler(") +
                    (policy == SchedPolicy::kBatch ? "SCHED_BATCH" : "SCHED_OTHER") +
                    "): " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace tusk::sys
