// HttpRequest: the parts of an HTTP/1.x request head that HttpEndpoint
// routes on, and the pure functions that find and parse that head.
//
// Only what a GET-only metrics server needs: the request line is checked
// strictly, header lines only for shape (name, colon), and bodies are not
// read. Pure functions on values; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tusk::metrics {

/// A parsed request line.
struct HttpRequest {
  std::string method;  ///< e.g. "GET", as sent (methods are case-sensitive)
  std::string path;    ///< the target without its query or fragment: "/metrics"
};

/// Length in bytes of the request head at the start of `data`: through the
/// empty line that ends it (CRLF CRLF, or bare LF LF). 0 while incomplete.
size_t HttpHeadLength(std::string_view data);

/// Parses a complete request head ("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").
/// The target must be origin-form (start with '/'), the version HTTP/1.0 or
/// HTTP/1.1. Errors: kInvalidArgument saying what is malformed.
Result<HttpRequest> ParseHttpRequest(std::string_view head);

}  // namespace tusk::metrics
