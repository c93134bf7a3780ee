// Unit tests for the router's pure pieces: Buffer, the Pool budget, the
// pipeline depth that follows the demand, the busy-poll window, the
// trial that decides whether polling pays and what counts against the
// concurrency limit.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <limits>
#include <thread>
#include <vector>

#include "router/buffer.h"
#include "router/busy_poll.h"
#include "router/concurrency_count.h"
#include "router/pipeline_depth.h"
#include "router/poll_trial.h"
#include "router/pool.h"

namespace tusk::router {
namespace {

TEST(BufferTest, AppendConsumeKeepsOrder) {
  Buffer b;
  b.Append("hello ");
  b.Append("world");
  EXPECT_EQ(b.view(), "hello world");
  b.Consume(6);
  EXPECT_EQ(b.view(), "world");
  b.Append("!");
  EXPECT_EQ(b.view(), "world!");
  b.Consume(6);
  EXPECT_TRUE(b.empty());
}

TEST(BufferTest, CompactsWhenMostlyConsumed) {
  Buffer b;
  std::string big(1000, 'x');
  b.Append(big);
  b.Consume(900);
  b.Append("tail");
  EXPECT_EQ(b.size(), 104u);
  EXPECT_EQ(b.view().substr(100), "tail");
}

TEST(BufferTest, ShrinkReleasesOnlyEmptyBuffers) {
  Buffer b;
  b.Append(std::string(64 * 1024, 'y'));
  b.Shrink();  // not empty: kept
  EXPECT_EQ(b.size(), 64u * 1024);
  b.Consume(b.size());
  b.Shrink();
  EXPECT_TRUE(b.empty());
  EXPECT_LE(b.back().capacity(), 15u);  // back to std::string's inline storage
}

TEST(PoolTest, BudgetNeverExceedsPoolSize) {
  Pool pool({"app", "app", false}, 3, 0);
  EXPECT_TRUE(pool.TryReserve());
  EXPECT_TRUE(pool.TryReserve());
  EXPECT_TRUE(pool.TryReserve());
  EXPECT_FALSE(pool.TryReserve());
  EXPECT_EQ(pool.servers(), 3);
  pool.Release();
  EXPECT_TRUE(pool.TryReserve());
  pool.set_pool_size(5);  // RELOAD with a larger pool
  EXPECT_TRUE(pool.TryReserve());
  EXPECT_TRUE(pool.TryReserve());
  EXPECT_FALSE(pool.TryReserve());
}

TEST(PoolTest, BudgetHoldsUnderConcurrentReservations) {
  Pool pool({"app", "app", false}, 10, 0);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (pool.TryReserve()) granted++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 10);
  EXPECT_EQ(pool.servers(), 10);
}

TEST(PoolTest, WelcomeParametersAreKeptOnce) {
  Pool pool({"app", "app", true}, 1, 1);
  EXPECT_FALSE(pool.has_welcome());
  pool.set_welcome({{"server_version", "15.4"}, {"TimeZone", "UTC"}});
  ASSERT_TRUE(pool.has_welcome());
  auto w = pool.welcome();
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[1].second, "UTC");
  EXPECT_EQ(pool.home(), 1);
  EXPECT_TRUE(pool.key().readonly);
}

TEST(PipelineDepthTest, FewRequestsKeepQueuesTwoDeep) {
  // Up to 2 x kPipelineSpread requests in flight: queues of 2 over several
  // servers, never 1 (the next query waiting in the socket is the point).
  for (int demand = 1; demand <= 2 * kPipelineSpread; ++demand) {
    EXPECT_EQ(PipelineDepthFor(8, demand), 2) << "demand " << demand;
  }
}

TEST(PipelineDepthTest, GrowsWithTheDemandUpToTheMaximum) {
  EXPECT_EQ(PipelineDepthFor(8, 2 * kPipelineSpread + 1), 3);
  EXPECT_EQ(PipelineDepthFor(8, 5 * kPipelineSpread), 5);
  EXPECT_EQ(PipelineDepthFor(8, 8 * kPipelineSpread), 8);
  EXPECT_EQ(PipelineDepthFor(8, 1000), 8);
  EXPECT_EQ(PipelineDepthFor(64, 64 * kPipelineSpread), 64);
  int last = 0;
  for (int demand = 1; demand <= 300; ++demand) {  // never shrinks as demand grows
    int d = PipelineDepthFor(64, demand);
    EXPECT_GE(d, last);
    last = d;
  }
}

TEST(PipelineDepthTest, NeverAboveAMaximumBelowTwo) {
  EXPECT_EQ(PipelineDepthFor(1, 1), 1);
  EXPECT_EQ(PipelineDepthFor(1, 500), 1);
}

// How many of `waits` left the window open, observing each in turn.
int PollingAfter(BusyPoll& p, const std::vector<int64_t>& waits) {
  int open = 0;
  for (int64_t w : waits) {
    p.Observe(w);
    if (p.window_us() > 0) ++open;
  }
  return open;
}

std::vector<int64_t> Repeat(std::vector<int64_t> pattern, int times) {
  std::vector<int64_t> out;
  for (int i = 0; i < times; ++i) out.insert(out.end(), pattern.begin(), pattern.end());
  return out;
}

constexpr int64_t kNoEvent = std::numeric_limits<int64_t>::max();  // a timed-out wait

TEST(BusyPollTest, StartsAsleepAndPollsForTheWholeMaximumOnceWaitsEndInTime) {
  BusyPoll p(200);
  EXPECT_TRUE(p.enabled());
  EXPECT_EQ(p.window_us(), 0);  // a fresh loop sleeps at once
  p.Observe(30);                // the next events came within 200 µs
  EXPECT_EQ(p.window_us(), 200);
  p.Observe(200);  // exactly the maximum is in time
  EXPECT_EQ(p.window_us(), 200);
}

TEST(BusyPollTest, PollsOnlyWhileMoreThanTwoWaitsInThreeEndInTime) {
  // Three in time, one late (a busy closed loop): stays open.
  BusyPoll busy(50);
  EXPECT_EQ(PollingAfter(busy, Repeat({10, 20, 5, 400}, 100)), 400);
  // One in time, one late (new connections: a login's quick steps between
  // the client's slow SCRAM work): never opens for long.
  BusyPoll logins(50);
  EXPECT_LE(PollingAfter(logins, Repeat({10, 900}, 200)), 1);
  // Two in time, one late: the break-even, the score does not climb
  // (0 -> 1 -> 2 -> 0 each time), so it polls after two waits in three.
  BusyPoll even(50);
  EXPECT_EQ(PollingAfter(even, Repeat({10, 10, 900}, 100)), 200);
  EXPECT_EQ(PollingAfter(even, {900}), 0);
}

TEST(BusyPollTest, AnIdleLoopStopsPollingAfterFourTimeouts) {
  BusyPoll p(50);
  PollingAfter(p, Repeat({5}, 100));  // fully open
  ASSERT_EQ(p.window_us(), 50);
  EXPECT_EQ(PollingAfter(p, {kNoEvent, kNoEvent, kNoEvent}), 3);
  p.Observe(kNoEvent);
  EXPECT_EQ(p.window_us(), 0);
  EXPECT_EQ(PollingAfter(p, Repeat({kNoEvent}, 1000)), 0);
  // A burst of traffic after the idle spell: the ninth wait in time reopens.
  EXPECT_EQ(PollingAfter(p, Repeat({3}, 8)), 0);
  p.Observe(3);
  EXPECT_EQ(p.window_us(), 50);
}

TEST(BusyPollTest, ZeroMaximumNeverPolls) {
  BusyPoll p(0);
  EXPECT_FALSE(p.enabled());
  EXPECT_EQ(PollingAfter(p, Repeat({0, 1, 10, 1000}, 10)), 0);
  BusyPoll tiny(1);  // the smallest maximum still polls
  tiny.Observe(1);
  EXPECT_EQ(tiny.window_us(), 1);
}

// A loop driven by PollTrial for `duration_us` in steps of 100 µs, each
// completing `rate(allowed, now_us)` requests per µs. Returns the share of
// the time polling was allowed.
struct TrialRun {
  PollTrial trial;
  int64_t now_us = 1'000'000;
  double work = 0;
  double Run(int64_t duration_us, const std::function<double(bool, int64_t)>& rate) {
    constexpr int64_t kStepUs = 100;
    int64_t allowed_us = 0;
    for (int64_t t = 0; t < duration_us; t += kStepUs) {
      const bool allowed = trial.polling_allowed();
      if (allowed) allowed_us += kStepUs;
      work += rate(allowed, now_us) * kStepUs;
      now_us += kStepUs;
      trial.Update(now_us, static_cast<uint64_t>(work));
    }
    return static_cast<double>(allowed_us) / duration_us;
  }
};

constexpr int64_t kTrialUs = PollTrial::kEpochUs * PollTrial::kTrialEpochs;

TEST(PollTrialTest, AllowsPollingUntilTheFirstTrialWhichSplitsItsTimeEvenly) {
  TrialRun r;
  EXPECT_TRUE(r.trial.polling_allowed());
  auto same = [](bool, int64_t) { return 1.0; };
  EXPECT_EQ(r.Run(PollTrial::kExploitUs - 1000, same), 1.0);
  EXPECT_FALSE(r.trial.in_trial());
  r.Run(2000, same);  // the trial starts
  ASSERT_TRUE(r.trial.in_trial());
  EXPECT_NEAR(r.Run(kTrialUs - 1000, same), 0.5, 0.02);
  r.Run(2000, same);
  EXPECT_FALSE(r.trial.in_trial());
  EXPECT_TRUE(r.trial.polling_allowed());  // a tie keeps polling
}

TEST(PollTrialTest, SleepsUntilTheNextTrialWhenNotPollingCompletesMore) {
  TrialRun r;
  auto sleeping_wins = [](bool allowed, int64_t) { return allowed ? 1.0 : 1.05; };
  r.Run(PollTrial::kExploitUs + kTrialUs + 1000, sleeping_wins);
  EXPECT_FALSE(r.trial.in_trial());
  EXPECT_FALSE(r.trial.polling_allowed());
  // Then polling gets faster: the next trial turns it back on.
  auto polling_wins = [](bool allowed, int64_t) { return allowed ? 1.2 : 1.0; };
  EXPECT_EQ(r.Run(PollTrial::kExploitUs - 2000, polling_wins), 0.0);
  r.Run(kTrialUs + 3000, polling_wins);
  EXPECT_FALSE(r.trial.in_trial());
  EXPECT_TRUE(r.trial.polling_allowed());
}

TEST(PollTrialTest, KeepsPollingWithinTheMarginOrOnTooFewRequests) {
  TrialRun close;  // 1 % faster without polling: within kMargin
  close.Run(PollTrial::kExploitUs + kTrialUs + 1000,
            [](bool allowed, int64_t) { return allowed ? 1.0 : 1.01; });
  EXPECT_TRUE(close.trial.polling_allowed());
  TrialRun paced;  // 3 % faster without polling, 1,000 requests each way: chance
  paced.Run(PollTrial::kExploitUs + kTrialUs + 1000,
            [](bool allowed, int64_t) { return allowed ? 0.00625 : 0.0064375; });
  EXPECT_TRUE(paced.trial.polling_allowed());
  TrialRun idle;  // 10x faster without polling, but 44 requests in the trial
  idle.Run(PollTrial::kExploitUs + kTrialUs + 1000,
           [](bool allowed, int64_t) { return allowed ? 0.000025 : 0.00025; });
  EXPECT_TRUE(idle.trial.polling_allowed());
}

TEST(PollTrialTest, ASteadyDriftInLoadDecidesNothing) {
  // The load doubles during the trial, the same with and without polling:
  // in the order ABBA BAAB each way gets as much of the rise.
  for (double slope : {1.0, -0.5}) {
    TrialRun r;
    const int64_t trial_start = r.now_us + PollTrial::kExploitUs;
    r.Run(PollTrial::kExploitUs + kTrialUs + 1000, [&](bool, int64_t now) {
      return 1.0 + slope * static_cast<double>(std::max<int64_t>(now - trial_start, 0)) / kTrialUs;
    });
    EXPECT_TRUE(r.trial.polling_allowed()) << "slope " << slope;
  }
}

// ---- ConcurrencyCount ----

TEST(ConcurrencyCountTest, CountsRunningQueriesAndShortPausesOnly) {
  const int64_t now = 10'000'000;
  ConcurrencyCount c(now);
  c.Add(now - 5'000, false, 0);    // a query running for 5 ms
  c.Add(0, true, now - 1'000);     // idle in transaction for 1 ms
  c.Add(0, false, now - 1'000);    // answered, no transaction: released
  c.Add(now - 150'000, false, 0);  // running for 150 ms: waits on something else
  c.Add(0, true, now - 130'000);   // idle in transaction for 130 ms: the client thinks
  EXPECT_EQ(c.counted(), 2);
  // The running one stops counting first: 5 ms + 95 ms.
  EXPECT_EQ(c.first_expiry_us(), now + 95'000);
}

TEST(ConcurrencyCountTest, LimitsAreExactAndNothingCountsForever) {
  const int64_t now = 10'000'000;
  ConcurrencyCount edge(now);
  edge.Add(now - ConcurrencyCount::kQueryUs, false, 0);      // exactly at the limit: not counted
  edge.Add(0, true, now - ConcurrencyCount::kIdleUs);        // likewise
  edge.Add(now - ConcurrencyCount::kQueryUs + 1, false, 0);  // 1 µs younger: counted
  EXPECT_EQ(edge.counted(), 1);
  EXPECT_EQ(edge.first_expiry_us(), now + 1);
  ConcurrencyCount none(now);
  EXPECT_EQ(none.counted(), 0);
  EXPECT_EQ(none.first_expiry_us(), std::numeric_limits<int64_t>::max());
}

}  // namespace
}  // namespace tusk::router
