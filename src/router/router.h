// The router process: `tusk router --spec FILE`, started by the agent.
//
// Loads the spec (router_spec.h), binds the read-write and read-only ports,
// runs N worker threads each with its own epoll loop, and serves until
// SIGTERM/SIGINT. SIGHUP (or the admin command RELOAD) re-reads the spec and
// secrets: the backend set, limits and passwords change without dropping
// client connections; ports, workers and TLS files need a restart.
#pragma once

#include <string>

namespace tusk::router {

/// Runs the router until SIGTERM/SIGINT. Returns the process exit code:
/// 0 after a clean stop, 1 when the spec cannot be loaded or a port cannot
/// be bound (the reason is printed to stderr). The spec's pid file is
/// written before the ports listen (so whoever sees the port accept can find
/// the process) and removed on every return.
int RunRouter(const std::string& spec_path);

}  // namespace tusk::router
