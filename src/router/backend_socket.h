// Opening a connection to one backend server: TCP (IPv4, IPv6 or a host
// name) or a unix socket when the host starts with '/' (PostgreSQL's
// "<dir>/.s.PGSQL.<port>"). Used for pooled server connections (non-blocking
// connect) and for CancelRequests (blocking). Thread-safe.
#pragma once

#include <string>

#include "router/router_spec.h"

namespace tusk::router {

/// Returns a connected (blocking) or connecting (non-blocking, EINPROGRESS)
/// socket with TCP_NODELAY set for TCP, or -1 with `*error` set (resolution
/// failure, socket path too long, connect error text from errno).
int ConnectBackend(const Backend& b, bool blocking, std::string* error);

}  // namespace tusk::router
