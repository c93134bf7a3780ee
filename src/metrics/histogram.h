// Histogram: a latency histogram in microseconds with HdrHistogram-style
// log-linear buckets, plus HistogramSnapshot, its point-in-time copy.
//
// Bucket layout: values 0..127 each have their own bucket (exact). Above
// that, every power of two [2^k, 2^(k+1)) for k = 7..35 is split into 64 equal
// sub-buckets of width 2^(k-6), so a bucket's width is at most 1/64 of its
// lower bound: any value reported from a bucket (its upper bound) is within
// 1/64 (~1.6%) of every value the bucket holds. Values above kMaxValue
// (2^36-1 us, about 19 hours) are clamped to kMaxValue. 1984 buckets in all,
// about 16 KiB per histogram.
//
// Thread-safety: Histogram::Record is lock-free (relaxed atomics); any number
// of threads may record into one histogram while another takes a Snapshot.
// A snapshot taken while records are in flight may miss some of them, and
// its sum_us may disagree with its buckets by those records. Reset racing
// with Record may lose or half-keep the racing records. HistogramSnapshot
// is a plain value (not thread-safe to mutate concurrently).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tusk::metrics {

/// A point-in-time copy of a Histogram; plain value. A default-constructed
/// snapshot is empty (no buckets) and behaves as a histogram with no values.
struct HistogramSnapshot {
  uint64_t count = 0;             ///< number of recorded values
  uint64_t sum_us = 0;            ///< sum of the (clamped) values, microseconds
  uint64_t max_us = 0;            ///< largest (clamped) value, microseconds
  std::vector<uint64_t> buckets;  ///< counts per bucket, same layout as Histogram

  /// The q-th percentile in microseconds, q in [0,100] (clamped into it;
  /// nearest-rank: the value with rank ceil(q/100 * count), at least 1).
  /// Returns the upper bound of the bucket holding it, capped at max_us, so
  /// it is at most 1/64 above the true value. 0 when empty.
  uint64_t Percentile(double q) const;

  /// Adds `other` into this snapshot: the result equals a snapshot of one
  /// histogram that recorded the values of both.
  void Merge(const HistogramSnapshot& other);

  /// Cumulative count of values <= bound_us (for Prometheus `le` buckets).
  /// Values in the same bucket as bound_us count as at or below it, so this
  /// is exact for bound_us < 128 and otherwise may include values up to 1/64
  /// above bound_us.
  uint64_t CountAtOrBelow(uint64_t bound_us) const;
};

/// A latency histogram in microseconds; see the file comment for its layout
/// and error bound. Not copyable or movable (it holds atomics).
class Histogram {
 public:
  static constexpr int kSubBucketBits = 6;                 ///< 64 sub-buckets per power of two
  static constexpr uint64_t kMaxValue = (1ull << 36) - 1;  ///< larger values are clamped, us
  static constexpr size_t kNumBuckets = (36 - kSubBucketBits + 1) << kSubBucketBits;  // 1984

  Histogram() = default;
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  /// Records one value in microseconds (clamped to kMaxValue). Lock-free.
  void Record(uint64_t value_us);

  /// Returns a copy of the current counts (buckets has kNumBuckets entries).
  HistogramSnapshot Snapshot() const;

  /// Sets every count back to zero (for tests and SHOW STATS reset).
  void Reset();

  /// The bucket holding value_us (clamped to kMaxValue); < kNumBuckets.
  static size_t BucketIndex(uint64_t value_us);
  /// Smallest value, in microseconds, that falls into bucket `index`.
  /// REQUIRES: index < kNumBuckets.
  static uint64_t BucketLowerBound(size_t index);
  /// Largest value, in microseconds, that falls into bucket `index`.
  /// REQUIRES: index < kNumBuckets.
  static uint64_t BucketUpperBound(size_t index);

 private:
  std::array<std::atomic<uint64_t>, kNumBuckets> buckets_{};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> max_{0};
};

/// Renders a duration for human tables with three significant digits and
/// no trailing zeros: "850us", "1.25ms", "3.2s", "120s".
std::string FormatMicros(uint64_t us);

}  // namespace tusk::metrics
