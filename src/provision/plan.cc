// The pure planner; see plan.h.
#include "provision/plan.h"

#include <algorithm>
#include <set>

#include "common/scram.h"
#include "common/strings.h"
#include "config/router_auth.h"

namespace tusk::provision {
namespace {

using config::Database;
using config::Grant;
using config::ObjectState;
using config::Role;

constexpr std::string_view kRedacted = "'********'";

// The router auth lookup function as it must be (config/router_auth.h).
// search_path pins pg_catalog first and pg_temp last, so nothing a caller
// creates can shadow what the body uses (every name in it is qualified
// anyway). Source: PostgreSQL docs, CREATE FUNCTION §"Writing SECURITY
// DEFINER Functions Safely".
constexpr char kLookupArguments[] = "role_name text, OUT rolname name, OUT rolpassword text";
constexpr char kLookupLanguage[] = "sql";
constexpr char kLookupVolatility[] = "s";  // STABLE
constexpr char kLookupSearchPath[] = "search_path=pg_catalog, pg_temp";
constexpr char kLookupBody[] =
    " SELECT a.rolname, a.rolpassword FROM pg_catalog.pg_authid a"
    " WHERE a.rolname = role_name AND a.rolcanlogin AND NOT a.rolsuper AND NOT a.rolreplication"
    " AND (a.rolvaliduntil IS NULL OR a.rolvaliduntil > pg_catalog.now()) ";

/// "tusk_router.lookup" from the signature "tusk_router.lookup(text)".
std::string LookupName() {
  std::string_view sig = config::kRouterAuthFunction;
  return std::string(sig.substr(0, sig.find('(')));
}

/// A grantee as GRANT/REVOKE take it: PUBLIC bare, roles quoted.
std::string Grantee(const std::string& name) { return name == "PUBLIC" ? name : QuoteIdent(name); }

std::string Q(std::string_view ident) { return QuoteIdent(ident); }

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

/// Database privileges a kDatabase grant names, normalised to the names
/// aclexplode reports (TEMP -> TEMPORARY, ALL -> all three).
std::vector<std::string> NormaliseDatabasePrivileges(const std::vector<std::string>& privs,
                                                     std::vector<std::string>* invalid) {
  std::vector<std::string> out;
  auto add = [&](const std::string& p) {
    if (!Contains(out, p)) out.push_back(p);
  };
  for (const auto& p : privs) {
    if (p == "ALL" || p == "ALL PRIVILEGES") {
      add("CONNECT");
      add("CREATE");
      add("TEMPORARY");
    } else if (p == "TEMP" || p == "TEMPORARY") {
      add("TEMPORARY");
    } else if (p == "CONNECT" || p == "CREATE") {
      add(p);
    } else {
      invalid->push_back(p);
    }
  }
  return out;
}

bool IsTablePrivilege(const std::string& p) {
  return p == "SELECT" || p == "INSERT" || p == "UPDATE" || p == "DELETE" || p == "TRUNCATE" ||
         p == "REFERENCES" || p == "TRIGGER";
}

class Planner {
 public:
  explicit Planner(const PlanInput& in)
      : in_(in), inst_(in.instance), snap_(in.snapshot), router_auth_(WantsRouterAuth(inst_)) {
    for (const Database& db : inst_.databases) {
      if (db.state == ObjectState::kPresent) managed_[db.name] = &db;
    }
  }

  Plan Run() {
    PlanRoles();
    PlanMemberships();
    PlanDatabases();
    PlanRouterAuth();
    for (const Database& db : inst_.databases) {
      if (db.state == ObjectState::kPresent) PlanInsideDatabase(db);
    }
    PlanDrops();
    return std::move(plan_);
  }

 private:
  void Add(StepPhase phase, StepKind kind, const std::string& database, std::string sql,
           std::string display = "") {
    Step s;
    s.phase = phase;
    s.kind = kind;
    s.database = database;
    s.display = display.empty() ? sql : std::move(display);
    s.sql = std::move(sql);
    plan_.steps.push_back(std::move(s));
  }

  /// PASSWORD clause for `role`, or "" when none is declared / verifier failed.
  bool PasswordClause(const std::string& role, std::string* sql) {
    auto it = in_.passwords.find(role);
    if (it == in_.passwords.end()) return false;
    Result<std::string> v =
        in_.make_verifier ? in_.make_verifier(it->second) : NewScramVerifier(it->second);
    if (!v.ok()) {
      plan_.errors.push_back("role " + role + ": " + v.status().message());
      return false;
    }
    *sql = " PASSWORD " + QuoteLiteral(*v);
    return true;
  }

  void PlanRoles() {
    std::set<std::string> seen;
    for (const Role& role : inst_.roles) {
      if (role.state != ObjectState::kPresent || !seen.insert(role.name).second) continue;
      if (role.name == inst_.superuser) continue;  // handled below: password only
      auto it = snap_.roles.find(role.name);
      if (it == snap_.roles.end()) {
        std::string opts = role.login ? " LOGIN" : " NOLOGIN";
        if (role.superuser) opts += " SUPERUSER";
        if (role.createdb) opts += " CREATEDB";
        if (role.createrole) opts += " CREATEROLE";
        if (role.replication) opts += " REPLICATION";
        if (role.inherit && !*role.inherit) opts += " NOINHERIT";
        if (role.connection_limit != -1) {
          opts += " CONNECTION LIMIT " + std::to_string(role.connection_limit);
        }
        std::string sql = "CREATE ROLE " + Q(role.name) + opts;
        std::string pw;
        if (PasswordClause(role.name, &pw)) {
          Add(StepPhase::kRoles, StepKind::kCreate, "", sql + pw,
              sql + " PASSWORD " + std::string(kRedacted));
        } else {
          Add(StepPhase::kRoles, StepKind::kCreate, "", sql);
        }
        continue;
      }
      const RoleSnapshot& cur = it->second;
      std::string opts;
      auto flag = [&](bool want, bool have, const char* on, const char* off) {
        if (want != have) opts += std::string(" ") + (want ? on : off);
      };
      flag(role.login, cur.login, "LOGIN", "NOLOGIN");
      flag(role.superuser, cur.superuser, "SUPERUSER", "NOSUPERUSER");
      flag(role.createdb, cur.createdb, "CREATEDB", "NOCREATEDB");
      flag(role.createrole, cur.createrole, "CREATEROLE", "NOCREATEROLE");
      flag(role.replication, cur.replication, "REPLICATION", "NOREPLICATION");
      if (role.inherit) flag(*role.inherit, cur.inherit, "INHERIT", "NOINHERIT");
      if (role.connection_limit != cur.connection_limit) {
        opts += " CONNECTION LIMIT " + std::to_string(role.connection_limit);
      }
      if (!opts.empty())
        Add(StepPhase::kRoles, StepKind::kAlter, "", "ALTER ROLE " + Q(role.name) + opts);
      PlanPassword(role.name, cur);
    }
    // The bootstrap superuser: its password, nothing else.
    auto su = snap_.roles.find(inst_.superuser);
    if (su != snap_.roles.end()) PlanPassword(inst_.superuser, su->second);
  }

  void PlanPassword(const std::string& name, const RoleSnapshot& cur) {
    auto it = in_.passwords.find(name);
    if (it == in_.passwords.end()) return;
    if (cur.password) {
      bool same = in_.password_matches ? in_.password_matches(*cur.password, it->second)
                                       : ScramVerifierMatches(*cur.password, it->second);
      if (same) return;
    }
    std::string pw;
    if (!PasswordClause(name, &pw)) return;
    std::string head = "ALTER ROLE " + Q(name);
    Add(StepPhase::kRoles, StepKind::kAlter, "", head + pw,
        head + " PASSWORD " + std::string(kRedacted));
  }

  void PlanMemberships() {
    for (const Role& role : inst_.roles) {
      if (role.state != ObjectState::kPresent) continue;
      auto it = snap_.roles.find(role.name);
      for (const std::string& group : role.member_of) {
        if (it != snap_.roles.end() && it->second.member_of.count(group)) continue;
        Add(StepPhase::kMemberships, StepKind::kGrant, "",
            "GRANT " + Q(group) + " TO " + Q(role.name));
      }
    }
    // The router auth role holds no membership: whatever was granted by hand goes.
    auto auth = snap_.roles.find(config::kRouterAuthRole);
    if (router_auth_ && auth != snap_.roles.end()) {
      for (const std::string& group : auth->second.member_of) {
        Add(StepPhase::kMemberships, StepKind::kRevoke, "",
            "REVOKE " + Q(group) + " FROM " + Q(config::kRouterAuthRole));
      }
    }
  }

  /// Fails `db` (skipping all its per-database work) with `message`.
  void FailDatabase(const std::string& db, const std::string& message) {
    plan_.errors.push_back("database " + db + ": " + message);
    db_errors_.emplace(db, message);
  }

  void PlanDatabases() {
    for (const Database& db : inst_.databases) {
      if (db.state != ObjectState::kPresent) continue;
      auto it = snap_.databases.find(db.name);
      if (it == snap_.databases.end()) {
        std::string sql = "CREATE DATABASE " + Q(db.name) + " OWNER " + Q(db.owner) + " ENCODING " +
                          QuoteLiteral(db.encoding) + " LOCALE " + QuoteLiteral(db.locale) +
                          " TEMPLATE template0";
        if (db.connection_limit != -1) {
          sql += " CONNECTION LIMIT " + std::to_string(db.connection_limit);
        }
        Add(StepPhase::kDatabases, StepKind::kCreate, "", sql);
        Add(StepPhase::kDatabases, StepKind::kRevoke, "",
            "REVOKE CONNECT, TEMPORARY ON DATABASE " + Q(db.name) + " FROM PUBLIC");
        continue;
      }
      const DatabaseSnapshot& cur = it->second;
      if (cur.owner != db.owner) {
        Add(StepPhase::kDatabases, StepKind::kAlter, "",
            "ALTER DATABASE " + Q(db.name) + " OWNER TO " + Q(db.owner));
      }
      if (cur.connection_limit != db.connection_limit) {
        Add(StepPhase::kDatabases, StepKind::kAlter, "",
            "ALTER DATABASE " + Q(db.name) + " CONNECTION LIMIT " +
                std::to_string(db.connection_limit));
      }
      if (cur.encoding != db.encoding || cur.collate != db.locale) {
        plan_.warnings.push_back("database " + db.name + " has encoding " + cur.encoding +
                                 " and locale " + cur.collate + ", the config wants " +
                                 db.encoding + " and " + db.locale +
                                 "; these are fixed at creation and left as they are");
      }
      if (cur.acl.count({"PUBLIC", "CONNECT"}) || cur.acl.count({"PUBLIC", "TEMPORARY"})) {
        Add(StepPhase::kDatabases, StepKind::kRevoke, "",
            "REVOKE CONNECT, TEMPORARY ON DATABASE " + Q(db.name) + " FROM PUBLIC");
      }
    }
    PlanDatabaseGrants();
    PlanRouterAuthConnect();
  }

  /// The router auth role must be able to connect to its database; PUBLIC
  /// can by default (tusk never revokes it there), so this is a GRANT only
  /// when someone took CONNECT away from PUBLIC.
  void PlanRouterAuthConnect() {
    if (!router_auth_) return;
    auto db = snap_.databases.find(config::kRouterAuthDatabase);
    if (db == snap_.databases.end()) return;  // the snapshot was read over it
    const auto& acl = db->second.acl;
    if (acl.count({"PUBLIC", "CONNECT"}) || acl.count({config::kRouterAuthRole, "CONNECT"})) {
      return;
    }
    Add(StepPhase::kDatabases, StepKind::kGrant, "",
        "GRANT CONNECT ON DATABASE " + Q(config::kRouterAuthDatabase) + " TO " +
            Q(config::kRouterAuthRole));
  }

  /// Schema tusk_router and function tusk_router.lookup(text) in `postgres`,
  /// exactly as plan.h describes; cluster-level steps run on `postgres`.
  void PlanRouterAuth() {
    if (!router_auth_) return;
    const RouterAuthSnapshot& cur = snap_.router_auth;
    const std::string su = Q(inst_.superuser);
    const std::string auth = Q(config::kRouterAuthRole);
    const std::string schema = config::kRouterAuthSchema;
    const std::string sig = config::kRouterAuthFunction;
    auto add = [&](StepKind kind, std::string sql) {
      Add(StepPhase::kRouterAuth, kind, "", std::move(sql));
    };

    // The schema: owned by the superuser, USAGE for the auth role only.
    bool fresh_schema = !cur.schema_owner.has_value();
    std::string old_schema_owner = cur.schema_owner.value_or(inst_.superuser);
    if (fresh_schema) {
      add(StepKind::kCreate, "CREATE SCHEMA " + schema + " AUTHORIZATION " + su);
      // Default privileges (ALTER DEFAULT PRIVILEGES ... ON SCHEMAS) may give PUBLIC some.
      add(StepKind::kRevoke, "REVOKE ALL ON SCHEMA " + schema + " FROM PUBLIC");
    } else if (old_schema_owner != inst_.superuser) {
      add(StepKind::kAlter, "ALTER SCHEMA " + schema + " OWNER TO " + su);
    }
    PlanExclusiveAcl(fresh_schema ? AclSet{} : cur.schema_acl, old_schema_owner, "USAGE",
                     "SCHEMA " + schema);

    // The function: exactly kLookup*, owned by the superuser, EXECUTE for the
    // auth role only. A fresh function has the default ACL (PUBLIC EXECUTE).
    const RouterAuthFunctionSnapshot* f = cur.function ? &*cur.function : nullptr;
    bool fresh_function = f == nullptr;
    if (f && (f->arguments != kLookupArguments || !f->returns_set)) {
      // CREATE OR REPLACE cannot change parameter names or the result type.
      add(StepKind::kDrop, "DROP FUNCTION " + sig);
      fresh_function = true;
    }
    bool same = f && !fresh_function && f->language == kLookupLanguage &&
                f->volatility == kLookupVolatility && f->security_definer &&
                f->config == std::vector<std::string>{kLookupSearchPath} &&
                f->source == kLookupBody;
    if (!same) {
      add(fresh_function ? StepKind::kCreate : StepKind::kAlter,
          "CREATE OR REPLACE FUNCTION " + LookupName() + "(" + kLookupArguments +
              ") RETURNS SETOF record LANGUAGE " + kLookupLanguage +
              " STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $tusk$" +
              kLookupBody + "$tusk$");
    }
    std::string old_function_owner = fresh_function ? inst_.superuser : f->owner;
    if (fresh_function || old_function_owner != inst_.superuser) {
      // Created by whoever runs apply: make the owner explicit.
      add(StepKind::kAlter, "ALTER FUNCTION " + sig + " OWNER TO " + su);
    }
    PlanExclusiveAcl(fresh_function ? AclSet{{"PUBLIC", "EXECUTE"}} : f->acl, old_function_owner,
                     "EXECUTE", "FUNCTION " + sig);
  }

  /// REVOKE everything on `object` ("SCHEMA x", "FUNCTION f(t)") from every
  /// grantee in `acl` but the owner (old or new) and the router auth role,
  /// which keeps exactly `privilege` (granted when missing).
  void PlanExclusiveAcl(const AclSet& acl, const std::string& old_owner,
                        const std::string& privilege, const std::string& object) {
    std::set<std::string> revoke_all;
    std::vector<std::string> auth_extra;
    bool auth_has = false;
    for (const auto& [grantee, priv] : acl) {
      if (grantee.empty() || grantee == inst_.superuser || grantee == old_owner) continue;
      if (grantee == config::kRouterAuthRole) {
        if (priv == privilege) {
          auth_has = true;
        } else {
          auth_extra.push_back(priv);
        }
        continue;
      }
      revoke_all.insert(grantee);
    }
    for (const std::string& grantee : revoke_all) {
      Add(StepPhase::kRouterAuth, StepKind::kRevoke, "",
          "REVOKE ALL ON " + object + " FROM " + Grantee(grantee));
    }
    if (!auth_extra.empty()) {
      Add(StepPhase::kRouterAuth, StepKind::kRevoke, "",
          "REVOKE " + Join(auth_extra, ", ") + " ON " + object + " FROM " +
              Q(config::kRouterAuthRole));
    }
    if (!auth_has) {
      Add(StepPhase::kRouterAuth, StepKind::kGrant, "",
          "GRANT " + privilege + " ON " + object + " TO " + Q(config::kRouterAuthRole));
    }
  }

  /// GRANT ... ON DATABASE for kDatabase grants and the CONNECT that kTables
  /// and kUsage grants imply. One statement per (role, database).
  void PlanDatabaseGrants() {
    for (const Role& role : inst_.roles) {
      if (role.state != ObjectState::kPresent) continue;
      std::map<std::string, std::vector<std::string>> wanted;  // database -> privileges
      std::vector<std::string> order;
      for (const Grant& g : role.grants) {
        std::vector<std::string> privs;
        if (g.kind == Grant::Kind::kDatabase) {
          std::vector<std::string> invalid;
          privs = NormaliseDatabasePrivileges(g.privileges, &invalid);
          for (const auto& p : invalid) {
            plan_.errors.push_back("role " + role.name + ": " + p +
                                   " is not a database privilege (CONNECT, CREATE, TEMPORARY)");
          }
        } else {
          privs = {"CONNECT"};
          if (!managed_.count(g.database)) {
            plan_.errors.push_back("role " + role.name + ": grant on schema " + g.schema +
                                   " of database " + g.database +
                                   ", which the config does not declare");
            continue;
          }
        }
        if (!managed_.count(g.database) && !snap_.databases.count(g.database)) {
          plan_.errors.push_back("role " + role.name + ": grant on database " + g.database +
                                 ", which neither exists nor is declared");
          continue;
        }
        if (!wanted.count(g.database)) order.push_back(g.database);
        auto& list = wanted[g.database];
        for (const auto& p : privs) {
          if (!Contains(list, p)) list.push_back(p);
        }
      }
      for (const std::string& dbname : order) {
        auto m = managed_.find(dbname);
        std::string owner = m != managed_.end() ? m->second->owner : "";
        auto cur = snap_.databases.find(dbname);
        if (m == managed_.end() && cur != snap_.databases.end()) owner = cur->second.owner;
        if (role.name == owner) continue;  // the owner holds every privilege
        std::vector<std::string> missing;
        for (const auto& p : wanted[dbname]) {
          bool has = cur != snap_.databases.end() && cur->second.acl.count({role.name, p});
          if (!has) missing.push_back(p);
        }
        if (missing.empty()) continue;
        Add(StepPhase::kDatabases, StepKind::kGrant, "",
            "GRANT " + Join(missing, ", ") + " ON DATABASE " + Q(dbname) + " TO " + Q(role.name));
      }
    }
  }

  void PlanInsideDatabase(const Database& db) {
    DatabaseWork work;
    work.name = db.name;
    work.owner = db.owner;
    work.exists = snap_.databases.count(db.name) > 0;
    auto err = db_errors_.find(db.name);
    if (err != db_errors_.end()) {
      work.error = err->second;
      plan_.databases.push_back(std::move(work));
      return;
    }
    const DatabaseObjects* objects = nullptr;
    DatabaseObjects fresh = DatabaseObjects::Fresh();
    if (!work.exists) {
      objects = &fresh;
    } else {
      auto it = snap_.objects.find(db.name);
      if (it != snap_.objects.end()) {
        objects = &it->second;
      } else if (NeedsObjectSnapshot(inst_, db)) {
        work.error = "its catalog was not read";
        plan_.databases.push_back(std::move(work));
        return;
      } else {
        objects = &fresh;  // nothing inside is compared
      }
    }

    std::vector<Step> steps;
    std::vector<std::string> errors;
    auto add = [&](StepPhase phase, StepKind kind, std::string sql) {
      Step s;
      s.phase = phase;
      s.kind = kind;
      s.database = db.name;
      s.display = sql;
      s.sql = std::move(sql);
      steps.push_back(std::move(s));
    };

    // Extension availability first: a missing one fails the whole database.
    for (const auto& ext : db.extensions) {
      auto av = snap_.available_extensions.find(ext.name);
      if (av == snap_.available_extensions.end()) {
        errors.push_back("extension \"" + ext.name + "\" is not available on this server; " +
                         ExtensionPackageHint(ext.name));
      } else if (!ext.version.empty() && !Contains(av->second, ext.version)) {
        auto inst = objects->extensions.find(ext.name);
        if (inst == objects->extensions.end() || inst->second.version != ext.version) {
          errors.push_back("extension \"" + ext.name + "\" has no version " + ext.version +
                           " on this server (available: " + Join(av->second, ", ") + ")");
        }
      }
    }

    // Init files: pending unless recorded; a changed checksum is only a warning.
    std::set<std::string> bases;
    for (const auto& path : db.init) {
      std::string base = BaseName(path);
      if (!bases.insert(base).second) {
        errors.push_back("two init files are named " + base +
                         " (tusk.init_history is keyed by file name)");
        continue;
      }
      auto sum = in_.init_checksums.find(path);
      if (sum == in_.init_checksums.end()) continue;
      if (objects->init_history) {
        auto done = objects->init_history->find(base);
        if (done != objects->init_history->end()) {
          if (done->second != sum->second) {
            plan_.warnings.push_back("database " + db.name + ": init file " + path +
                                     " changed after it ran (recorded sha256 " + done->second +
                                     ", now " + sum->second + "); not re-run");
          }
          continue;
        }
      }
      work.pending_init.push_back(path);
    }
    work.ensure = db.ensure;

    if (!db.init.empty() && !objects->init_history) {
      add(StepPhase::kDatabaseObjects, StepKind::kCreate,
          "CREATE SCHEMA IF NOT EXISTS tusk AUTHORIZATION " + Q(inst_.superuser));
      add(StepPhase::kDatabaseObjects, StepKind::kCreate,
          "CREATE TABLE IF NOT EXISTS tusk.init_history (file text PRIMARY KEY, "
          "sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
    }
    for (const auto& schema : db.schemas) {
      auto it = objects->schemas.find(schema);
      if (it == objects->schemas.end()) {
        add(StepPhase::kDatabaseObjects, StepKind::kCreate,
            "CREATE SCHEMA " + Q(schema) + " AUTHORIZATION " + Q(db.owner));
      } else if (it->second != db.owner && it->second != "pg_database_owner") {
        add(StepPhase::kDatabaseObjects, StepKind::kAlter,
            "ALTER SCHEMA " + Q(schema) + " OWNER TO " + Q(db.owner));
      }
    }
    for (const auto& ext : db.extensions) {
      auto it = objects->extensions.find(ext.name);
      if (it == objects->extensions.end()) {
        std::string sql = "CREATE EXTENSION " + Q(ext.name);
        if (!ext.schema.empty()) sql += " SCHEMA " + Q(ext.schema);
        if (!ext.version.empty()) sql += " VERSION " + QuoteLiteral(ext.version);
        add(StepPhase::kDatabaseObjects, StepKind::kCreate, sql + " CASCADE");
        continue;
      }
      if (!ext.version.empty() && it->second.version != ext.version) {
        add(StepPhase::kDatabaseObjects, StepKind::kAlter,
            "ALTER EXTENSION " + Q(ext.name) + " UPDATE TO " + QuoteLiteral(ext.version));
      }
      if (!ext.schema.empty() && it->second.schema != ext.schema) {
        plan_.warnings.push_back("database " + db.name + ": extension " + ext.name +
                                 " is installed in schema " + it->second.schema + ", not " +
                                 ext.schema + "; left as it is");
      }
    }

    PlanSchemaGrants(db, *objects, &errors, add);

    if (!errors.empty()) {
      work.error = Join(errors, "; ");
      for (const auto& e : errors) plan_.errors.push_back("database " + db.name + ": " + e);
      work.pending_init.clear();
      work.ensure.clear();
    } else {
      for (auto& s : steps) plan_.steps.push_back(std::move(s));
    }
    plan_.databases.push_back(std::move(work));
  }

  template <typename AddFn>
  void PlanSchemaGrants(const Database& db, const DatabaseObjects& objects,
                        std::vector<std::string>* errors, AddFn& add) {
    for (const Role& role : inst_.roles) {
      if (role.state != ObjectState::kPresent) continue;
      for (const Grant& g : role.grants) {
        if (g.database != db.name) continue;
        if (g.kind == Grant::Kind::kUsage) {
          if (!objects.usage_granted.count({role.name, g.schema})) {
            add(StepPhase::kDatabaseGrants, StepKind::kGrant,
                "GRANT USAGE ON SCHEMA " + Q(g.schema) + " TO " + Q(role.name));
          }
          continue;
        }
        if (g.kind != Grant::Kind::kTables) continue;
        if (role.name == db.owner) continue;  // owns what it creates
        std::vector<std::string> sweep, defaults;
        for (const auto& p : ExpandTablePrivileges(g.privileges)) {
          if (!IsTablePrivilege(p)) {
            errors->push_back("role " + role.name + ": " + p + " is not a table privilege");
            continue;
          }
          TableGrantState st;
          auto it = objects.table_grants.find({role.name, g.schema, p});
          if (it != objects.table_grants.end()) st = it->second;
          // Existing tables are swept when one lacks the privilege, and also
          // when the default privileges are being set for the first time:
          // tables an init file creates in this apply then get it too.
          bool lacks = st.role_exists ? st.some_table_lacks : st.any_table;
          if (lacks || !st.default_acl) sweep.push_back(p);
          if (!st.default_acl) defaults.push_back(p);
        }
        if (!sweep.empty()) {
          add(StepPhase::kDatabaseGrants, StepKind::kGrant,
              "GRANT " + Join(sweep, ", ") + " ON ALL TABLES IN SCHEMA " + Q(g.schema) + " TO " +
                  Q(role.name));
        }
        if (!defaults.empty()) {
          add(StepPhase::kDatabaseGrants, StepKind::kGrant,
              "ALTER DEFAULT PRIVILEGES FOR ROLE " + Q(db.owner) + " IN SCHEMA " + Q(g.schema) +
                  " GRANT " + Join(defaults, ", ") + " ON TABLES TO " + Q(role.name));
        }
      }
    }
  }

  void PlanDrops() {
    for (const Database& db : inst_.databases) {
      if (db.state != ObjectState::kAbsent || !snap_.databases.count(db.name)) continue;
      if (db.name == "postgres" || db.name == "template0" || db.name == "template1") {
        plan_.warnings.push_back("database " + db.name + " is never dropped");
        continue;
      }
      if (in_.allow_drop) {
        Add(StepPhase::kDrops, StepKind::kDrop, "",
            "DROP DATABASE " + Q(db.name) + " WITH (FORCE)");
      } else {
        plan_.warnings.push_back("would drop database " + db.name + " (use --allow-drop)");
      }
    }
    for (const Role& role : inst_.roles) {
      if (role.state != ObjectState::kAbsent || !snap_.roles.count(role.name)) continue;
      if (role.name == inst_.superuser) {
        plan_.warnings.push_back("role " + role.name + " is the superuser and is never dropped");
        continue;
      }
      if (in_.allow_drop) {
        Add(StepPhase::kDrops, StepKind::kDrop, "", "DROP ROLE " + Q(role.name));
      } else {
        plan_.warnings.push_back("would drop role " + role.name + " (use --allow-drop)");
      }
    }
  }

  const PlanInput& in_;
  const config::Instance& inst_;
  const CatalogSnapshot& snap_;
  const bool router_auth_;  ///< the router has auth_query on
  std::map<std::string, const Database*> managed_;
  std::map<std::string, std::string> db_errors_;
  Plan plan_;
};

}  // namespace

Plan ComputePlan(const PlanInput& input) { return Planner(input).Run(); }

std::string ExtensionPackageHint(const std::string& name) {
  if (name == "postgis" || name.rfind("postgis_", 0) == 0 || name == "address_standardizer" ||
      name == "address_standardizer_data_us") {
    return "install it with: apt-get install postgresql-15-postgis-3";
  }
  if (name == "vector") {
    return "it comes with tusk's vector extension (not built yet; Debian 12 ships no pgvector)";
  }
  return "install the Debian package postgresql-15-" + name +
         ", or postgresql-contrib for a contrib module";
}

std::string RenderPlan(const Plan& plan, const std::string& instance_name) {
  std::string out;
  std::string current = "\x01";  // no group yet
  auto header = [&](const std::string& target) {
    if (target == current) return;
    current = target;
    out += "-- instance " + instance_name +
           (target.empty() ? std::string(", cluster") : ", database " + target) + "\n";
  };
  auto emit_db = [&](const std::string& name, StepPhase phase) {
    for (const Step& s : plan.steps) {
      if (s.database != name || s.phase != phase) continue;
      header(name);
      out += s.display + ";\n";
    }
  };
  for (const Step& s : plan.steps) {
    if (!s.database.empty() || s.phase == StepPhase::kDrops) continue;
    header("");
    out += s.display + ";\n";
  }
  for (const DatabaseWork& db : plan.databases) {
    if (!db.error.empty()) continue;
    emit_db(db.name, StepPhase::kDatabaseObjects);
    for (const auto& f : db.pending_init) {
      header(db.name);
      out += "-- init file " + f + " (runs once)\n";
    }
    for (const auto& f : db.ensure) {
      header(db.name);
      out += "-- ensure file " + f + "\n";
    }
    emit_db(db.name, StepPhase::kDatabaseGrants);
  }
  current = "\x01";
  for (const Step& s : plan.steps) {
    if (s.phase != StepPhase::kDrops) continue;
    header("");
    out += s.display + ";\n";
  }
  return out;
}

}  // namespace tusk::provision
