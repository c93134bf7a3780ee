// Read-only commands: status, url, psql, tune; and apply (reconcile) and init.
// Each returns a process exit status.
#pragma once

#include <string>
#include <vector>

namespace tusk::cli {

/// Per instance: state, pid, port, version, uptime, restart pending,
/// connections per database, database sizes, queries running over 5 s, and
/// its router (ports, mode, process state, and its live numbers when fresh).
int StatusCommand(const std::string& config_path, bool json);

/// Options shared by `url` and `psql`.
struct TargetOptions {
  std::string config_path;
  std::string database;
  std::string instance;     ///< default: the instance holding `database`
  std::string role;         ///< default: the database's owner
  bool via_router = false;  ///< the instance's router instead of PostgreSQL itself
  bool readonly = false;    ///< with via_router: the router's read-only port
};

/// Prints a libpq URI with the password (pointing at the router with via_router).
int Url(const TargetOptions& options);
/// Execs psql connected as the role (password passed via PGPASSWORD, not argv).
int Psql(const TargetOptions& options, const std::vector<std::string>& args);
/// Prints tuned parameters (with formulas when `explain`).
int Tune(const std::string& config_path, const std::string& instance, bool explain);
/// Reconciles every instance with tusk.yaml.
int Apply(const std::string& config_path, bool dry_run, bool allow_drop);
/// Writes a commented tusk.yaml (and the SQL files it names) into `dir`.
int Init(const std::string& example, const std::string& dir, bool force);

}  // namespace tusk::cli
