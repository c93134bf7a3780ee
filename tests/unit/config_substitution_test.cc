// ${VAR} substitution and scalar parsing: unit tests of env_substitution.h and
// values.h, plus substitution through the loader (numbers, booleans, paths).
#include <gtest/gtest.h>

#include <string>

#include "../support/fake_environment.h"
#include "config/env_substitution.h"
#include "config/loader.h"
#include "config/values.h"

namespace tusk::config {
namespace {

using test::FakeEnvironment;

std::string Sub(const std::string& text, const FakeEnvironment& env) {
  Result<std::string> r = SubstituteEnv(text, env);
  return r.ok() ? *r : "ERROR: " + r.status().message();
}

TEST(ConfigSubstitution, Basics) {
  FakeEnvironment env;
  env.vars = {{"A", "alpha"}, {"EMPTY", ""}, {"D", "${A}"}};
  EXPECT_EQ(Sub("plain", env), "plain");
  EXPECT_EQ(Sub("${A}", env), "alpha");
  EXPECT_EQ(Sub("x-${A}-y${A}", env), "x-alpha-yalpha");
  EXPECT_EQ(Sub("${B:-beta}", env), "beta");
  EXPECT_EQ(Sub("${A:-beta}", env), "alpha");
  EXPECT_EQ(Sub("${EMPTY:-fallback}", env), "fallback");
  EXPECT_EQ(Sub("${EMPTY}", env), "");
  EXPECT_EQ(Sub("${B:-}", env), "");
  EXPECT_EQ(Sub("${B:-a:-b}", env), "a:-b");
  EXPECT_EQ(Sub("$$", env), "$");
  EXPECT_EQ(Sub("$${A}", env), "${A}");
  EXPECT_EQ(Sub("pa$$word$", env), "pa$word$");
  EXPECT_EQ(Sub("$A", env), "$A");
  EXPECT_EQ(Sub("${D}", env), "${A}");  // values are not expanded again
}

TEST(ConfigSubstitution, Errors) {
  FakeEnvironment env;
  EXPECT_EQ(Sub("${NOPE}", env),
            "ERROR: environment variable NOPE is not set (set it, or write ${NOPE:-default})");
  EXPECT_NE(Sub("${A", env).find("unterminated"), std::string::npos);
  EXPECT_NE(Sub("${}", env).find("invalid variable reference"), std::string::npos);
  EXPECT_NE(Sub("${1X}", env).find("invalid variable reference"), std::string::npos);
  EXPECT_NE(Sub("${A B:-x}", env).find("invalid variable reference"), std::string::npos);
}

TEST(ConfigSubstitution, ThroughLoaderIncludingNumbers) {
  FakeEnvironment env;
  env.vars = {{"NAME", "svc"}, {"CONNS", "300"}, {"DIR", "/data"}, {"LOGIN", "no"}};
  Result<Config> r = LoadConfigText(R"(instances:
  - name: ${NAME}
    port: ${PORT:-5433}
    max_connections: ${CONNS}
    memory: ${MEM:-512MB}
    data_dir: ${DIR}/pg
    parameters:
      search_path: '"$$user", public'
    databases: [{name: "${NAME}_db"}]
    roles: [{name: reader, login: "${LOGIN}"}]
)",
                                    "t.yaml", "/", env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Instance& i = r->instances[0];
  EXPECT_EQ(i.name, "svc");
  EXPECT_EQ(i.port, 5433);
  EXPECT_EQ(i.max_connections, 300);
  EXPECT_EQ(i.memory_bytes, 512ull << 20);
  EXPECT_EQ(i.data_dir, "/data/pg");
  EXPECT_EQ(i.parameters.at("search_path"), "\"$user\", public");
  EXPECT_EQ(i.databases[0].name, "svc_db");
  EXPECT_FALSE(i.roles[0].login);

  env.vars["PORT"] = "7000";
  r = LoadConfigText("instances: [{name: a, port: '${PORT:-5433}'}]", "t.yaml", "/", env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->instances[0].port, 7000);

  env.vars["PORT"] = "seven";
  r = LoadConfigText("instances:\n  - {name: a, port: '${PORT}'}\n", "t.yaml", "/", env);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "t.yaml:2:21: instances[0].port: expected an integer, got \"seven\"");
}

TEST(ConfigValues, ParseInteger) {
  EXPECT_EQ(ParseInteger("42"), 42);
  EXPECT_EQ(ParseInteger(" -1 "), -1);
  EXPECT_FALSE(ParseInteger(""));
  EXPECT_FALSE(ParseInteger("+1"));
  EXPECT_FALSE(ParseInteger("1.5"));
  EXPECT_FALSE(ParseInteger("0x10"));
  EXPECT_FALSE(ParseInteger("99999999999999999999"));
}

TEST(ConfigValues, ParseBoolean) {
  EXPECT_EQ(ParseBoolean("TRUE"), true);
  EXPECT_EQ(ParseBoolean("yes"), true);
  EXPECT_EQ(ParseBoolean("On"), true);
  EXPECT_EQ(ParseBoolean("false"), false);
  EXPECT_EQ(ParseBoolean("no"), false);
  EXPECT_EQ(ParseBoolean("off"), false);
  EXPECT_FALSE(ParseBoolean("1"));
  EXPECT_FALSE(ParseBoolean(""));
}

TEST(ConfigValues, ParseDurationMs) {
  EXPECT_EQ(ParseDurationMs("5s"), 5000);
  EXPECT_EQ(ParseDurationMs("500ms"), 500);
  EXPECT_EQ(ParseDurationMs("1min"), 60000);
  EXPECT_EQ(ParseDurationMs("2h"), 7200000);
  EXPECT_EQ(ParseDurationMs("1d"), 86400000);
  EXPECT_EQ(ParseDurationMs("250"), 250);
  EXPECT_EQ(ParseDurationMs("0"), 0);
  EXPECT_EQ(ParseDurationMs("3 S"), 3000);
  EXPECT_FALSE(ParseDurationMs("-1s"));
  EXPECT_FALSE(ParseDurationMs("1.5s"));
  EXPECT_EQ(ParseDurationMs("10m"), 600000);
  EXPECT_FALSE(ParseDurationMs("5mo"));
  EXPECT_FALSE(ParseDurationMs("s"));
  EXPECT_FALSE(ParseDurationMs("30d"));  // above INT32_MAX ms
}

TEST(ConfigValues, Names) {
  EXPECT_TRUE(IsValidInstanceName("main"));
  EXPECT_TRUE(IsValidInstanceName("a-1_b"));
  EXPECT_FALSE(IsValidInstanceName("_a"));
  EXPECT_FALSE(IsValidInstanceName("Main"));
  EXPECT_TRUE(IsValidInstanceName(std::string(40, 'a')));
  EXPECT_FALSE(IsValidInstanceName(std::string(41, 'a')));

  EXPECT_TRUE(IsValidObjectName("keycloak"));
  EXPECT_TRUE(IsValidObjectName("_My$db-2"));
  EXPECT_TRUE(IsValidObjectName(std::string(63, 'x')));
  EXPECT_FALSE(IsValidObjectName(std::string(64, 'x')));
  EXPECT_FALSE(IsValidObjectName(""));
  EXPECT_FALSE(IsValidObjectName("1db"));
  EXPECT_FALSE(IsValidObjectName("pg_x"));
  EXPECT_FALSE(IsValidObjectName("PG_x"));
  EXPECT_TRUE(IsValidObjectName("pgx"));
  EXPECT_FALSE(IsValidObjectName("a b"));
  EXPECT_FALSE(IsValidObjectName("a\"b"));

  EXPECT_TRUE(IsValidGucName("pg_stat_statements.track"));
  EXPECT_FALSE(IsValidGucName("Work_mem"));
  EXPECT_FALSE(IsValidGucName("9x"));

  EXPECT_TRUE(IsValidExtensionName("uuid-ossp"));
  EXPECT_FALSE(IsValidExtensionName("a b"));
}

TEST(ConfigValues, Paths) {
  EXPECT_EQ(ResolvePath("/base", "x/../y/"), "/base/y");
  EXPECT_EQ(ResolvePath("/base", "/abs//p/."), "/abs/p");
  EXPECT_EQ(ResolvePath("/", "."), "/");
  EXPECT_TRUE(PathsOverlap("/a/b", "/a/b"));
  EXPECT_TRUE(PathsOverlap("/a/b/c", "/a/b"));
  EXPECT_TRUE(PathsOverlap("/a", "/a/b"));
  EXPECT_FALSE(PathsOverlap("/a/b", "/a/bc"));
  EXPECT_TRUE(PathsOverlap("/", "/x"));
}

}  // namespace
}  // namespace tusk::config
