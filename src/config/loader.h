// LoadConfig: tusk.yaml text -> validated config::Config.
//
// Steps, in order: parse YAML (yaml-cpp); substitute ${VAR} and ${VAR:-default}
// in string scalars; reject unknown keys and wrong types; apply defaults
// (data_dir, postgres_bin, memory, cpus, storage, hba, implicit owner roles,
// the router auth role of config/router_auth.h when router.auth_query is on);
// validate (sizes, identifiers, duplicate names, shared ports or data dirs,
// SQL and password files readable, env vars set). Stops at the first error.
// Errors: Code::kInvalidArgument, message "FILE:LINE:COLUMN: KEY.PATH: why",
// e.g. "tusk.yaml:12:9: instances[1].databases[2].extensions: expected a list".
// YAML syntax errors read "FILE:LINE:COLUMN: yaml: <parser message>".
// Never throws. The format is documented in docs/config.md.
// Pure apart from the Environment passed in; thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/environment.h"
#include "config/model.h"

namespace tusk::config {

/// Reads and loads the file at `path` (relative paths resolve against
/// env.Cwd()); relative paths inside resolve against the file's directory.
/// Messages name the file as `path` was given. An unreadable file gives
/// "PATH: cannot read: <strerror>".
Result<Config> LoadConfigFile(const std::string& path, const Environment& env);

/// Loads YAML `text`; `source` names it in messages; relative paths resolve
/// against `base_dir` (itself resolved against env.Cwd() when relative).
Result<Config> LoadConfigText(std::string_view text, const std::string& source,
                              const std::string& base_dir, const Environment& env);

/// The configuration used when there is no tusk.yaml: one instance `main` on
/// 127.0.0.1, data in <base_dir>/tusk-data/main, port `existing_port` when the
/// instance already exists, else 5432 or the first free port above it.
/// Databases from POSTGRES_MULTIPLE_DATABASES (comma-separated) and POSTGRES_DB,
/// else one database `app`; superuser name from POSTGRES_USER, password from
/// POSTGRES_PASSWORD when set (else generated). source = "<embedded default>".
/// Errors (kInvalidArgument): invalid names in the POSTGRES_* variables, no
/// PostgreSQL installed, no free port.
Result<Config> EmbeddedDefault(const std::string& base_dir, std::optional<int> existing_port,
                               const Environment& env);

/// The pg_hba.conf rules used when an instance has no `hba` key: peer (with
/// ident map "tusk") for `superuser` over the Unix socket, scram-sha-256 from
/// loopback, and scram-sha-256 from each non-loopback address in `listen`
/// (a comma list; "*", "0.0.0.0" and "::" open 0.0.0.0/0 and ::/0).
std::vector<HbaRule> DefaultHbaRules(const std::string& superuser, const std::string& listen);

}  // namespace tusk::config
