// Unit tests for the router's pure pieces: Buffer and the Pool budget.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "router/buffer.h"
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

}  // namespace
}  // namespace tusk::router
