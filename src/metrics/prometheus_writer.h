// PrometheusWriter: renders metrics in the Prometheus text exposition
// format 0.0.4 for one scrape.
//
// Samples are grouped by family (metric name): the family's "# HELP" and
// "# TYPE" lines come once, before its first sample, and all its samples
// follow together even when calls for different families interleave.
// Families appear in the order of their first call. Label values are escaped
// (backslash, double quote, newline); HELP text escapes backslash and newline.
// Names and label names are written as given: callers pass valid ones
// ([a-zA-Z_:][a-zA-Z0-9_:]* and [a-zA-Z_][a-zA-Z0-9_]*).
//
// Thread-safety: none; build one writer per scrape on one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "metrics/histogram.h"

namespace tusk::metrics {

/// Builds one Prometheus text exposition (format 0.0.4).
class PrometheusWriter {
 public:
  /// Label name/value pairs, written in this order.
  using Labels = std::vector<std::pair<std::string, std::string>>;

  /// Adds a counter sample `name{labels} value`. A name first used with
  /// another type is ignored (mixing types in a family is invalid); the
  /// first call's help is the family's help. Same for Gauge and Histogram.
  void Counter(std::string_view name, std::string_view help, const Labels& labels, uint64_t value);

  /// Adds a gauge sample; NaN and infinities render as NaN, +Inf, -Inf.
  void Gauge(std::string_view name, std::string_view help, const Labels& labels, double value);

  /// Adds a histogram of microsecond values, converted to seconds: cumulative
  /// name_bucket{labels,le="..."} for the ladder 0.0001, 0.00025, 0.0005,
  /// 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
  /// and +Inf (= count), then name_sum (seconds, exact) and name_count.
  /// Bucket counts come from HistogramSnapshot::CountAtOrBelow, so a bound
  /// can include values up to 1/64 above it.
  void Histogram(std::string_view name, std::string_view help, const Labels& labels,
                 const HistogramSnapshot& h);

  /// Returns the exposition text (every line ends in '\n') and empties the
  /// writer so it can build another.
  std::string Finish();

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type;
    std::string text;  // HELP, TYPE and samples so far
  };

  // The text of family `name` to append samples to, created with its HELP
  // and TYPE lines on first use; nullptr when `name` already has another type.
  std::string* FamilyText(std::string_view name, std::string_view help, Type type);

  std::vector<Family> families_;                     // in first-use order
  std::unordered_map<std::string, size_t> by_name_;  // name -> index in families_
};

}  // namespace tusk::metrics
