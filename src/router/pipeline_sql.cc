// Implementation of PipelineSafeSql (pipeline_sql.h): a single left-to-right
// scan following PostgreSQL's lexer for whitespace, comments, quotes and words.
#include "router/pipeline_sql.h"

#include <cstddef>

#include "common/strings.h"

namespace tusk::router {
namespace {

constexpr size_t kNpos = std::string_view::npos;

// Statements whose first keyword is one of these run as one implicit
// transaction and cannot BEGIN/COMMIT, SET, PREPARE, LISTEN, DECLARE, ...
constexpr std::string_view kAllowedFirst[] = {"select", "insert", "update", "delete",
                                              "with",   "values", "table"};

// Words that make an otherwise allowed statement touch session state:
// set_config/setseed change settings; session-level advisory locks outlive the
// statement (the _xact_ variants do not and are allowed); lo_open descriptors
// and dblink connections are per session; currval/lastval read the value of
// the session's previous nextval, which may be another client's; temp,
// temporary and pg_temp create temporary tables (SELECT INTO TEMP, ...).
constexpr std::string_view kDenied[] = {
    "set_config",
    "setseed",
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
    "pg_advisory_unlock",
    "pg_advisory_unlock_shared",
    "pg_advisory_unlock_all",
    "lo_open",
    "dblink_connect",
    "dblink_connect_u",
    "currval",
    "lastval",
    "temp",
    "temporary",
    "pg_temp",
};

// ident_cont without '$', which the scan treats on its own ($n parameters).
bool IsWordContinue(char c) { return IsSqlIdentStart(c) || IsSqlDigit(c); }

template <size_t N>
bool InList(std::string_view word, const std::string_view (&list)[N]) {
  for (std::string_view w : list) {
    if (EqualsIgnoreCase(word, w)) return true;
  }
  return false;
}

// `sql[i]` is the opening `quote`; returns the index just past the closing one
// (a doubled quote stands for itself), or kNpos when unterminated or when a
// string literal holds a backslash (E'' strings could hide a quote behind one;
// in a quoted identifier a backslash is an ordinary character).
size_t SkipQuoted(std::string_view sql, size_t i, char quote) {
  size_t n = sql.size();
  for (++i; i < n; ++i) {
    if (sql[i] == '\\' && quote == '\'') return kNpos;
    if (sql[i] != quote) continue;
    if (i + 1 < n && sql[i + 1] == quote) {
      ++i;
    } else {
      return i + 1;
    }
  }
  return kNpos;
}

}  // namespace

bool PipelineSafeSql(std::string_view sql) noexcept {
  if (sql.find('\0') != kNpos) return false;
  size_t n = sql.size();
  bool seen_keyword = false;    // the allowed first keyword has been read
  bool seen_semicolon = false;  // only whitespace, comments and ';' may follow
  size_t i = 0;
  while (i < n) {
    char c = sql[i];
    if (IsSqlSpace(c)) {
      ++i;
      continue;
    }
    if ((c == '-' || c == '/') && i + 1 < n && sql[i + 1] == (c == '-' ? '-' : '*')) {
      i = SkipSqlComment(sql, i);
      if (i == kNpos) return false;
      continue;
    }
    if (c == ';' && seen_keyword) {
      seen_semicolon = true;
      ++i;
      continue;
    }
    if (seen_semicolon) return false;
    if (IsSqlIdentStart(c)) {
      size_t start = i;
      while (i < n && IsWordContinue(sql[i])) ++i;
      std::string_view word(sql.data() + start, i - start);
      if (!seen_keyword) {
        if (!InList(word, kAllowedFirst)) return false;
        seen_keyword = true;
      } else if (InList(word, kDenied)) {
        return false;
      }
      continue;
    }
    // The text must open with the keyword (not '(', ';', a number, ...).
    if (!seen_keyword) return false;
    if (c == '$') {
      // $n is a parameter of an extended-protocol Parse; any other '$' may
      // open a dollar quote.
      if (i + 1 >= n || sql[i + 1] < '0' || sql[i + 1] > '9') return false;
      for (++i; i < n && sql[i] >= '0' && sql[i] <= '9'; ++i) {
      }
      continue;
    }
    if (c == '\'' || c == '"') {
      // U&"..." may spell any name through escapes.
      if (c == '"' && i >= 2 && sql[i - 1] == '&' && (sql[i - 2] | 0x20) == 'u') return false;
      size_t end = SkipQuoted(sql, i, c);
      if (end == kNpos) return false;
      // "set_config"(...) calls set_config too.
      if (c == '"' && InList(std::string_view(sql.data() + i + 1, end - i - 2), kDenied)) {
        return false;
      }
      i = end;
      continue;
    }
    // Anything else (operators, punctuation, digits) is one harmless byte; a
    // digit run ends a word, so "1temp" (1 AS temp before PostgreSQL 15) is seen.
    ++i;
  }
  return seen_keyword;
}

}  // namespace tusk::router
