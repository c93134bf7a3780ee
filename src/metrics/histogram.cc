#include "metrics/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>

namespace tusk::metrics {

namespace {

constexpr uint64_t kSubBuckets = 1ull << Histogram::kSubBucketBits;  // 64
constexpr size_t kLinearBuckets = 2 * kSubBuckets;  // 0..127 get one bucket per value

}  // namespace

size_t Histogram::BucketIndex(uint64_t value_us) {
  uint64_t v = std::min(value_us, kMaxValue);
  if (v < kLinearBuckets) return static_cast<size_t>(v);
  // v in [2^k, 2^(k+1)), k >= 7: keep the top 7 bits (64..127), i.e. a
  // sub-bucket of width 2^(k-6); group g = k-5 holds indexes g*64 .. g*64+63.
  int k = 63 - std::countl_zero(v);
  int shift = k - kSubBucketBits;
  return static_cast<size_t>(k - kSubBucketBits + 1) * kSubBuckets + ((v >> shift) - kSubBuckets);
}

uint64_t Histogram::BucketLowerBound(size_t index) {
  if (index < kLinearBuckets) return index;
  int shift = static_cast<int>(index / kSubBuckets) - 1;
  return (kSubBuckets + index % kSubBuckets) << shift;
}

uint64_t Histogram::BucketUpperBound(size_t index) {
  if (index < kLinearBuckets) return index;
  int shift = static_cast<int>(index / kSubBuckets) - 1;
  return BucketLowerBound(index) + (1ull << shift) - 1;
}

void Histogram::Record(uint64_t value_us) {
  uint64_t v = std::min(value_us, kMaxValue);
  buckets_[BucketIndex(v)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  uint64_t seen = max_.load(std::memory_order_relaxed);
  while (v > seen && !max_.compare_exchange_weak(seen, v, std::memory_order_relaxed)) {
  }
}

HistogramSnapshot Histogram::Snapshot() const {
  HistogramSnapshot s;
  s.buckets.resize(kNumBuckets);
  size_t highest = 0;
  for (size_t i = 0; i < kNumBuckets; ++i) {
    uint64_t n = buckets_[i].load(std::memory_order_relaxed);
    s.buckets[i] = n;
    s.count += n;
    if (n != 0) highest = i;
  }
  s.sum_us = sum_.load(std::memory_order_relaxed);
  s.max_us = max_.load(std::memory_order_relaxed);
  // A racing Record may have bumped its bucket before its max: keep max_us
  // inside the highest non-empty bucket so Percentile stays consistent.
  if (s.count != 0) s.max_us = std::max(s.max_us, BucketLowerBound(highest));
  return s;
}

void Histogram::Reset() {
  for (auto& b : buckets_) b.store(0, std::memory_order_relaxed);
  sum_.store(0, std::memory_order_relaxed);
  max_.store(0, std::memory_order_relaxed);
}

uint64_t HistogramSnapshot::Percentile(double q) const {
  if (count == 0) return 0;
  if (!(q > 0)) q = 0;  // also NaN
  if (q > 100) q = 100;
  double exact_rank = std::ceil(q * static_cast<double>(count) / 100.0);
  uint64_t rank = exact_rank < 1 ? 1 : static_cast<uint64_t>(exact_rank);
  rank = std::min(rank, count);
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    seen += buckets[i];
    if (seen >= rank) return std::min(Histogram::BucketUpperBound(i), max_us);
  }
  return max_us;  // buckets disagree with count (hand-built snapshot)
}

void HistogramSnapshot::Merge(const HistogramSnapshot& other) {
  if (buckets.size() < other.buckets.size()) buckets.resize(other.buckets.size());
  for (size_t i = 0; i < other.buckets.size(); ++i) buckets[i] += other.buckets[i];
  count += other.count;
  sum_us += other.sum_us;
  max_us = std::max(max_us, other.max_us);
}

uint64_t HistogramSnapshot::CountAtOrBelow(uint64_t bound_us) const {
  size_t last = Histogram::BucketIndex(bound_us);  // kMaxValue and above: the last bucket
  uint64_t n = 0;
  for (size_t i = 0; i <= last && i < buckets.size(); ++i) n += buckets[i];
  return n;
}

namespace {

// Renders x (>= 0) with three significant digits, trailing zeros dropped.
std::string ThreeDigits(double x, const char* unit) {
  int decimals = x < 10 ? 2 : (x < 100 ? 1 : 0);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, x);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s + unit;
}

}  // namespace

std::string FormatMicros(uint64_t us) {
  if (us < 1000) return std::to_string(us) + "us";
  // Below 999.5 ms the millisecond form rounds to at most "999"; above it,
  // it would read "1000ms", so switch to seconds.
  if (us < 999500) return ThreeDigits(static_cast<double>(us) / 1e3, "ms");
  return ThreeDigits(static_cast<double>(us) / 1e6, "s");
}

}  // namespace tusk::metrics
