// libFuzzer target for the SQL file splitter (provision/sql_script.h). Any input
// must split without crashing, and the statements must be an exact, ordered,
// non-overlapping partition of the input's non-blank parts:
//   - each statement's text is the input at its offset, followed by ';' or the end;
//   - re-splitting a statement's text alone yields that one statement unchanged
//     (the lexer starts every statement in the same state);
//   - what lies between statements splits into nothing (only ';', blanks, comments);
//   - line numbers agree with LineOfOffset.
// Run through scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz_check.h"
#include "provision/sql_script.h"

namespace {}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tusk::provision::LineOfOffset;
  using tusk::provision::LineOfPosition;
  using tusk::provision::SplitSqlScript;
  std::string_view s(reinterpret_cast<const char*>(data), size);
  const int last_line = LineOfOffset(s, s.size());

  auto statements = SplitSqlScript(s);
  size_t prev_end = 0;  // end of the previous statement (its ';' excluded)
  for (const auto& st : statements) {
    FUZZ_CHECK(st.offset >= prev_end && st.offset <= s.size());
    FUZZ_CHECK(st.text.size() <= s.size() - st.offset);
    FUZZ_CHECK(!st.text.empty());
    FUZZ_CHECK(s.substr(st.offset, st.text.size()) == st.text);
    const size_t end = st.offset + st.text.size();
    FUZZ_CHECK(end == s.size() || s[end] == ';');
    FUZZ_CHECK(st.first_line >= LineOfOffset(s, st.offset) && st.first_line <= last_line);

    // The gap before this statement holds no statement.
    FUZZ_CHECK(SplitSqlScript(s.substr(prev_end, st.offset - prev_end)).empty());

    auto again = SplitSqlScript(st.text);
    FUZZ_CHECK(again.size() == 1);
    FUZZ_CHECK(again[0].offset == 0 && again[0].text == st.text);
    FUZZ_CHECK(again[0].first_line + LineOfOffset(s, st.offset) - 1 == st.first_line);
    prev_end = end;
  }
  FUZZ_CHECK(SplitSqlScript(s.substr(prev_end)).empty());

  // LineOfPosition: within [1, last_line], non-decreasing in the position.
  const int n = static_cast<int>(size);
  int prev = 1;
  int prev_pos = 1;
  for (int pos : {-1, 0, 1, 2, n / 3, n / 2, n - 1, n, n + 1, n + 5}) {
    int line = LineOfPosition(s, pos);
    FUZZ_CHECK(line >= 1 && line <= last_line);
    if (pos < 1) FUZZ_CHECK(line == 1);
    if (pos >= 1 && pos >= prev_pos) {
      FUZZ_CHECK(line >= prev);
      prev = line;
      prev_pos = pos;
    }
  }
  return 0;
}
