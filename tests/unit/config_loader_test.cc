// Loader tests: a full valid config read back field by field, every default,
// and the shipped examples. Host facts come from FakeEnvironment only.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "../support/fake_environment.h"
#include "config/loader.h"

namespace tusk::config {
namespace {

using test::FakeEnvironment;

constexpr const char* kFull = R"(state_dir: state
instances:
  - name: main
    port: 6543
    listen: "127.0.0.1, 10.0.0.5"
    data_dir: /srv/pg/main
    postgres_bin: /opt/pg/bin
    profile: olap
    memory: 2GiB
    cpus: 2
    storage: hdd
    max_connections: 250
    parameters:
      work_mem: 64MB
      jit: off
      random_page_cost: 1.1
      pg_stat_statements.track: all
    lock_timeout: 1min
    superuser:
      name: admin
      password_env: ADMIN_PW
    databases:
      - name: app
        owner: app_owner
        extensions:
          - pgcrypto
          - {name: postgis, schema: gis, version: "3.3.2"}
        schemas: [gis, reporting]
        init: sql/init.sql
        ensure: [sql/a.sql, /abs/b.sql]
        encoding: LATIN1
        locale: en_US.UTF-8
        connection_limit: 20
      - name: legacy
        state: absent
    roles:
      - name: app_owner
        password_file: secrets/app.pw
        createdb: yes
        connection_limit: 5
      - name: readers
        login: false
      - name: alice
        password_env: ALICE_PW
        member_of: [readers]
        superuser: false
        createrole: true
        replication: on
        grants:
          - {database: app, privileges: [connect, Temporary]}
          - {database: app, schema: public, tables: [select, insert]}
          - {database: app, schema: gis, usage: true}
      - name: old
        state: absent
    hba:
      - {type: local, database: all, user: admin, method: peer}
      - {type: hostssl, database: app, user: alice, address: 10.0.0.0/8, method: scram-sha-256}
  - name: second
    port: 6544
)";

FakeEnvironment FullEnv() {
  FakeEnvironment env;
  env.vars = {{"ADMIN_PW", "x"}, {"ALICE_PW", "y"}};
  env.readable_files = {"/cfg/sql/init.sql", "/cfg/sql/a.sql", "/abs/b.sql", "/cfg/secrets/app.pw"};
  return env;
}

TEST(ConfigLoader, FullConfigRoundTrip) {
  FakeEnvironment env = FullEnv();
  Result<Config> r = LoadConfigText(kFull, "tusk.yaml", "/cfg", env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Config& c = *r;
  EXPECT_EQ(c.source, "tusk.yaml");
  EXPECT_EQ(c.base_dir, "/cfg");
  EXPECT_EQ(c.state_dir, "/cfg/state");
  ASSERT_EQ(c.instances.size(), 2u);

  const Instance& i = c.instances[0];
  EXPECT_EQ(i.name, "main");
  EXPECT_EQ(i.location.line, 3);
  EXPECT_EQ(i.location.column, 5);
  EXPECT_EQ(i.port, 6543);
  EXPECT_EQ(i.listen, "127.0.0.1,10.0.0.5");
  EXPECT_EQ(i.data_dir, "/srv/pg/main");
  EXPECT_EQ(i.postgres_bin, "/opt/pg/bin");
  EXPECT_EQ(i.profile, Profile::kOlap);
  EXPECT_EQ(i.memory_bytes, 2ull << 30);
  EXPECT_EQ(i.cpus, 2);
  EXPECT_EQ(i.storage, Storage::kHdd);
  EXPECT_EQ(i.max_connections, 250);
  std::map<std::string, std::string> params = {{"work_mem", "64MB"},
                                               {"jit", "off"},
                                               {"random_page_cost", "1.1"},
                                               {"pg_stat_statements.track", "all"}};
  EXPECT_EQ(i.parameters, params);
  EXPECT_EQ(i.lock_timeout_ms, 60000);
  EXPECT_EQ(i.superuser, "admin");
  EXPECT_EQ(i.superuser_password_source, PasswordSource::kEnv);
  EXPECT_EQ(i.superuser_password_env, "ADMIN_PW");

  ASSERT_EQ(i.databases.size(), 2u);
  const Database& app = i.databases[0];
  EXPECT_EQ(app.name, "app");
  EXPECT_EQ(app.owner, "app_owner");
  ASSERT_EQ(app.extensions.size(), 2u);
  EXPECT_EQ(app.extensions[0].name, "pgcrypto");
  EXPECT_EQ(app.extensions[0].schema, "");
  EXPECT_EQ(app.extensions[0].version, "");
  EXPECT_EQ(app.extensions[1].name, "postgis");
  EXPECT_EQ(app.extensions[1].schema, "gis");
  EXPECT_EQ(app.extensions[1].version, "3.3.2");
  EXPECT_EQ(app.schemas, (std::vector<std::string>{"gis", "reporting"}));
  EXPECT_EQ(app.init, (std::vector<std::string>{"/cfg/sql/init.sql"}));
  EXPECT_EQ(app.ensure, (std::vector<std::string>{"/cfg/sql/a.sql", "/abs/b.sql"}));
  EXPECT_EQ(app.encoding, "LATIN1");
  EXPECT_EQ(app.locale, "en_US.UTF-8");
  EXPECT_EQ(app.connection_limit, 20);
  EXPECT_EQ(app.state, ObjectState::kPresent);
  EXPECT_EQ(app.location.line, 23);
  EXPECT_EQ(app.location.column, 9);
  const Database& legacy = i.databases[1];
  EXPECT_EQ(legacy.owner, "legacy");
  EXPECT_EQ(legacy.state, ObjectState::kAbsent);
  EXPECT_EQ(legacy.encoding, "UTF8");
  EXPECT_EQ(legacy.locale, "C.UTF-8");
  EXPECT_EQ(legacy.connection_limit, -1);

  // Absent database: no implicit owner; app_owner is declared.
  ASSERT_EQ(i.roles.size(), 4u);
  const Role& owner = i.roles[0];
  EXPECT_EQ(owner.name, "app_owner");
  EXPECT_TRUE(owner.login);
  EXPECT_EQ(owner.password_source, PasswordSource::kFile);
  EXPECT_EQ(owner.password_file, "/cfg/secrets/app.pw");
  EXPECT_TRUE(owner.createdb);
  EXPECT_EQ(owner.connection_limit, 5);
  EXPECT_FALSE(owner.implicit);
  const Role& readers = i.roles[1];
  EXPECT_FALSE(readers.login);
  EXPECT_EQ(readers.password_source, PasswordSource::kNone);
  const Role& alice = i.roles[2];
  EXPECT_EQ(alice.password_source, PasswordSource::kEnv);
  EXPECT_EQ(alice.password_env, "ALICE_PW");
  EXPECT_EQ(alice.member_of, (std::vector<std::string>{"readers"}));
  EXPECT_FALSE(alice.superuser);
  EXPECT_FALSE(alice.createdb);
  EXPECT_TRUE(alice.createrole);
  EXPECT_TRUE(alice.replication);
  ASSERT_EQ(alice.grants.size(), 3u);
  EXPECT_EQ(alice.grants[0].kind, Grant::Kind::kDatabase);
  EXPECT_EQ(alice.grants[0].database, "app");
  EXPECT_EQ(alice.grants[0].privileges, (std::vector<std::string>{"CONNECT", "TEMP"}));
  EXPECT_EQ(alice.grants[1].kind, Grant::Kind::kTables);
  EXPECT_EQ(alice.grants[1].schema, "public");
  EXPECT_EQ(alice.grants[1].privileges, (std::vector<std::string>{"SELECT", "INSERT"}));
  EXPECT_EQ(alice.grants[2].kind, Grant::Kind::kUsage);
  EXPECT_EQ(alice.grants[2].schema, "gis");
  EXPECT_EQ(i.roles[3].name, "old");
  EXPECT_EQ(i.roles[3].state, ObjectState::kAbsent);

  ASSERT_EQ(i.hba.size(), 2u);
  EXPECT_EQ(i.hba[0].type, "local");
  EXPECT_EQ(i.hba[0].user, "admin");
  EXPECT_EQ(i.hba[0].address, "");
  EXPECT_EQ(i.hba[0].method, "peer");
  EXPECT_EQ(i.hba[1].type, "hostssl");
  EXPECT_EQ(i.hba[1].database, "app");
  EXPECT_EQ(i.hba[1].user, "alice");
  EXPECT_EQ(i.hba[1].address, "10.0.0.0/8");
  EXPECT_EQ(i.hba[1].method, "scram-sha-256");

  // The second instance takes every default; memory is split between two.
  const Instance& s = c.instances[1];
  EXPECT_EQ(s.data_dir, "/cfg/state/second");
  EXPECT_EQ(s.memory_bytes, 4ull << 30);
}

TEST(ConfigLoader, Defaults) {
  FakeEnvironment env;
  env.memory_bytes = 6ull << 30;
  env.cpus = 3;
  env.bin_dirs = {"/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"};
  Result<Config> r = LoadConfigText(R"(instances:
  - name: a
    databases: [{name: shop}]
  - name: b
    port: 5433
  - name: c
    port: 5434
)",
                                    "t.yaml", "/etc/tusk", env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->state_dir, "/etc/tusk/tusk-data");
  const Instance& a = r->instances[0];
  EXPECT_EQ(a.port, 5432);
  EXPECT_EQ(a.listen, "127.0.0.1");
  EXPECT_EQ(a.data_dir, "/etc/tusk/tusk-data/a");
  EXPECT_EQ(a.postgres_bin, "/usr/lib/postgresql/16/bin");
  EXPECT_EQ(a.profile, Profile::kOltp);
  EXPECT_EQ(a.memory_bytes, 2ull << 30);
  EXPECT_EQ(a.cpus, 3);
  EXPECT_EQ(a.storage, Storage::kSsd);
  EXPECT_EQ(a.max_connections, 100);
  EXPECT_TRUE(a.parameters.empty());
  EXPECT_EQ(a.lock_timeout_ms, 5000);
  EXPECT_EQ(a.superuser, "postgres");
  EXPECT_EQ(a.superuser_password_source, PasswordSource::kGenerated);
  EXPECT_EQ(a.superuser_password_env, "");
  ASSERT_EQ(a.databases.size(), 1u);
  EXPECT_EQ(a.databases[0].owner, "shop");
  ASSERT_EQ(a.roles.size(), 1u);
  EXPECT_EQ(a.roles[0].name, "shop");
  EXPECT_TRUE(a.roles[0].login);
  EXPECT_TRUE(a.roles[0].implicit);
  EXPECT_EQ(a.roles[0].password_source, PasswordSource::kGenerated);
  for (const Instance& i : r->instances) EXPECT_EQ(i.memory_bytes, 2ull << 30);
}

TEST(ConfigLoader, RelativePathsResolveAgainstBaseDir) {
  FakeEnvironment env;
  env.cwd = "/home/me";
  Result<Config> r = LoadConfigText(R"(state_dir: ../state/
instances:
  - name: a
    data_dir: ./pg//a/
)",
                                    "t.yaml", "conf", env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->base_dir, "/home/me/conf");
  EXPECT_EQ(r->state_dir, "/home/me/state");
  EXPECT_EQ(r->instances[0].data_dir, "/home/me/conf/pg/a");
}

TEST(ConfigLoader, StorageDetectedFromDataDir) {
  FakeEnvironment env;
  env.rotational_dirs = {"/spin"};
  Result<Config> r = LoadConfigText(R"(instances:
  - {name: a, data_dir: /spin/a}
  - {name: b, data_dir: /flash/b, port: 5433}
  - {name: c, data_dir: /spin/c, port: 5434, storage: ssd}
)",
                                    "t.yaml", "/", env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->instances[0].storage, Storage::kHdd);
  EXPECT_EQ(r->instances[1].storage, Storage::kSsd);
  EXPECT_EQ(r->instances[2].storage, Storage::kSsd);
}

TEST(ConfigLoader, DefaultHbaLoopbackOnly) {
  FakeEnvironment env;
  Result<Config> r =
      LoadConfigText("instances: [{name: a, superuser: {name: boss}}]", "t.yaml", "/", env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto& hba = r->instances[0].hba;
  ASSERT_EQ(hba.size(), 3u);
  EXPECT_EQ(hba[0].type, "local");
  EXPECT_EQ(hba[0].database, "all");
  EXPECT_EQ(hba[0].user, "boss");
  EXPECT_EQ(hba[0].address, "");
  EXPECT_EQ(hba[0].method, "peer map=tusk");
  EXPECT_EQ(hba[1].type, "host");
  EXPECT_EQ(hba[1].user, "all");
  EXPECT_EQ(hba[1].address, "127.0.0.1/32");
  EXPECT_EQ(hba[1].method, "scram-sha-256");
  EXPECT_EQ(hba[2].address, "::1/128");
}

TEST(ConfigLoader, DefaultHbaForListenAddresses) {
  std::vector<HbaRule> rules = DefaultHbaRules("postgres", "127.0.0.1,10.1.2.3,fd00::1,db.lan");
  ASSERT_EQ(rules.size(), 6u);
  EXPECT_EQ(rules[3].address, "10.1.2.3/32");
  EXPECT_EQ(rules[4].address, "fd00::1/128");
  EXPECT_EQ(rules[5].address, "db.lan");
  for (size_t i = 1; i < rules.size(); ++i) EXPECT_EQ(rules[i].method, "scram-sha-256");

  FakeEnvironment env;
  Result<Config> r = LoadConfigText("instances: [{name: a, listen: '*'}]", "t.yaml", "/", env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto& hba = r->instances[0].hba;
  ASSERT_EQ(hba.size(), 5u);
  EXPECT_EQ(hba[3].address, "0.0.0.0/0");
  EXPECT_EQ(hba[4].address, "::/0");
  EXPECT_EQ(DefaultHbaRules("postgres", "0.0.0.0, *").size(), 5u);
}

TEST(ConfigLoader, ImplicitOwners) {
  FakeEnvironment env;
  Result<Config> r = LoadConfigText(R"(instances:
  - name: a
    databases:
      - {name: one}
      - {name: two, owner: shared}
      - {name: three, owner: shared}
      - {name: four, owner: postgres}
      - {name: five, owner: declared}
      - {name: gone, state: absent}
    roles:
      - {name: declared, login: false}
)",
                                    "t.yaml", "/", env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto& roles = r->instances[0].roles;
  ASSERT_EQ(roles.size(), 3u);
  EXPECT_EQ(roles[0].name, "declared");
  EXPECT_FALSE(roles[0].implicit);
  EXPECT_EQ(roles[1].name, "one");
  EXPECT_TRUE(roles[1].implicit);
  EXPECT_EQ(roles[1].location.line, 4);
  EXPECT_EQ(roles[2].name, "shared");
  EXPECT_TRUE(roles[2].implicit);
  EXPECT_TRUE(roles[2].login);
  EXPECT_EQ(roles[2].password_source, PasswordSource::kGenerated);
}

TEST(ConfigLoader, MemberOfMayNameImplicitOwner) {
  FakeEnvironment env;
  Result<Config> r = LoadConfigText(R"(instances:
  - name: a
    databases: [{name: shop}]
    roles: [{name: helper, member_of: [shop]}]
)",
                                    "t.yaml", "/", env);
  ASSERT_TRUE(r.ok()) << r.status().message();
}

TEST(ConfigLoader, ScalarSqlFileAndDurations) {
  FakeEnvironment env;
  env.all_files_readable = true;
  Result<Config> r = LoadConfigText(R"(instances:
  - name: a
    lock_timeout: 500ms
    databases: [{name: d, init: x.sql, ensure: /y.sql}]
  - {name: b, port: 5433, lock_timeout: 250}
  - {name: c, port: 5434, lock_timeout: "2 s"}
)",
                                    "t.yaml", "/base", env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->instances[0].lock_timeout_ms, 500);
  EXPECT_EQ(r->instances[0].databases[0].init, (std::vector<std::string>{"/base/x.sql"}));
  EXPECT_EQ(r->instances[0].databases[0].ensure, (std::vector<std::string>{"/y.sql"}));
  EXPECT_EQ(r->instances[1].lock_timeout_ms, 250);
  EXPECT_EQ(r->instances[2].lock_timeout_ms, 2000);
}

TEST(ConfigLoader, TablesAllCollapses) {
  FakeEnvironment env;
  Result<Config> r = LoadConfigText(R"(instances:
  - name: a
    databases: [{name: d}]
    roles:
      - name: r
        grants: [{database: d, schema: s, tables: [select, all]}]
)",
                                    "t.yaml", "/", env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->instances[0].roles[0].grants[0].privileges, (std::vector<std::string>{"ALL"}));
}

TEST(ConfigLoader, LoadConfigFileReadsAndResolves) {
  std::string dir = ::testing::TempDir() + "tusk_config_loader_test";
  std::filesystem::create_directories(dir);
  std::string path = dir + "/tusk.yaml";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("instances: [{name: a}]\n", f);
    std::fclose(f);
  }
  FakeEnvironment env;
  Result<Config> r = LoadConfigFile(path, env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::string abs_dir = std::filesystem::path(dir).lexically_normal().string();
  EXPECT_EQ(r->source, path);
  EXPECT_EQ(r->base_dir, abs_dir);
  EXPECT_EQ(r->instances[0].data_dir, abs_dir + "/tusk-data/a");
  std::filesystem::remove_all(dir);
}

TEST(ConfigLoader, MissingFile) {
  FakeEnvironment env;
  Result<Config> r = LoadConfigFile("/nonexistent/dir/tusk.yaml", env);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "/nonexistent/dir/tusk.yaml: cannot read: No such file or directory");
}

FakeEnvironment ExampleEnv() {
  FakeEnvironment env;
  env.memory_bytes = 4ull << 30;
  env.cpus = 2;
  std::string sql = std::string(TUSK_SOURCE_DIR) + "/examples/sql/";
  for (const char* f : {"analytics-init.sql", "rag-ensure.sql"}) {
    EXPECT_TRUE(std::filesystem::is_regular_file(sql + f)) << sql + f;
    env.readable_files.insert(sql + f);
  }
  return env;
}

TEST(ConfigExamples, SharedLoads) {
  FakeEnvironment env = ExampleEnv();
  Result<Config> r = LoadConfigFile(std::string(TUSK_SOURCE_DIR) + "/examples/shared.yaml", env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->instances.size(), 1u);
  const Instance& main = r->instances[0];
  EXPECT_EQ(main.name, "main");
  EXPECT_EQ(main.port, 5432);
  ASSERT_EQ(main.databases.size(), 2u);
  EXPECT_EQ(main.databases[0].name, "keycloak");
  EXPECT_EQ(main.databases[0].owner, "keycloak");
  EXPECT_EQ(main.databases[1].name, "backend");
  EXPECT_EQ(main.databases[1].owner, "backend");
  ASSERT_EQ(main.roles.size(), 3u);  // the owners, then the router auth role
  EXPECT_EQ(main.roles[2].name, "tusk_router_auth");
  EXPECT_TRUE(main.roles[2].implicit);
  ASSERT_TRUE(main.router.has_value());
  EXPECT_EQ(main.router->port, 6432);
  EXPECT_EQ(main.router->mode, RouterMode::kTransaction);
  EXPECT_EQ(main.router->pool_size, 20);

  env.vars["TUSK_PORT"] = "6000";
  env.vars["TUSK_ROUTER_PORT"] = "7000";
  r = LoadConfigFile(std::string(TUSK_SOURCE_DIR) + "/examples/shared.yaml", env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->instances[0].port, 6000);
  EXPECT_EQ(r->instances[0].router->port, 7000);
}

TEST(ConfigExamples, SplitLoads) {
  FakeEnvironment env = ExampleEnv();
  Result<Config> r = LoadConfigFile(std::string(TUSK_SOURCE_DIR) + "/examples/split.yaml", env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->instances.size(), 2u);
  const Instance& infra = r->instances[0];
  EXPECT_EQ(infra.name, "infra");
  EXPECT_EQ(infra.port, 5433);
  std::vector<std::string> names;
  for (const Database& d : infra.databases) names.push_back(d.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"keycloak", "backend", "airflow", "superset", "polaris",
                                      "openmetadata", "mlflow", "jupyterhub", "litellm"}));
  EXPECT_EQ(infra.roles.size(), 9u);
  const Instance& data = r->instances[1];
  EXPECT_EQ(data.name, "data");
  EXPECT_EQ(data.port, 5434);
  EXPECT_EQ(data.profile, Profile::kOlap);
  ASSERT_EQ(data.databases.size(), 3u);
  EXPECT_EQ(data.databases[0].name, "analytics");
  EXPECT_EQ(data.databases[0].init.size(), 1u);
  EXPECT_EQ(data.databases[1].extensions[0].name, "postgis");
  EXPECT_EQ(data.databases[2].extensions[0].name, "vector");
  EXPECT_EQ(data.databases[2].ensure, (std::vector<std::string>{std::string(TUSK_SOURCE_DIR) +
                                                                "/examples/sql/rag-ensure.sql"}));
  const Role& reporting = data.roles[0];
  EXPECT_EQ(reporting.name, "reporting");
  ASSERT_EQ(reporting.grants.size(), 3u);
  EXPECT_EQ(reporting.grants[0].privileges, (std::vector<std::string>{"CONNECT"}));
  EXPECT_EQ(reporting.grants[2].kind, Grant::Kind::kTables);
  EXPECT_EQ(reporting.grants[2].privileges, (std::vector<std::string>{"SELECT"}));
}

TEST(ConfigExamples, DocsCompleteExampleLoads) {
  std::ifstream in(std::string(TUSK_SOURCE_DIR) + "/docs/config.md");
  ASSERT_TRUE(in) << "docs/config.md missing";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
  size_t begin = doc.find("```yaml\n");
  ASSERT_NE(begin, std::string::npos);
  begin += 8;
  size_t end = doc.find("```", begin);
  ASSERT_NE(end, std::string::npos);
  FakeEnvironment env;
  env.all_files_readable = true;
  env.vars = {{"PG_SUPERUSER_PASSWORD", "a"}, {"ALICE_PASSWORD", "b"}};
  Result<Config> r = LoadConfigText(doc.substr(begin, end - begin), "config.md", "/cfg", env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Instance& i = r->instances[0];
  EXPECT_EQ(i.databases.size(), 2u);
  EXPECT_EQ(i.roles.size(), 4u);  // shop_owner, readers, alice, the router auth role
  EXPECT_EQ(i.hba.size(), 3u);
}

}  // namespace
}  // namespace tusk::config
