// FakeEnvironment: an in-memory config::Environment for tests and fuzzing.
//
// Every host fact is a public field the test sets directly; nothing touches the
// real host. Defaults describe a plausible machine: 8 GiB, 4 CPUs, SSD,
// PostgreSQL 15 installed, cwd /work, every port free, no files readable.
// Not thread-safe (PortFree records its probes).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config/environment.h"

namespace tusk::test {

class FakeEnvironment : public config::Environment {
 public:
  /// Environment variables (GetEnv).
  std::map<std::string, std::string> vars;
  uint64_t memory_bytes = 8ull << 30;
  int cpus = 4;
  /// Paths equal to or below one of these are on rotational storage.
  std::vector<std::string> rotational_dirs;
  std::vector<std::string> bin_dirs = {"/usr/lib/postgresql/15/bin"};
  /// Files FileReadable() reports as readable (absolute paths).
  std::set<std::string> readable_files;
  /// When true, FileReadable() is true for every path.
  bool all_files_readable = false;
  /// Ports PortFree() reports as taken (on any address).
  std::set<int> busy_ports;
  std::string cwd = "/work";
  /// Every PortFree() call, in order.
  mutable std::vector<std::pair<std::string, int>> port_probes;

  std::optional<std::string> GetEnv(const std::string& name) const override {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  }
  uint64_t MemoryBytes() const override { return memory_bytes; }
  int Cpus() const override { return cpus; }
  bool IsRotational(const std::string& path) const override {
    for (const std::string& dir : rotational_dirs) {
      if (path == dir || path.rfind(dir + "/", 0) == 0) return true;
    }
    return false;
  }
  std::vector<std::string> PostgresBinDirs() const override { return bin_dirs; }
  bool FileReadable(const std::string& path) const override {
    return all_files_readable || readable_files.count(path) > 0;
  }
  bool PortFree(const std::string& address, int port) const override {
    port_probes.emplace_back(address, port);
    return busy_ports.count(port) == 0;
  }
  std::string Cwd() const override { return cwd; }
};

}  // namespace tusk::test
