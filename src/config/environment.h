// Environment: what the config loader may ask of the host, behind an interface
// so that loading is a pure, unit-testable function.
//
// One real implementation (sys/host_environment.h) and one test double
// (tests/support/fake_environment.h). Implementations need not be thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tusk::config {

class Environment {
 public:
  virtual ~Environment() = default;
  /// getenv(name); nullopt when unset.
  virtual std::optional<std::string> GetEnv(const std::string& name) const = 0;
  /// Physical memory of the host in bytes.
  virtual uint64_t MemoryBytes() const = 0;
  /// Online CPUs.
  virtual int Cpus() const = 0;
  /// True when the block device holding `path` (or its nearest existing parent) is rotational.
  virtual bool IsRotational(const std::string& path) const = 0;
  /// PostgreSQL bin directories found on the host, highest major version first
  /// (e.g. "/usr/lib/postgresql/15/bin"). Empty when none is installed.
  virtual std::vector<std::string> PostgresBinDirs() const = 0;
  /// True when a regular file exists at `path` and is readable.
  virtual bool FileReadable(const std::string& path) const = 0;
  /// True when a TCP listener could bind `port` on `address` right now.
  virtual bool PortFree(const std::string& address, int port) const = 0;
  /// Current working directory (absolute).
  virtual std::string Cwd() const = 0;
};

}  // namespace tusk::config
