// Histogram: bucket layout and its error bound, percentile accuracy against
// an exactly sorted sample, merge, clamping, concurrent recording; Counter,
// Gauge and FormatMicros.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "metrics/counter.h"
#include "metrics/histogram.h"

namespace tusk::metrics {
namespace {

TEST(HistogramLayoutTest, SmallValuesAreExactAndBucketsTileTheRange) {
  for (uint64_t v = 0; v < 128; ++v) {
    size_t i = Histogram::BucketIndex(v);
    EXPECT_EQ(Histogram::BucketLowerBound(i), v);
    EXPECT_EQ(Histogram::BucketUpperBound(i), v);
  }
  // Consecutive buckets leave no gap and do not overlap, up to kMaxValue.
  for (size_t i = 1; i < Histogram::kNumBuckets; ++i) {
    ASSERT_EQ(Histogram::BucketLowerBound(i), Histogram::BucketUpperBound(i - 1) + 1) << i;
    ASSERT_EQ(Histogram::BucketIndex(Histogram::BucketLowerBound(i)), i);
    ASSERT_EQ(Histogram::BucketIndex(Histogram::BucketUpperBound(i)), i);
  }
  EXPECT_EQ(Histogram::BucketUpperBound(Histogram::kNumBuckets - 1), Histogram::kMaxValue);
}

TEST(HistogramLayoutTest, BucketWidthIsAtMostOneSixtyFourthOfItsValues) {
  for (size_t i = 0; i < Histogram::kNumBuckets; ++i) {
    uint64_t lo = Histogram::BucketLowerBound(i);
    uint64_t hi = Histogram::BucketUpperBound(i);
    ASSERT_LE((hi - lo) * 64, lo) << "bucket " << i;
  }
  std::mt19937_64 rng(7);
  for (int n = 0; n < 100000; ++n) {
    uint64_t v = rng() >> (rng() % 64);
    uint64_t c = std::min(v, Histogram::kMaxValue);
    size_t i = Histogram::BucketIndex(v);
    ASSERT_LT(i, Histogram::kNumBuckets);
    ASSERT_LE(Histogram::BucketLowerBound(i), c);
    ASSERT_GE(Histogram::BucketUpperBound(i), c);
  }
}

TEST(HistogramLayoutTest, MemoryStaysModest) {
  EXPECT_LE(Histogram::kNumBuckets, 4096u);
  EXPECT_LT(sizeof(Histogram), 40u * 1024);
}

// Nearest-rank percentile of a sorted sample: rank ceil(q/100 * n), at least 1.
uint64_t ExactPercentile(const std::vector<uint64_t>& sorted, double q) {
  double rank = std::ceil(q * static_cast<double>(sorted.size()) / 100.0);
  size_t r = rank < 1 ? 1 : static_cast<size_t>(rank);
  return sorted[std::min(r, sorted.size()) - 1];
}

void ExpectPercentilesWithin2Percent(std::vector<uint64_t> values) {
  Histogram h;
  for (uint64_t v : values) h.Record(v);
  std::sort(values.begin(), values.end());
  HistogramSnapshot s = h.Snapshot();
  ASSERT_EQ(s.count, values.size());
  for (double q : {0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0}) {
    uint64_t exact = ExactPercentile(values, q);
    uint64_t got = s.Percentile(q);
    EXPECT_GE(got, exact) << "q=" << q;  // the bucket's upper bound, never below
    EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * 1.02) << "q=" << q;
  }
  EXPECT_EQ(s.Percentile(100), values.back());
  EXPECT_EQ(s.max_us, values.back());
}

TEST(HistogramPercentileTest, UniformSample) {
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<uint64_t> dist(0, 2'000'000);
  std::vector<uint64_t> v(200000);
  for (auto& x : v) x = dist(rng);
  ExpectPercentilesWithin2Percent(v);
}

TEST(HistogramPercentileTest, ExponentialSample) {
  std::mt19937_64 rng(2);
  std::exponential_distribution<double> dist(1.0 / 800.0);  // mean 800 us
  std::vector<uint64_t> v(200000);
  for (auto& x : v) x = static_cast<uint64_t>(dist(rng));
  ExpectPercentilesWithin2Percent(v);
}

TEST(HistogramPercentileTest, BimodalSample) {
  // 90% fast cache hits around 300 us, 10% slow queries around 40 ms.
  std::mt19937_64 rng(3);
  std::normal_distribution<double> fast(300, 40), slow(40000, 5000);
  std::bernoulli_distribution is_slow(0.1);
  std::vector<uint64_t> v(200000);
  for (auto& x : v) x = static_cast<uint64_t>(std::max(0.0, is_slow(rng) ? slow(rng) : fast(rng)));
  ExpectPercentilesWithin2Percent(v);
}

TEST(HistogramPercentileTest, EmptyHistogram) {
  Histogram h;
  HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.sum_us, 0u);
  EXPECT_EQ(s.max_us, 0u);
  EXPECT_EQ(s.buckets.size(), Histogram::kNumBuckets);
  for (double q : {0.0, 50.0, 99.9, 100.0}) EXPECT_EQ(s.Percentile(q), 0u);
  EXPECT_EQ(s.CountAtOrBelow(1000000), 0u);
  EXPECT_EQ(HistogramSnapshot{}.Percentile(50), 0u);
  EXPECT_EQ(HistogramSnapshot{}.CountAtOrBelow(10), 0u);
}

TEST(HistogramPercentileTest, SingleValueIsEveryPercentile) {
  Histogram h;
  h.Record(12345);
  HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.sum_us, 12345u);
  EXPECT_EQ(s.max_us, 12345u);
  // Capped at max_us, so the bucket's upper bound does not show.
  for (double q : {0.0, 50.0, 99.0, 100.0}) EXPECT_EQ(s.Percentile(q), 12345u);
}

TEST(HistogramPercentileTest, OutOfRangeQuantilesClamp) {
  Histogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.Record(v);
  HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.Percentile(-5), 1u);
  EXPECT_EQ(s.Percentile(NAN), 1u);
  EXPECT_EQ(s.Percentile(250), 100u);
  EXPECT_EQ(s.Percentile(50), 50u);  // exact region: nearest rank 50 of 1..100
}

TEST(HistogramTest, HugeValuesClampToMaxValue) {
  Histogram h;
  h.Record(UINT64_MAX);
  h.Record(Histogram::kMaxValue + 1);
  HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.count, 2u);
  EXPECT_EQ(s.max_us, Histogram::kMaxValue);
  EXPECT_EQ(s.sum_us, 2 * Histogram::kMaxValue);
  EXPECT_EQ(s.buckets.back(), 2u);
  EXPECT_EQ(s.Percentile(50), Histogram::kMaxValue);
  EXPECT_EQ(s.CountAtOrBelow(UINT64_MAX), 2u);
  EXPECT_EQ(s.CountAtOrBelow(1000), 0u);
}

TEST(HistogramTest, CountAtOrBelowIsCumulative) {
  Histogram h;
  for (uint64_t v : {5, 100, 100, 101, 900, 5000, 5000000}) h.Record(v);
  HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.CountAtOrBelow(0), 0u);
  EXPECT_EQ(s.CountAtOrBelow(5), 1u);
  EXPECT_EQ(s.CountAtOrBelow(99), 1u);
  EXPECT_EQ(s.CountAtOrBelow(100), 3u);  // exact below 128
  EXPECT_EQ(s.CountAtOrBelow(101), 4u);
  EXPECT_EQ(s.CountAtOrBelow(1000), 5u);
  EXPECT_EQ(s.CountAtOrBelow(4900), 5u);
  EXPECT_EQ(s.CountAtOrBelow(5000), 6u);
  EXPECT_EQ(s.CountAtOrBelow(4900000), 6u);
  // 5000000 shares a bucket (width 65536) with 4999999: counted, within 1/64.
  EXPECT_EQ(s.CountAtOrBelow(4999999), 7u);
  EXPECT_EQ(s.CountAtOrBelow(10000000), 7u);
}

TEST(HistogramTest, MergeEqualsRecordingBoth) {
  std::mt19937_64 rng(4);
  std::exponential_distribution<double> dist(1.0 / 5000.0);
  Histogram a, b, both;
  for (int i = 0; i < 50000; ++i) {
    uint64_t v = static_cast<uint64_t>(dist(rng));
    (i % 3 == 0 ? a : b).Record(v);
    both.Record(v);
  }
  HistogramSnapshot merged = a.Snapshot();
  merged.Merge(b.Snapshot());
  HistogramSnapshot expected = both.Snapshot();
  EXPECT_EQ(merged.count, expected.count);
  EXPECT_EQ(merged.sum_us, expected.sum_us);
  EXPECT_EQ(merged.max_us, expected.max_us);
  EXPECT_EQ(merged.buckets, expected.buckets);
  for (double q : {50.0, 99.0, 99.9}) EXPECT_EQ(merged.Percentile(q), expected.Percentile(q));

  // Merging into an empty (default) snapshot copies.
  HistogramSnapshot from_empty;
  from_empty.Merge(expected);
  EXPECT_EQ(from_empty.buckets, expected.buckets);
  EXPECT_EQ(from_empty.count, expected.count);
}

TEST(HistogramTest, ResetEmpties) {
  Histogram h;
  for (int i = 0; i < 10; ++i) h.Record(1000);
  h.Reset();
  HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.sum_us, 0u);
  EXPECT_EQ(s.max_us, 0u);
  h.Record(7);
  EXPECT_EQ(h.Snapshot().Percentile(50), 7u);
}

TEST(HistogramTest, ConcurrentRecordsAreAllCounted) {
  constexpr int kThreads = 4;
  constexpr uint64_t kPerThread = 100000;
  Histogram h;
  std::atomic<bool> done{false};
  uint64_t snapshots = 0;
  bool monotonic = true;
  std::thread reader([&] {
    uint64_t last = 0;
    while (!done.load()) {
      HistogramSnapshot s = h.Snapshot();
      if (s.count < last) monotonic = false;
      last = s.count;
      ++snapshots;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&h, t] {
      for (uint64_t i = 0; i < kPerThread; ++i) h.Record(i % 1000 + static_cast<uint64_t>(t));
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  reader.join();
  HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.count, kThreads * kPerThread);
  // Each thread adds t*kPerThread + 100 * (0+1+...+999).
  uint64_t expected_sum = 0;
  for (int t = 0; t < kThreads; ++t) expected_sum += t * kPerThread + 100 * 999 * 1000 / 2;
  EXPECT_EQ(s.sum_us, expected_sum);
  EXPECT_EQ(s.max_us, 999u + kThreads - 1);
  EXPECT_TRUE(monotonic);
  EXPECT_GT(snapshots, 0u);
}

TEST(CounterTest, AddsAndReads) {
  Counter c;
  EXPECT_EQ(c.value(), 0u);
  c.Add();
  c.Add(41);
  EXPECT_EQ(c.value(), 42u);
}

TEST(CounterTest, ConcurrentAddsAreExact) {
  Counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < 100000; ++i) c.Add();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 400000u);
}

TEST(GaugeTest, AddSetAndGoNegative) {
  Gauge g;
  g.Add(5);
  g.Add(-7);
  EXPECT_EQ(g.value(), -2);
  g.Set(10);
  EXPECT_EQ(g.value(), 10);
}

TEST(FormatMicrosTest, PicksUnitAndThreeSignificantDigits) {
  EXPECT_EQ(FormatMicros(0), "0us");
  EXPECT_EQ(FormatMicros(850), "850us");
  EXPECT_EQ(FormatMicros(999), "999us");
  EXPECT_EQ(FormatMicros(1000), "1ms");
  EXPECT_EQ(FormatMicros(1250), "1.25ms");
  EXPECT_EQ(FormatMicros(12345), "12.3ms");
  EXPECT_EQ(FormatMicros(123456), "123ms");
  EXPECT_EQ(FormatMicros(999499), "999ms");
  EXPECT_EQ(FormatMicros(999500), "1s");
  EXPECT_EQ(FormatMicros(3200000), "3.2s");
  EXPECT_EQ(FormatMicros(45000000), "45s");
  EXPECT_EQ(FormatMicros(3600000000), "3600s");
}

}  // namespace
}  // namespace tusk::metrics
