// Implementation of env_substitution.h.
#include "config/env_substitution.h"

#include "config/values.h"

namespace tusk::config {

Result<std::string> SubstituteEnv(std::string_view text, const Environment& env) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out += c;
      ++i;
      continue;
    }
    char next = text[i + 1];
    if (next == '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next != '{') {
      out += c;
      ++i;
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      return InvalidArgument("unterminated \"${\" (write \"$$\" for a literal \"$\")");
    }
    std::string_view inner = text.substr(i + 2, close - (i + 2));
    std::string_view name = inner;
    std::optional<std::string_view> fallback;
    if (size_t sep = inner.find(":-"); sep != std::string_view::npos) {
      name = inner.substr(0, sep);
      fallback = inner.substr(sep + 2);
    }
    if (!IsValidEnvName(name)) {
      return InvalidArgument("invalid variable reference \"${" + std::string(inner) +
                             "}\" (expected ${NAME} or ${NAME:-default})");
    }
    std::optional<std::string> value = env.GetEnv(std::string(name));
    if (fallback && (!value || value->empty())) {
      out.append(*fallback);
    } else if (value) {
      out += *value;
    } else {
      return InvalidArgument("environment variable " + std::string(name) +
                             " is not set (set it, or write ${" + std::string(name) +
                             ":-default})");
    }
    i = close + 1;
  }
  return out;
}

}  // namespace tusk::config
