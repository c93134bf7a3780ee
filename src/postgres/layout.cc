// Path arithmetic for tusk's state directory.
#include "postgres/layout.h"

#include <functional>

namespace tusk::postgres {

Layout Layout::For(const config::Config& config) {
  Layout l;
  l.state_dir = config.state_dir;
  l.secrets_dir = l.state_dir + "/.secrets";
  l.agent_dir = l.state_dir + "/.agent";
  l.run_dir = l.state_dir + "/.run";
  l.router_dir = l.state_dir + "/.router";
  // sun_path holds 107 bytes; the socket name is "/.s.PGSQL.NNNNN.lock" (≤ 21).
  if (l.run_dir.size() > 80) {
    l.run_dir = "/tmp/tusk-" + std::to_string(std::hash<std::string>{}(l.state_dir) % 1000000007);
  }
  return l;
}

std::string Layout::SecretsFile(const std::string& i) const {
  return secrets_dir + "/" + i + ".json";
}
std::string Layout::LogFile(const std::string& i) const { return agent_dir + "/" + i + ".log"; }
std::string Layout::StopMarker(const std::string& i) const { return agent_dir + "/" + i + ".stop"; }
std::string Layout::RestartMarker(const std::string& i) const {
  return agent_dir + "/" + i + ".restart";
}
std::string Layout::AgentPidFile() const { return agent_dir + "/agent.pid"; }
std::string Layout::AgentSpecFile() const { return agent_dir + "/spec.json"; }
std::string Layout::AgentStatusFile() const { return agent_dir + "/status.json"; }
std::string Layout::AgentLogFile() const { return agent_dir + "/agent.log"; }

std::string Layout::RouterSpecFile(const std::string& i) const {
  return agent_dir + "/" + i + ".router.spec.json";
}
std::string Layout::RouterDir(const std::string& i) const { return router_dir + "/" + i; }
std::string Layout::RouterSecretsFile(const std::string& i) const {
  return RouterDir(i) + "/secrets.json";
}
std::string Layout::RouterStatusFile(const std::string& i) const {
  return RouterDir(i) + "/status.json";
}
std::string Layout::RouterPidFile(const std::string& i) const {
  return run_dir + "/" + i + ".router.pid";
}
std::string Layout::RouterLogFile(const std::string& i) const {
  return agent_dir + "/" + i + ".router.log";
}
std::string Layout::RouterRestartMarker(const std::string& i) const {
  return agent_dir + "/" + i + ".router.restart";
}
std::string Layout::RouterCertFile(const std::string& i) const {
  return RouterDir(i) + "/router.crt";
}
std::string Layout::RouterKeyFile(const std::string& i) const {
  return RouterDir(i) + "/router.key";
}
std::string Layout::RouterGivenCertFile(const std::string& i) const {
  return RouterDir(i) + "/tls.crt";
}
std::string Layout::RouterGivenKeyFile(const std::string& i) const {
  return RouterDir(i) + "/tls.key";
}

}  // namespace tusk::postgres
