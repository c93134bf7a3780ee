// Layout: where tusk keeps its own files for one config (state_dir).
//
//   <state_dir>/<instance>/        data directories (default; data_dir may be elsewhere)
//   <state_dir>/.secrets/<i>.json  generated passwords, mode 0600, owned by the invoker
//   <state_dir>/.agent/            agent pid, spec, status, markers, logs
//   <state_dir>/.run/              unix sockets of the instances
// Pure path arithmetic; thread-safe.
#pragma once

#include <string>

#include "config/model.h"

namespace tusk::postgres {

struct Layout {
  std::string state_dir;
  std::string secrets_dir;
  std::string agent_dir;
  std::string run_dir;  ///< unix_socket_directories; falls back to /tmp/tusk-<hash> when long

  /// Paths for `config` (uses config.state_dir).
  static Layout For(const config::Config& config);

  std::string SecretsFile(const std::string& instance) const;
  std::string LogFile(const std::string& instance) const;     ///< server stderr
  std::string StopMarker(const std::string& instance) const;  ///< present: keep it stopped
  std::string RestartMarker(const std::string& instance) const;
  std::string AgentPidFile() const;
  std::string AgentSpecFile() const;    ///< what to supervise (written by `up`)
  std::string AgentStatusFile() const;  ///< what the agent sees (written by the agent)
  std::string AgentLogFile() const;
};

}  // namespace tusk::postgres
