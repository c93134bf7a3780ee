// SetThreadSchedPolicy against the kernel: the calling thread's policy
// changes, and only that thread's.
#include "sys/sched_policy.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <thread>

namespace tusk::sys {
namespace {

TEST(SchedPolicy, SetsTheCallingThreadOnly) {
  int main_before = sched_getscheduler(0);
  int in_thread = -1, after_normal = -1;
  std::thread t([&] {
    Status st = SetThreadSchedPolicy(SchedPolicy::kBatch);
    ASSERT_TRUE(st.ok()) << st.message();
    in_thread = sched_getscheduler(0);
    st = SetThreadSchedPolicy(SchedPolicy::kNormal);
    ASSERT_TRUE(st.ok()) << st.message();
    after_normal = sched_getscheduler(0);
  });
  t.join();
  EXPECT_EQ(in_thread, SCHED_BATCH);
  EXPECT_EQ(after_normal, SCHED_OTHER);
  EXPECT_EQ(sched_getscheduler(0), main_before);
}

}  // namespace
}  // namespace tusk::sys
