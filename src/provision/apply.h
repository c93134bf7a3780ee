// ApplyInstance: reconcile one running instance with its desired state.
//
// Steps:
//  1. Snapshot (catalog.h): a few queries on `postgres`, then one connection
//     per managed database that declares schemas, extensions, grants or init
//     files (read 4 at a time; declared passwords are checked against the
//     stored SCRAM verifiers meanwhile).
//  2. Plan (plan.h): a pure function of snapshot + desired state; printed to
//     `out` as SQL grouped by target, passwords shown as '********'.
//  3. Unless dry_run, execute:
//     a. on `postgres`, autocommit, with SET lock_timeout: roles, memberships,
//        CREATE/ALTER DATABASE (CREATE DATABASE cannot run inside a
//        transaction block), REVOKE ... FROM PUBLIC, GRANT ... ON DATABASE,
//        then the router auth schema, function and privileges (plan.h).
//        A failed statement is recorded and the next one still runs.
//     b. per database, ONE transaction: SET LOCAL lock_timeout, the object
//        steps (tusk.init_history, schemas, extensions), pending init files
//        (each recorded in tusk.init_history with its SHA-256), every ensure
//        file, then the grant steps (after the files, so that schemas and
//        tables an init file creates are covered). Init and ensure files run
//        as the database owner (SET LOCAL ROLE), so what they create belongs
//        to the service; a file that needs the superuser can RESET ROLE.
//        The first error rolls back that database only, and is reported as
//        "database d: path/file.sql:LINE: PostgreSQL message"; the other
//        databases still reconcile.
//     c. drops (only `state: absent` with allow_drop): DROP DATABASE ...
//        WITH (FORCE), then DROP ROLE.
//  4. Summary line: "apply main: 12 statements executed, 2 init files,
//     1 ensure file, 0 errors".
// An unchanged config executes zero plan statements (ensure files still run).
// Blocking; not thread-safe (uses worker threads internally).
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
/// password for every login role that has one (the superuser's included: it
/// is the only thing tusk changes on that role). Plan and progress go to
/// `out`; passwords never do. Errors (unreachable server, failed statements,
/// unavailable extensions with the Debian package to install) land in
/// ApplyReport::errors, never thrown.
ApplyReport ApplyInstance(const config::Instance& instance, const postgres::ConnInfo& admin,
                          const std::map<std::string, std::string>& passwords,
                          const ApplyOptions& options, std::ostream& out);

}  // namespace tusk::provision
