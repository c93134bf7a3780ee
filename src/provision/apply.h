// ApplyInstance: reconcile one running instance with its desired state.
//
// Reads the catalogs (catalog snapshot), computes the plan (a pure function of
// snapshot + desired state, see plan.h), prints it as SQL (passwords
// redacted), and unless dry_run executes it: cluster-level statements first,
// then per database one transaction holding its plan statements, pending init
// files (recorded with a checksum in tusk.init_history) and every ensure file.
// A failure in one database rolls back that database only; the others still
// reconcile. Blocking; not thread-safe.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "config/model.h"
#include "postgres/connection.h"

namespace tusk::provision {

struct ApplyOptions {
  bool dry_run = false;     ///< print the plan, execute nothing
  bool allow_drop = false;  ///< execute drops of `state: absent` objects
};

/// What an apply did. statements_executed counts plan statements only
/// (init and ensure files are counted separately).
struct ApplyReport {
  int statements_planned = 0;
  int statements_executed = 0;
  int init_files_run = 0;
  int ensure_files_run = 0;
  std::vector<std::string> errors;    ///< one per failed database or step, with file:line
  std::vector<std::string> warnings;  ///< e.g. init file changed after it ran
  bool ok() const { return errors.empty(); }
};

/// Reconciles `instance` through a superuser connection described by `admin`
/// (dbname is replaced per database). `passwords` maps role name -> declared
/// password for every login role that has one. Plan and progress go to `out`.
ApplyReport ApplyInstance(const config::Instance& instance, const postgres::ConnInfo& admin,
                          const std::map<std::string, std::string>& passwords,
                          const ApplyOptions& options, std::ostream& out);

}  // namespace tusk::provision
