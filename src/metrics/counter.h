// Counter and Gauge: single-value metrics for Prometheus counters and gauges.
//
// A Counter only goes up (requests served, bytes sent); a Gauge goes up and
// down (open connections, waiting clients). Both are one relaxed atomic:
// lock-free and safe to update and read from any number of threads; a read
// sees some recent value, with no ordering against other memory. They share
// this header because each is a few lines. Not copyable or movable.
#pragma once

#include <atomic>
#include <cstdint>

namespace tusk::metrics {

/// A monotonically increasing count (events, bytes).
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  /// Adds n (default 1). Wraps at 2^64, which no real count reaches.
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  /// The current count.
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

/// A value that goes up and down (connections open, clients waiting).
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  /// Adds d (negative to subtract).
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  /// Replaces the value with v.
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  /// The current value.
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

}  // namespace tusk::metrics
