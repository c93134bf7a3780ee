// PrometheusWriter: golden text for counters, gauges and histograms; label
// and HELP escaping; family grouping; cumulative buckets with +Inf = count.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "metrics/histogram.h"
#include "metrics/prometheus_writer.h"

namespace tusk::metrics {
namespace {

TEST(PrometheusWriterTest, CounterAndGaugeGolden) {
  PrometheusWriter w;
  w.Counter("tusk_queries_total", "Queries \"served\" \\ all.", {{"pool", "app"}, {"db", "main"}},
            42);
  w.Gauge("tusk_clients", "Client connections.\nOpen ones.", {}, 3);
  w.Counter("tusk_queries_total", "ignored: HELP comes once", {{"pool", "admin"}, {"db", "main"}},
            7);
  w.Gauge("tusk_clients", "", {{"state", "a\\b \"q\"\nx"}}, -1.5);
  EXPECT_EQ(w.Finish(),
            "# HELP tusk_queries_total Queries \"served\" \\\\ all.\n"
            "# TYPE tusk_queries_total counter\n"
            "tusk_queries_total{pool=\"app\",db=\"main\"} 42\n"
            "tusk_queries_total{pool=\"admin\",db=\"main\"} 7\n"
            "# HELP tusk_clients Client connections.\\nOpen ones.\n"
            "# TYPE tusk_clients gauge\n"
            "tusk_clients 3\n"
            "tusk_clients{state=\"a\\\\b \\\"q\\\"\\nx\"} -1.5\n");
}

TEST(PrometheusWriterTest, HistogramGolden) {
  Histogram h;
  h.Record(50);        // 0.00005 s
  h.Record(100);       // exactly on the first bound
  h.Record(3000);      // 3 ms
  h.Record(2000000);   // 2 s
  h.Record(60000000);  // 60 s: only in +Inf
  PrometheusWriter w;
  w.Histogram("tusk_query_seconds", "Query latency.", {{"pool", "app"}}, h.Snapshot());
  EXPECT_EQ(w.Finish(),
            "# HELP tusk_query_seconds Query latency.\n"
            "# TYPE tusk_query_seconds histogram\n"
            "tusk_query_seconds_bucket{pool=\"app\",le=\"0.0001\"} 2\n"
            "tusk_query_seconds_bucket{pool=\"app\",le=\"0.00025\"} 2\n"
            "tusk_query_seconds_bucket{pool=\"app\",le=\"0.0005\"} 2\n"
            "tusk_query_seconds_bucket{pool=\"app\",le=\"0.001\"} 2\n"
            "tusk_query_seconds_bucket{pool=\"app\",le=\"0.0025\"} 2\n"
            "tusk_query_seconds_bucket{pool=\"app\",le=\"0.005\"} 3\n"
            "tusk_query_seconds_bucket{pool=\"app\",le=\"0.01\"} 3\n"
            "tusk_query_seconds_bucket{pool=\"app\",le=\"0.025\"} 3\n"
            "tusk_query_seconds_bucket{pool=\"app\",le=\"0.05\"} 3\n"
            "tusk_query_seconds_bucket{pool=\"app\",le=\"0.1\"} 3\n"
            "tusk_query_seconds_bucket{pool=\"app\",le=\"0.25\"} 3\n"
            "tusk_query_seconds_bucket{pool=\"app\",le=\"0.5\"} 3\n"
            "tusk_query_seconds_bucket{pool=\"app\",le=\"1\"} 3\n"
            "tusk_query_seconds_bucket{pool=\"app\",le=\"2.5\"} 4\n"
            "tusk_query_seconds_bucket{pool=\"app\",le=\"5\"} 4\n"
            "tusk_query_seconds_bucket{pool=\"app\",le=\"10\"} 4\n"
            "tusk_query_seconds_bucket{pool=\"app\",le=\"+Inf\"} 5\n"
            "tusk_query_seconds_sum{pool=\"app\"} 62.00315\n"
            "tusk_query_seconds_count{pool=\"app\"} 5\n");
}

TEST(PrometheusWriterTest, HistogramWithoutLabelsAndEmpty) {
  PrometheusWriter w;
  w.Histogram("wait_seconds", "Wait.", {}, HistogramSnapshot{});
  std::string out = w.Finish();
  EXPECT_NE(out.find("wait_seconds_bucket{le=\"0.0001\"} 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("wait_seconds_bucket{le=\"+Inf\"} 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\nwait_seconds_sum 0\nwait_seconds_count 0\n"), std::string::npos) << out;
}

TEST(PrometheusWriterTest, BucketsAreCumulativeAndEndAtCount) {
  Histogram h;
  for (uint64_t v = 0; v < 20000000; v += 997) h.Record(v);
  HistogramSnapshot s = h.Snapshot();
  PrometheusWriter w;
  w.Histogram("x", "", {}, s);
  std::string out = w.Finish();
  uint64_t last = 0;
  int buckets = 0;
  size_t pos = 0;
  while ((pos = out.find("x_bucket{", pos)) != std::string::npos) {
    size_t sp = out.find("} ", pos);
    uint64_t n = std::stoull(out.substr(sp + 2, out.find('\n', sp) - sp - 2));
    EXPECT_GE(n, last);
    last = n;
    ++buckets;
    pos = sp;
  }
  EXPECT_EQ(buckets, 17);
  EXPECT_EQ(last, s.count);
  EXPECT_EQ(out.find("# HELP"), std::string::npos);  // empty help: no HELP line
  EXPECT_NE(out.find("# TYPE x histogram\n"), std::string::npos);
}

TEST(PrometheusWriterTest, TypeConflictIsDroppedAndFinishResets) {
  PrometheusWriter w;
  w.Counter("m", "A counter.", {}, 1);
  w.Gauge("m", "Not a gauge.", {}, 2);
  EXPECT_EQ(w.Finish(), "# HELP m A counter.\n# TYPE m counter\nm 1\n");
  EXPECT_EQ(w.Finish(), "");
  w.Gauge("m", "Now a gauge.", {}, 2);
  EXPECT_EQ(w.Finish(), "# HELP m Now a gauge.\n# TYPE m gauge\nm 2\n");
}

TEST(PrometheusWriterTest, GaugeSpecialValuesAndFractions) {
  PrometheusWriter w;
  w.Gauge("g", "", {{"k", "nan"}}, std::nan(""));
  w.Gauge("g", "", {{"k", "inf"}}, std::numeric_limits<double>::infinity());
  w.Gauge("g", "", {{"k", "-inf"}}, -std::numeric_limits<double>::infinity());
  w.Gauge("g", "", {{"k", "frac"}}, 0.1);
  w.Counter("c_total", "", {}, UINT64_MAX);
  EXPECT_EQ(w.Finish(),
            "# TYPE g gauge\n"
            "g{k=\"nan\"} NaN\n"
            "g{k=\"inf\"} +Inf\n"
            "g{k=\"-inf\"} -Inf\n"
            "g{k=\"frac\"} 0.1\n"
            "# TYPE c_total counter\n"
            "c_total 18446744073709551615\n");
}

}  // namespace
}  // namespace tusk::metrics
