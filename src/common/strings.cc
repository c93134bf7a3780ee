// Implementation of the small string helpers declared in strings.h.
#include "common/strings.h"

#include <cctype>
#include <limits>

namespace tusk {

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> SplitTrimmed(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) pos = s.size();
    std::string part = Trim(s.substr(start, pos - start));
    if (!part.empty()) out.push_back(std::move(part));
    start = pos + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::optional<uint64_t> ParseBytes(std::string_view s) {
  std::string t = Trim(s);
  size_t i = 0;
  uint64_t n = 0;
  if (t.empty() || !std::isdigit(static_cast<unsigned char>(t[0]))) return std::nullopt;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) {
    uint64_t d = static_cast<uint64_t>(t[i] - '0');
    if (n > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    n = n * 10 + d;
    ++i;
  }
  std::string unit = Trim(std::string_view(t).substr(i));
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  uint64_t mult = 0;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "kb" || unit == "kib" || unit == "k")
    mult = 1ull << 10;
  else if (unit == "mb" || unit == "mib" || unit == "m")
    mult = 1ull << 20;
  else if (unit == "gb" || unit == "gib" || unit == "g")
    mult = 1ull << 30;
  else if (unit == "tb" || unit == "tib" || unit == "t")
    mult = 1ull << 40;
  else
    return std::nullopt;
  if (n > std::numeric_limits<uint64_t>::max() / mult) return std::nullopt;
  return n * mult;
}

std::string FormatPgBytes(uint64_t bytes) {
  static constexpr struct {
    uint64_t mult;
    const char* unit;
  } kUnits[] = {{1ull << 40, "TB"}, {1ull << 30, "GB"}, {1ull << 20, "MB"}, {1ull << 10, "kB"}};
  for (const auto& u : kUnits) {
    if (bytes >= u.mult && bytes % u.mult == 0) return std::to_string(bytes / u.mult) + u.unit;
  }
  // PostgreSQL memory GUCs take kB at the finest; round up to a whole kB.
  return std::to_string((bytes + 1023) / 1024) + "kB";
}

std::string QuoteIdent(std::string_view ident) {
  std::string out = "\"";
  for (char c : ident) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string QuoteLiteral(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

bool IsSimpleIdentifier(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (!(std::islower(u) || std::isdigit(u) || c == '_')) return false;
  }
  return true;
}

size_t SkipSqlComment(std::string_view sql, size_t i) {
  const size_t n = sql.size();
  if (sql[i] == '-') {
    while (i < n && sql[i] != '\n' && sql[i] != '\r') ++i;
    return i;
  }
  size_t depth = 1;
  i += 2;
  while (i < n) {
    if (sql[i] == '/' && i + 1 < n && sql[i + 1] == '*') {
      ++depth;
      i += 2;
    } else if (sql[i] == '*' && i + 1 < n && sql[i + 1] == '/') {
      i += 2;
      if (--depth == 0) return i;
    } else {
      ++i;
    }
  }
  return std::string_view::npos;
}

}  // namespace tusk
