// EmbeddedDefault: the configuration used without a tusk.yaml, including the
// POSTGRES_* compatibility variables and the free-port scan.
#include <gtest/gtest.h>

#include <string>

#include "../support/fake_environment.h"
#include "config/loader.h"

namespace tusk::config {
namespace {

using test::FakeEnvironment;

std::vector<std::string> DbNames(const Instance& i) {
  std::vector<std::string> out;
  for (const Database& d : i.databases) out.push_back(d.name);
  return out;
}

TEST(ConfigEmbedded, NoVariables) {
  FakeEnvironment env;
  env.memory_bytes = 3ull << 30;
  env.cpus = 2;
  Result<Config> r = EmbeddedDefault("/srv/app", std::nullopt, env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->source, "<embedded default>");
  EXPECT_EQ(r->base_dir, "/srv/app");
  EXPECT_EQ(r->state_dir, "/srv/app/tusk-data");
  ASSERT_EQ(r->instances.size(), 1u);
  const Instance& i = r->instances[0];
  EXPECT_EQ(i.name, "main");
  EXPECT_EQ(i.port, 5432);
  EXPECT_EQ(i.listen, "127.0.0.1");
  EXPECT_EQ(i.data_dir, "/srv/app/tusk-data/main");
  EXPECT_EQ(i.postgres_bin, "/usr/lib/postgresql/15/bin");
  EXPECT_EQ(i.memory_bytes, 3ull << 30);
  EXPECT_EQ(i.cpus, 2);
  EXPECT_EQ(i.storage, Storage::kSsd);
  EXPECT_EQ(i.superuser, "postgres");
  EXPECT_EQ(i.superuser_password_source, PasswordSource::kGenerated);
  EXPECT_EQ(DbNames(i), (std::vector<std::string>{"app"}));
  EXPECT_EQ(i.databases[0].owner, "app");
  ASSERT_EQ(i.roles.size(), 1u);
  EXPECT_EQ(i.roles[0].name, "app");
  EXPECT_TRUE(i.roles[0].implicit);
  EXPECT_TRUE(i.roles[0].login);
  EXPECT_EQ(i.roles[0].password_source, PasswordSource::kGenerated);
  ASSERT_EQ(i.hba.size(), 3u);
  EXPECT_EQ(i.hba[0].user, "postgres");
  EXPECT_EQ(i.hba[0].method, "peer map=tusk");
}

TEST(ConfigEmbedded, PostgresVariables) {
  FakeEnvironment env;
  env.vars = {{"POSTGRES_USER", "admin"},
              {"POSTGRES_PASSWORD", "secret"},
              {"POSTGRES_MULTIPLE_DATABASES", " keycloak, backend ,,keycloak,postgres"},
              {"POSTGRES_DB", "shop"}};
  env.rotational_dirs = {"/srv"};
  Result<Config> r = EmbeddedDefault("/srv/app", std::nullopt, env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Instance& i = r->instances[0];
  EXPECT_EQ(i.superuser, "admin");
  EXPECT_EQ(i.superuser_password_source, PasswordSource::kEnv);
  EXPECT_EQ(i.superuser_password_env, "POSTGRES_PASSWORD");
  EXPECT_EQ(i.storage, Storage::kHdd);
  EXPECT_EQ(DbNames(i), (std::vector<std::string>{"keycloak", "backend", "shop"}));
  ASSERT_EQ(i.roles.size(), 3u);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(i.databases[k].owner, i.databases[k].name);
    EXPECT_EQ(i.roles[k].name, i.databases[k].name);
    EXPECT_TRUE(i.roles[k].implicit);
  }
  EXPECT_EQ(i.hba[0].user, "admin");
}

TEST(ConfigEmbedded, PostgresDbOnly) {
  FakeEnvironment env;
  env.vars = {{"POSTGRES_DB", "postgres"}};
  Result<Config> r = EmbeddedDefault("/x", std::nullopt, env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(DbNames(r->instances[0]), (std::vector<std::string>{"app"}));

  env.vars = {{"POSTGRES_DB", "blog"}, {"POSTGRES_MULTIPLE_DATABASES", "blog,wiki"}};
  r = EmbeddedDefault("/x", std::nullopt, env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(DbNames(r->instances[0]), (std::vector<std::string>{"blog", "wiki"}));

  // POSTGRES_DB owned by the superuser itself: no extra role.
  env.vars = {{"POSTGRES_DB", "me"}, {"POSTGRES_USER", "me"}};
  r = EmbeddedDefault("/x", std::nullopt, env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(DbNames(r->instances[0]), (std::vector<std::string>{"me"}));
  EXPECT_TRUE(r->instances[0].roles.empty());
}

TEST(ConfigEmbedded, PortScan) {
  FakeEnvironment env;
  env.busy_ports = {5432, 5433, 5435};
  Result<Config> r = EmbeddedDefault("/x", std::nullopt, env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->instances[0].port, 5434);
  ASSERT_EQ(env.port_probes.size(), 3u);
  EXPECT_EQ(env.port_probes[0], std::make_pair(std::string("127.0.0.1"), 5432));
  EXPECT_EQ(env.port_probes[2].second, 5434);
}

TEST(ConfigEmbedded, ExistingPortSkipsScan) {
  FakeEnvironment env;
  env.busy_ports = {5432};
  Result<Config> r = EmbeddedDefault("/x", 5432, env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->instances[0].port, 5432);
  EXPECT_TRUE(env.port_probes.empty());
}

TEST(ConfigEmbedded, RelativeBaseDir) {
  FakeEnvironment env;
  env.cwd = "/home/me";
  Result<Config> r = EmbeddedDefault("proj/", std::nullopt, env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->base_dir, "/home/me/proj");
  EXPECT_EQ(r->instances[0].data_dir, "/home/me/proj/tusk-data/main");
}

TEST(ConfigEmbedded, Errors) {
  FakeEnvironment env;
  env.vars = {{"POSTGRES_MULTIPLE_DATABASES", "ok,not ok"}};
  Result<Config> r = EmbeddedDefault("/x", std::nullopt, env);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "<embedded default>: POSTGRES_MULTIPLE_DATABASES: invalid database name \"not ok\"");

  env.vars = {{"POSTGRES_USER", "bad user"}};
  r = EmbeddedDefault("/x", std::nullopt, env);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("POSTGRES_USER"), std::string::npos);

  env.vars.clear();
  env.bin_dirs.clear();
  r = EmbeddedDefault("/x", std::nullopt, env);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "<embedded default>: no PostgreSQL server found under /usr/lib/postgresql; install "
            "postgresql-15");
}

}  // namespace
}  // namespace tusk::config
