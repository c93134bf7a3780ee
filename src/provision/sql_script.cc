// SQL script splitting and error-position mapping; see sql_script.h.
#include "provision/sql_script.h"

#include <strings.h>

#include <algorithm>
#include <cctype>

#include "common/strings.h"

namespace tusk::provision {
namespace {

bool IsIdentStart(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool IsIdentChar(unsigned char c) { return IsIdentStart(c) || std::isdigit(c) || c == '$'; }

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Tracks whether a statement is CREATE [OR REPLACE] FUNCTION|PROCEDURE, and
// inside such a statement the nesting of BEGIN/CASE .. END outside parentheses,
// so that the ';' inside a BEGIN ATOMIC body does not end the statement.
struct BodyTracker {
  std::string head;  // first letters of the leading keywords, e.g. "corf"
  int words = 0;
  int depth = 0;

  void Word(std::string_view w, int paren_depth) {
    if (words < 4) {
      if (EqualsNoCase(w, "create") || EqualsNoCase(w, "or") || EqualsNoCase(w, "replace") ||
          EqualsNoCase(w, "function") || EqualsNoCase(w, "procedure")) {
        head += static_cast<char>(std::tolower(static_cast<unsigned char>(w[0])));
      } else {
        head += '-';
      }
    }
    ++words;
    bool routine =
        head.size() >= 2 && head[0] == 'c' &&
        (head[1] == 'f' || head[1] == 'p' ||
         (head.size() >= 4 && head.substr(1, 2) == "or" && (head[3] == 'f' || head[3] == 'p')));
    if (!routine || paren_depth != 0) return;
    if (EqualsNoCase(w, "begin")) {
      ++depth;
    } else if (EqualsNoCase(w, "case")) {
      if (depth >= 1) ++depth;
    } else if (EqualsNoCase(w, "end")) {
      if (depth > 0) --depth;
    }
  }
};

}  // namespace

int LineOfOffset(std::string_view text, size_t offset) {
  int line = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') ++line;
  }
  return line;
}

int LineOfPosition(std::string_view text, int position) {
  int line = 1;
  int chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) == 0x80) continue;  // UTF-8 continuation byte
    ++chars;
    if (chars >= position) return line;
    if (c == '\n') ++line;
  }
  return line;
}

std::vector<SqlStatement> SplitSqlScript(std::string_view s) {
  std::vector<SqlStatement> out;
  size_t start = 0;  // start of the current statement
  size_t first_token = std::string_view::npos;
  int paren = 0;
  BodyTracker body;
  auto finish = [&](size_t end) {
    if (first_token != std::string_view::npos) {
      SqlStatement st;
      st.text = std::string(s.substr(start, end - start));
      st.offset = start;
      st.first_line = LineOfOffset(s, first_token);
      out.push_back(std::move(st));
    }
    first_token = std::string_view::npos;
    paren = 0;
    body = BodyTracker();
  };
  auto mark = [&](size_t i) {
    if (first_token == std::string_view::npos) first_token = i;
  };
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c == '-' || c == '/') && i + 1 < n && s[i + 1] == (c == '-' ? '-' : '*')) {
      i = std::min(SkipSqlComment(s, i), n);  // an unterminated comment runs to the end
      continue;
    }
    if (std::isspace(c)) {
      ++i;
      continue;
    }
    mark(i);
    if (c == '\'' || ((c == 'E' || c == 'e') && i + 1 < n && s[i + 1] == '\'' &&
                      (i == 0 || !IsIdentChar(static_cast<unsigned char>(s[i - 1]))))) {
      bool escapes = c != '\'';
      i += escapes ? 2 : 1;
      while (i < n) {
        if (escapes && s[i] == '\\') {
          i += 2;
        } else if (s[i] == '\'') {
          if (i + 1 < n && s[i + 1] == '\'') {
            i += 2;
          } else {
            ++i;
            break;
          }
        } else {
          ++i;
        }
      }
      continue;
    }
    if (c == '"') {  // quoted identifier; "" is an escaped quote
      ++i;
      while (i < n) {
        if (s[i] == '"') {
          if (i + 1 < n && s[i + 1] == '"') {
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        ++i;
      }
      continue;
    }
    if (c == '$') {  // dollar quote start? ($1 parameters are not)
      size_t j = i + 1;
      if (j < n && IsIdentStart(static_cast<unsigned char>(s[j]))) {
        while (j < n && IsIdentChar(static_cast<unsigned char>(s[j])) && s[j] != '$') ++j;
      }
      if (j < n && s[j] == '$') {
        std::string_view tag = s.substr(i, j - i + 1);
        size_t close = s.find(tag, j + 1);
        i = close == std::string_view::npos ? n : close + tag.size();
        continue;
      }
      ++i;
      continue;
    }
    if (IsIdentStart(c)) {
      size_t j = i;
      while (j < n && IsIdentChar(static_cast<unsigned char>(s[j]))) ++j;
      body.Word(s.substr(i, j - i), paren);
      i = j;
      continue;
    }
    if (c == '(') ++paren;
    if (c == ')' && paren > 0) --paren;
    if (c == ';' && paren == 0 && body.depth == 0) {
      // A lone ';' is not a statement of its own.
      if (first_token == i) first_token = std::string_view::npos;
      finish(i);
      start = i + 1;
    }
    ++i;
  }
  finish(n);
  return out;
}

Status RunSqlScript(postgres::PgConnection& conn, const std::string& display_path,
                    std::string_view script) {
  for (const SqlStatement& st : SplitSqlScript(script)) {
    if (conn.Exec(st.text).ok()) continue;
    const postgres::SqlError& e = conn.last_error();
    int line = st.first_line;
    if (e.position > 0) {
      line = LineOfOffset(script, st.offset) - 1 + LineOfPosition(st.text, e.position);
    }
    std::string msg = display_path + ":" + std::to_string(line) + ": " + e.message;
    if (!e.hint.empty()) msg += " (HINT: " + e.hint + ")";
    return Internal(msg);
  }
  return Status::Ok();
}

}  // namespace tusk::provision
