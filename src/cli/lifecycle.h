// Instance lifecycle commands: up, run, agent, router, down, restart, ready, logs.
// Each returns a process exit status. Blocking; run from the CLI thread.
#pragma once

#include <string>

#include "cli/context.h"

namespace tusk::cli {

struct UpOptions {
  std::string config_path;
  bool restart = false;  ///< apply parameters that need a restart now
  int timeout_s = 90;    ///< how long to wait for every instance to accept connections
};

/// initdb where needed, write server and router files, start/poke the agent,
/// wait until ready, reload, reconcile, wait for the routers. 0 when every
/// instance is ready and reconciled (a router that does not start is a warning).
int Up(const UpOptions& options);
/// Prepare like `up`, then run the agent in the foreground (systemd).
int Run(const std::string& config_path);
/// The agent loop for an already prepared state directory (spawned by `up`).
int AgentMain(const std::string& state_dir);
/// Fast shutdown of one instance, or of all and the agent.
int Down(const std::string& config_path, const std::string& instance);
/// Restart one or all instances through the agent and wait until ready.
int Restart(const std::string& config_path, const std::string& instance, int timeout_s);
/// pg_isready-style probe: 0 accepting, 1 rejecting, 2 no response, 3 no attempt.
int Ready(const std::string& config_path, const std::string& instance);
/// Print (or follow) the server log of an instance, or its router's log.
int Logs(const std::string& config_path, const std::string& instance, bool follow, int lines,
         bool router);
/// The router process for a spec file (started by the agent).
int RouterMain(const std::string& spec_path);

/// Restart the named instances via the agent and wait for readiness (shared by
/// `restart` and `up --restart`).
Status RestartInstances(const Context& ctx, const std::vector<const config::Instance*>& which,
                        int timeout_s);

}  // namespace tusk::cli
