// AgentSpec: what the agent supervises, written by `tusk up` as JSON into
// <state_dir>/.agent/spec.json and re-read by the agent on SIGHUP. Keeping
// this separate from tusk.yaml means the agent never parses user config.
// Value types; (de)serialization throws nothing (errors are Status).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "sys/process.h"

namespace tusk::agent {

/// One postmaster to keep running.
struct InstanceSpec {
  std::string name;
  std::string data_dir;
  std::string postgres_bin;  ///< directory holding `postgres`
  int port = 0;
  std::string socket_dir;
  std::string log_file;  ///< server stderr, appended
  sys::RunAs run_as;     ///< account the server runs under
};

/// One router (`tusk router --spec spec_file`) to keep running in front of
/// an instance. It runs as the agent's own user and is started once that
/// instance's postmaster accepts connections.
struct RouterProcessSpec {
  std::string instance;   ///< name of the InstanceSpec it fronts
  std::string spec_file;  ///< router spec JSON (router/router_spec.h)
  std::string log_file;   ///< router stdout+stderr, appended
  std::string host;       ///< where the agent checks that `port` accepts TCP connections
  int port = 0;           ///< the router's read-write port
  std::string pid_file;   ///< written by the router; a new agent adopts the live pid in it
  /// Account the router runs as when the agent is root (the server's); uid 0
  /// (specs written before it existed): the agent's own.
  sys::RunAs run_as;
};

struct AgentSpec {
  std::vector<InstanceSpec> instances;
  std::vector<RouterProcessSpec> routers;  ///< optional in the JSON (older specs have none)
};

/// JSON text of `spec`.
std::string SpecToJson(const AgentSpec& spec);
/// Parses SpecToJson() output. Errors: kInvalidArgument naming the bad field.
Result<AgentSpec> SpecFromJson(const std::string& text);

}  // namespace tusk::agent
