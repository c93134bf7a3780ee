#include "metrics/http_request.h"

#include <cstring>

namespace tusk::metrics {

namespace {

// RFC 9110 token characters (methods, header names).
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

// Splits off the first line of `*rest` (without its LF or CRLF).
std::string_view NextLine(std::string_view* rest) {
  size_t nl = rest->find('\n');
  std::string_view line = rest->substr(0, nl);
  rest->remove_prefix(nl == std::string_view::npos ? rest->size() : nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

size_t HttpHeadLength(std::string_view data) {
  size_t start = 0;
  while (start < data.size()) {
    size_t nl = data.find('\n', start);
    if (nl == std::string_view::npos) return 0;
    size_t len = nl - start;
    if (len == 0 || (len == 1 && data[start] == '\r')) {
      return nl +
             1;  // a blank line ends the head (a blank first line: ParseHttpRequest rejects it)
    }
    start = nl + 1;
  }
  return 0;
}

Result<HttpRequest> ParseHttpRequest(std::string_view head) {
  std::string_view rest = head;
  std::string_view line = NextLine(&rest);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return InvalidArgument("request line is not METHOD TARGET VERSION");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method)) return InvalidArgument("bad method");
  if (target.empty() || target[0] != '/') return InvalidArgument("target is not an absolute path");
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return InvalidArgument("control character in target");
    }
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return InvalidArgument("unsupported version");
  }
  while (!rest.empty()) {
    std::string_view header = NextLine(&rest);
    if (header.empty()) break;  // the blank line that ends the head
    size_t colon = header.find(':');
    if (colon == std::string_view::npos || !IsToken(header.substr(0, colon))) {
      return InvalidArgument("malformed header line");
    }
  }
  HttpRequest req;
  req.method = std::string(method);
  req.path = std::string(target.substr(0, target.find_first_of("?#")));
  return req;
}

}  // namespace tusk::metrics
