// SetThreadSchedPolicy: sched_setscheduler on the calling thread.
#include "sys/sched_policy.h"

#include <sched.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace tusk::sys {

Status SetThreadSchedPolicy(SchedPolicy policy) {
  const bool batch = policy == SchedPolicy::kBatch;
  sched_param param{};  // static priority 0, the only one these policies take
  if (sched_setscheduler(0, batch ? SCHED_BATCH : SCHED_OTHER, &param) != 0) {
    return Internal(std::string("sched_setscheduler(") + (batch ? "SCHED_BATCH" : "SCHED_OTHER") +
                    "): " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace tusk::sys
