#include "metrics/prometheus_writer.h"

#include <charconv>
#include <cmath>

namespace tusk::metrics {

namespace {

// The `le` ladder: bound in microseconds and its rendering in seconds.
struct LeBound {
  uint64_t us;
  const char* seconds;
};
constexpr LeBound kLadder[] = {
    {100, "0.0001"},  {250, "0.00025"}, {500, "0.0005"},  {1000, "0.001"},
    {2500, "0.0025"}, {5000, "0.005"},  {10000, "0.01"},  {25000, "0.025"},
    {50000, "0.05"},  {100000, "0.1"},  {250000, "0.25"}, {500000, "0.5"},
    {1000000, "1"},   {2500000, "2.5"}, {5000000, "5"},   {10000000, "10"},
};

// Escapes backslash and newline, and double quote too when `quote` (label
// values; HELP text leaves quotes alone).
void AppendEscaped(std::string* out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '"' && quote) {
      *out += "\\\"";
    } else {
      *out += c;
    }
  }
}

// Appends `name{labels[,le="le"]} ` (no braces when there are no labels).
void AppendSeries(std::string* out, std::string_view name, const PrometheusWriter::Labels& labels,
                  const char* le = nullptr) {
  *out += name;
  if (labels.empty() && le == nullptr) {
    *out += ' ';
    return;
  }
  *out += '{';
  bool first = true;
  for (const auto& [key, value] : labels) {
    if (!first) *out += ',';
    first = false;
    *out += key;
    *out += "=\"";
    AppendEscaped(out, value, /*quote=*/true);
    *out += '"';
  }
  if (le != nullptr) {
    if (!first) *out += ',';
    *out += "le=\"";
    *out += le;
    *out += '"';
  }
  *out += "} ";
}

std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
  return std::string(buf, res.ptr);
}

// Microseconds as exact decimal seconds: 1234500 -> "1.2345", 0 -> "0".
std::string MicrosAsSeconds(uint64_t us) {
  std::string s = std::to_string(us / 1000000);
  uint64_t frac = us % 1000000;
  if (frac == 0) return s;
  std::string digits = std::to_string(frac);
  digits.insert(0, 6 - digits.size(), '0');
  while (digits.back() == '0') digits.pop_back();
  return s + "." + digits;
}

}  // namespace

std::string* PrometheusWriter::FamilyText(std::string_view name, std::string_view help, Type type) {
  auto [it, inserted] = by_name_.try_emplace(std::string(name), families_.size());
  if (!inserted) {
    Family& f = families_[it->second];
    return f.type == type ? &f.text : nullptr;
  }
  Family& f = families_.emplace_back(Family{type, {}});
  if (!help.empty()) {
    f.text += "# HELP ";
    f.text += name;
    f.text += ' ';
    AppendEscaped(&f.text, help, /*quote=*/false);
    f.text += '\n';
  }
  f.text += "# TYPE ";
  f.text += name;
  f.text +=
      type == Type::kCounter ? " counter\n" : (type == Type::kGauge ? " gauge\n" : " histogram\n");
  return &f.text;
}

void PrometheusWriter::Counter(std::string_view name, std::string_view help, const Labels& labels,
                               uint64_t value) {
  std::string* out = FamilyText(name, help, Type::kCounter);
  if (out == nullptr) return;
  AppendSeries(out, name, labels);
  *out += std::to_string(value);
  *out += '\n';
}

void PrometheusWriter::Gauge(std::string_view name, std::string_view help, const Labels& labels,
                             double value) {
  std::string* out = FamilyText(name, help, Type::kGauge);
  if (out == nullptr) return;
  AppendSeries(out, name, labels);
  *out += FormatDouble(value);
  *out += '\n';
}

void PrometheusWriter::Histogram(std::string_view name, std::string_view help, const Labels& labels,
                                 const HistogramSnapshot& h) {
  std::string* out = FamilyText(name, help, Type::kHistogram);
  if (out == nullptr) return;
  std::string bucket = std::string(name) + "_bucket";
  for (const LeBound& b : kLadder) {
    AppendSeries(out, bucket, labels, b.seconds);
    *out += std::to_string(h.CountAtOrBelow(b.us));
    *out += '\n';
  }
  AppendSeries(out, bucket, labels, "+Inf");
  *out += std::to_string(h.count);
  *out += '\n';
  AppendSeries(out, std::string(name) + "_sum", labels);
  *out += MicrosAsSeconds(h.sum_us);
  *out += '\n';
  AppendSeries(out, std::string(name) + "_count", labels);
  *out += std::to_string(h.count);
  *out += '\n';
}

std::string PrometheusWriter::Finish() {
  std::string out;
  for (const Family& f : families_) out += f.text;
  families_.clear();
  by_name_.clear();
  return out;
}

}  // namespace tusk::metrics
