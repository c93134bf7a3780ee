// Catalog snapshot: what a running cluster holds, as plain values, and the
// reader that fills it through libpq.
//
// The snapshot covers only what the planner compares (plan.h): roles,
// memberships, databases with their ACL, available extensions, and for each
// managed database its schemas, extensions, the privilege checks the desired
// grants need, and tusk.init_history. Reading costs a handful of queries on
// the `postgres` database plus one or two queries per database that declares
// schemas, extensions, grants or init files.
// Sources: PostgreSQL docs §53 "System Catalogs" (pg_authid, pg_auth_members,
// pg_database, pg_namespace, pg_extension, pg_default_acl, pg_proc), §54.3
// pg_available_extensions, §9.26 "System Information Functions"
// (has_table_privilege, has_schema_privilege, aclexplode, acldefault,
// pg_get_function_arguments), §8.19 "Object Identifier Types" (to_regprocedure).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/status.h"
#include "config/model.h"
#include "postgres/connection.h"

namespace tusk::provision {

/// A role as pg_authid shows it.
struct RoleSnapshot {
  bool login = false;
  bool superuser = false;
  bool createdb = false;
  bool createrole = false;
  bool replication = false;
  bool inherit = true;  ///< rolinherit
  int connection_limit = -1;
  std::optional<std::string> password;  ///< rolpassword: SCRAM verifier, md5 hash, or NULL
  std::set<std::string> member_of;      ///< groups this role is a direct member of
};

/// A database as pg_database shows it.
struct DatabaseSnapshot {
  std::string owner;
  int connection_limit = -1;
  std::string encoding;  ///< e.g. "UTF8"
  std::string collate;   ///< datcollate, e.g. "C.UTF-8"
  /// Effective ACL (datacl, or acldefault when NULL), as (grantee, privilege)
  /// pairs; grantee "PUBLIC" for the public pseudo-role, privilege e.g. "CONNECT".
  std::set<std::pair<std::string, std::string>> acl;
};

/// An installed extension (pg_extension).
struct ExtensionSnapshot {
  std::string version;
  std::string schema;
};

/// Result of the privilege checks for one (role, schema, privilege) table grant.
struct TableGrantState {
  bool role_exists = false;
  bool any_table = false;         ///< the schema holds at least one table/view
  bool some_table_lacks = false;  ///< has_table_privilege false for some table (role exists)
  bool default_acl = false;       ///< pg_default_acl of the db owner grants it
};

/// Objects inside one database (read over a connection to that database).
struct DatabaseObjects {
  std::map<std::string, std::string> schemas;  ///< name -> owner
  std::map<std::string, ExtensionSnapshot> extensions;
  /// Keyed by (role, schema, privilege) of every desired kTables grant.
  std::map<std::tuple<std::string, std::string, std::string>, TableGrantState> table_grants;
  /// (role, schema) of every desired kUsage grant that has_schema_privilege confirms.
  std::set<std::pair<std::string, std::string>> usage_granted;
  /// tusk.init_history as base name -> sha256; nullopt when the table does not exist.
  std::optional<std::map<std::string, std::string>> init_history;

  /// What a freshly created database holds (CREATE DATABASE from template0):
  /// schema public owned by pg_database_owner and extension plpgsql.
  static DatabaseObjects Fresh();
};

/// An effective ACL (the stored one, or acldefault when NULL) as
/// (grantee, privilege) pairs; grantee "PUBLIC" for the public pseudo-role,
/// privilege as aclexplode names it (e.g. "USAGE", "EXECUTE").
using AclSet = std::set<std::pair<std::string, std::string>>;

/// The router auth lookup function (config::kRouterAuthFunction) as pg_proc shows it.
struct RouterAuthFunctionSnapshot {
  std::string owner;
  std::string arguments;            ///< pg_get_function_arguments: inputs and OUT parameters
  bool returns_set = false;         ///< proretset
  std::string language;             ///< pg_language.lanname, e.g. "sql"
  std::string volatility;           ///< provolatile: "i", "s" or "v"
  bool security_definer = false;    ///< prosecdef
  std::vector<std::string> config;  ///< proconfig, e.g. {"search_path=pg_catalog, pg_temp"}
  std::string source;               ///< prosrc: the body between the dollar quotes
  AclSet acl;                       ///< effective proacl
};

/// The router auth objects in database `postgres`. Default: none exist.
struct RouterAuthSnapshot {
  std::optional<std::string> schema_owner;             ///< nullopt: schema tusk_router is missing
  AclSet schema_acl;                                   ///< effective nspacl
  std::optional<RouterAuthFunctionSnapshot> function;  ///< nullopt: missing
};

/// Everything the planner compares against.
struct CatalogSnapshot {
  std::map<std::string, RoleSnapshot> roles;
  std::map<std::string, DatabaseSnapshot> databases;
  /// pg_available_extensions: name -> available versions (default version first).
  std::map<std::string, std::vector<std::string>> available_extensions;
  /// Per managed database that exists and needed a look inside.
  std::map<std::string, DatabaseObjects> objects;
  /// Read (over the `postgres` connection) only when the router has auth_query on.
  RouterAuthSnapshot router_auth;
};

/// Reads the cluster-wide part (roles, memberships, databases, ACLs, available
/// extensions, and the router auth objects when `instance` has a router with
/// auth_query on) over `conn` (connected to `postgres`, where the router auth
/// objects live). Available versions beyond the default are looked up only
/// for extensions `instance` pins to a version (pg_available_extension_versions
/// reads every script file). Requires superuser (pg_authid).
/// Errors: kInternal "SQLSTATE: message".
Result<CatalogSnapshot> ReadClusterSnapshot(postgres::PgConnection& conn,
                                            const config::Instance& instance);

/// True when `instance` has a router with auth_query on (plan.h then manages
/// the router auth role and objects).
bool WantsRouterAuth(const config::Instance& instance);

/// True when planning `db` needs a look inside the database (schemas,
/// extensions, table/usage grants on it, or init files).
bool NeedsObjectSnapshot(const config::Instance& instance, const config::Database& db);

/// Reads the objects of `db` over `conn` (connected to that database); the
/// grant checks are those the roles of `instance` declare on `db`, with
/// default privileges looked up for `db.owner`. Errors: kInternal.
Result<DatabaseObjects> ReadDatabaseObjects(postgres::PgConnection& conn,
                                            const config::Instance& instance,
                                            const config::Database& db);

/// Table privileges a kTables grant names, expanded: "ALL"/"ALL PRIVILEGES"
/// become SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER.
std::vector<std::string> ExpandTablePrivileges(const std::vector<std::string>& privileges);

}  // namespace tusk::provision
