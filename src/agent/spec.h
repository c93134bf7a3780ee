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

struct AgentSpec {
  std::vector<InstanceSpec> instances;
};

/// JSON text of `spec`.
std::string SpecToJson(const AgentSpec& spec);
/// Parses SpecToJson() output. Errors: kInvalidArgument naming the bad field.
Result<AgentSpec> SpecFromJson(const std::string& text);

}  // namespace tusk::agent
