// libFuzzer target for the router's SET/RESET parser (src/router/set_command.h):
// the input is parsed as a simple-Query text. Nothing may crash, read out of
// bounds or hang; on top: results are well-formed for their kind (names
// lowercase and non-empty, a reason for kUnsupported), a leading comment
// changes nothing, a second statement makes a tracked text untracked (and
// ParseSetCommands finds the statement in it, once per copy), and the
// SQL rendered for each setting reads back (by an independent unquoting
// here) as exactly that name and value; RunsListen and LeavesSessionState
// are unmoved by what precedes the text. Build and run: scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/strings.h"
#include "fuzz_check.h"
#include "router/set_command.h"

namespace {

using namespace tusk::router;

// Reads the quoted token at the start of `*s` whose body doubles `quote`
// (and, with `backslash`, escapes a backslash with one), advancing past it.
std::optional<std::string> Unquote(std::string_view* s, char quote, bool backslash) {
  if (s->empty() || (*s)[0] != quote) return std::nullopt;
  std::string out;
  for (size_t i = 1; i < s->size(); ++i) {
    char c = (*s)[i];
    if ((c == quote || (backslash && c == '\\')) && i + 1 < s->size() && (*s)[i + 1] == c) {
      out += c;
      ++i;
    } else if (c == quote) {
      s->remove_prefix(i + 1);
      return out;
    } else if (backslash && c == '\\') {
      return std::nullopt;  // a lone backslash would escape what follows
    } else {
      out += c;
    }
  }
  return std::nullopt;
}

bool Consume(std::string_view* s, std::string_view prefix) {
  if (s->substr(0, prefix.size()) != prefix) return false;
  s->remove_prefix(prefix.size());
  return true;
}

void CheckRendered(const std::string& name, const std::string& value) {
  std::string sql = SetConfigSql(name, value);
  std::string_view s = sql;
  FUZZ_CHECK(Consume(&s, "SELECT pg_catalog.set_config(E"));
  FUZZ_CHECK(Unquote(&s, '\'', true) == name);
  FUZZ_CHECK(Consume(&s, ", E"));
  FUZZ_CHECK(Unquote(&s, '\'', true) == value);
  FUZZ_CHECK(s == ", false)");
  std::string reset = ResetSql(name);
  std::string_view r = reset;
  FUZZ_CHECK(Consume(&r, "RESET "));
  FUZZ_CHECK(Unquote(&r, '"', false) == name);
  FUZZ_CHECK(r.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  SetCommand cmd = ParseSetCommand(in);
  switch (cmd.kind) {
    case SetKind::kNone:
    case SetKind::kResetAll:
    case SetKind::kDiscardAll:
    case SetKind::kCommit:
    case SetKind::kRollback:
      FUZZ_CHECK(cmd.settings.empty() && cmd.reason.empty() && cmd.savepoint.empty());
      break;
    case SetKind::kSavepoint:
    case SetKind::kRelease:
    case SetKind::kRollbackTo:
      FUZZ_CHECK(cmd.settings.empty() && cmd.reason.empty() && !cmd.savepoint.empty());
      break;
    case SetKind::kUnsupported:
      FUZZ_CHECK(cmd.settings.empty() && !cmd.reason.empty());
      break;
    case SetKind::kSet:
    case SetKind::kReset:
      FUZZ_CHECK(!cmd.settings.empty() && cmd.reason.empty());
      for (const auto& [name, value] : cmd.settings) {
        FUZZ_CHECK(!name.empty());  // a quoted part may hold any byte, '.' too
        for (char c : name) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
        FUZZ_CHECK(name.find('\0') == std::string::npos && value.find('\0') == std::string::npos);
        if (cmd.kind == SetKind::kReset) FUZZ_CHECK(value.empty());
        CheckRendered(name, value);
      }
      break;
  }
  if (in.find('\0') != std::string_view::npos) return 0;
  SetCommand lead = ParseSetCommand("/* lead /* nested */ */ -- line\n" + std::string(in));
  FUZZ_CHECK(lead.kind == cmd.kind && lead.settings == cmd.settings);
  // RunsListen: a closed statement in front or a leading comment changes
  // nothing, and a text without the word is never split.
  bool listen = RunsListen(in);
  FUZZ_CHECK(RunsListen("/* lead */ -- line\n" + std::string(in)) == listen);
  FUZZ_CHECK(RunsListen("SELECT 1;\n" + std::string(in)) == listen);
  if (listen) FUZZ_CHECK(tusk::LowerAscii(in).find("listen") != std::string::npos);
  bool state = LeavesSessionState(in);
  FUZZ_CHECK(LeavesSessionState("/* lead */ -- line\n" + std::string(in)) == state);
  FUZZ_CHECK(LeavesSessionState("SELECT 1;\n" + std::string(in)) == state);
  std::vector<SetCommand> all = ParseSetCommands(in);
  for (const SetCommand& c : all) {
    FUZZ_CHECK(c.kind != SetKind::kNone);
    if (c.kind == SetKind::kUnsupported) FUZZ_CHECK(all.size() == 1);
  }
  if (cmd.kind != SetKind::kNone && cmd.kind != SetKind::kUnsupported) {
    // Whatever the text left open (a trailing "--" comment at most), a
    // newline closes it: the appended statement must then be seen.
    FUZZ_CHECK(ParseSetCommand(std::string(in) + "\n; SELECT 1").kind == SetKind::kNone);
    // The splitter sees the one statement, and each copy of it.
    auto same = [&](const SetCommand& c) {
      return c.kind == cmd.kind && c.settings == cmd.settings && c.savepoint == cmd.savepoint;
    };
    FUZZ_CHECK(all.size() == 1 && same(all[0]));
    std::vector<SetCommand> twice =
        ParseSetCommands(std::string(in) + "\n;SELECT 1;" + std::string(in));
    FUZZ_CHECK(twice.size() == 2 && same(twice[0]) && same(twice[1]));
  }
  return 0;
}
