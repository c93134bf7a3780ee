// The pure planner (plan.h) from hand-built catalog snapshots; no server.
#include "provision/plan.h"

#include <gtest/gtest.h>

#include "common/scram.h"
#include "config/router_auth.h"

namespace tusk::provision {
namespace {

using config::Database;
using config::Grant;
using config::Instance;
using config::ObjectState;
using config::Role;

const std::string kSalt = "0123456789abcdef";

Result<std::string> FixedVerifier(std::string_view password) {
  return ComputeScramVerifier(password, kSalt, 4096);
}

Role LoginRole(const std::string& name) {
  Role r;
  r.name = name;
  return r;
}

// keycloak (db + owner role), reporting (reads keycloak.app), readers (group).
Instance MakeInstance() {
  Instance inst;
  inst.name = "main";
  Database kc;
  kc.name = "keycloak";
  kc.owner = "keycloak";
  kc.schemas = {"app"};
  kc.extensions = {{"pg_trgm", "", ""}};
  inst.databases.push_back(kc);
  Role owner = LoginRole("keycloak");
  owner.implicit = true;
  Role readers = LoginRole("readers");
  readers.login = false;
  readers.password_source = config::PasswordSource::kNone;
  Role reporting = LoginRole("reporting");
  reporting.member_of = {"readers"};
  Grant g;
  g.kind = Grant::Kind::kTables;
  g.database = "keycloak";
  g.schema = "app";
  g.privileges = {"SELECT"};
  reporting.grants.push_back(g);
  inst.roles = {owner, readers, reporting};
  return inst;
}

std::map<std::string, std::string> Passwords() {
  return {{"keycloak", "kc-pass"}, {"reporting", "rep-pass"}, {"postgres", "su-pass"}};
}

RoleSnapshot SnapRole(bool login, const std::optional<std::string>& password) {
  RoleSnapshot r;
  r.login = login;
  r.password = password;
  return r;
}

// A bare cluster right after initdb.
CatalogSnapshot EmptyCluster() {
  CatalogSnapshot s;
  RoleSnapshot su = SnapRole(true, *FixedVerifier("su-pass"));
  su.superuser = su.createdb = su.createrole = su.replication = true;
  s.roles["postgres"] = su;
  for (const char* name : {"postgres", "template0", "template1"}) {
    DatabaseSnapshot d;
    d.owner = "postgres";
    d.encoding = "UTF8";
    d.collate = "C.UTF-8";
    d.acl = {{"PUBLIC", "CONNECT"}, {"PUBLIC", "TEMPORARY"}, {"postgres", "CONNECT"}};
    s.databases[name] = d;
  }
  s.available_extensions = {
      {"plpgsql", {"1.0"}}, {"pg_trgm", {"1.6", "1.5"}}, {"postgis", {"3.3.2"}}};
  return s;
}

// The cluster as it looks after a successful apply of MakeInstance().
CatalogSnapshot Converged() {
  CatalogSnapshot s = EmptyCluster();
  s.roles["keycloak"] = SnapRole(true, *FixedVerifier("kc-pass"));
  s.roles["readers"] = SnapRole(false, std::nullopt);
  s.roles["reporting"] = SnapRole(true, *FixedVerifier("rep-pass"));
  s.roles["reporting"].member_of = {"readers"};
  DatabaseSnapshot d;
  d.owner = "keycloak";
  d.encoding = "UTF8";
  d.collate = "C.UTF-8";
  d.acl = {{"keycloak", "CONNECT"},
           {"keycloak", "CREATE"},
           {"keycloak", "TEMPORARY"},
           {"reporting", "CONNECT"}};
  s.databases["keycloak"] = d;
  DatabaseObjects o = DatabaseObjects::Fresh();
  o.schemas["app"] = "keycloak";
  o.extensions["pg_trgm"] = {"1.6", "public"};
  TableGrantState tg;
  tg.role_exists = true;
  tg.any_table = true;
  tg.default_acl = true;
  o.table_grants[{"reporting", "app", "SELECT"}] = tg;
  s.objects["keycloak"] = o;
  return s;
}

Plan RunPlan(const Instance& inst, const CatalogSnapshot& snap, bool allow_drop = false,
             const std::map<std::string, std::string>& checksums = {},
             const std::map<std::string, std::string>& passwords = Passwords()) {
  PlanInput in{inst, snap, passwords, checksums, allow_drop, FixedVerifier, {}};
  return ComputePlan(in);
}

std::vector<std::string> Displays(const Plan& p) {
  std::vector<std::string> out;
  for (const auto& s : p.steps) out.push_back(s.display);
  return out;
}

int IndexOf(const Plan& p, const std::string& prefix) {
  for (size_t i = 0; i < p.steps.size(); ++i) {
    if (p.steps[i].display.rfind(prefix, 0) == 0) return static_cast<int>(i);
  }
  return -1;
}

TEST(PlanTest, EmptyClusterCreatesEverythingInOrder) {
  Plan p = RunPlan(MakeInstance(), EmptyCluster());
  ASSERT_TRUE(p.errors.empty()) << p.errors[0];
  std::vector<std::string> want = {
      "CREATE ROLE \"keycloak\" LOGIN PASSWORD '********'",
      "CREATE ROLE \"readers\" NOLOGIN",
      "CREATE ROLE \"reporting\" LOGIN PASSWORD '********'",
      "GRANT \"readers\" TO \"reporting\"",
      "CREATE DATABASE \"keycloak\" OWNER \"keycloak\" ENCODING 'UTF8' LOCALE 'C.UTF-8' "
      "TEMPLATE template0",
      "REVOKE CONNECT, TEMPORARY ON DATABASE \"keycloak\" FROM PUBLIC",
      "GRANT CONNECT ON DATABASE \"keycloak\" TO \"reporting\"",  // implied by the table grant
      "CREATE SCHEMA \"app\" AUTHORIZATION \"keycloak\"",
      "CREATE EXTENSION \"pg_trgm\" CASCADE",
      "GRANT SELECT ON ALL TABLES IN SCHEMA \"app\" TO \"reporting\"",
      "ALTER DEFAULT PRIVILEGES FOR ROLE \"keycloak\" IN SCHEMA \"app\" GRANT SELECT ON TABLES "
      "TO \"reporting\"",
  };
  EXPECT_EQ(Displays(p), want);
  // Phases never go backwards; cluster steps have no target database.
  for (size_t i = 1; i < p.steps.size(); ++i) {
    EXPECT_LE(p.steps[i - 1].phase, p.steps[i].phase) << p.steps[i].display;
  }
  EXPECT_EQ(p.steps[0].database, "");
  EXPECT_EQ(p.steps[7].database, "keycloak");
  EXPECT_EQ(p.steps[7].phase, StepPhase::kDatabaseObjects);
  EXPECT_EQ(p.steps[9].phase, StepPhase::kDatabaseGrants);
  ASSERT_EQ(p.databases.size(), 1u);
  EXPECT_FALSE(p.databases[0].exists);
  EXPECT_EQ(p.databases[0].owner, "keycloak");
}

TEST(PlanTest, ConnectionLimitsAndAttributesOnCreate) {
  Instance inst = MakeInstance();
  inst.databases[0].connection_limit = 20;
  inst.roles[2].createdb = true;
  inst.roles[2].connection_limit = 5;
  Plan p = RunPlan(inst, EmptyCluster());
  EXPECT_GE(IndexOf(p, "CREATE ROLE \"reporting\" LOGIN CREATEDB CONNECTION LIMIT 5 PASSWORD"), 0);
  EXPECT_GE(IndexOf(p,
                    "CREATE DATABASE \"keycloak\" OWNER \"keycloak\" ENCODING 'UTF8' LOCALE "
                    "'C.UTF-8' TEMPLATE template0 CONNECTION LIMIT 20"),
            0);
}

TEST(PlanTest, ConvergedStateGivesZeroSteps) {
  Plan p = RunPlan(MakeInstance(), Converged());
  EXPECT_TRUE(p.steps.empty()) << p.steps[0].display;
  EXPECT_TRUE(p.errors.empty());
  EXPECT_TRUE(p.warnings.empty());
  EXPECT_EQ(RenderPlan(p, "main"), "");
}

TEST(PlanTest, PasswordRotationSetsNewVerifierWithoutPlaintext) {
  auto pw = Passwords();
  pw["keycloak"] = "rotated-secret";
  Plan p = RunPlan(MakeInstance(), Converged(), false, {}, pw);
  ASSERT_EQ(p.steps.size(), 1u);
  const Step& s = p.steps[0];
  EXPECT_EQ(s.kind, StepKind::kAlter);
  EXPECT_EQ(s.display, "ALTER ROLE \"keycloak\" PASSWORD '********'");
  EXPECT_EQ(s.sql.find("rotated-secret"), std::string::npos);
  std::string prefix = "ALTER ROLE \"keycloak\" PASSWORD '";
  ASSERT_EQ(s.sql.rfind(prefix, 0), 0u);
  std::string verifier = s.sql.substr(prefix.size(), s.sql.size() - prefix.size() - 1);
  EXPECT_TRUE(ScramVerifierMatches(verifier, "rotated-secret"));
}

TEST(PlanTest, Md5OrMissingPasswordIsReplaced) {
  CatalogSnapshot snap = Converged();
  snap.roles["keycloak"].password = "md5" + std::string(32, '0');
  snap.roles["reporting"].password = std::nullopt;
  Plan p = RunPlan(MakeInstance(), snap);
  EXPECT_EQ(Displays(p),
            (std::vector<std::string>{"ALTER ROLE \"keycloak\" PASSWORD '********'",
                                      "ALTER ROLE \"reporting\" PASSWORD '********'"}));
}

TEST(PlanTest, SuperuserGetsOnlyItsPassword) {
  Instance inst = MakeInstance();
  Role su = LoginRole("postgres");  // declared without SUPERUSER: must not be demoted
  inst.roles.push_back(su);
  CatalogSnapshot snap = Converged();
  Plan p = RunPlan(inst, snap);
  EXPECT_TRUE(p.steps.empty()) << p.steps[0].display;
  auto pw = Passwords();
  pw["postgres"] = "new-su";
  p = RunPlan(inst, snap, false, {}, pw);
  EXPECT_EQ(Displays(p), (std::vector<std::string>{"ALTER ROLE \"postgres\" PASSWORD '********'"}));
}

TEST(PlanTest, AltersWhatDiffers) {
  CatalogSnapshot snap = Converged();
  snap.databases["keycloak"].owner = "postgres";
  snap.databases["keycloak"].connection_limit = 3;
  snap.roles["reporting"].login = false;
  snap.roles["reporting"].superuser = true;
  snap.roles["reporting"].connection_limit = 7;
  snap.roles["reporting"].member_of.clear();
  snap.objects["keycloak"].extensions["pg_trgm"].version = "1.5";
  snap.objects["keycloak"].schemas["app"] = "postgres";
  Instance inst = MakeInstance();
  inst.databases[0].extensions[0].version = "1.6";
  Plan p = RunPlan(inst, snap);
  std::vector<std::string> want = {
      "ALTER ROLE \"reporting\" LOGIN NOSUPERUSER CONNECTION LIMIT -1",
      "GRANT \"readers\" TO \"reporting\"",
      "ALTER DATABASE \"keycloak\" OWNER TO \"keycloak\"",
      "ALTER DATABASE \"keycloak\" CONNECTION LIMIT -1",
      "ALTER SCHEMA \"app\" OWNER TO \"keycloak\"",
      "ALTER EXTENSION \"pg_trgm\" UPDATE TO '1.6'",
  };
  EXPECT_EQ(Displays(p), want);
}

TEST(PlanTest, RevokesPublicAccessWhenStillGranted) {
  CatalogSnapshot snap = Converged();
  snap.databases["keycloak"].acl.insert({"PUBLIC", "TEMPORARY"});
  Plan p = RunPlan(MakeInstance(), snap);
  EXPECT_EQ(
      Displays(p),
      (std::vector<std::string>{"REVOKE CONNECT, TEMPORARY ON DATABASE \"keycloak\" FROM PUBLIC"}));
}

TEST(PlanTest, DropsOnlyWithAllowDropAndStateAbsent) {
  Instance inst = MakeInstance();
  Database old;
  old.name = "legacy";
  old.owner = "legacy";
  old.state = ObjectState::kAbsent;
  inst.databases.push_back(old);
  Role gone = LoginRole("legacy");
  gone.state = ObjectState::kAbsent;
  inst.roles.push_back(gone);
  Role never = LoginRole("never_existed");
  never.state = ObjectState::kAbsent;
  inst.roles.push_back(never);
  CatalogSnapshot snap = Converged();
  snap.databases["legacy"] = snap.databases["keycloak"];
  snap.roles["legacy"] = SnapRole(true, std::nullopt);
  snap.roles["unmanaged"] = SnapRole(true, std::nullopt);  // not in config: untouched

  Plan p = RunPlan(inst, snap, /*allow_drop=*/false);
  EXPECT_TRUE(p.steps.empty());
  EXPECT_EQ(p.warnings, (std::vector<std::string>{"would drop database legacy (use --allow-drop)",
                                                  "would drop role legacy (use --allow-drop)"}));

  p = RunPlan(inst, snap, /*allow_drop=*/true);
  EXPECT_EQ(Displays(p), (std::vector<std::string>{"DROP DATABASE \"legacy\" WITH (FORCE)",
                                                   "DROP ROLE \"legacy\""}));
  for (const auto& s : p.steps) EXPECT_EQ(s.phase, StepPhase::kDrops);
}

TEST(PlanTest, DropsComeAfterEverythingElse) {
  Instance inst = MakeInstance();
  Role gone = LoginRole("legacy");
  gone.state = ObjectState::kAbsent;
  inst.roles.push_back(gone);
  CatalogSnapshot snap = EmptyCluster();
  snap.roles["legacy"] = SnapRole(true, std::nullopt);
  Plan p = RunPlan(inst, snap, true);
  ASSERT_FALSE(p.steps.empty());
  EXPECT_EQ(p.steps.back().display, "DROP ROLE \"legacy\"");
  EXPECT_EQ(IndexOf(p, "DROP"), static_cast<int>(p.steps.size()) - 1);
}

TEST(PlanTest, SuperuserAndSystemDatabasesAreNeverDropped) {
  Instance inst = MakeInstance();
  Role su = LoginRole("postgres");
  su.state = ObjectState::kAbsent;
  inst.roles.push_back(su);
  Database tpl;
  tpl.name = "template1";
  tpl.owner = "postgres";
  tpl.state = ObjectState::kAbsent;
  inst.databases.push_back(tpl);
  Plan p = RunPlan(inst, Converged(), true);
  EXPECT_TRUE(p.steps.empty());
  EXPECT_EQ(p.warnings.size(), 2u);
}

TEST(PlanTest, UnavailableExtensionFailsOnlyItsDatabase) {
  Instance inst = MakeInstance();
  Database gis;
  gis.name = "gis";
  gis.owner = "keycloak";
  gis.extensions = {{"postgis", "", ""}, {"vector", "", ""}, {"pg_cron", "", ""}};
  gis.schemas = {"geo"};
  inst.databases.push_back(gis);
  CatalogSnapshot snap = EmptyCluster();
  snap.available_extensions.erase("postgis");
  Plan p = RunPlan(inst, snap);
  ASSERT_EQ(p.errors.size(), 3u);
  EXPECT_NE(p.errors[0].find("database gis: extension \"postgis\" is not available"),
            std::string::npos);
  EXPECT_NE(p.errors[0].find("apt-get install postgresql-15-postgis-3"), std::string::npos);
  EXPECT_NE(
      p.errors[1].find("tusk's vector extension (not built yet; Debian 12 ships no pgvector)"),
      std::string::npos);
  EXPECT_NE(p.errors[2].find("postgresql-15-pg_cron"), std::string::npos);
  // The failed database still gets created (cluster level) but nothing inside it.
  EXPECT_GE(IndexOf(p, "CREATE DATABASE \"gis\""), 0);
  EXPECT_EQ(IndexOf(p, "CREATE SCHEMA \"geo\""), -1);
  EXPECT_GE(IndexOf(p, "CREATE EXTENSION \"pg_trgm\""), 0);  // keycloak still reconciles
  ASSERT_EQ(p.databases.size(), 2u);
  EXPECT_TRUE(p.databases[0].error.empty());
  EXPECT_FALSE(p.databases[1].error.empty());
}

TEST(PlanTest, UnknownExtensionVersionIsAnError) {
  Instance inst = MakeInstance();
  inst.databases[0].extensions[0].version = "9.9";
  Plan p = RunPlan(inst, Converged());
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_NE(p.errors[0].find("no version 9.9"), std::string::npos);
}

TEST(PlanTest, ExtensionSchemaAndVersionOnCreate) {
  Instance inst = MakeInstance();
  inst.databases[0].extensions[0] = {"pg_trgm", "app", "1.5"};
  Plan p = RunPlan(inst, EmptyCluster());
  EXPECT_GE(IndexOf(p, "CREATE EXTENSION \"pg_trgm\" SCHEMA \"app\" VERSION '1.5' CASCADE"), 0);
  // The schema is created before the extension that goes into it.
  EXPECT_LT(IndexOf(p, "CREATE SCHEMA \"app\""), IndexOf(p, "CREATE EXTENSION"));
}

TEST(PlanTest, InitFilesRunOnceAndChangesOnlyWarn) {
  Instance inst = MakeInstance();
  inst.databases[0].init = {"/cfg/sql/a.sql", "/cfg/sql/b.sql"};
  inst.databases[0].ensure = {"/cfg/sql/e.sql"};
  std::map<std::string, std::string> sums = {{"/cfg/sql/a.sql", "aaa"}, {"/cfg/sql/b.sql", "bbb"}};

  // No history table yet: it is created and both files are pending.
  CatalogSnapshot snap = Converged();
  Plan p = RunPlan(inst, snap, false, sums);
  EXPECT_EQ(Displays(p),
            (std::vector<std::string>{
                "CREATE SCHEMA IF NOT EXISTS tusk AUTHORIZATION \"postgres\"",
                "CREATE TABLE IF NOT EXISTS tusk.init_history (file text PRIMARY KEY, sha256 text "
                "NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"}));
  ASSERT_EQ(p.databases.size(), 1u);
  EXPECT_EQ(p.databases[0].pending_init,
            (std::vector<std::string>{"/cfg/sql/a.sql", "/cfg/sql/b.sql"}));
  EXPECT_EQ(p.databases[0].ensure, (std::vector<std::string>{"/cfg/sql/e.sql"}));

  // a ran with the same content, b ran with different content.
  snap.objects["keycloak"].init_history =
      std::map<std::string, std::string>{{"a.sql", "aaa"}, {"b.sql", "old"}};
  p = RunPlan(inst, snap, false, sums);
  EXPECT_TRUE(p.steps.empty());
  EXPECT_TRUE(p.databases[0].pending_init.empty());
  EXPECT_EQ(p.databases[0].ensure.size(), 1u);
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_NE(p.warnings[0].find("init file /cfg/sql/b.sql changed after it ran"), std::string::npos);
  EXPECT_NE(RenderPlan(p, "main").find("-- ensure file /cfg/sql/e.sql"), std::string::npos);
}

TEST(PlanTest, TableGrantsFollowTheChecks) {
  CatalogSnapshot snap = Converged();
  auto& tg = snap.objects["keycloak"].table_grants[{"reporting", "app", "SELECT"}];
  tg.some_table_lacks = true;  // e.g. a table created later by the superuser
  Plan p = RunPlan(MakeInstance(), snap);
  EXPECT_EQ(
      Displays(p),
      (std::vector<std::string>{"GRANT SELECT ON ALL TABLES IN SCHEMA \"app\" TO \"reporting\""}));
  tg.some_table_lacks = false;
  tg.default_acl = false;
  p = RunPlan(MakeInstance(), snap);
  EXPECT_EQ(p.steps.size(), 2u);
  EXPECT_EQ(p.steps[1].display,
            "ALTER DEFAULT PRIVILEGES FOR ROLE \"keycloak\" IN SCHEMA \"app\" GRANT SELECT ON "
            "TABLES TO \"reporting\"");
}

TEST(PlanTest, AllTablePrivilegesExpandAndOnlyMissingOnesAreGranted) {
  Instance inst = MakeInstance();
  inst.roles[2].grants[0].privileges = {"SELECT", "INSERT"};
  CatalogSnapshot snap = Converged();
  TableGrantState missing;
  missing.role_exists = true;
  missing.any_table = true;
  missing.some_table_lacks = true;
  snap.objects["keycloak"].table_grants[{"reporting", "app", "INSERT"}] = missing;
  Plan p = RunPlan(inst, snap);
  EXPECT_EQ(Displays(p),
            (std::vector<std::string>{
                "GRANT INSERT ON ALL TABLES IN SCHEMA \"app\" TO \"reporting\"",
                "ALTER DEFAULT PRIVILEGES FOR ROLE \"keycloak\" IN SCHEMA \"app\" GRANT INSERT ON "
                "TABLES TO \"reporting\""}));
  EXPECT_EQ(ExpandTablePrivileges({"ALL"}).size(), 7u);
}

TEST(PlanTest, UsageAndDatabaseGrants) {
  Instance inst = MakeInstance();
  Grant usage;
  usage.kind = Grant::Kind::kUsage;
  usage.database = "keycloak";
  usage.schema = "app";
  Grant db;
  db.kind = Grant::Kind::kDatabase;
  db.database = "keycloak";
  db.privileges = {"CONNECT", "TEMP"};
  inst.roles[1].grants = {usage, db};  // readers
  CatalogSnapshot snap = Converged();
  Plan p = RunPlan(inst, snap);
  EXPECT_EQ(Displays(p), (std::vector<std::string>{
                             "GRANT CONNECT, TEMPORARY ON DATABASE \"keycloak\" TO \"readers\"",
                             "GRANT USAGE ON SCHEMA \"app\" TO \"readers\""}));
  snap.databases["keycloak"].acl.insert({"readers", "CONNECT"});
  snap.databases["keycloak"].acl.insert({"readers", "TEMPORARY"});
  snap.objects["keycloak"].usage_granted.insert({"readers", "app"});
  EXPECT_TRUE(RunPlan(inst, snap).steps.empty());
}

TEST(PlanTest, GrantOnUndeclaredDatabaseIsAnError) {
  Instance inst = MakeInstance();
  inst.roles[2].grants[0].database = "nowhere";
  Plan p = RunPlan(inst, Converged());
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_NE(p.errors[0].find("nowhere"), std::string::npos);
}

TEST(PlanTest, RenderGroupsByTargetAndRedacts) {
  Instance inst = MakeInstance();
  inst.databases[0].init = {"/cfg/a.sql"};
  Plan p = RunPlan(inst, EmptyCluster(), false, {{"/cfg/a.sql", "x"}});
  std::string text = RenderPlan(p, "main");
  EXPECT_EQ(text.rfind("-- instance main, cluster\nCREATE ROLE \"keycloak\" LOGIN PASSWORD "
                       "'********';\n",
                       0),
            0u)
      << text;
  size_t db = text.find("-- instance main, database keycloak\n");
  ASSERT_NE(db, std::string::npos);
  EXPECT_LT(text.find("-- init file /cfg/a.sql (runs once)"),
            text.find("GRANT SELECT ON ALL TABLES"));
  EXPECT_EQ(text.find("kc-pass"), std::string::npos);
  EXPECT_EQ(text.find("SCRAM-SHA-256"), std::string::npos);
}

// ---- Router auth query (router.auth_query) --------------------------------

const std::string kAuth = config::kRouterAuthRole;
const std::string kLookupBody =
    " SELECT a.rolname, a.rolpassword FROM pg_catalog.pg_authid a"
    " WHERE a.rolname = role_name AND a.rolcanlogin AND NOT a.rolsuper AND NOT a.rolreplication"
    " AND (a.rolvaliduntil IS NULL OR a.rolvaliduntil > pg_catalog.now()) ";
const std::string kCreateLookup =
    "CREATE OR REPLACE FUNCTION tusk_router.lookup(role_name text, OUT rolname name, OUT "
    "rolpassword text) RETURNS SETOF record LANGUAGE sql STABLE SECURITY DEFINER SET "
    "search_path = pg_catalog, pg_temp AS $tusk$" +
    kLookupBody + "$tusk$";

/// MakeInstance() with a router; with auth_query on, the implicit auth role
/// the loader adds.
Instance WithRouter(bool auth_query = true) {
  Instance inst = MakeInstance();
  config::Router router;
  router.port = 6432;
  router.auth_query = auth_query;
  inst.router = router;
  if (auth_query) {
    Role auth = LoginRole(kAuth);
    auth.inherit = false;
    auth.implicit = true;
    inst.roles.push_back(auth);
  }
  return inst;
}

std::map<std::string, std::string> AuthPasswords() {
  auto pw = Passwords();
  pw[kAuth] = "auth-pass";
  return pw;
}

/// `snap` plus the auth role and objects as a successful apply leaves them.
CatalogSnapshot WithRouterAuth(CatalogSnapshot snap) {
  RoleSnapshot auth = SnapRole(true, *FixedVerifier("auth-pass"));
  auth.inherit = false;
  snap.roles[kAuth] = auth;
  RouterAuthSnapshot& ra = snap.router_auth;
  ra.schema_owner = "postgres";
  ra.schema_acl = {{"postgres", "USAGE"}, {"postgres", "CREATE"}, {kAuth, "USAGE"}};
  RouterAuthFunctionSnapshot f;
  f.owner = "postgres";
  f.arguments = "role_name text, OUT rolname name, OUT rolpassword text";
  f.returns_set = true;
  f.language = "sql";
  f.volatility = "s";
  f.security_definer = true;
  f.config = {"search_path=pg_catalog, pg_temp"};
  f.source = kLookupBody;
  f.acl = {{"postgres", "EXECUTE"}, {kAuth, "EXECUTE"}};
  ra.function = f;
  return snap;
}

Plan RunAuthPlan(const Instance& inst, const CatalogSnapshot& snap) {
  return RunPlan(inst, snap, false, {}, AuthPasswords());
}

/// Displays of the steps in phase kRouterAuth.
std::vector<std::string> AuthSteps(const Plan& p) {
  std::vector<std::string> out;
  for (const auto& s : p.steps) {
    if (s.phase == StepPhase::kRouterAuth) out.push_back(s.display);
  }
  return out;
}

TEST(PlanRouterAuth, CreatedWhenMissing) {
  Plan p = RunAuthPlan(WithRouter(), EmptyCluster());
  ASSERT_TRUE(p.errors.empty()) << p.errors[0];
  EXPECT_GE(IndexOf(p, "CREATE ROLE \"tusk_router_auth\" LOGIN NOINHERIT PASSWORD '********'"), 0);
  std::vector<std::string> want = {
      "CREATE SCHEMA tusk_router AUTHORIZATION \"postgres\"",
      "REVOKE ALL ON SCHEMA tusk_router FROM PUBLIC",
      "GRANT USAGE ON SCHEMA tusk_router TO \"tusk_router_auth\"",
      kCreateLookup,
      "ALTER FUNCTION tusk_router.lookup(text) OWNER TO \"postgres\"",
      "REVOKE ALL ON FUNCTION tusk_router.lookup(text) FROM PUBLIC",
      "GRANT EXECUTE ON FUNCTION tusk_router.lookup(text) TO \"tusk_router_auth\"",
  };
  EXPECT_EQ(AuthSteps(p), want);
  // Cluster level (run on `postgres`), after the databases and before anything inside one.
  for (const auto& s : p.steps) {
    if (s.phase == StepPhase::kRouterAuth) {
      EXPECT_EQ(s.database, "");
    }
  }
  for (size_t i = 1; i < p.steps.size(); ++i) {
    EXPECT_LE(p.steps[i - 1].phase, p.steps[i].phase) << p.steps[i].display;
  }
  // PUBLIC can CONNECT to postgres after initdb: nothing to grant.
  EXPECT_EQ(IndexOf(p, "GRANT CONNECT ON DATABASE \"postgres\""), -1);
  std::string text = RenderPlan(p, "main");
  EXPECT_EQ(text.find("auth-pass"), std::string::npos);
  EXPECT_EQ(text.find("SCRAM-SHA-256"), std::string::npos);
  EXPECT_NE(text.find("CREATE SCHEMA tusk_router"), std::string::npos);
}

TEST(PlanRouterAuth, ConvergedGivesZeroSteps) {
  Plan p = RunAuthPlan(WithRouter(), WithRouterAuth(Converged()));
  EXPECT_TRUE(p.steps.empty()) << p.steps[0].display;
  EXPECT_TRUE(p.errors.empty());
  EXPECT_TRUE(p.warnings.empty());
}

TEST(PlanRouterAuth, ChangedBodyOrAttributesAreReplaced) {
  auto tamper = [](auto edit) {
    CatalogSnapshot snap = WithRouterAuth(Converged());
    edit(*snap.router_auth.function);
    return RunAuthPlan(WithRouter(), snap);
  };
  std::vector<std::function<void(RouterAuthFunctionSnapshot&)>> edits = {
      [](auto& f) { f.source = " SELECT a.rolname, a.rolpassword FROM pg_catalog.pg_authid a "; },
      [](auto& f) { f.security_definer = false; },
      [](auto& f) { f.config.clear(); },
      [](auto& f) { f.config = {"search_path=public"}; },
      [](auto& f) { f.volatility = "v"; },
      [](auto& f) { f.language = "plpgsql"; },
  };
  for (const auto& edit : edits) {
    Plan p = tamper(edit);
    ASSERT_EQ(p.steps.size(), 1u);
    EXPECT_EQ(p.steps[0].display, kCreateLookup);
    EXPECT_EQ(p.steps[0].kind, StepKind::kAlter);
    EXPECT_EQ(p.steps[0].phase, StepPhase::kRouterAuth);
  }
}

TEST(PlanRouterAuth, DifferentParametersAreDroppedAndRecreated) {
  CatalogSnapshot snap = WithRouterAuth(Converged());
  snap.router_auth.function->arguments = "name text, OUT rolname name, OUT rolpassword text";
  Plan p = RunAuthPlan(WithRouter(), snap);
  EXPECT_EQ(AuthSteps(p),
            (std::vector<std::string>{
                "DROP FUNCTION tusk_router.lookup(text)", kCreateLookup,
                "ALTER FUNCTION tusk_router.lookup(text) OWNER TO \"postgres\"",
                "REVOKE ALL ON FUNCTION tusk_router.lookup(text) FROM PUBLIC",
                "GRANT EXECUTE ON FUNCTION tusk_router.lookup(text) TO \"tusk_router_auth\""}));
  EXPECT_EQ(p.steps.size(), 5u);
}

TEST(PlanRouterAuth, GrantsAndOwnersAreRepaired) {
  CatalogSnapshot snap = WithRouterAuth(Converged());
  RouterAuthSnapshot& ra = snap.router_auth;
  ra.function->acl = {{"postgres", "EXECUTE"}, {"PUBLIC", "EXECUTE"}, {"reporting", "EXECUTE"}};
  ra.schema_acl.insert({kAuth, "CREATE"});
  ra.schema_acl.insert({"PUBLIC", "USAGE"});
  Plan p = RunAuthPlan(WithRouter(), snap);
  EXPECT_EQ(Displays(p),
            (std::vector<std::string>{
                "REVOKE ALL ON SCHEMA tusk_router FROM PUBLIC",
                "REVOKE CREATE ON SCHEMA tusk_router FROM \"tusk_router_auth\"",
                "REVOKE ALL ON FUNCTION tusk_router.lookup(text) FROM PUBLIC",
                "REVOKE ALL ON FUNCTION tusk_router.lookup(text) FROM \"reporting\"",
                "GRANT EXECUTE ON FUNCTION tusk_router.lookup(text) TO \"tusk_router_auth\""}));

  // Owned by someone else: ownership moves back; the old owner's own entries
  // move with it (ALTER ... OWNER), so they are not revoked.
  snap = WithRouterAuth(Converged());
  snap.router_auth.schema_owner = "keycloak";
  snap.router_auth.schema_acl = {{"keycloak", "USAGE"}, {"keycloak", "CREATE"}, {kAuth, "USAGE"}};
  snap.router_auth.function->owner = "keycloak";
  snap.router_auth.function->acl = {{"keycloak", "EXECUTE"}, {kAuth, "EXECUTE"}};
  p = RunAuthPlan(WithRouter(), snap);
  EXPECT_EQ(Displays(p), (std::vector<std::string>{
                             "ALTER SCHEMA tusk_router OWNER TO \"postgres\"",
                             "ALTER FUNCTION tusk_router.lookup(text) OWNER TO \"postgres\""}));
}

TEST(PlanRouterAuth, AuthRoleIsKeptBare) {
  CatalogSnapshot snap = WithRouterAuth(Converged());
  snap.roles[kAuth].inherit = true;
  snap.roles[kAuth].createrole = true;
  snap.roles[kAuth].member_of = {"readers"};
  Plan p = RunAuthPlan(WithRouter(), snap);
  EXPECT_EQ(Displays(p),
            (std::vector<std::string>{"ALTER ROLE \"tusk_router_auth\" NOCREATEROLE NOINHERIT",
                                      "REVOKE \"readers\" FROM \"tusk_router_auth\""}));
}

TEST(PlanRouterAuth, ConnectOnPostgresOnlyWhenPublicLostIt) {
  CatalogSnapshot snap = WithRouterAuth(Converged());
  snap.databases["postgres"].acl.erase({"PUBLIC", "CONNECT"});
  Plan p = RunAuthPlan(WithRouter(), snap);
  EXPECT_EQ(
      Displays(p),
      (std::vector<std::string>{"GRANT CONNECT ON DATABASE \"postgres\" TO \"tusk_router_auth\""}));
  EXPECT_EQ(p.steps[0].phase, StepPhase::kDatabases);
  snap.databases["postgres"].acl.insert({kAuth, "CONNECT"});
  EXPECT_TRUE(RunAuthPlan(WithRouter(), snap).steps.empty());
}

TEST(PlanRouterAuth, NothingWhenOffOrWithoutRouter) {
  // Missing objects are not created, tampered ones are left alone.
  CatalogSnapshot tampered = WithRouterAuth(Converged());
  tampered.router_auth.function->source = "SELECT 1";
  tampered.router_auth.function->acl.insert({"PUBLIC", "EXECUTE"});
  tampered.roles[kAuth].member_of = {"readers"};
  tampered.databases["postgres"].acl.clear();
  Instance no_router = MakeInstance();
  for (const Instance& inst : {WithRouter(false), no_router}) {
    for (const CatalogSnapshot& snap : {Converged(), tampered}) {
      Plan p = RunAuthPlan(inst, snap);
      EXPECT_TRUE(p.steps.empty()) << p.steps[0].display;
    }
    Plan fresh = RunAuthPlan(inst, EmptyCluster());
    EXPECT_TRUE(AuthSteps(fresh).empty());
    EXPECT_EQ(RenderPlan(fresh, "main").find("tusk_router"), std::string::npos);
  }
}

}  // namespace
}  // namespace tusk::provision
