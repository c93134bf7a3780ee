// Agent: the per-config supervisor process (`tusk run`, or started in the
// background by `tusk up`). It keeps every postmaster of its spec running,
// restarting dead ones with backoff (Supervision), and publishes what it sees
// to status.json. It also runs each instance's router (`tusk router --spec`)
// once that instance's postmaster accepts connections, with the same restart
// policy. Control is by files and signals, so the CLI needs no RPC:
//   SIGHUP            re-read spec.json and the markers; forwarded to every router
//   SIGTERM/SIGINT    stop every router (SIGTERM, SIGKILL after 5 s), then
//                     fast-shutdown every server, then exit
//   <i>.stop marker   keep instance i (and its router) stopped
//   <i>.restart marker: restart i once;  <i>.router.restart: restart i's router once
// A router is stopped when its entry or its spec file disappears.
// Single-threaded; one agent per state directory (agent.pid guards it).
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

#include "common/status.h"
#include "postgres/layout.h"

namespace tusk::agent {

/// Runs the agent in the foreground until SIGTERM/SIGINT. Returns the exit status.
int RunAgent(const postgres::Layout& layout);

/// One instance (or router) as the agent last published it.
struct InstanceStatus {
  std::string state;  ///< ToString(ServerState)
  pid_t pid = 0;
  int64_t started_at = 0;  ///< unix seconds of the last start; 0 when not running
  int restarts = 0;
  std::string reason;  ///< why it exited / why the agent gave up
};

/// The agent's published view (status.json).
struct AgentStatus {
  pid_t agent_pid = 0;
  int64_t updated_at = 0;  ///< unix seconds
  std::map<std::string, InstanceStatus> instances;
  std::map<std::string, InstanceStatus> routers;  ///< by instance name
};

/// Reads status.json. Errors: kNotFound when the agent never ran.
Result<AgentStatus> ReadAgentStatus(const postgres::Layout& layout);

/// pid of the live agent for `layout`, or 0 when none runs.
pid_t LiveAgentPid(const postgres::Layout& layout);

/// pid of the live router of `instance` (from the pid file it writes), or 0.
pid_t LiveRouterPid(const postgres::Layout& layout, const std::string& instance);

}  // namespace tusk::agent
