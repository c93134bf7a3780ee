// Validation tests: each rejected input reports "FILE:LINE:COLUMN: KEY.PATH: why"
// with the location of the offending node. First error wins.
#include <gtest/gtest.h>

#include <string>

#include "../support/fake_environment.h"
#include "config/loader.h"

namespace tusk::config {
namespace {

using test::FakeEnvironment;

/// Loads `yaml` as "t.yaml" from /cfg and returns the error message ("" when it loaded).
std::string Error(const std::string& yaml, const FakeEnvironment& env = FakeEnvironment()) {
  Result<Config> r = LoadConfigText(yaml, "t.yaml", "/cfg", env);
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  return r.status().message();
}

/// Expects the message to start with `where` + ": " and to contain `why`.
void ExpectError(const std::string& yaml, const std::string& where, const std::string& why,
                 const FakeEnvironment& env = FakeEnvironment()) {
  std::string msg = Error(yaml, env);
  ASSERT_FALSE(msg.empty()) << "loaded without error:\n" << yaml;
  EXPECT_EQ(msg.substr(0, where.size() + 2), where + ": ") << msg;
  EXPECT_NE(msg.find(why), std::string::npos) << msg;
}

TEST(ConfigValidation, YamlSyntaxError) {
  std::string msg = Error("instances:\n  - name: a\n    port: [1, 2\n");
  EXPECT_EQ(msg.rfind("t.yaml:", 0), 0u) << msg;
  EXPECT_NE(msg.find(": yaml: "), std::string::npos) << msg;
  ExpectError("instances: [{name: a}]\n  bad: : :\n", "t.yaml:2:3", "yaml: ");
}

TEST(ConfigValidation, EmptyOrMissingInstances) {
  ExpectError("", "t.yaml:1:1: instances", "missing");
  ExpectError("state_dir: /x\n", "t.yaml:1:1: instances", "missing");
  ExpectError("instances: []\n", "t.yaml:1:12: instances", "at least one instance");
  ExpectError("instances: {name: a}\n", "t.yaml:1:12: instances", "expected a list, got a map");
  ExpectError("- a\n", "t.yaml:1:1: (top level)", "expected a map");
}

TEST(ConfigValidation, UnknownKeys) {
  ExpectError("instances: [{name: a}]\nstate: x\n", "t.yaml:2:1: state", "unknown key");
  ExpectError("instances:\n  - name: a\n    prot: 5432\n", "t.yaml:3:5: instances[0].prot",
              "unknown key (expected one of: name, port");
  ExpectError(R"(instances:
  - name: a
    databases:
      - name: d
        extensions:
          - {name: x, shema: s}
)",
              "t.yaml:6:23: instances[0].databases[0].extensions[0].shema", "unknown key");
}

TEST(ConfigValidation, DuplicateKey) {
  ExpectError("instances:\n  - name: a\n    port: 1\n    port: 2\n",
              "t.yaml:4:5: instances[0].port", "duplicate key");
}

TEST(ConfigValidation, WrongTypes) {
  ExpectError(R"(instances:
  - name: a
    databases:
      - name: d
      - name: e
      - name: f
        extensions: {postgis: true}
)",
              "t.yaml:7:21: instances[0].databases[2].extensions", "expected a list, got a map");
  ExpectError("instances:\n  - name: [a]\n", "t.yaml:2:11: instances[0].name",
              "expected a string, got a list");
  ExpectError("instances:\n  - name: a\n    port: {x: 1}\n", "t.yaml:3:11: instances[0].port",
              "expected an integer, got a map");
  ExpectError("instances:\n  - name: a\n    port: 54x\n", "t.yaml:3:11: instances[0].port",
              "expected an integer, got \"54x\"");
  ExpectError("instances:\n  - a\n", "t.yaml:2:5: instances[0]", "expected a map, got \"a\"");
  ExpectError("instances:\n  - name: a\n    roles: [{name: r, login: maybe}]\n",
              "t.yaml:3:30: instances[0].roles[0].login", "expected true or false");
  ExpectError("instances:\n  - name: a\n    parameters: [work_mem]\n",
              "t.yaml:3:17: instances[0].parameters", "expected a map");
  ExpectError("instances:\n  - name: a\n    parameters:\n      work_mem: [1]\n",
              "t.yaml:4:17: instances[0].parameters.work_mem", "expected a scalar");
  ExpectError("instances:\n  - name: a\n    databases: [{name: d, init: {a: b}}]\n",
              "t.yaml:3:33: instances[0].databases[0].init", "expected a file name or a list");
  ExpectError("instances:\n  - name: a\n    superuser: admin\n",
              "t.yaml:3:16: instances[0].superuser", "expected a map");
}

TEST(ConfigValidation, MissingRequired) {
  ExpectError("instances:\n  - port: 5432\n", "t.yaml:2:5: instances[0].name", "missing");
  ExpectError("instances:\n  - name: a\n    databases: [{owner: x}]\n",
              "t.yaml:3:17: instances[0].databases[0].name", "missing");
  ExpectError("instances:\n  - name: a\n    roles: [{login: false}]\n",
              "t.yaml:3:13: instances[0].roles[0].name", "missing");
}

TEST(ConfigValidation, RangesAndSizes) {
  ExpectError("instances:\n  - name: a\n    port: 70000\n", "t.yaml:3:11: instances[0].port",
              "between 1 and 65535");
  ExpectError("instances:\n  - name: a\n    port: 0\n", "t.yaml:3:11: instances[0].port",
              "between 1 and 65535");
  ExpectError("instances:\n  - name: a\n    max_connections: 262144\n",
              "t.yaml:3:22: instances[0].max_connections", "between 1 and 262143");
  ExpectError("instances:\n  - name: a\n    memory: lots\n", "t.yaml:3:13: instances[0].memory",
              "invalid size \"lots\"");
  ExpectError("instances:\n  - name: a\n    memory: 2XB\n", "t.yaml:3:13: instances[0].memory",
              "invalid size");
  ExpectError("instances:\n  - name: a\n    memory: 0\n", "t.yaml:3:13: instances[0].memory",
              "at least 1MB");
  ExpectError("instances:\n  - name: a\n    cpus: 0\n", "t.yaml:3:11: instances[0].cpus",
              "between 1 and 4096");
  ExpectError("instances:\n  - name: a\n    lock_timeout: 5 years\n",
              "t.yaml:3:19: instances[0].lock_timeout", "invalid duration");
  ExpectError("instances:\n  - name: a\n    databases: [{name: d, connection_limit: -2}]\n",
              "t.yaml:3:45: instances[0].databases[0].connection_limit", "between -1 and");
}

TEST(ConfigValidation, DuplicateNames) {
  ExpectError("instances:\n  - name: a\n  - name: a\n    port: 5433\n",
              "t.yaml:3:11: instances[1].name", "duplicate instance name \"a\"");
  ExpectError(R"(instances:
  - name: a
    databases:
      - name: d
      - name: d
)",
              "t.yaml:5:9: instances[0].databases[1].name", "duplicate database name \"d\"");
  ExpectError(R"(instances:
  - name: a
    roles:
      - name: r
      - name: r
)",
              "t.yaml:5:9: instances[0].roles[1].name", "duplicate role name \"r\"");
  ExpectError("instances:\n  - name: a\n    roles: [{name: postgres}]\n",
              "t.yaml:3:13: instances[0].roles[0].name", "is the instance superuser");
}

TEST(ConfigValidation, SharedPort) {
  ExpectError("instances:\n  - name: a\n    port: 6000\n  - name: b\n    port: 6000\n",
              "t.yaml:5:11: instances[1].port", "port 6000 is already used by instance \"a\"");
  // Both default to 5432: reported at the second instance itself.
  ExpectError("instances:\n  - name: a\n  - name: b\n", "t.yaml:3:5: instances[1].port",
              "port 5432 is already used");
}

TEST(ConfigValidation, OverlappingDataDirs) {
  ExpectError(R"(instances:
  - name: a
    data_dir: /srv/pg
  - name: b
    port: 5433
    data_dir: /srv/pg/b
)",
              "t.yaml:6:15: instances[1].data_dir", "overlaps the data_dir of instance \"a\"");
  ExpectError(R"(instances:
  - {name: a, data_dir: /srv/pg/x/}
  - {name: b, port: 5433, data_dir: /srv/pg/./x}
)",
              "t.yaml:3:37: instances[1].data_dir", "overlaps");
  ExpectError(R"(instances:
  - {name: a, data_dir: /srv/pg/a/deep}
  - {name: b, port: 5433, data_dir: /srv/pg/a}
)",
              "t.yaml:3:37: instances[1].data_dir", "overlaps the data_dir of instance \"a\"");
  ExpectError(R"(instances:
  - {name: a, data_dir: /x}
  - {name: b, port: 5433, data_dir: /}
)",
              "t.yaml:3:37: instances[1].data_dir", "/ contains the state_dir /cfg/tusk-data");
  // Siblings sharing a name prefix are fine.
  EXPECT_EQ(Error(R"(instances:
  - {name: a, data_dir: /srv/pg}
  - {name: b, port: 5433, data_dir: /srv/pg2}
)"),
            "");
  ExpectError("state_dir: /s/t\ninstances:\n  - {name: a, data_dir: /s}\n",
              "t.yaml:3:25: instances[0].data_dir", "contains the state_dir");
}

TEST(ConfigValidation, InvalidIdentifiers) {
  ExpectError("instances:\n  - name: Main\n", "t.yaml:2:11: instances[0].name",
              "invalid instance name \"Main\"");
  ExpectError("instances:\n  - name: " + std::string(41, 'a') + "\n",
              "t.yaml:2:11: instances[0].name", "at most 40");
  ExpectError("instances:\n  - name: 1a\n", "t.yaml:2:11: instances[0].name", "invalid instance");
  ExpectError("instances:\n  - name: a\n    databases: [{name: 'my db'}]\n",
              "t.yaml:3:24: instances[0].databases[0].name", "invalid database name \"my db\"");
  ExpectError("instances:\n  - name: a\n    databases: [{name: ''}]\n",
              "t.yaml:3:24: instances[0].databases[0].name", "invalid database name \"\"");
  ExpectError("instances:\n  - name: a\n    databases: [{name: pg_stuff}]\n",
              "t.yaml:3:24: instances[0].databases[0].name", "not starting with pg_");
  ExpectError("instances:\n  - name: a\n    databases: [{name: " + std::string(64, 'd') + "}]\n",
              "t.yaml:3:24: instances[0].databases[0].name", "at most 63 bytes");
  ExpectError("instances:\n  - name: a\n    databases: [{name: d, owner: 9x}]\n",
              "t.yaml:3:34: instances[0].databases[0].owner", "invalid role name");
  ExpectError("instances:\n  - name: a\n    roles: [{name: \"bad;name\"}]\n",
              "t.yaml:3:20: instances[0].roles[0].name", "invalid role name");
  ExpectError("instances:\n  - name: a\n    databases: [{name: d, schemas: [ok, 'no way']}]\n",
              "t.yaml:3:41: instances[0].databases[0].schemas[1]", "invalid schema name");
  ExpectError("instances:\n  - name: a\n    parameters:\n      Work_Mem: 1MB\n",
              "t.yaml:4:7: instances[0].parameters.Work_Mem", "invalid parameter name");
  ExpectError("instances:\n  - name: a\n    parameters:\n      port: 1\n",
              "t.yaml:4:7: instances[0].parameters.port", "use the instance key `port`");
  ExpectError("instances:\n  - name: a\n    databases: [{name: d, extensions: ['bad ext']}]\n",
              "t.yaml:3:40: instances[0].databases[0].extensions[0]", "invalid extension name");
  // Valid: mixed case, $ and - in names.
  EXPECT_EQ(Error("instances:\n  - name: a-1_b\n    databases: [{name: My-DB$1, owner: _o}]\n"),
            "");
}

TEST(ConfigValidation, UnreadableFiles) {
  ExpectError("instances:\n  - name: a\n    databases: [{name: d, init: sql/x.sql}]\n",
              "t.yaml:3:33: instances[0].databases[0].init", "cannot read SQL file /cfg/sql/x.sql");
  FakeEnvironment env;
  env.readable_files = {"/cfg/ok.sql"};
  ExpectError("instances:\n  - name: a\n    databases: [{name: d, ensure: [ok.sql, no.sql]}]\n",
              "t.yaml:3:44: instances[0].databases[0].ensure[1]",
              "cannot read SQL file /cfg/no.sql", env);
  ExpectError("instances:\n  - name: a\n    roles: [{name: r, password_file: pw}]\n",
              "t.yaml:3:38: instances[0].roles[0].password_file",
              "cannot read password file /cfg/pw");
}

TEST(ConfigValidation, EnvironmentVariables) {
  ExpectError("instances:\n  - name: a\n    port: ${PORT}\n", "t.yaml:3:11: instances[0].port",
              "environment variable PORT is not set");
  ExpectError("instances:\n  - name: a\n    roles: [{name: r, password_env: R_PW}]\n",
              "t.yaml:3:37: instances[0].roles[0].password_env",
              "environment variable R_PW is not set");
  ExpectError("instances:\n  - name: a\n    superuser: {password_env: PG_PW}\n",
              "t.yaml:3:31: instances[0].superuser.password_env", "PG_PW is not set");
  ExpectError("instances:\n  - name: a\n    roles: [{name: r, password_env: 'A-B'}]\n",
              "t.yaml:3:37: instances[0].roles[0].password_env",
              "invalid environment variable name");
  ExpectError("instances:\n  - name: a\n    listen: ${HOST\n", "t.yaml:3:13: instances[0].listen",
              "unterminated");
  FakeEnvironment env;
  env.vars = {{"R_PW", "s"}, {"F", "x"}};
  ExpectError(
      "instances:\n  - name: a\n    roles: [{name: r, password_env: R_PW, password_file: "
      "'${F}'}]\n",
      "t.yaml:3:58: instances[0].roles[0].password_file", "at most one of", env);
}

TEST(ConfigValidation, References) {
  ExpectError(R"(instances:
  - name: a
    roles:
      - name: r
        member_of: [readers]
)",
              "t.yaml:5:21: instances[0].roles[0].member_of[0]",
              "role \"readers\" is not declared on instance \"a\"");
  ExpectError(R"(instances:
  - name: a
    databases: [{name: d}]
    roles:
      - name: r
        grants:
          - database: d
            privileges: [CONNECT]
          - database: other
            privileges: [CONNECT]
)",
              "t.yaml:9:23: instances[0].roles[0].grants[1].database",
              "database \"other\" is not declared on instance \"a\"");
  ExpectError(R"(instances:
  - name: a
    roles:
      - {name: x, member_of: [y]}
      - {name: y, member_of: [z]}
      - {name: z, member_of: [x]}
)",
              "t.yaml:6:31: instances[0].roles[2].member_of[0]",
              "membership cycle: x -> y -> z -> x");
  ExpectError("instances:\n  - name: a\n    roles: [{name: r, member_of: [r]}]\n",
              "t.yaml:3:35: instances[0].roles[0].member_of[0]", "member of itself");
  ExpectError(R"(instances:
  - name: a
    databases: [{name: d, owner: o}]
    roles: [{name: o, state: absent}]
)",
              "t.yaml:3:34: instances[0].databases[0].owner", "declared absent");
}

TEST(ConfigValidation, MembershipGraphs) {
  // A cycle not reachable back to the first role: reported at the closing edge.
  ExpectError(R"(instances:
  - name: a
    roles:
      - {name: a, member_of: [b]}
      - {name: b, member_of: [c]}
      - {name: c, member_of: [b]}
)",
              "t.yaml:6:31: instances[0].roles[2].member_of[0]", "membership cycle: b -> c -> b");
  // A diamond is not a cycle.
  EXPECT_EQ(Error(R"(instances:
  - name: a
    roles:
      - {name: a, member_of: [b, c]}
      - {name: b, member_of: [d]}
      - {name: c, member_of: [d]}
      - {name: d, login: false}
)"),
            "");
}

TEST(ConfigValidation, ScalesToLargeConfigs) {
  // 1000 instances and a 5000-role membership chain load without quadratic blowup.
  std::string yaml = "instances:\n";
  for (int i = 0; i < 1000; ++i) {
    yaml += "  - {name: i" + std::to_string(i) + ", port: " + std::to_string(10000 + i) + "}\n";
  }
  yaml += "  - name: big\n    port: 9999\n    roles:\n";
  for (int i = 0; i < 5000; ++i) {
    yaml +=
        "      - {name: r" + std::to_string(i) + ", member_of: [r" + std::to_string(i + 1) + "]}\n";
  }
  yaml += "      - {name: r5000}\n";
  EXPECT_EQ(Error(yaml), "");
  // Closing the chain into a loop is found too, at the last edge.
  std::string looped = yaml.substr(0, yaml.rfind("      - {name: r5000}"));
  looped += "      - {name: r5000, member_of: [r0]}\n";
  std::string msg = Error(looped);
  EXPECT_NE(msg.find("instances[1000].roles[5000].member_of[0]: role membership cycle: r0 -> r1"),
            std::string::npos)
      << msg.substr(0, 200);
}

TEST(ConfigValidation, Grants) {
  const std::string head =
      "instances:\n  - name: a\n    databases: [{name: d}]\n    roles:\n      - name: r\n"
      "        grants:\n";
  ExpectError(head + "          - {database: d, privileges: [CONNECT, SELECT]}\n",
              "t.yaml:7:49: instances[0].roles[0].grants[0].privileges[1]",
              "unknown privilege \"SELECT\"");
  ExpectError(head + "          - {database: d, schema: s, tables: [FLY]}\n",
              "t.yaml:7:47: instances[0].roles[0].grants[0].tables[0]", "unknown privilege");
  ExpectError(head + "          - {database: d}\n", "t.yaml:7:13: instances[0].roles[0].grants[0]",
              "exactly one of privileges");
  ExpectError(head + "          - {database: d, tables: [SELECT]}\n",
              "t.yaml:7:13: instances[0].roles[0].grants[0].schema", "missing");
  ExpectError(head + "          - {database: d, schema: s, privileges: [CONNECT]}\n",
              "t.yaml:7:35: instances[0].roles[0].grants[0].schema", "take no schema");
  ExpectError(head + "          - {database: d, schema: s, usage: false}\n",
              "t.yaml:7:45: instances[0].roles[0].grants[0].usage", "must be true");
  ExpectError(head + "          - {database: d, privileges: []}\n",
              "t.yaml:7:39: instances[0].roles[0].grants[0].privileges", "at least one");
}

TEST(ConfigValidation, Enums) {
  ExpectError("instances:\n  - name: a\n    profile: web\n", "t.yaml:3:14: instances[0].profile",
              "must be one of oltp, olap, tiny");
  ExpectError("instances:\n  - name: a\n    storage: nvme\n", "t.yaml:3:14: instances[0].storage",
              "must be ssd or hdd");
  ExpectError("instances:\n  - name: a\n    databases: [{name: d, state: gone}]\n",
              "t.yaml:3:34: instances[0].databases[0].state", "must be present or absent");
  ExpectError("instances:\n  - name: a\n    roles: [{name: r, state: maybe}]\n",
              "t.yaml:3:30: instances[0].roles[0].state", "must be present or absent");
  ExpectError("instances:\n  - name: a\n    hba: [{type: tcp, address: x, method: md5}]\n",
              "t.yaml:3:18: instances[0].hba[0].type", "must be one of local, host");
  ExpectError("instances:\n  - name: a\n    hba: [{type: host, address: x, method: magic}]\n",
              "t.yaml:3:44: instances[0].hba[0].method", "must be one of trust, reject");
  ExpectError("instances:\n  - name: a\n    hba: [{type: host, address: x, method: peer foo}]\n",
              "t.yaml:3:44: instances[0].hba[0].method", "name=value");
}

TEST(ConfigValidation, HbaAddress) {
  ExpectError("instances:\n  - name: a\n    hba: [{type: host, method: md5}]\n",
              "t.yaml:3:11: instances[0].hba[0].address", "missing");
  ExpectError(
      "instances:\n  - name: a\n    hba: [{type: local, address: 10.0.0.0/8, method: peer}]\n",
      "t.yaml:3:34: instances[0].hba[0].address", "local rules take no address");
  ExpectError("instances:\n  - name: a\n    hba: []\n", "t.yaml:3:10: instances[0].hba",
              "at least one rule");
}

TEST(ConfigValidation, NoPostgresInstalled) {
  FakeEnvironment env;
  env.bin_dirs.clear();
  ExpectError("instances:\n  - name: a\n", "t.yaml:2:5: instances[0].postgres_bin",
              "no PostgreSQL server found under /usr/lib/postgresql; install postgresql-15", env);
  // An explicit postgres_bin needs no detection.
  EXPECT_EQ(Error("instances:\n  - {name: a, postgres_bin: /opt/pg}\n", env), "");
}

TEST(ConfigValidation, FirstErrorWins) {
  std::string msg = Error("instances:\n  - name: a\n    port: 0\n    profile: bad\n  - name: A\n");
  EXPECT_EQ(msg.rfind("t.yaml:3:11: instances[0].port: ", 0), 0u) << msg;
}

TEST(ConfigValidation, ExactMessageFormat) {
  EXPECT_EQ(Error("instances:\n  - name: a\n    port: 99999\n"),
            "t.yaml:3:11: instances[0].port: must be between 1 and 65535, got 99999");
}

}  // namespace
}  // namespace tusk::config
