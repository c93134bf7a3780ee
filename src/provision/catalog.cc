// Catalog snapshot reader; see catalog.h.
#include "provision/catalog.h"

#include <algorithm>
#include <cstdlib>

#include "config/router_auth.h"

namespace tusk::provision {
namespace {

using postgres::PgConnection;
using postgres::QueryResult;

bool IsTrue(const std::string& v) { return v == "t"; }
int ToInt(const std::string& v) { return v.empty() ? 0 : std::atoi(v.c_str()); }

/// A PostgreSQL text[] literal: {"a","b"} with " and \ escaped.
std::string ArrayLiteral(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

bool IsTablePrivilege(const std::string& p) {
  return p == "SELECT" || p == "INSERT" || p == "UPDATE" || p == "DELETE" || p == "TRUNCATE" ||
         p == "REFERENCES" || p == "TRIGGER";
}

constexpr const char* kRolesSql =
    "SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, "
    "rolconnlimit, rolpassword, rolinherit FROM pg_catalog.pg_authid";
constexpr const char* kMembersSql =
    "SELECT r.rolname AS member, g.rolname AS grp FROM pg_catalog.pg_auth_members m "
    "JOIN pg_catalog.pg_roles r ON r.oid = m.member "
    "JOIN pg_catalog.pg_roles g ON g.oid = m.roleid";
constexpr const char* kDatabasesSql =
    "SELECT datname, pg_catalog.pg_get_userbyid(datdba) AS owner, datconnlimit, "
    "pg_catalog.pg_encoding_to_char(encoding) AS encoding, datcollate FROM pg_catalog.pg_database";
// datacl NULL means the built-in default (acldefault): PUBLIC has CONNECT and
// TEMPORARY, the owner everything. Grantee 0 is PUBLIC.
constexpr const char* kDatabaseAclSql =
    "SELECT d.datname, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE r.rolname END AS grantee, "
    "a.privilege_type FROM pg_catalog.pg_database d "
    "CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(d.datacl, "
    "pg_catalog.acldefault('d', d.datdba))) a "
    "LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee";
constexpr const char* kAvailableSql =
    "SELECT name, default_version FROM pg_catalog.pg_available_extensions";
constexpr const char* kVersionsSql =
    "SELECT name, version FROM pg_catalog.pg_available_extension_versions "
    "WHERE name = ANY($1::text[])";

// One round trip for the router auth objects: rows (k, a, b) are
//   'n'        schema owner
//   'n_acl'    (grantee, privilege) of the schema's effective ACL
//   'f'        (attribute, value) of the function, when it exists
//   'f_config' (position, setting) of its proconfig
//   'f_acl'    (grantee, privilege) of its effective ACL
// $1 = schema name, $2 = function signature. to_regprocedure gives NULL (no
// error) when the schema or function is missing.
constexpr const char* kRouterAuthSql =
    "WITH n AS (SELECT nspowner, nspacl FROM pg_catalog.pg_namespace WHERE nspname = $1), "
    "f AS (SELECT p.oid, p.proowner, p.proretset, p.provolatile, p.prosecdef, p.prosrc, "
    "  p.proconfig, p.proacl, l.lanname FROM pg_catalog.pg_proc p "
    "  JOIN pg_catalog.pg_language l ON l.oid = p.prolang "
    "  WHERE p.oid = pg_catalog.to_regprocedure($2)) "
    "SELECT 'n' AS k, pg_catalog.pg_get_userbyid(n.nspowner)::text AS a, NULL::text AS b FROM n "
    "UNION ALL SELECT 'n_acl', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE r.rolname::text END, "
    "  a.privilege_type FROM n CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(n.nspacl, "
    "  pg_catalog.acldefault('n', n.nspowner))) a LEFT JOIN pg_catalog.pg_roles r "
    "  ON r.oid = a.grantee "
    "UNION ALL SELECT 'f', v.key, v.value FROM f CROSS JOIN LATERAL (VALUES "
    "  ('owner', pg_catalog.pg_get_userbyid(f.proowner)::text), "
    "  ('arguments', pg_catalog.pg_get_function_arguments(f.oid)), "
    "  ('returns_set', f.proretset::text), ('language', f.lanname::text), "
    "  ('volatility', f.provolatile::text), ('security_definer', f.prosecdef::text), "
    "  ('source', f.prosrc)) v(key, value) "
    "UNION ALL SELECT 'f_config', c.n::text, c.setting FROM f "
    "  CROSS JOIN LATERAL pg_catalog.unnest(f.proconfig) WITH ORDINALITY c(setting, n) "
    "UNION ALL SELECT 'f_acl', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE r.rolname::text END, "
    "  a.privilege_type FROM f CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(f.proacl, "
    "  pg_catalog.acldefault('f', f.proowner))) a LEFT JOIN pg_catalog.pg_roles r "
    "  ON r.oid = a.grantee";

/// Reads the router auth schema and function (see kRouterAuthSql).
Result<RouterAuthSnapshot> ReadRouterAuth(PgConnection& conn) {
  auto rows =
      conn.QueryParams(kRouterAuthSql, {config::kRouterAuthSchema, config::kRouterAuthFunction});
  if (!rows.ok()) return rows.status();
  RouterAuthSnapshot out;
  std::vector<std::pair<int, std::string>> config;
  for (size_t r = 0; r < rows->rows.size(); ++r) {
    const auto& row = rows->rows[r];
    std::string kind = row[0].value_or("");
    std::string a = row[1].value_or("");
    std::string b = row[2].value_or("");
    if (kind == "n") {
      out.schema_owner = a;
    } else if (kind == "n_acl") {
      out.schema_acl.emplace(a, b);
    } else if (kind == "f" || kind == "f_config" || kind == "f_acl") {
      if (!out.function) out.function.emplace();
      RouterAuthFunctionSnapshot& f = *out.function;
      if (kind == "f_config") {
        config.emplace_back(ToInt(a), b);
      } else if (kind == "f_acl") {
        f.acl.emplace(a, b);
      } else if (a == "owner") {
        f.owner = b;
      } else if (a == "arguments") {
        f.arguments = b;
      } else if (a == "returns_set") {
        f.returns_set = b == "true";
      } else if (a == "language") {
        f.language = b;
      } else if (a == "volatility") {
        f.volatility = b;
      } else if (a == "security_definer") {
        f.security_definer = b == "true";
      } else if (a == "source") {
        f.source = b;
      }
    }
  }
  std::sort(config.begin(), config.end());
  if (out.function) {
    for (auto& [position, setting] : config) out.function->config.push_back(std::move(setting));
  }
  return out;
}

// One round trip: schemas, extensions, and whether tusk.init_history exists.
constexpr const char* kObjectsSql =
    "SELECT 's' AS k, nspname AS a, pg_catalog.pg_get_userbyid(nspowner) AS b, NULL::text AS c "
    "FROM pg_catalog.pg_namespace "
    "WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' "
    "UNION ALL SELECT 'e', e.extname, e.extversion, n.nspname FROM pg_catalog.pg_extension e "
    "JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
    "UNION ALL SELECT 'h', NULL, NULL, NULL "
    "WHERE pg_catalog.to_regclass('tusk.init_history') IS NOT NULL";

// One round trip for every grant check of a database. Roles are resolved to
// OIDs first, so a role that does not exist yet gives NULL, never an error.
// Relation kinds are those GRANT ... ON ALL TABLES covers: tables, partitioned
// tables, views, materialized views, foreign tables.
constexpr const char* kGrantChecksSql =
    "WITH t(r, s, p) AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[])), "
    "u(r, s) AS (SELECT * FROM unnest($4::text[], $5::text[])), "
    "rel AS (SELECT c.oid, n.nspname FROM pg_catalog.pg_class c "
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname = ANY($2::text[])) "
    "SELECT 't' AS k, t.r, t.s, t.p, ro.oid IS NOT NULL AS role_exists, "
    "  EXISTS (SELECT 1 FROM rel WHERE rel.nspname = t.s) AS any_table, "
    "  COALESCE(ro.oid IS NOT NULL AND EXISTS (SELECT 1 FROM rel WHERE rel.nspname = t.s "
    "    AND NOT pg_catalog.has_table_privilege(ro.oid, rel.oid, t.p)), false) AS lacks, "
    "  EXISTS (SELECT 1 FROM pg_catalog.pg_default_acl d "
    "    JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace "
    "    CROSS JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) a "
    "    WHERE n.nspname = t.s AND d.defaclobjtype = 'r' "
    "      AND d.defaclrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $6) "
    "      AND a.grantee = ro.oid AND a.privilege_type = t.p) AS granted "
    "FROM t LEFT JOIN pg_catalog.pg_roles ro ON ro.rolname = t.r "
    "UNION ALL "
    "SELECT 'u', u.r, u.s, NULL, ro.oid IS NOT NULL, false, false, "
    "  COALESCE((SELECT pg_catalog.has_schema_privilege(ro.oid, n.oid, 'USAGE') "
    "    FROM pg_catalog.pg_namespace n WHERE n.nspname = u.s), false) "
    "FROM u LEFT JOIN pg_catalog.pg_roles ro ON ro.rolname = u.r";

}  // namespace

std::vector<std::string> ExpandTablePrivileges(const std::vector<std::string>& privileges) {
  std::vector<std::string> out;
  auto add = [&](const std::string& p) {
    for (const auto& o : out) {
      if (o == p) return;
    }
    out.push_back(p);
  };
  for (const auto& p : privileges) {
    if (p == "ALL" || p == "ALL PRIVILEGES") {
      for (const char* q :
           {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}) {
        add(q);
      }
    } else {
      add(p);
    }
  }
  return out;
}

DatabaseObjects DatabaseObjects::Fresh() {
  DatabaseObjects o;
  o.schemas["public"] = "pg_database_owner";
  o.extensions["plpgsql"] = ExtensionSnapshot{"1.0", "pg_catalog"};
  return o;
}

Result<CatalogSnapshot> ReadClusterSnapshot(PgConnection& conn, const config::Instance& instance) {
  CatalogSnapshot snap;
  auto roles = conn.Query(kRolesSql);
  if (!roles.ok()) return roles.status().Prefixed("reading pg_authid");
  for (size_t r = 0; r < roles->rows.size(); ++r) {
    RoleSnapshot role;
    role.login = IsTrue(roles->Get(r, "rolcanlogin"));
    role.superuser = IsTrue(roles->Get(r, "rolsuper"));
    role.createdb = IsTrue(roles->Get(r, "rolcreatedb"));
    role.createrole = IsTrue(roles->Get(r, "rolcreaterole"));
    role.replication = IsTrue(roles->Get(r, "rolreplication"));
    role.connection_limit = ToInt(roles->Get(r, "rolconnlimit"));
    role.password = roles->rows[r][7];
    role.inherit = IsTrue(roles->Get(r, "rolinherit"));
    snap.roles[roles->Get(r, "rolname")] = std::move(role);
  }
  auto members = conn.Query(kMembersSql);
  if (!members.ok()) return members.status().Prefixed("reading pg_auth_members");
  for (size_t r = 0; r < members->rows.size(); ++r) {
    auto it = snap.roles.find(members->Get(r, "member"));
    if (it != snap.roles.end()) it->second.member_of.insert(members->Get(r, "grp"));
  }
  auto dbs = conn.Query(kDatabasesSql);
  if (!dbs.ok()) return dbs.status().Prefixed("reading pg_database");
  for (size_t r = 0; r < dbs->rows.size(); ++r) {
    DatabaseSnapshot db;
    db.owner = dbs->Get(r, "owner");
    db.connection_limit = ToInt(dbs->Get(r, "datconnlimit"));
    db.encoding = dbs->Get(r, "encoding");
    db.collate = dbs->Get(r, "datcollate");
    snap.databases[dbs->Get(r, "datname")] = std::move(db);
  }
  auto acl = conn.Query(kDatabaseAclSql);
  if (!acl.ok()) return acl.status().Prefixed("reading pg_database.datacl");
  for (size_t r = 0; r < acl->rows.size(); ++r) {
    auto it = snap.databases.find(acl->Get(r, "datname"));
    if (it == snap.databases.end()) continue;
    it->second.acl.emplace(acl->Get(r, "grantee"), acl->Get(r, "privilege_type"));
  }
  auto avail = conn.Query(kAvailableSql);
  if (!avail.ok()) return avail.status().Prefixed("reading pg_available_extensions");
  for (size_t r = 0; r < avail->rows.size(); ++r) {
    snap.available_extensions[avail->Get(r, "name")].push_back(avail->Get(r, "default_version"));
  }
  std::vector<std::string> pinned;
  for (const auto& db : instance.databases) {
    for (const auto& ext : db.extensions) {
      if (!ext.version.empty()) pinned.push_back(ext.name);
    }
  }
  if (!pinned.empty()) {
    auto versions = conn.QueryParams(kVersionsSql, {ArrayLiteral(pinned)});
    if (!versions.ok())
      return versions.status().Prefixed("reading pg_available_extension_versions");
    for (size_t r = 0; r < versions->rows.size(); ++r) {
      auto& list = snap.available_extensions[versions->Get(r, "name")];
      std::string v = versions->Get(r, "version");
      bool seen = false;
      for (const auto& x : list) seen = seen || x == v;
      if (!seen) list.push_back(v);
    }
  }
  if (WantsRouterAuth(instance)) {
    auto auth = ReadRouterAuth(conn);
    if (!auth.ok()) return auth.status().Prefixed("reading the router auth schema and function");
    snap.router_auth = std::move(*auth);
  }
  return snap;
}

bool WantsRouterAuth(const config::Instance& instance) {
  return instance.router.has_value() && instance.router->auth_query;
}

bool NeedsObjectSnapshot(const config::Instance& instance, const config::Database& db) {
  if (!db.schemas.empty() || !db.extensions.empty() || !db.init.empty()) return true;
  for (const auto& role : instance.roles) {
    if (role.state != config::ObjectState::kPresent) continue;
    for (const auto& g : role.grants) {
      if (g.database == db.name && g.kind != config::Grant::Kind::kDatabase) return true;
    }
  }
  return false;
}

Result<DatabaseObjects> ReadDatabaseObjects(PgConnection& conn, const config::Instance& instance,
                                            const config::Database& db) {
  DatabaseObjects out;
  auto objects = conn.Query(kObjectsSql);
  if (!objects.ok()) return objects.status().Prefixed("reading schemas and extensions");
  bool has_history = false;
  for (size_t r = 0; r < objects->rows.size(); ++r) {
    std::string kind = objects->Get(r, "k");
    if (kind == "s") {
      out.schemas[objects->Get(r, "a")] = objects->Get(r, "b");
    } else if (kind == "e") {
      out.extensions[objects->Get(r, "a")] =
          ExtensionSnapshot{objects->Get(r, "b"), objects->Get(r, "c")};
    } else if (kind == "h") {
      has_history = true;
    }
  }

  std::vector<std::string> t_role, t_schema, t_priv, u_role, u_schema;
  for (const auto& role : instance.roles) {
    if (role.state != config::ObjectState::kPresent) continue;
    for (const auto& g : role.grants) {
      if (g.database != db.name) continue;
      if (g.kind == config::Grant::Kind::kTables) {
        for (const auto& p : ExpandTablePrivileges(g.privileges)) {
          if (!IsTablePrivilege(p)) continue;  // the planner reports it
          t_role.push_back(role.name);
          t_schema.push_back(g.schema);
          t_priv.push_back(p);
        }
      } else if (g.kind == config::Grant::Kind::kUsage) {
        u_role.push_back(role.name);
        u_schema.push_back(g.schema);
      }
    }
  }
  if (!t_role.empty() || !u_role.empty()) {
    auto checks = conn.QueryParams(
        kGrantChecksSql, {ArrayLiteral(t_role), ArrayLiteral(t_schema), ArrayLiteral(t_priv),
                          ArrayLiteral(u_role), ArrayLiteral(u_schema), db.owner});
    if (!checks.ok()) return checks.status().Prefixed("checking privileges");
    for (size_t r = 0; r < checks->rows.size(); ++r) {
      const auto& row = checks->rows[r];
      auto col = [&](size_t c) { return row[c].value_or(""); };
      if (col(0) == "t") {
        TableGrantState st;
        st.role_exists = IsTrue(col(4));
        st.any_table = IsTrue(col(5));
        st.some_table_lacks = IsTrue(col(6));
        st.default_acl = IsTrue(col(7));
        out.table_grants[{col(1), col(2), col(3)}] = st;
      } else if (IsTrue(col(7))) {
        out.usage_granted.emplace(col(1), col(2));
      }
    }
  }

  if (has_history) {
    auto hist = conn.Query("SELECT file, sha256 FROM tusk.init_history");
    if (!hist.ok()) return hist.status().Prefixed("reading tusk.init_history");
    out.init_history.emplace();
    for (size_t r = 0; r < hist->rows.size(); ++r) {
      (*out.init_history)[hist->Get(r, "file")] = hist->Get(r, "sha256");
    }
  }
  return out;
}

}  // namespace tusk::provision
