// Restart policy state machine, driven with an explicit clock.
#include "agent/supervision.h"

#include <gtest/gtest.h>

namespace tusk::agent {
namespace {

// Starts a supervised server at `now` and brings it to kRunning.
void StartRunning(Supervision& s, int64_t now) {
  s.RequestStart(now);
  ASSERT_EQ(s.Next(now), Action::kStart);
  s.OnStarted(now);
  s.OnReady();
  ASSERT_EQ(s.state(), ServerState::kRunning);
}

// Waits out the backoff and restarts; returns the restart time.
int64_t Restart(Supervision& s) {
  int64_t due = s.next_start_ms();
  EXPECT_EQ(s.Next(due - 1), Action::kNone);
  EXPECT_EQ(s.Next(due), Action::kStart);
  s.OnStarted(due);
  s.OnReady();
  return due;
}

TEST(SupervisionTest, StartsStoppedAndIdle) {
  Supervision s;
  EXPECT_EQ(s.state(), ServerState::kStopped);
  EXPECT_FALSE(s.wanted());
  EXPECT_EQ(s.Next(0), Action::kNone);
  EXPECT_EQ(s.Next(1'000'000), Action::kNone);
}

TEST(SupervisionTest, StartRequestStartsImmediately) {
  Supervision s;
  s.RequestStart(500);
  EXPECT_TRUE(s.wanted());
  EXPECT_EQ(s.Next(500), Action::kStart);
  s.OnStarted(500);
  EXPECT_EQ(s.state(), ServerState::kStarting);
  EXPECT_EQ(s.Next(501), Action::kNone);
  s.OnReady();
  EXPECT_EQ(s.state(), ServerState::kRunning);
  EXPECT_EQ(s.restarts(), 0);
}

TEST(SupervisionTest, BackoffDoublesAndIsCapped) {
  RestartPolicy p;
  p.max_failures = 100;
  p.window_ms = 10'000'000;
  Supervision s(p);
  StartRunning(s, 0);
  int64_t now = 0;
  std::vector<int64_t> delays;
  for (int i = 0; i < 8; ++i) {
    now += 10;  // dies 10 ms after each start
    s.OnExited(now, "killed by signal 9");
    ASSERT_EQ(s.state(), ServerState::kBackoff);
    EXPECT_EQ(s.reason(), "killed by signal 9");
    delays.push_back(s.next_start_ms() - now);
    now = Restart(s);
  }
  EXPECT_EQ(delays, (std::vector<int64_t>{1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000}));
  EXPECT_EQ(s.restarts(), 8);
}

TEST(SupervisionTest, GivesUpAfterMaxFailuresInWindow) {
  Supervision s;  // 5 failures within 120 s
  StartRunning(s, 0);
  int64_t now = 0;
  for (int i = 0; i < 4; ++i) {
    s.OnExited(now += 10, "exit code 1");
    ASSERT_EQ(s.state(), ServerState::kBackoff) << i;
    now = Restart(s);
  }
  ASSERT_LT(now, 120'000);
  s.OnExited(now + 10, "exit code 1");
  EXPECT_EQ(s.state(), ServerState::kFailed);
  EXPECT_NE(s.reason().find("gave up"), std::string::npos) << s.reason();
  EXPECT_NE(s.reason().find("exit code 1"), std::string::npos) << s.reason();
  EXPECT_NE(s.reason().find("5 exits"), std::string::npos) << s.reason();
  EXPECT_EQ(s.Next(now + 1'000'000), Action::kNone);
  EXPECT_EQ(s.restarts(), 4);
}

TEST(SupervisionTest, StartRequestClearsFailed) {
  RestartPolicy p;
  p.max_failures = 2;
  Supervision s(p);
  StartRunning(s, 0);
  s.OnExited(10, "crash");
  Restart(s);
  s.OnExited(2000, "crash");
  ASSERT_EQ(s.state(), ServerState::kFailed);

  s.RequestStart(5000);
  EXPECT_EQ(s.state(), ServerState::kBackoff);
  EXPECT_EQ(s.Next(5000), Action::kStart);
  s.OnStarted(5000);
  s.OnReady();
  // The failure count and backoff start over: one exit is not fatal, 1 s wait.
  s.OnExited(5010, "crash");
  EXPECT_EQ(s.state(), ServerState::kBackoff);
  EXPECT_EQ(s.next_start_ms(), 6010);
}

TEST(SupervisionTest, StopWhileRunningThenExitIsStopped) {
  Supervision s;
  StartRunning(s, 0);
  s.RequestStop();
  EXPECT_FALSE(s.wanted());
  EXPECT_EQ(s.state(), ServerState::kStopping);
  EXPECT_EQ(s.Next(1), Action::kStop);
  s.OnExited(2, "exit code 0");
  EXPECT_EQ(s.state(), ServerState::kStopped);
  EXPECT_EQ(s.Next(3), Action::kNone);
  EXPECT_EQ(s.restarts(), 0);
}

TEST(SupervisionTest, StopWhileStarting) {
  Supervision s;
  s.RequestStart(0);
  s.OnStarted(0);
  s.RequestStop();
  EXPECT_EQ(s.state(), ServerState::kStopping);
  EXPECT_EQ(s.Next(1), Action::kStop);
  s.OnReady();  // it came up anyway: still being stopped
  EXPECT_EQ(s.state(), ServerState::kStopping);
}

TEST(SupervisionTest, StopDuringBackoffCancelsRestart) {
  Supervision s;
  StartRunning(s, 0);
  s.OnExited(10, "crash");
  ASSERT_EQ(s.state(), ServerState::kBackoff);
  s.RequestStop();
  EXPECT_EQ(s.state(), ServerState::kStopped);
  EXPECT_EQ(s.Next(s.next_start_ms() + 1'000'000), Action::kNone);
}

TEST(SupervisionTest, StopWhileFailed) {
  RestartPolicy p;
  p.max_failures = 1;
  Supervision s(p);
  StartRunning(s, 0);
  s.OnExited(10, "crash");
  ASSERT_EQ(s.state(), ServerState::kFailed);
  s.RequestStop();
  EXPECT_EQ(s.state(), ServerState::kStopped);
}

TEST(SupervisionTest, ExitWhileNotWantedIsStoppedNotFailure) {
  RestartPolicy p;
  p.max_failures = 1;
  Supervision s(p);
  // An adopted server the operator does not want, e.g. stop marker present.
  s.OnStarted(0);
  s.OnExited(10, "killed by signal 9");
  EXPECT_EQ(s.state(), ServerState::kStopped);
  EXPECT_EQ(s.Next(100'000), Action::kNone);
  EXPECT_EQ(s.restarts(), 0);
  // Not counted: a later start and crash is the first failure, not the second.
  RestartPolicy p2;
  p2.max_failures = 2;
  Supervision t(p2);
  StartRunning(t, 0);
  t.RequestStop();
  t.OnExited(5, "exit code 0");
  StartRunning(t, 10);
  t.OnExited(20, "crash");
  EXPECT_EQ(t.state(), ServerState::kBackoff);
}

TEST(SupervisionTest, StartRequestWhileStoppingRestartsAfterExit) {
  Supervision s;
  StartRunning(s, 0);
  s.RequestStop();
  ASSERT_EQ(s.state(), ServerState::kStopping);
  s.RequestStart(5);  // operator changed their mind before the server exited
  EXPECT_TRUE(s.wanted());
  s.OnExited(10, "exit code 0");
  // Still wanted: it must come back (a requested stop is not a failure).
  EXPECT_EQ(s.state(), ServerState::kBackoff);
  EXPECT_EQ(s.Next(10), Action::kStart);
  EXPECT_EQ(s.restarts(), 0);
}

TEST(SupervisionTest, BackoffResetsWhenPreviousFailureLeftWindow) {
  RestartPolicy p;
  p.window_ms = 60'000;
  Supervision s(p);
  StartRunning(s, 0);
  s.OnExited(10, "crash");  // 1 s
  int64_t now = Restart(s);
  s.OnExited(now + 10, "crash");  // 2 s
  EXPECT_EQ(s.next_start_ms() - (now + 10), 2000);
  now = Restart(s);
  s.OnExited(now + 10, "crash");  // 4 s
  EXPECT_EQ(s.next_start_ms() - (now + 10), 4000);
  now = Restart(s);
  // Runs well for longer than the window: every earlier failure drops out.
  int64_t later = now + 61'000;
  s.OnExited(later, "crash");
  EXPECT_EQ(s.state(), ServerState::kBackoff);
  EXPECT_EQ(s.next_start_ms() - later, 1000);
}

TEST(SupervisionTest, FailuresOutsideWindowDoNotCountTowardGivingUp) {
  RestartPolicy p;
  p.max_failures = 3;
  p.window_ms = 10'000;
  Supervision s(p);
  StartRunning(s, 0);
  int64_t now = 0;
  for (int i = 0; i < 10; ++i) {
    now += 11'000;  // each crash more than a window after the previous one
    s.OnExited(now, "crash");
    ASSERT_EQ(s.state(), ServerState::kBackoff) << i;
    now = Restart(s);
  }
}

TEST(SupervisionTest, StartFailedCountsAsExit) {
  RestartPolicy p;
  p.max_failures = 2;
  Supervision s(p);
  s.RequestStart(0);
  ASSERT_EQ(s.Next(0), Action::kStart);
  s.OnStartFailed(0, "exec: no such file");
  EXPECT_EQ(s.state(), ServerState::kBackoff);
  EXPECT_EQ(s.reason(), "exec: no such file");
  ASSERT_EQ(s.Next(1000), Action::kStart);
  s.OnStartFailed(1000, "exec: no such file");
  EXPECT_EQ(s.state(), ServerState::kFailed);
}

TEST(SupervisionTest, ReadyClearsReason) {
  Supervision s;
  StartRunning(s, 0);
  s.OnExited(10, "crash");
  EXPECT_EQ(s.reason(), "crash");
  Restart(s);
  EXPECT_EQ(s.reason(), "");
}

TEST(SupervisionTest, StateNames) {
  EXPECT_STREQ(ToString(ServerState::kStopped), "stopped");
  EXPECT_STREQ(ToString(ServerState::kStarting), "starting");
  EXPECT_STREQ(ToString(ServerState::kRunning), "running");
  EXPECT_STREQ(ToString(ServerState::kBackoff), "backoff");
  EXPECT_STREQ(ToString(ServerState::kFailed), "failed");
  EXPECT_STREQ(ToString(ServerState::kStopping), "stopping");
}

}  // namespace
}  // namespace tusk::agent
