// Server files: initdb for a new data directory, and the files tusk owns in
// it — tusk.conf (included from postgresql.conf), pg_hba.conf, pg_ident.conf.
//
// Hand edits to postgresql.conf survive: tusk only appends one
// `include_if_exists = 'tusk.conf'` line, once. pg_hba.conf and pg_ident.conf
// are rendered whole from tusk.yaml. Render* are pure; the rest do blocking
// file and process I/O. Source: PostgreSQL docs §20.1 (Setting Parameters),
// §21.1 (The pg_hba.conf File), §21.2 (User Name Maps), initdb(1).
#pragma once

#include <string>

#include "common/status.h"
#include "config/model.h"
#include "postgres/tuning.h"
#include "sys/process.h"

namespace tusk::postgres {

/// Name of the ident map tusk's control connection uses (pg_ident.conf).
inline constexpr const char* kIdentMap = "tusk";

/// TuningInput for an instance's resolved resources and parameters.
TuningInput TuningInputFor(const config::Instance& instance);

/// tusk.conf: connection settings, socket directory, logging, tuned parameters.
std::string RenderTuskConf(const config::Instance& instance, const TuningResult& tuning,
                           const std::string& socket_dir);

/// pg_hba.conf: tusk's control line (local, superuser, peer map=tusk) first,
/// then the instance's rules.
std::string RenderHba(const config::Instance& instance);

/// pg_ident.conf: maps the server account and the invoking user to the superuser.
std::string RenderIdent(const config::Instance& instance, const std::string& server_account,
                        const std::string& invoker);

/// True when `data_dir` is missing or an empty directory.
bool DataDirEmpty(const std::string& data_dir);

/// Runs initdb (UTF8, --data-checksums, scram-sha-256, the configured locale)
/// as `account`, with the superuser password passed through a temporary 0600
/// file. REQUIRES: DataDirEmpty(instance.data_dir).
/// Errors: kFailedPrecondition when the account cannot reach the directory,
/// kInternal with initdb's output when it fails.
Status InitDataDir(const config::Instance& instance, const sys::RunAs& account,
                   const std::string& superuser_password, const std::string& scratch_dir);

/// Writes tusk.conf, pg_hba.conf, pg_ident.conf and the include line.
/// Returns true when any file changed (a running server then needs a reload).
Result<bool> WriteServerFiles(const config::Instance& instance, const TuningResult& tuning,
                              const std::string& socket_dir, const sys::RunAs& account);

/// PostgreSQL major version of `bin_dir`'s server (e.g. 15), from `postgres --version`.
Result<int> ServerMajorVersion(const std::string& bin_dir);

/// Major version of an existing data directory (PG_VERSION), or 0 when absent.
int DataDirMajorVersion(const std::string& data_dir);

}  // namespace tusk::postgres
