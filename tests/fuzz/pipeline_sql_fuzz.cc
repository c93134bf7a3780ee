// libFuzzer target for the router's pipelining classifier
// (src/router/pipeline_sql.h): the input is classified as a simple-Query text.
// Nothing may crash, read out of bounds or hang; on top, a text called safe
// must hold no NUL (nor a '$' that is not a $n parameter outside quotes and
// comments), open (after
// whitespace and comments) with an allowed keyword, and stop being safe when
// a statement is appended; the answer must not change with ASCII case or a
// leading comment. Build and run: scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "router/pipeline_sql.h"

namespace {

using tusk::router::PipelineSafeSql;

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsWordByte(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return (Lower(c) >= 'a' && Lower(c) <= 'z') || (c >= '0' && c <= '9') || c == '_' || u >= 0x80;
}

// Independent of the classifier: skips whitespace and (nested) comments and
// tells whether an allowed keyword follows as a whole word.
bool OpensWithAllowedKeyword(std::string_view s) {
  size_t i = 0;
  for (;;) {
    if (s.substr(i).starts_with("--")) {
      size_t end = s.find_first_of("\r\n", i);
      if (end == std::string_view::npos) return false;
      i = end;
    } else if (s.substr(i).starts_with("/*")) {
      int depth = 0;
      do {
        if (s.substr(i).starts_with("/*")) {
          ++depth;
          i += 2;
        } else if (s.substr(i).starts_with("*/")) {
          --depth;
          i += 2;
        } else if (i < s.size()) {
          ++i;
        } else {
          return false;
        }
      } while (depth > 0);
    } else if (i < s.size() && std::string_view(" \t\n\r\f\v").find(s[i]) != s.npos) {
      ++i;
    } else {
      break;
    }
  }
  size_t end = i;
  while (end < s.size() && IsWordByte(s[end])) ++end;
  std::string word;
  for (char c : s.substr(i, end - i)) word += Lower(c);
  for (std::string_view k : {"select", "insert", "update", "delete", "with", "values", "table"}) {
    if (word == k) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  bool safe = PipelineSafeSql(in);

  std::string upper(in);
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  FUZZ_CHECK(PipelineSafeSql(upper) == safe);
  FUZZ_CHECK(PipelineSafeSql("/* lead /* nested */ */ -- line\n" + std::string(in)) == safe);
  if (!safe) return 0;

  // Outside quotes and comments, '$' only opens a $n parameter.
  bool plain = in.find_first_of("'\"") == std::string_view::npos &&
               in.find("--") == std::string_view::npos && in.find("/*") == std::string_view::npos;
  for (size_t i = in.find('$'); plain && i != std::string_view::npos; i = in.find('$', i + 1)) {
    FUZZ_CHECK(i + 1 < in.size() && in[i + 1] >= '0' && in[i + 1] <= '9');
  }
  FUZZ_CHECK(in.find('\0') == std::string_view::npos);
  FUZZ_CHECK(OpensWithAllowedKeyword(in));
  // Whatever the text left open (a trailing "--" comment at most), a newline
  // closes it: the appended statement must then be seen.
  FUZZ_CHECK(!PipelineSafeSql(std::string(in) + "\n; BEGIN"));
  FUZZ_CHECK(PipelineSafeSql(std::string(in) + "\n;"));
  return 0;
}
