// Opening a connection to one backend server: TCP (IPv4, IPv6 or a host
// name) or a unix socket when the host starts with '/' (PostgreSQL's
// "<dir>/.s.PGSQL.<port>"). Used for pooled server connections (non-blocking
// connect) and for CancelRequests (blocking). Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "router/router_spec.h"

namespace tusk::router {

/// Returns a connected (blocking) or connecting (non-blocking, EINPROGRESS)
/// socket with TCP_NODELAY set for TCP, or -1 with `*error` set (resolution
/// failure, socket path too long, connect error text from errno).
int ConnectBackend(const Backend& b, bool blocking, std::string* error);

/// Delivers PostgreSQL's CancelRequest for backend (pid, key) to `b` from a
/// short detached thread (a blocking connect must not stall an event loop).
/// Best effort: nothing is reported (PostgreSQL answers a CancelRequest with
/// nothing either). Source: PostgreSQL docs, Protocol §55.2.7 Canceling
/// Requests in Progress.
void SendCancel(Backend b, int32_t pid, int32_t key);

}  // namespace tusk::router
