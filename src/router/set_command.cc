// Implementation of ParseSetCommand (set_command.h): a small scanner that
// follows PostgreSQL's lexer for whitespace, comments, words, quoted names,
// string literals and numbers, and the SET/RESET rules of its grammar.
#include "router/set_command.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "common/strings.h"

namespace tusk::router {
namespace {

constexpr size_t kNpos = std::string_view::npos;

// Settings whose list items PostgreSQL quotes like names (GUC_LIST_QUOTE in 15).
constexpr std::string_view kListOfNames[] = {
    "search_path", "temp_tablespaces", "local_preload_libraries", "session_preload_libraries"};

// PostgreSQL's ident_cont.
bool IsWordContinue(char c) { return IsSqlIdentStart(c) || IsSqlDigit(c) || c == '$'; }
char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

enum class Tok { kEnd, kWord, kName, kString, kNumber, kPunct, kBad };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // kWord: lowercased; kName/kString: unquoted; kNumber: as written
  char punct = 0;    // kPunct
};

// Splits a SQL text into tokens. A token it cannot vouch for (E'' and other
// prefixed strings, dollar quotes, unterminated quotes or comments, numbers
// with trailing letters) is kBad.
class Scanner {
 public:
  explicit Scanner(std::string_view sql) : s_(sql) {}

  Token Next() {
    Token t;
    if (!SkipSpace()) return Bad();
    if (i_ >= s_.size()) return t;
    char c = s_[i_];
    if (IsSqlIdentStart(c)) {
      size_t start = i_;
      while (i_ < s_.size() && IsWordContinue(s_[i_])) ++i_;
      if (i_ - start == 1 && i_ < s_.size()) {
        char p = Lower(c);
        if ((s_[i_] == '\'' && (p == 'e' || p == 'b' || p == 'x' || p == 'n')) ||
            (s_[i_] == '&' && p == 'u')) {
          return Bad();  // E'..', B'..', X'..', N'..', U&'..', U&".."
        }
      }
      t.kind = Tok::kWord;
      for (size_t k = start; k < i_; ++k) t.text += Lower(s_[k]);
      return t;
    }
    if (c == '"' || c == '\'') {
      std::optional<std::string> body = Quoted(c);
      if (!body || (c == '"' && body->empty())) return Bad();
      t.kind = c == '"' ? Tok::kName : Tok::kString;
      t.text = std::move(*body);
      return t;
    }
    if (IsSqlDigit(c) || (c == '.' && i_ + 1 < s_.size() && IsSqlDigit(s_[i_ + 1])))
      return Number();
    if (c == '$') return Bad();  // a dollar quote (or a parameter, meaningless here)
    ++i_;
    t.kind = Tok::kPunct;
    t.punct = c;
    return t;
  }

 private:
  static Token Bad() {
    Token t;
    t.kind = Tok::kBad;
    return t;
  }

  // Whitespace and comments; false on an unterminated block comment.
  bool SkipSpace() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (IsSqlSpace(c)) {
        ++i_;
      } else if ((c == '-' || c == '/') && i_ + 1 < s_.size() &&
                 s_[i_ + 1] == (c == '-' ? '-' : '*')) {
        i_ = SkipSqlComment(s_, i_);
        if (i_ == kNpos) return false;
      } else {
        break;
      }
    }
    return true;
  }

  // The body of the quoted token at i_ (a doubled quote stands for itself).
  std::optional<std::string> Quoted(char quote) {
    std::string out;
    for (++i_; i_ < s_.size(); ++i_) {
      if (s_[i_] == '\0') return std::nullopt;
      if (s_[i_] != quote) {
        out += s_[i_];
      } else if (i_ + 1 < s_.size() && s_[i_ + 1] == quote) {
        out += quote;
        ++i_;
      } else {
        ++i_;
        return out;
      }
    }
    return std::nullopt;
  }

  // digits [. digits] [e [+-] digits], or . digits ...
  Token Number() {
    size_t start = i_;
    while (i_ < s_.size() && IsSqlDigit(s_[i_])) ++i_;
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      while (i_ < s_.size() && IsSqlDigit(s_[i_])) ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      size_t e = i_ + 1;
      if (e < s_.size() && (s_[e] == '+' || s_[e] == '-')) ++e;
      if (e < s_.size() && IsSqlDigit(s_[e])) {
        i_ = e;
        while (i_ < s_.size() && IsSqlDigit(s_[i_])) ++i_;
      }
    }
    if (i_ < s_.size() && (IsSqlIdentStart(s_[i_]) || s_[i_] == '.')) return Bad();  // "64MB"
    Token t;
    t.kind = Tok::kNumber;
    t.text = std::string(s_.substr(start, i_ - start));
    return t;
  }

  std::string_view s_;
  size_t i_ = 0;
};

// One item of a SET value list.
struct Item {
  std::string text;
  bool number = false;
};

bool IsListOfNames(std::string_view name) {
  for (std::string_view n : kListOfNames) {
    if (n == name) return true;
  }
  return false;
}

// PostgreSQL's quote_identifier, without its keyword check: plain lowercase
// names stay bare, anything else is double-quoted.
std::string QuoteNameItem(const std::string& s) {
  return IsSimpleIdentifier(s) ? s : QuoteIdent(s);
}

// A number as PostgreSQL prints its constant: integers that fit in 32 bits
// without sign or leading zeros, anything else as written (minus a '+').
std::string NumberText(const std::string& digits, bool negative) {
  bool integer = digits.find_first_not_of("0123456789") == std::string::npos;
  if (integer) {
    size_t nz = digits.find_first_not_of('0');
    std::string trimmed = nz == std::string::npos ? "0" : digits.substr(nz);
    if (trimmed.size() <= 10) {
      long long v = std::strtoll(trimmed.c_str(), nullptr, 10);
      if (negative) v = -v;
      if (v >= -2147483648LL && v <= 2147483647LL) return std::to_string(v);
    }
  }
  return (negative ? "-" : "") + digits;
}

// Statement parser over a Scanner, one token of lookahead.
class Parser {
 public:
  explicit Parser(std::string_view sql) : sc_(sql) { Advance(); }

  SetCommand Parse() {
    if (IsWord("set")) {
      Advance();
      return ParseSet();
    }
    if (IsWord("reset")) {
      Advance();
      return ParseReset();
    }
    if (IsWord("discard")) {
      Advance();
      if (!TakeWord("all")) return {};
      SetCommand cmd;
      cmd.kind = SetKind::kDiscardAll;
      return Done(std::move(cmd));
    }
    if (TakeWord("savepoint")) return Savepoint(SetKind::kSavepoint);
    if (TakeWord("release")) return Savepoint(SetKind::kRelease, true);
    if (TakeWord("rollback")) {
      if (!TakeWord("work")) TakeWord("transaction");
      if (!TakeWord("to")) return TransactionEnd(SetKind::kRollback);
      return Savepoint(SetKind::kRollbackTo, true);
    }
    if (TakeWord("abort")) return TransactionEnd(SetKind::kRollback, true);
    if (TakeWord("commit") || TakeWord("end")) return TransactionEnd(SetKind::kCommit, true);
    return {};
  }

 private:
  void Advance() { tok_ = sc_.Next(); }
  bool IsWord(std::string_view w) const { return tok_.kind == Tok::kWord && tok_.text == w; }
  bool IsPunct(char c) const { return tok_.kind == Tok::kPunct && tok_.punct == c; }
  bool TakeWord(std::string_view w) {
    if (!IsWord(w)) return false;
    Advance();
    return true;
  }

  // Only ';' may follow the statement; anything else is a second statement.
  bool AtStatementEnd() {
    while (IsPunct(';')) Advance();
    return tok_.kind == Tok::kEnd;
  }

  SetCommand Done(SetCommand cmd) {
    if (!AtStatementEnd()) return {};
    return cmd;
  }

  static SetCommand Unsupported(std::string reason) {
    SetCommand cmd;
    cmd.kind = SetKind::kUnsupported;
    cmd.reason = std::move(reason);
    return cmd;
  }

  static SetCommand One(SetKind kind, std::string name, std::string value = "") {
    SetCommand cmd;
    cmd.kind = kind;
    cmd.settings.emplace_back(std::move(name), std::move(value));
    return cmd;
  }

  // The savepoint name ending SAVEPOINT / RELEASE / ROLLBACK TO, after an
  // optional word SAVEPOINT (`optional_keyword`), which may also be the name
  // itself (ROLLBACK TO savepoint).
  SetCommand Savepoint(SetKind kind, bool optional_keyword = false) {
    SetCommand cmd;
    cmd.kind = kind;
    if (optional_keyword && TakeWord("savepoint")) {
      cmd.savepoint = "savepoint";
      // Nothing after it: the word was the name. Anything else must be the
      // name (Done rejects what follows it).
      if (tok_.kind == Tok::kEnd || IsPunct(';')) return Done(std::move(cmd));
    }
    if (tok_.kind != Tok::kWord && tok_.kind != Tok::kName) return {};
    cmd.savepoint = tok_.text;  // a kWord is lowercased already
    Advance();
    return Done(std::move(cmd));
  }

  // The rest of COMMIT / END / ROLLBACK / ABORT: [WORK|TRANSACTION] (already
  // taken after ROLLBACK, else `noise_words`) [AND [NO] CHAIN]. Anything else
  // (COMMIT PREPARED 'x') is not tracked.
  SetCommand TransactionEnd(SetKind kind, bool noise_words = false) {
    if (noise_words && !TakeWord("work")) TakeWord("transaction");
    if (TakeWord("and")) {
      TakeWord("no");
      if (!TakeWord("chain")) return {};
    }
    SetCommand cmd;
    cmd.kind = kind;
    return Done(std::move(cmd));
  }

  // A word, "name" or 'string' as one text value (SET ROLE x, ...); nullopt otherwise.
  std::optional<std::string> TakeText() {
    if (tok_.kind != Tok::kWord && tok_.kind != Tok::kName && tok_.kind != Tok::kString) {
      return std::nullopt;
    }
    std::string v = tok_.text;
    Advance();
    return v;
  }

  // var_name: a name, or dotted names ("app.tenant"); lowercased.
  std::optional<std::string> TakeVarName() {
    std::string name;
    for (;;) {
      if (tok_.kind != Tok::kWord && tok_.kind != Tok::kName) return std::nullopt;
      for (char c : tok_.text) name += Lower(c);
      Advance();
      if (!IsPunct('.')) return name;
      name += '.';
      Advance();
    }
  }

  SetCommand ParseSet() {
    if (IsWord("local")) return {};  // lasts for the transaction only
    if (TakeWord("session")) {
      if (TakeWord("characteristics")) return ParseCharacteristics();
      if (TakeWord("authorization")) return ParseAuthorization();
    }
    // Transaction-scoped, or reported by ParameterStatus (TimeZone, client_encoding).
    if (IsWord("transaction") || IsWord("constraints") || IsWord("names") || IsWord("catalog")) {
      return {};
    }
    if (IsWord("time")) {
      Advance();
      if (IsWord("zone")) return {};
      return ParseGeneric("time");
    }
    if (TakeWord("schema")) {
      if (tok_.kind != Tok::kString) return Unsupported("SET SCHEMA takes a quoted literal");
      std::string v = QuoteNameItem(tok_.text);
      Advance();
      return Done(One(SetKind::kSet, "search_path", std::move(v)));
    }
    if (TakeWord("role")) {
      std::optional<std::string> v = TakeText();
      if (!v) return Unsupported("SET ROLE takes a name or a quoted literal");
      return Done(One(SetKind::kSet, "role", std::move(*v)));
    }
    if (TakeWord("xml")) {
      if (!TakeWord("option")) return {};
      if (!IsWord("document") && !IsWord("content")) return {};
      std::string v = tok_.text;
      Advance();
      return Done(One(SetKind::kSet, "xmloption", std::move(v)));
    }
    std::optional<std::string> name = TakeVarName();
    if (!name) return {};
    return ParseGeneric(std::move(*name));
  }

  // name {TO|=} value [, ...] | DEFAULT | FROM CURRENT
  SetCommand ParseGeneric(std::string name) {
    while (IsPunct('.')) {  // "time" was read as a keyword: time.x, ...
      Advance();
      std::optional<std::string> more = TakeVarName();
      if (!more) return {};
      name += "." + *more;
    }
    if (!TakeWord("to") && !IsPunct('=')) return {};
    if (IsPunct('=')) Advance();
    if (TakeWord("default")) return Done(One(SetKind::kReset, std::move(name)));
    if (IsWord("from")) return {};  // FROM CURRENT: keeps the current value
    std::vector<Item> items;
    for (;;) {
      bool negative = false;
      if (IsPunct('-') || IsPunct('+')) {
        negative = IsPunct('-');
        Advance();
        if (tok_.kind != Tok::kNumber) return Unsupported("malformed value");
      }
      switch (tok_.kind) {
        case Tok::kWord:
        case Tok::kName:
        case Tok::kString:
          items.push_back({tok_.text, false});
          break;
        case Tok::kNumber:
          items.push_back({NumberText(tok_.text, negative), true});
          break;
        default:
          return Unsupported(
              "the value is not a quoted literal, a name or a number (E'', U&'', dollar quotes "
              "and typed literals cannot be carried)");
      }
      Advance();
      if (!IsPunct(',')) break;
      Advance();
    }
    if (tok_.kind == Tok::kString || tok_.kind == Tok::kWord || tok_.kind == Tok::kName ||
        tok_.kind == Tok::kNumber) {
      return Unsupported("items of a value list must be separated by commas");
    }
    bool names = IsListOfNames(name);
    std::string value;
    for (size_t k = 0; k < items.size(); ++k) {
      if (k > 0) value += ", ";
      value += names && !items[k].number ? QuoteNameItem(items[k].text) : items[k].text;
    }
    return Done(One(SetKind::kSet, std::move(name), std::move(value)));
  }

  // SESSION AUTHORIZATION {name | 'name' | DEFAULT}
  SetCommand ParseAuthorization() {
    if (TakeWord("default")) return Done(One(SetKind::kReset, "session_authorization"));
    std::optional<std::string> v = TakeText();
    if (!v) return Unsupported("SET SESSION AUTHORIZATION takes a name or a quoted literal");
    return Done(One(SetKind::kSet, "session_authorization", std::move(*v)));
  }

  // SESSION CHARACTERISTICS AS TRANSACTION mode [[,] mode ...]
  SetCommand ParseCharacteristics() {
    if (!TakeWord("as") || !TakeWord("transaction")) return {};
    SetCommand cmd;
    cmd.kind = SetKind::kSet;
    for (;;) {
      if (TakeWord("isolation")) {
        if (!TakeWord("level")) return {};
        std::string level;
        if (TakeWord("serializable")) {
          level = "serializable";
        } else if (TakeWord("repeatable")) {
          if (!TakeWord("read")) return {};
          level = "repeatable read";
        } else if (TakeWord("read")) {
          if (TakeWord("committed")) {
            level = "read committed";
          } else if (TakeWord("uncommitted")) {
            level = "read uncommitted";
          } else {
            return {};
          }
        } else {
          return {};
        }
        cmd.settings.emplace_back("default_transaction_isolation", level);
      } else if (TakeWord("read")) {
        bool only = IsWord("only");
        if (!TakeWord("only") && !TakeWord("write")) return {};
        cmd.settings.emplace_back("default_transaction_read_only", only ? "on" : "off");
      } else if (TakeWord("not")) {
        if (!TakeWord("deferrable")) return {};
        cmd.settings.emplace_back("default_transaction_deferrable", "off");
      } else if (TakeWord("deferrable")) {
        cmd.settings.emplace_back("default_transaction_deferrable", "on");
      } else {
        return {};
      }
      if (IsPunct(',')) Advance();
      if (tok_.kind != Tok::kWord) break;
    }
    return Done(std::move(cmd));
  }

  SetCommand ParseReset() {
    if (TakeWord("all")) {
      SetCommand cmd;
      cmd.kind = SetKind::kResetAll;
      return Done(std::move(cmd));
    }
    if (IsWord("transaction")) return {};
    if (IsWord("time")) {
      Advance();
      if (IsWord("zone")) return {};
      return Done(One(SetKind::kReset, "time"));
    }
    if (TakeWord("session")) {
      if (!TakeWord("authorization")) return {};
      return Done(One(SetKind::kReset, "session_authorization"));
    }
    std::optional<std::string> name = TakeVarName();
    if (!name) return {};
    return Done(One(SetKind::kReset, std::move(*name)));
  }

  Scanner sc_;
  Token tok_;
};

// E'...': backslashes and quotes doubled, so the text reads the same whatever
// standard_conforming_strings is.
std::string EscapedLiteral(std::string_view s) {
  std::string out = "E'";
  for (char c : s) {
    if (c == '\\' || c == '\'') out += c;
    out += c;
  }
  return out + "'";
}

// A cheap pre-check: calls fn(word) with the first word of the text and of
// the text after each ';' (whitespace and comments skipped), until fn returns
// true. The ';'s include those inside quotes and comments, so every statement
// PostgreSQL's lexer sees is among them; true when fn returned true.
template <class Fn>
bool AnyFirstWord(std::string_view sql, Fn fn) {
  size_t start = 0;
  for (;;) {
    size_t i = start;
    while (i < sql.size()) {
      if (IsSqlSpace(sql[i])) {
        ++i;
      } else if ((sql[i] == '-' || sql[i] == '/') && i + 1 < sql.size() &&
                 sql[i + 1] == (sql[i] == '-' ? '-' : '*')) {
        i = SkipSqlComment(sql, i);
        if (i == kNpos) return false;
      } else {
        break;
      }
    }
    size_t w = i;
    while (i < sql.size() && IsWordContinue(sql[i])) ++i;
    if (i > w && fn(sql.substr(w, i - w))) return true;
    size_t semicolon = sql.find(';', start);
    if (semicolon == kNpos) return false;
    start = semicolon + 1;
  }
}

// `sql[i]` opens a '' string (`escapes`: an E'' string, where a backslash
// escapes the next byte); the index past its end, or the size when unterminated.
size_t SkipString(std::string_view sql, size_t i, bool escapes) {
  for (++i; i < sql.size(); ++i) {
    if (escapes && sql[i] == '\\') {
      ++i;
    } else if (sql[i] == '\'') {
      if (i + 1 < sql.size() && sql[i + 1] == '\'') {
        ++i;
      } else {
        return i + 1;
      }
    }
  }
  return sql.size();
}

// `sql[i]` is '$': the index past a dollar-quoted string ($$..$$,
// $tag$..$tag$; the size when unterminated), or i + 1 when it opens none.
size_t SkipDollar(std::string_view sql, size_t i) {
  size_t j = i + 1;
  if (j < sql.size() && IsSqlIdentStart(sql[j])) {
    while (j < sql.size() && (IsSqlIdentStart(sql[j]) || IsSqlDigit(sql[j]))) ++j;
  }
  if (j >= sql.size() || sql[j] != '$') return i + 1;
  std::string_view tag = sql.substr(i, j + 1 - i);
  size_t end = sql.find(tag, j + 1);
  return end == kNpos ? sql.size() : end + tag.size();
}

// Walks `sql` as PostgreSQL's lexer would: on_word(word) for each word
// (keyword or identifier) and each "quoted name" (its body as written),
// outside string literals, dollar quotes and comments; on_semicolon(i) for
// each ';' that ends a statement; on_literal(body) for each '' string (its
// body as written, quotes doubled) and dollar-quoted string (without its
// tags) that is closed (an unclosed '' string that ends in a quote counts
// as closed: the callers only scan the body).
template <class OnWord, class OnSemicolon, class OnLiteral>
void Lex(std::string_view sql, OnWord on_word, OnSemicolon on_semicolon, OnLiteral on_literal) {
  size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    if ((c == '-' || c == '/') && i + 1 < sql.size() && sql[i + 1] == (c == '-' ? '-' : '*')) {
      i = SkipSqlComment(sql, i);
      if (i == kNpos) i = sql.size();
    } else if (c == '\'') {
      size_t end = SkipString(sql, i, false);
      if (end >= i + 2 && sql[end - 1] == '\'') {
        on_literal(sql.substr(i + 1, end - i - 2));
      }
      i = end;
    } else if (c == '"') {
      size_t end = sql.find('"', i + 1);  // "" inside is two adjacent quoted names
      if (end == kNpos) return;
      on_word(sql.substr(i + 1, end - i - 1));
      i = end + 1;
    } else if (c == '$') {
      size_t end = SkipDollar(sql, i);
      if (end > i + 1) {  // a dollar quote opened here: "$$" or "$name$"
        size_t tag = sql.find('$', i + 1) + 1 - i;
        if (end - i >= 2 * tag && sql.substr(end - tag, tag) == sql.substr(i, tag)) {
          on_literal(sql.substr(i + tag, end - i - 2 * tag));  // closed
        }
      }
      i = end;
    } else if (IsSqlIdentStart(c)) {
      size_t w = i;
      while (i < sql.size() && IsWordContinue(sql[i])) ++i;
      if (i - w == 1 && (c == 'e' || c == 'E') && i < sql.size() && sql[i] == '\'') {
        i = SkipString(sql, i, true);
      } else {
        on_word(sql.substr(w, i - w));
      }
    } else if (c == ';') {
      on_semicolon(i);
      ++i;
    } else {
      ++i;
    }
  }
}

// The statements of `sql`, split at the semicolons PostgreSQL's lexer sees.
std::vector<std::string_view> SplitStatements(std::string_view sql) {
  std::vector<std::string_view> out;
  size_t start = 0;
  Lex(
      sql, [](std::string_view) {},
      [&](size_t i) {
        out.push_back(sql.substr(start, i - start));
        start = i + 1;
      },
      [](std::string_view) {});
  if (start < sql.size()) out.push_back(sql.substr(start));
  return out;
}

// A DO block that fails with SQLSTATE 0A000 (feature_not_supported).
// REQUIRES: neither text holds "$tusk$" (both are the router's own words).
std::string NotSupportedSql(std::string_view message, std::string_view hint) {
  return "DO $tusk$BEGIN RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = " +
         EscapedLiteral(message) + ", HINT = " + EscapedLiteral(hint) + "; END$tusk$";
}

}  // namespace

SetCommand ParseSetCommand(std::string_view sql) { return Parser(sql).Parse(); }

std::vector<SetCommand> ParseSetCommands(std::string_view sql) {
  std::vector<SetCommand> out;
  bool any = AnyFirstWord(sql, [](std::string_view w) {
    return EqualsIgnoreCase(w, "set") || EqualsIgnoreCase(w, "reset") ||
           EqualsIgnoreCase(w, "discard") || EqualsIgnoreCase(w, "savepoint") ||
           EqualsIgnoreCase(w, "release") || EqualsIgnoreCase(w, "rollback") ||
           EqualsIgnoreCase(w, "commit") || EqualsIgnoreCase(w, "end") ||
           EqualsIgnoreCase(w, "abort");
  });
  if (!any) return out;
  for (std::string_view statement : SplitStatements(sql)) {
    SetCommand cmd = ParseSetCommand(statement);
    if (cmd.kind == SetKind::kUnsupported) return {std::move(cmd)};
    if (cmd.kind != SetKind::kNone) out.push_back(std::move(cmd));
  }
  return out;
}

std::string SetConfigSql(std::string_view name, std::string_view value) {
  return "SELECT pg_catalog.set_config(" + EscapedLiteral(name) + ", " + EscapedLiteral(value) +
         ", false)";
}

std::string ResetSql(std::string_view name) { return "RESET " + QuoteIdent(name); }

std::string RefusalSql(std::string_view reason) {
  std::string message = "this SET is not supported in transaction pooling mode: ";
  message += reason;
  return NotSupportedSql(message,
                         "write the value as a quoted literal, a name or a number, or use "
                         "session pooling (router.mode: session)");
}

bool RunsListen(std::string_view sql) {
  if (!AnyFirstWord(sql, [](std::string_view w) { return EqualsIgnoreCase(w, "listen"); }))
    return false;
  for (std::string_view statement : SplitStatements(sql)) {
    Token t = Scanner(statement).Next();
    if (t.kind == Tok::kWord && t.text == "listen") return true;
  }
  return false;
}

namespace {

// `rest` follows the word set_config: true when it is a call whose third
// argument is a literal true ('t', 'on', 'yes', ... as PostgreSQL's boolean
// input reads them), i.e. the setting lasts for the transaction only. False
// for anything else (false, a parameter, an expression, not a call).
bool LocalSetConfig(std::string_view rest) {
  Scanner sc(rest);
  Token t = sc.Next();
  if (t.kind != Tok::kPunct || t.punct != '(') return false;
  int depth = 1;
  int commas = 0;
  std::vector<Token> third;
  while (depth > 0) {
    t = sc.Next();
    if (t.kind == Tok::kEnd || t.kind == Tok::kBad) return false;
    if (t.kind == Tok::kPunct && (t.punct == '(' || t.punct == '[')) ++depth;
    if (t.kind == Tok::kPunct && (t.punct == ')' || t.punct == ']')) --depth;
    if (depth == 1 && t.kind == Tok::kPunct && t.punct == ',') {
      ++commas;
    } else if (depth > 0 && commas == 2) {
      third.push_back(t);
    }
  }
  if (commas != 2 || third.size() != 1) return false;
  if (third[0].kind == Tok::kWord) return third[0].text == "true";
  if (third[0].kind != Tok::kString) return false;
  std::string v = LowerAscii(third[0].text);
  return v == "t" || v == "true" || v == "y" || v == "yes" || v == "on" || v == "1";
}

}  // namespace

namespace {

// Literals nested deeper than this in a DO block count as session state
// unread: a bound on the recursion (stack and time) for crafted texts.
constexpr int kMaxCodeDepth = 4;

// LeavesSessionState, where `depth` > 0 says that `sql` is the code of a DO
// block (or a string in it), whose string literals may be run too
// (EXECUTE '...').
bool SessionStateIn(std::string_view sql, int depth) {
  if (depth > kMaxCodeDepth) return true;
  // Pre-check: a statement starting with PREPARE, or "temp", "advisory",
  // "hold" or "set_" somewhere. Four bytes at a time: OR-ing 0x20 into each
  // byte lowercases ASCII letters and maps no other byte onto one of these
  // (but DEL onto '_', which only widens the pre-check).
  auto quad = [](const char* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v | 0x20202020u;
  };
  static const uint32_t kTemp = quad("temp"), kAdvi = quad("advi"), kHold = quad("hold"),
                        kSet = quad("set_");
  bool candidate = false;
  for (size_t i = 0; i + 4 <= sql.size() && !candidate; ++i) {
    uint32_t v = quad(sql.data() + i);
    candidate = v == kTemp || v == kAdvi || v == kHold || v == kSet;
  }
  if (!candidate &&
      !AnyFirstWord(sql, [](std::string_view w) { return EqualsIgnoreCase(w, "prepare"); })) {
    return false;
  }
  bool found = false;
  std::string_view first;  // the statement's first word
  std::string_view prev;   // the word before this one
  int words = 0;           // words of the statement so far
  Lex(
      sql,
      [&](std::string_view w) {
        ++words;
        if (words == 1) first = w;
        if (words == 2 && EqualsIgnoreCase(first, "prepare") && !EqualsIgnoreCase(w, "transaction"))
          found = true;
        if (EqualsIgnoreCase(w, "temp") || EqualsIgnoreCase(w, "temporary")) {
          // CREATE [GLOBAL|LOCAL] TEMP, CREATE OR REPLACE TEMP VIEW, SELECT .. INTO TEMP
          if (EqualsIgnoreCase(prev, "create") || EqualsIgnoreCase(prev, "global") ||
              EqualsIgnoreCase(prev, "local") || EqualsIgnoreCase(prev, "replace") ||
              (EqualsIgnoreCase(prev, "into") && EqualsIgnoreCase(first, "select"))) {
            found = true;
          }
        } else if (EqualsIgnoreCase(w, "hold")) {
          if (EqualsIgnoreCase(prev, "with")) found = true;  // DECLARE .. CURSOR WITH HOLD
        } else if (EqualsIgnoreCase(w, "set_config")) {
          size_t end = static_cast<size_t>(w.data() - sql.data()) + w.size();
          if (end < sql.size() && sql[end] == '"') ++end;  // "set_config"(...)
          if (!LocalSetConfig(sql.substr(end))) found = true;
        } else if (EqualsIgnoreCase(w, "pg_temp") || EqualsIgnoreCase(w, "pg_advisory_lock") ||
                   EqualsIgnoreCase(w, "pg_advisory_lock_shared") ||
                   EqualsIgnoreCase(w, "pg_try_advisory_lock") ||
                   EqualsIgnoreCase(w, "pg_try_advisory_lock_shared")) {
          found = true;
        }
        prev = w;
      },
      [&](size_t) {
        words = 0;
        first = prev = {};
      },
      [&](std::string_view body) {
        // DO [LANGUAGE x] 'code': the code runs now (PL/pgSQL reads like SQL
        // here), and so may the strings in it.
        if (!found && (depth > 0 || EqualsIgnoreCase(first, "do")) &&
            SessionStateIn(body, depth + 1)) {
          found = true;
        }
      });
  return found;
}

}  // namespace

bool LeavesSessionState(std::string_view sql) { return SessionStateIn(sql, 0); }

std::string ListenRefusalSql() {
  return NotSupportedSql("LISTEN is not supported in transaction pooling mode",
                         "connect through a router in session mode (router.mode: session)");
}

bool KeptByResetAll(std::string_view name) {
  return name == "role" || name == "session_authorization";
}

bool IgnoredReport(std::string_view name) {
  return name == "server_version" || name == "server_encoding" || name == "integer_datetimes" ||
         name == "is_superuser" || name == "in_hot_standby" || name == "session_authorization";
}

}  // namespace tusk::router
