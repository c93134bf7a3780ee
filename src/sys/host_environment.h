// HostEnvironment: the real config::Environment, reading /proc, /sys, getenv
// and the file system of this host. Stateless; thread-safe.
#pragma once

#include "config/environment.h"

namespace tusk::sys {

class HostEnvironment : public config::Environment {
 public:
  std::optional<std::string> GetEnv(const std::string& name) const override;
  uint64_t MemoryBytes() const override;
  int Cpus() const override;
  bool IsRotational(const std::string& path) const override;
  std::vector<std::string> PostgresBinDirs() const override;
  bool FileReadable(const std::string& path) const override;
  bool PortFree(const std::string& address, int port) const override;
  std::string Cwd() const override;
};

/// True when nothing listens on TCP `port` of `address` (bind test with SO_REUSEADDR).
bool TcpPortFree(const std::string& address, int port);

}  // namespace tusk::sys
