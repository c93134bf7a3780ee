// The `router:` section of an instance: every key read back, every default,
// and each validation error with its FILE:LINE:COLUMN: KEY.PATH. Host facts
// come from FakeEnvironment only.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "../support/fake_environment.h"
#include "config/loader.h"
#include "config/router_auth.h"

namespace tusk::config {
namespace {

using test::FakeEnvironment;

/// One instance "main" on 5432 with databases app (implicit owner app), a
/// group role and a declared login role; `router` is appended verbatim
/// (indented by 4 spaces, starting at line 12).
std::string WithRouter(const std::string& router) {
  return "instances:\n"
         "  - name: main\n"
         "    port: 5432\n"
         "    listen: \"127.0.0.1, 10.0.0.5\"\n"
         "    databases:\n"
         "      - name: app\n"
         "    roles:\n"
         "      - name: readers\n"
         "        login: false\n"
         "      - name: ops\n"
         "    router:\n" +
         router;
}

Result<Config> Load(const std::string& yaml, const FakeEnvironment& env = FakeEnvironment()) {
  return LoadConfigText(yaml, "t.yaml", "/cfg", env);
}

/// Expects loading to fail with a message starting `where: ` and containing `why`.
void ExpectError(const std::string& yaml, const std::string& where, const std::string& why,
                 const FakeEnvironment& env = FakeEnvironment()) {
  Result<Config> r = Load(yaml, env);
  ASSERT_FALSE(r.ok()) << "loaded without error:\n" << yaml;
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  std::string msg = r.status().message();
  EXPECT_EQ(msg.substr(0, where.size() + 2), where + ": ") << msg;
  EXPECT_NE(msg.find(why), std::string::npos) << msg;
}

TEST(ConfigRouter, AbsentByDefault) {
  Result<Config> r = Load("instances: [{name: main}]\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->instances[0].router.has_value());
}

TEST(ConfigRouter, Defaults) {
  Result<Config> r = Load(WithRouter("      port: 6432\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->instances[0].router.has_value());
  const Router& rt = *r->instances[0].router;
  EXPECT_EQ(rt.port, 6432);
  EXPECT_EQ(rt.readonly_port, 0);
  EXPECT_EQ(rt.listen, "127.0.0.1,10.0.0.5");  // the instance's
  EXPECT_EQ(rt.mode, RouterMode::kTransaction);
  EXPECT_EQ(rt.pool_size, 20);
  EXPECT_EQ(rt.max_client_connections, 10000);
  EXPECT_EQ(rt.workers, 0);
  EXPECT_EQ(rt.pool_wait_timeout_ms, 30000);
  EXPECT_EQ(rt.idle_client_timeout_ms, 0);
  EXPECT_EQ(rt.idle_transaction_timeout_ms, 0);
  EXPECT_EQ(rt.query_timeout_ms, 0);
  EXPECT_EQ(rt.server_lifetime_ms, 3600000);
  EXPECT_EQ(rt.server_idle_timeout_ms, 600000);
  EXPECT_EQ(rt.connect_timeout_ms, 5000);
  EXPECT_EQ(rt.pipeline_depth, 0);
  EXPECT_EQ(rt.pipeline_busy_limit_ms, 1);
  EXPECT_EQ(rt.busy_poll_us, 50);
  EXPECT_EQ(rt.concurrency_limit, Router::kConcurrencyLimitAuto);
  EXPECT_EQ(rt.sched_policy, RouterSchedPolicy::kBatch);
  EXPECT_EQ(rt.client_auth, RouterClientAuth::kScramSha256);
  EXPECT_EQ(rt.admin_roles, (std::vector<std::string>{"postgres"}));
  EXPECT_EQ(rt.tls_mode, RouterTlsMode::kAllow);
  EXPECT_EQ(rt.tls_cert_file, "");
  EXPECT_EQ(rt.tls_key_file, "");
  EXPECT_FALSE(rt.server_tls);
  EXPECT_EQ(rt.metrics_port, 0);
  EXPECT_TRUE(rt.standbys.empty());
  EXPECT_EQ(rt.max_message_bytes, 64ull << 20);
  EXPECT_TRUE(rt.auth_query);
  EXPECT_EQ(rt.location.line, 12);
  EXPECT_EQ(rt.location.column, 7);
}

TEST(ConfigRouter, EveryKey) {
  FakeEnvironment env;
  env.readable_files = {"/cfg/tls/r.crt", "/etc/tls/r.key"};
  env.vars["ROUTER_PORT"] = "7000";
  Result<Config> r = Load(WithRouter(R"(      port: ${ROUTER_PORT}
      readonly_port: 7001
      listen: "*"
      mode: session
      pool_size: 5
      max_client_connections: 200
      workers: 3
      pool_wait_timeout: 500ms
      idle_client_timeout: 10m
      idle_transaction_timeout: 30s
      query_timeout: 1h
      server_lifetime: "2h"
      server_idle_timeout: 2500
      connect_timeout: 2s
      concurrency_limit: 12
      client_auth: md5
      admin_roles: [postgres, ops]
      tls: {mode: require, cert_file: tls/r.crt, key_file: /etc/tls/r.key}
      server_tls: yes
      metrics_port: 9187
      standbys:
        - {host: 10.0.0.6, port: 5433}
        - host: standby.internal
      max_message_bytes: 1MB
      auth_query: off
)"),
                          env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Router& rt = *r->instances[0].router;
  EXPECT_EQ(rt.port, 7000);
  EXPECT_EQ(rt.readonly_port, 7001);
  EXPECT_EQ(rt.listen, "*");
  EXPECT_EQ(rt.mode, RouterMode::kSession);
  EXPECT_EQ(rt.pool_size, 5);
  EXPECT_EQ(rt.max_client_connections, 200);
  EXPECT_EQ(rt.workers, 3);
  EXPECT_EQ(rt.pool_wait_timeout_ms, 500);
  EXPECT_EQ(rt.idle_client_timeout_ms, 600000);
  EXPECT_EQ(rt.idle_transaction_timeout_ms, 30000);
  EXPECT_EQ(rt.query_timeout_ms, 3600000);
  EXPECT_EQ(rt.server_lifetime_ms, 7200000);
  EXPECT_EQ(rt.server_idle_timeout_ms, 2500);
  EXPECT_EQ(rt.connect_timeout_ms, 2000);
  EXPECT_EQ(rt.concurrency_limit, 12);
  EXPECT_EQ(rt.client_auth, RouterClientAuth::kMd5);
  EXPECT_EQ(rt.admin_roles, (std::vector<std::string>{"postgres", "ops"}));
  EXPECT_EQ(rt.tls_mode, RouterTlsMode::kRequire);
  EXPECT_EQ(rt.tls_cert_file, "/cfg/tls/r.crt");
  EXPECT_EQ(rt.tls_key_file, "/etc/tls/r.key");
  EXPECT_TRUE(rt.server_tls);
  EXPECT_EQ(rt.metrics_port, 9187);
  ASSERT_EQ(rt.standbys.size(), 2u);
  EXPECT_EQ(rt.standbys[0].host, "10.0.0.6");
  EXPECT_EQ(rt.standbys[0].port, 5433);
  EXPECT_EQ(rt.standbys[1].host, "standby.internal");
  EXPECT_EQ(rt.standbys[1].port, 5432);
  EXPECT_EQ(rt.max_message_bytes, 1ull << 20);
  EXPECT_FALSE(rt.auth_query);
}

TEST(ConfigRouter, EnumValues) {
  auto load = [](const std::string& line) {
    Result<Config> r = Load(WithRouter("      port: 6432\n" + line));
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r->instances[0].router : Router{};
  };
  EXPECT_EQ(load("      mode: transaction\n").mode, RouterMode::kTransaction);
  EXPECT_EQ(load("      client_auth: plain\n").client_auth, RouterClientAuth::kPlain);
  EXPECT_EQ(load("      client_auth: scram-sha-256\n").client_auth, RouterClientAuth::kScramSha256);
  EXPECT_EQ(load("      tls: {mode: disable}\n").tls_mode, RouterTlsMode::kDisable);
  EXPECT_EQ(load("      tls: {mode: allow}\n").tls_mode, RouterTlsMode::kAllow);
  EXPECT_EQ(load("      admin_roles: []\n").admin_roles, std::vector<std::string>{});
  EXPECT_EQ(load("      admin_roles: [app]\n").admin_roles,
            std::vector<std::string>{"app"});  // an implicit owner counts
  EXPECT_EQ(load("      readonly_port: 0\n      metrics_port: 0\n").readonly_port, 0);
}

TEST(ConfigRouter, Errors) {
  ExpectError(WithRouter("      prot: 6432\n"), "t.yaml:12:7: instances[0].router.prot",
              "unknown key (expected one of: port, readonly_port");
  ExpectError(WithRouter("      mode: session\n"), "t.yaml:12:7: instances[0].router.port",
              "missing (required)");
  ExpectError(WithRouter(""), "t.yaml:11:5: instances[0].router", "expected a map, got nothing");
  ExpectError(WithRouter("      port: 0\n"), "t.yaml:12:13: instances[0].router.port",
              "must be between 1 and 65535, got 0");
  ExpectError(WithRouter("      port: 6432\n      readonly_port: 70000\n"),
              "t.yaml:13:22: instances[0].router.readonly_port", "must be between 0 and 65535");
  ExpectError(WithRouter("      port: 6432\n      mode: statement\n"),
              "t.yaml:13:13: instances[0].router.mode",
              "must be session or transaction, got \"statement\"");
  ExpectError(WithRouter("      port: 6432\n      pool_size: 0\n"),
              "t.yaml:13:18: instances[0].router.pool_size", "must be between 1 and 262143");
  ExpectError(WithRouter("      port: 6432\n      max_client_connections: -5\n"),
              "t.yaml:13:31: instances[0].router.max_client_connections", "must be between 1");
  ExpectError(WithRouter("      port: 6432\n      workers: many\n"),
              "t.yaml:13:16: instances[0].router.workers", "expected an integer, got \"many\"");
  ExpectError(WithRouter("      port: 6432\n      query_timeout: 1.5s\n"),
              "t.yaml:13:22: instances[0].router.query_timeout",
              "invalid duration \"1.5s\" (use e.g. 500ms, 30s, 10m, 1h or milliseconds)");
  ExpectError(WithRouter("      port: 6432\n      server_lifetime: -1\n"),
              "t.yaml:13:24: instances[0].router.server_lifetime", "invalid duration");
  ExpectError(WithRouter("      port: 6432\n      connect_timeout: 0\n"),
              "t.yaml:13:24: instances[0].router.connect_timeout", "must be more than 0");
  ExpectError(WithRouter("      port: 6432\n      server_lifetime: 0s\n"),
              "t.yaml:13:24: instances[0].router.server_lifetime", "must be more than 0");
  ExpectError(WithRouter("      port: 6432\n      pipeline_depth: 65\n"),
              "t.yaml:13:23: instances[0].router.pipeline_depth", "between 0 and 64");
  ExpectError(WithRouter("      port: 6432\n      pipeline_busy_limit: 0\n"),
              "t.yaml:13:28: instances[0].router.pipeline_busy_limit", "must be more than 0");
  ExpectError(WithRouter("      port: 6432\n      busy_poll_us: 20000\n"),
              "t.yaml:13:21: instances[0].router.busy_poll_us", "between 0 and 10000");
  ExpectError(WithRouter("      port: 6432\n      concurrency_limit: -1\n"),
              "t.yaml:13:26: instances[0].router.concurrency_limit", "between 0 and 262143");
  ExpectError(WithRouter("      port: 6432\n      concurrency_limit: automatic\n"),
              "t.yaml:13:26: instances[0].router.concurrency_limit",
              "expected auto or an integer (0 = off), got \"automatic\"");
  ExpectError(WithRouter("      port: 6432\n      busy_poll_us: 50us\n"),
              "t.yaml:13:21: instances[0].router.busy_poll_us",
              "expected an integer, got \"50us\"");
  ExpectError(WithRouter("      port: 6432\n      mode: session\n      pipeline_depth: 4\n"),
              "t.yaml:14:23: instances[0].router.pipeline_depth",
              "needs mode: transaction (a session holds its server connection)");
  ExpectError(WithRouter("      port: 6432\n      sched_policy: idle\n"),
              "t.yaml:13:21: instances[0].router.sched_policy",
              "must be normal or batch, got \"idle\"");
  ExpectError(WithRouter("      port: 6432\n      client_auth: trust\n"),
              "t.yaml:13:20: instances[0].router.client_auth",
              "must be one of scram-sha-256, md5, plain, got \"trust\"");
  ExpectError(WithRouter("      port: 6432\n      server_tls: maybe\n"),
              "t.yaml:13:19: instances[0].router.server_tls", "expected true or false");
  ExpectError(WithRouter("      port: 6432\n      max_message_bytes: 1kB\n"),
              "t.yaml:13:26: instances[0].router.max_message_bytes", "must be at least 16kB");
  ExpectError(WithRouter("      port: 6432\n      max_message_bytes: 2GB\n"),
              "t.yaml:13:26: instances[0].router.max_message_bytes", "must be at most 1GB");
  ExpectError(WithRouter("      port: 6432\n      max_message_bytes: lots\n"),
              "t.yaml:13:26: instances[0].router.max_message_bytes", "invalid size \"lots\"");
  ExpectError(WithRouter("      port: 6432\n      listen: \"a b\"\n"),
              "t.yaml:13:15: instances[0].router.listen", "invalid address \"a b\"");
  ExpectError(WithRouter("      port: 6432\n      auth_query: maybe\n"),
              "t.yaml:13:19: instances[0].router.auth_query",
              "expected true or false, got \"maybe\"");
  ExpectError(WithRouter("      port: 6432\n      auth_query: [yes]\n"),
              "t.yaml:13:19: instances[0].router.auth_query", "expected true or false, got a list");
}

/// The roles of the first instance, by name.
std::map<std::string, Role> RolesOf(const Config& cfg) {
  std::map<std::string, Role> out;
  for (const Role& r : cfg.instances[0].roles) out[r.name] = r;
  return out;
}

TEST(ConfigRouter, AuthQueryAddsTheImplicitAuthRole) {
  Result<Config> r = Load(WithRouter("      port: 6432\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto roles = RolesOf(*r);
  ASSERT_TRUE(roles.count(kRouterAuthRole));
  const Role& auth = roles.at(kRouterAuthRole);
  EXPECT_TRUE(auth.implicit);
  EXPECT_TRUE(auth.login);
  EXPECT_EQ(auth.inherit, std::optional<bool>(false));
  EXPECT_EQ(auth.password_source, PasswordSource::kGenerated);
  EXPECT_FALSE(auth.superuser || auth.createdb || auth.createrole || auth.replication);
  EXPECT_TRUE(auth.member_of.empty());
  EXPECT_TRUE(auth.grants.empty());
  EXPECT_EQ(auth.state, ObjectState::kPresent);
  // Declared roles keep INHERIT unmanaged.
  EXPECT_FALSE(roles.at("ops").inherit.has_value());
  EXPECT_EQ(std::string(kRouterAuthRole), "tusk_router_auth");
  EXPECT_EQ(std::string(kRouterAuthDatabase), "postgres");
  EXPECT_EQ(std::string(kRouterAuthQuery),
            "SELECT rolname, rolpassword FROM tusk_router.lookup($1)");
}

TEST(ConfigRouter, NoAuthRoleWhenAuthQueryOffOrNoRouter) {
  Result<Config> off = Load(WithRouter("      port: 6432\n      auth_query: false\n"));
  ASSERT_TRUE(off.ok()) << off.status().message();
  EXPECT_FALSE(off->instances[0].router->auth_query);
  EXPECT_FALSE(RolesOf(*off).count(kRouterAuthRole));
  Result<Config> none = Load("instances: [{name: main, databases: [{name: app}]}]\n");
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_FALSE(RolesOf(*none).count(kRouterAuthRole));
}

TEST(ConfigRouter, AuthRoleNameIsReserved) {
  const std::string why = "role name \"tusk_router_auth\" is reserved for the router's auth query";
  ExpectError(R"(instances:
  - name: main
    roles:
      - name: tusk_router_auth
    router: {port: 6432}
)",
              "t.yaml:4:15: instances[0].roles[0].name", why);
  // Reserved even without a router, and as an implicit owner.
  ExpectError(R"(instances:
  - name: main
    roles: [{name: tusk_router_auth, login: false}]
)",
              "t.yaml:3:20: instances[0].roles[0].name", why);
  ExpectError(R"(instances:
  - name: main
    databases: [{name: app, owner: tusk_router_auth}]
)",
              "t.yaml:3:36: instances[0].databases[0].owner", why);
  ExpectError(R"(instances:
  - name: main
    databases: [{name: tusk_router_auth}]
)",
              "t.yaml:3:17: instances[0].databases[0].owner", why);
  ExpectError(R"(instances:
  - name: main
    superuser: {name: tusk_router_auth}
)",
              "t.yaml:3:23: instances[0].superuser.name", why);
}

TEST(ConfigRouter, AdminRoleErrors) {
  ExpectError(WithRouter("      port: 6432\n      admin_roles: postgres\n"),
              "t.yaml:13:20: instances[0].router.admin_roles", "expected a list");
  ExpectError(WithRouter("      port: 6432\n      admin_roles: [postgres, nobody]\n"),
              "t.yaml:13:31: instances[0].router.admin_roles[1]",
              "role \"nobody\" is not declared on instance \"main\"");
  ExpectError(WithRouter("      port: 6432\n      admin_roles: [readers]\n"),
              "t.yaml:13:21: instances[0].router.admin_roles[0]", "role \"readers\" cannot log in");
  ExpectError(WithRouter("      port: 6432\n      admin_roles: [ops, ops]\n"),
              "t.yaml:13:26: instances[0].router.admin_roles[1]", "duplicate role \"ops\"");
  ExpectError(WithRouter("      port: 6432\n      admin_roles: [pg_monitor]\n"),
              "t.yaml:13:21: instances[0].router.admin_roles[0]", "invalid role name");
}

TEST(ConfigRouter, TlsErrors) {
  FakeEnvironment env;
  env.readable_files = {"/cfg/r.crt"};
  ExpectError(WithRouter("      port: 6432\n      tls: {mode: on}\n"),
              "t.yaml:13:19: instances[0].router.tls.mode",
              "must be one of disable, allow, require, got \"on\"");
  ExpectError(WithRouter("      port: 6432\n      tls: {cert_file: r.crt}\n"),
              "t.yaml:13:24: instances[0].router.tls.cert_file",
              "give both cert_file and key_file, or neither", env);
  ExpectError(WithRouter("      port: 6432\n      tls: {cert_file: r.crt, key_file: r.key}\n"),
              "t.yaml:13:41: instances[0].router.tls.key_file", "cannot read /cfg/r.key", env);
  ExpectError(WithRouter("      port: 6432\n      tls: {ciphers: all}\n"),
              "t.yaml:13:13: instances[0].router.tls.ciphers", "unknown key");
  ExpectError(WithRouter("      port: 6432\n      tls:\n"), "t.yaml:13:7: instances[0].router.tls",
              "expected a map, got nothing");
}

TEST(ConfigRouter, StandbyErrors) {
  ExpectError(WithRouter("      port: 6432\n      standbys: {host: a}\n"),
              "t.yaml:13:17: instances[0].router.standbys", "expected a list, got a map");
  ExpectError(WithRouter("      port: 6432\n      standbys: [{port: 5433}]\n"),
              "t.yaml:13:18: instances[0].router.standbys[0].host", "missing (required)");
  ExpectError(WithRouter("      port: 6432\n      standbys: [{host: \"a, b\"}]\n"),
              "t.yaml:13:25: instances[0].router.standbys[0].host",
              "must be one host name or address");
  ExpectError(WithRouter("      port: 6432\n      standbys: [{host: a, port: 0}]\n"),
              "t.yaml:13:34: instances[0].router.standbys[0].port", "must be between 1 and 65535");
  ExpectError(WithRouter("      port: 6432\n      standbys: [{host: a}, {host: a, port: 5432}]\n"),
              "t.yaml:13:29: instances[0].router.standbys[1]", "duplicate standby a:5432");
  ExpectError(WithRouter("      port: 6432\n      standbys: [{host: a, user: x}]\n"),
              "t.yaml:13:28: instances[0].router.standbys[0].user", "unknown key");
}

TEST(ConfigRouter, PortsMustBeUnique) {
  ExpectError(WithRouter("      port: 5432\n"), "t.yaml:12:13: instances[0].router.port",
              "port 5432 is already used by instance \"main\"");
  ExpectError(WithRouter("      port: 6432\n      readonly_port: 6432\n"),
              "t.yaml:13:22: instances[0].router.readonly_port",
              "port 6432 is already used by instance \"main\" (router.port)");
  ExpectError(WithRouter("      port: 6432\n      readonly_port: 6433\n      metrics_port: 6433\n"),
              "t.yaml:14:21: instances[0].router.metrics_port",
              "port 6433 is already used by instance \"main\" (router.readonly_port)");
  // Across instances, in both directions.
  ExpectError(R"(instances:
  - name: a
    port: 5432
    router: {port: 6432}
  - name: b
    port: 6432
)",
              "t.yaml:6:11: instances[1].port",
              "port 6432 is already used by instance \"a\" (router.port)");
  ExpectError(R"(instances:
  - name: a
    port: 5432
    router: {port: 6432, metrics_port: 9000}
  - name: b
    port: 5433
    router: {port: 6433, readonly_port: 9000}
)",
              "t.yaml:7:41: instances[1].router.readonly_port",
              "port 9000 is already used by instance \"a\" (router.metrics_port)");
  ExpectError(R"(instances:
  - name: a
    port: 5432
  - name: b
    port: 5433
    router: {port: 5432}
)",
              "t.yaml:6:20: instances[1].router.port",
              "port 5432 is already used by instance \"a\"");
}

TEST(ConfigRouter, CustomSuperuserIsTheDefaultAdmin) {
  Result<Config> r = Load(R"(instances:
  - name: main
    superuser: {name: boss}
    router: {port: 6432}
)");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->instances[0].router->admin_roles, (std::vector<std::string>{"boss"}));
  EXPECT_EQ(r->instances[0].router->listen, "127.0.0.1");
}

}  // namespace
}  // namespace tusk::config
