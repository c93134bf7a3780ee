// TCP readiness probe for processes the agent supervises (the router) and
// for the CLI waiting on them. Blocking for at most the given timeout;
// thread-safe.
#pragma once

#include <string>

namespace tusk::agent {

/// True when a TCP connection to `host` (an address or a name) on `port` is
/// accepted within `timeout_ms`. The connection is closed at once.
bool TcpAccepting(const std::string& host, int port, int timeout_ms);

}  // namespace tusk::agent
