// Layout: where tusk keeps its own files for one config (state_dir).
//
//   <state_dir>/<instance>/        data directories (default; data_dir may be elsewhere)
//   <state_dir>/.secrets/<i>.json  generated passwords, mode 0600, owned by the invoker
//   <state_dir>/.agent/            agent pid, spec, status, markers, logs; per router
//                                  <i>.router.spec.json and .log
//   <state_dir>/.run/              unix sockets of the instances, <i>.router.pid
//   <state_dir>/.router/<i>/       the router's own files, 0700, owned by the account
//                                  the router runs as (the server's, when tusk is
//                                  root): secrets.json (its copy of the passwords,
//                                  0600), status.json, and router.crt/router.key
//                                  when tusk generates them, or tls.crt/tls.key:
//                                  copies of the configured cert_file/key_file
// Per-instance router files are named "<i>.router.*": instance names cannot
// contain '.', so they never collide with another instance's "<j>.*" files.
// Pure path arithmetic; thread-safe.
#pragma once

#include <string>

#include "config/model.h"

namespace tusk::postgres {

struct Layout {
  std::string state_dir;
  std::string secrets_dir;
  std::string agent_dir;
  std::string run_dir;     ///< unix_socket_directories; falls back to /tmp/tusk-<hash> when long
  std::string router_dir;  ///< one directory per instance with a router

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

  /// The router's own directory (0700, owned by the account it runs as).
  std::string RouterDir(const std::string& instance) const;
  std::string RouterSpecFile(const std::string& instance) const;     ///< written by `up`
  std::string RouterSecretsFile(const std::string& instance) const;  ///< written by `up`, 0600
  std::string RouterStatusFile(const std::string& instance) const;   ///< written by the router
  std::string RouterPidFile(const std::string& instance) const;      ///< written by the router
  std::string RouterLogFile(const std::string& instance) const;  ///< router stdout+stderr (agent)
  /// Present: the agent restarts the router once (settings a reload cannot change).
  std::string RouterRestartMarker(const std::string& instance) const;
  std::string RouterCertFile(const std::string& instance) const;  ///< generated certificate
  std::string RouterKeyFile(const std::string& instance) const;   ///< its key, 0600
  /// Copies of the configured router tls.cert_file / key_file (0600), which
  /// the router's account may not be able to read where they are.
  std::string RouterGivenCertFile(const std::string& instance) const;
  std::string RouterGivenKeyFile(const std::string& instance) const;
};

}  // namespace tusk::postgres
