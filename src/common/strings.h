// Small string helpers shared by every component. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tusk {

/// Splits `s` on `sep`, trimming ASCII whitespace around each part; empty parts dropped.
std::vector<std::string> SplitTrimmed(std::string_view s, char sep);

/// Removes leading and trailing ASCII whitespace.
std::string Trim(std::string_view s);

/// Joins parts with `sep` between them.
std::string Join(const std::vector<std::string>& parts, std::string_view sep);

/// Parses a memory size such as "512MB", "2GiB", "64kB", "1048576" (bytes).
/// Units are binary (kB = KiB = 1024 bytes, as PostgreSQL reads them).
/// Returns nullopt for anything else (negative, overflow, unknown unit).
std::optional<uint64_t> ParseBytes(std::string_view s);

/// Renders bytes the way postgresql.conf wants them: the largest of
/// TB/GB/MB/kB that divides evenly, e.g. 536870912 -> "512MB".
std::string FormatPgBytes(uint64_t bytes);

/// `s` with ASCII letters lowercased (other bytes unchanged).
std::string LowerAscii(std::string_view s);

/// True when `word` equals `lower` (lowercase ASCII) ignoring ASCII case, as
/// SQL keywords compare: EqualsIgnoreCase("Select", "select"). Inline: the
/// router's per-query SQL checks call it for every word.
inline bool EqualsIgnoreCase(std::string_view word, std::string_view lower) {
  if (word.size() != lower.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    char c = word[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

/// Quotes an SQL identifier ("my db" -> "\"my db\""); always quotes.
std::string QuoteIdent(std::string_view ident);

/// Quotes an SQL string literal ('it''s'); uses E'' syntax never, doubles quotes.
std::string QuoteLiteral(std::string_view value);

/// True for a plain lowercase SQL identifier usable unquoted: [a-z_][a-z0-9_]*, ≤ 63 bytes.
bool IsSimpleIdentifier(std::string_view s);

/// PostgreSQL's lexer classes: whitespace (space, \t, \n, \r, \f, \v), a
/// decimal digit, and ident_start (ASCII letters, '_', any byte >= 0x80).
/// Inline: the router's SQL scans call them for every byte of a query.
inline bool IsSqlSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
inline bool IsSqlDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsSqlIdentStart(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  unsigned char l = u | 0x20;
  return (l >= 'a' && l <= 'z') || c == '_' || u >= 0x80;
}

/// `sql[i]` starts an SQL comment ("--" or "/*"): returns the index just past
/// it (a line comment ends before its newline, \n or \r), or
/// std::string_view::npos when a block comment is unterminated. Block
/// comments nest, as in PostgreSQL (docs, §4.1.5 Comments).
/// REQUIRES: i + 1 < sql.size() and sql.substr(i, 2) is "--" or "/*".
size_t SkipSqlComment(std::string_view sql, size_t i);

}  // namespace tusk
