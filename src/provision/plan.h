// The planner: a pure function from a catalog snapshot plus the desired state
// to an ordered list of SQL steps. No I/O: everything it needs (snapshot,
// declared passwords, checksums of init files, a verifier maker) comes in
// as arguments, so it is unit-tested from hand-built snapshots.
//
// Order of the steps (and of execution, see apply.h):
//   1. kRoles            CREATE ROLE / ALTER ROLE (attributes, password)
//   2. kMemberships      GRANT group TO role
//   3. kDatabases        CREATE/ALTER DATABASE, REVOKE CONNECT, TEMPORARY FROM
//                        PUBLIC, GRANT ... ON DATABASE
//   3b. kRouterAuth      schema tusk_router and function tusk_router.lookup in
//                        `postgres`, their owner and privileges (router
//                        auth_query only; see below)
//   4. per database, in config order:
//      kDatabaseObjects  tusk.init_history, schemas, extensions
//      (then the executor runs pending init files and every ensure file)
//      kDatabaseGrants   GRANT USAGE ON SCHEMA, GRANT ON ALL TABLES,
//                        ALTER DEFAULT PRIVILEGES (after the files, so tables
//                        and schemas an init file creates are covered)
//   5. kDrops            DROP DATABASE ... WITH (FORCE), then DROP ROLE
//
// Rules:
//  - Only objects named in the config are touched; template0/template1 and
//    the postgres database never are, with one exception: when the
//    instance's router has auth_query on, schema tusk_router and its
//    function lookup(text) in `postgres` (config/router_auth.h). The
//    bootstrap superuser only ever gets its password set.
//  - Router auth query (router.auth_query on): the implicit role
//    tusk_router_auth (LOGIN NOINHERIT, nothing else; any membership is
//    revoked) may CONNECT to `postgres` (granted only when PUBLIC lacks it),
//    has USAGE on schema tusk_router and EXECUTE on tusk_router.lookup(text),
//    and nobody else but the owner has anything on either (REVOKE ALL FROM
//    PUBLIC and from any other grantee). Schema and function are owned by the
//    bootstrap superuser; the function is LANGUAGE sql STABLE SECURITY DEFINER
//    SET search_path = pg_catalog, pg_temp and returns (rolname, rolpassword)
//    of the named role only when it can log in, is neither superuser nor
//    replication, and is not expired. A function whose body or attributes
//    differ is replaced (CREATE OR REPLACE, or DROP and CREATE when its
//    parameters differ). With auth_query off nothing of this is created,
//    altered or dropped: objects left from earlier stay as they are.
//  - Drops only for `state: absent` objects that exist, and only with
//    allow_drop; otherwise a warning "would drop ... (use --allow-drop)".
//  - A declared password always wins: the stored SCRAM verifier is checked
//    against it (scram.h) and replaced, with a verifier computed here, only
//    when it does not match (or is NULL / md5). Display text shows
//    PASSWORD '********'.
//  - Per-service isolation: CONNECT and TEMPORARY are revoked from PUBLIC on
//    every managed database; the owner keeps access through ownership.
//  - A kTables or kUsage grant on a database implies CONNECT on it.
//  - Equal state gives zero steps.
// Sources: PostgreSQL docs CREATE ROLE, ALTER ROLE, CREATE DATABASE, GRANT,
// ALTER DEFAULT PRIVILEGES, CREATE EXTENSION, ALTER EXTENSION, CREATE
// FUNCTION §"Writing SECURITY DEFINER Functions Safely"; §22.3
// "Template Databases" (TEMPLATE template0 allows any encoding/locale).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/model.h"
#include "provision/catalog.h"

namespace tusk::provision {

/// When a step runs; also the order of execution.
enum class StepPhase {
  kRoles,
  kMemberships,
  kDatabases,
  kRouterAuth,  ///< cluster level: runs on the `postgres` connection
  kDatabaseObjects,
  kDatabaseGrants,
  kDrops,
};

/// What a step does (for display and counting).
enum class StepKind { kCreate, kAlter, kGrant, kRevoke, kDrop };

/// One SQL statement of the plan.
struct Step {
  StepPhase phase = StepPhase::kRoles;
  StepKind kind = StepKind::kCreate;
  std::string database;  ///< target database; empty = cluster level (run on `postgres`)
  std::string sql;       ///< the statement, no trailing ';' (may hold a password verifier)
  std::string display;   ///< `sql` with any password replaced by '********'
};

/// Per managed database: the file work and whether it can be reconciled.
struct DatabaseWork {
  std::string name;
  std::string owner;                      ///< desired owner; files run as this role
  bool exists = false;                    ///< exists before this apply
  std::vector<std::string> pending_init;  ///< absolute paths of init files not yet run
  std::vector<std::string> ensure;        ///< absolute paths of ensure files
  std::string error;                      ///< non-empty: skip this database entirely
};

/// Everything the planner needs. References must outlive the call.
struct PlanInput {
  const config::Instance& instance;
  const CatalogSnapshot& snapshot;
  /// role name -> declared plaintext password (login roles that have one).
  const std::map<std::string, std::string>& passwords;
  /// absolute init file path -> lower-case hex SHA-256 of its content.
  /// A path missing here is left alone (the caller reports why it is unreadable).
  const std::map<std::string, std::string>& init_checksums;
  bool allow_drop = false;
  /// Makes a password verifier; NewScramVerifier when empty. Tests inject a
  /// deterministic one.
  std::function<Result<std::string>(std::string_view)> make_verifier;
  /// Checks a stored verifier against a declared password;
  /// ScramVerifierMatches when empty. The executor passes results it
  /// computed in parallel (PBKDF2 costs ~1 ms per role).
  std::function<bool(const std::string& verifier, const std::string& password)> password_matches;
};

/// The plan: steps in execution order plus per-database file work.
struct Plan {
  std::vector<Step> steps;
  std::vector<DatabaseWork> databases;  ///< present databases, config order
  std::vector<std::string> warnings;
  std::vector<std::string> errors;  ///< also copied into DatabaseWork::error where per database
};

/// Computes the plan. Pure and deterministic given a deterministic make_verifier.
Plan ComputePlan(const PlanInput& input);

/// The plan as SQL for humans, grouped by target:
///   -- instance main, cluster
///   CREATE ROLE "keycloak" LOGIN PASSWORD '********';
///   -- instance main, database keycloak
///   CREATE EXTENSION "pg_trgm" CASCADE;
///   -- init file /abs/x.sql (runs once)
/// Passwords never appear. Empty string when there is nothing to do.
std::string RenderPlan(const Plan& plan, const std::string& instance_name);

/// The package that provides extension `name` on Debian 12 / PostgreSQL 15,
/// as a hint for "extension is not available" errors.
std::string ExtensionPackageHint(const std::string& name);

}  // namespace tusk::provision
