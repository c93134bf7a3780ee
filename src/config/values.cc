// Implementation of values.h: scalar parsing and name rules for tusk.yaml.
#include "config/values.h"

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <limits>

#include "common/strings.h"

namespace tusk::config {
namespace {

bool IsAsciiLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsAsciiUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlpha(char c) { return IsAsciiLower(c) || IsAsciiUpper(c); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (IsAsciiUpper(c)) c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::optional<int64_t> ParseInteger(std::string_view s) {
  std::string t = Trim(s);
  if (t.empty()) return std::nullopt;
  int64_t value = 0;
  const char* begin = t.data();
  const char* end = t.data() + t.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::optional<bool> ParseBoolean(std::string_view s) {
  std::string t = Lower(Trim(s));
  if (t == "true" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "no" || t == "off") return false;
  return std::nullopt;
}

std::optional<int64_t> ParseDurationMs(std::string_view s) {
  std::string t = Trim(s);
  size_t i = 0;
  while (i < t.size() && IsAsciiDigit(t[i])) ++i;
  if (i == 0) return std::nullopt;
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + i, n);
  if (ec != std::errc() || ptr != t.data() + i) return std::nullopt;
  std::string unit = Lower(Trim(std::string_view(t).substr(i)));
  int64_t mult = 0;
  if (unit.empty() || unit == "ms") {
    mult = 1;
  } else if (unit == "s") {
    mult = 1000;
  } else if (unit == "min" || unit == "m") {
    mult = 60 * 1000;
  } else if (unit == "h") {
    mult = 60 * 60 * 1000;
  } else if (unit == "d") {
    mult = 24 * 60 * 60 * 1000;
  } else {
    return std::nullopt;
  }
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  if (n > kMax / mult) return std::nullopt;
  return n * mult;
}

bool IsValidInstanceName(std::string_view s) {
  if (s.empty() || s.size() > 40 || !IsAsciiLower(s[0])) return false;
  for (char c : s) {
    if (!(IsAsciiLower(c) || IsAsciiDigit(c) || c == '_' || c == '-')) return false;
  }
  return true;
}

bool IsValidObjectName(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!(IsAsciiAlpha(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(IsAsciiAlpha(c) || IsAsciiDigit(c) || c == '_' || c == '$' || c == '-')) return false;
  }
  return Lower(s.substr(0, 3)) != "pg_";
}

bool IsValidExtensionName(std::string_view s) {
  if (s.empty() || s.size() > 63 || s[0] == '-') return false;
  for (char c : s) {
    if (!(IsAsciiAlpha(c) || IsAsciiDigit(c) || c == '_' || c == '-')) return false;
  }
  return true;
}

bool IsValidGucName(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!(IsAsciiLower(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(IsAsciiLower(c) || IsAsciiDigit(c) || c == '_' || c == '.')) return false;
  }
  return true;
}

bool IsValidEnvName(std::string_view s) {
  if (s.empty() || !(IsAsciiAlpha(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(IsAsciiAlpha(c) || IsAsciiDigit(c) || c == '_')) return false;
  }
  return true;
}

bool HasControlChars(std::string_view s) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

bool PathsOverlap(std::string_view a, std::string_view b) {
  if (a.size() > b.size()) std::swap(a, b);
  // Now a is the shorter one: overlap when b == a or b lies below a.
  if (b.substr(0, a.size()) != a) return false;
  if (b.size() == a.size()) return true;
  return a == "/" || b[a.size()] == '/';
}

std::string ResolvePath(const std::string& base, const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_relative()) p = std::filesystem::path(base) / p;
  std::string out = p.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace tusk::config
