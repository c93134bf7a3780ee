// Context: what every command needs — the loaded config, its layout, and
// helpers to address an instance (control connection, URIs, passwords).
// Control-plane edge: failures are reported as Status; commands turn them
// into exit codes (2 for bad config or arguments, 1 otherwise).
#pragma once

#include <map>
#include <string>

#include "common/status.h"
#include "config/model.h"
#include "postgres/connection.h"
#include "postgres/layout.h"
#include "sys/host_environment.h"

namespace tusk::cli {

/// Exit codes shared by the commands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Context {
  config::Config config;
  postgres::Layout layout;
  sys::HostEnvironment env;

  /// The instance called `name`. Errors: kInvalidArgument listing the names.
  Result<const config::Instance*> Find(const std::string& name) const;
  /// Instances selected by `name` (all when empty).
  Result<std::vector<const config::Instance*>> Select(const std::string& name) const;
  /// Superuser connection over the instance's unix socket (peer auth via map tusk).
  postgres::ConnInfo Admin(const config::Instance& instance,
                           const std::string& dbname = "postgres") const;
  /// Host clients use over TCP: the first listen address, 127.0.0.1 for wildcards.
  static std::string ClientHost(const config::Instance& instance);
  /// The same for any listen list ("127.0.0.1,10.0.0.5", "*", "::").
  static std::string ClientHostFor(const std::string& listen);
  /// Role passwords of `instance` (generated ones created when `create`).
  Result<std::map<std::string, std::string>> Passwords(const config::Instance& instance,
                                                       bool create) const;
};

/// Loads `config_path`, or ./tusk.yaml when empty and present, else the
/// embedded default (reusing the port of an existing tusk-data/main).
Result<Context> LoadContext(const std::string& config_path);

/// Prints "tusk: <message>" to stderr and returns the exit code for `status`.
int Fail(const Status& status);

}  // namespace tusk::cli
