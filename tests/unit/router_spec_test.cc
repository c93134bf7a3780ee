// RouterSpec JSON: render/parse round trip, defaults of a minimal spec, each
// rejected input with the key it names, the file loaders and the secrets file.
#include "router/router_spec.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "../support/fake_environment.h"
#include "cli/router_files.h"
#include "config/loader.h"

namespace tusk::router {
namespace {

/// Every field set to something other than its default.
RouterSpec Full() {
  RouterSpec s;
  s.instance = "main";
  s.listen = "127.0.0.1,10.0.0.5";
  s.port = 6432;
  s.readonly_port = 6433;
  s.mode = PoolMode::kSession;
  s.workers = 3;
  s.pool_size = 7;
  s.max_client_connections = 500;
  s.pool_wait_timeout_ms = 0;
  s.idle_client_timeout_ms = 1;
  s.idle_transaction_timeout_ms = 2;
  s.query_timeout_ms = 3;
  s.server_lifetime_ms = 4;
  s.server_idle_timeout_ms = 5;
  s.connect_timeout_ms = 6;
  s.sched_policy = sys::SchedPolicy::kNormal;
  s.max_message_bytes = 1u << 20;
  s.client_auth = ClientAuth::kMd5;
  s.admin_roles = {"postgres", "ops"};
  s.tls_mode = TlsMode::kRequire;
  s.tls_cert_file = "/s/.tls/main/router.crt";
  s.tls_key_file = "/s/.tls/main/router.key";
  s.server_tls = true;
  s.metrics_port = 9187;
  s.metrics_listen = "0.0.0.0";
  s.primary = {"127.0.0.1", 5432};
  s.standbys = {{"10.0.0.6", 5433}, {"/var/run/postgresql", 5434}};
  s.secrets_file = "/s/.secrets/main.router.json";
  s.auth_user = "tusk_router_auth";
  s.auth_database = "postgres";
  s.auth_query = "SELECT rolname, rolpassword FROM tusk_router.lookup($1)";
  s.status_file = "/s/.agent/main.router.status.json";
  s.pid_file = "/s/.run/main.router.pid";
  return s;
}

void ExpectSame(const RouterSpec& a, const RouterSpec& b) {
  EXPECT_EQ(a.instance, b.instance);
  EXPECT_EQ(a.listen, b.listen);
  EXPECT_EQ(a.port, b.port);
  EXPECT_EQ(a.readonly_port, b.readonly_port);
  EXPECT_EQ(a.mode, b.mode);
  EXPECT_EQ(a.workers, b.workers);
  EXPECT_EQ(a.pool_size, b.pool_size);
  EXPECT_EQ(a.max_client_connections, b.max_client_connections);
  EXPECT_EQ(a.pool_wait_timeout_ms, b.pool_wait_timeout_ms);
  EXPECT_EQ(a.idle_client_timeout_ms, b.idle_client_timeout_ms);
  EXPECT_EQ(a.idle_transaction_timeout_ms, b.idle_transaction_timeout_ms);
  EXPECT_EQ(a.query_timeout_ms, b.query_timeout_ms);
  EXPECT_EQ(a.server_lifetime_ms, b.server_lifetime_ms);
  EXPECT_EQ(a.server_idle_timeout_ms, b.server_idle_timeout_ms);
  EXPECT_EQ(a.connect_timeout_ms, b.connect_timeout_ms);
  EXPECT_EQ(a.pipeline_depth, b.pipeline_depth);
  EXPECT_EQ(a.pipeline_busy_limit_ms, b.pipeline_busy_limit_ms);
  EXPECT_EQ(a.busy_poll_us, b.busy_poll_us);
  EXPECT_EQ(a.concurrency_limit, b.concurrency_limit);
  EXPECT_EQ(a.sched_policy, b.sched_policy);
  EXPECT_EQ(a.max_message_bytes, b.max_message_bytes);
  EXPECT_EQ(a.client_auth, b.client_auth);
  EXPECT_EQ(a.admin_roles, b.admin_roles);
  EXPECT_EQ(a.tls_mode, b.tls_mode);
  EXPECT_EQ(a.tls_cert_file, b.tls_cert_file);
  EXPECT_EQ(a.tls_key_file, b.tls_key_file);
  EXPECT_EQ(a.server_tls, b.server_tls);
  EXPECT_EQ(a.metrics_port, b.metrics_port);
  EXPECT_EQ(a.metrics_listen, b.metrics_listen);
  EXPECT_EQ(a.primary, b.primary);
  EXPECT_EQ(a.standbys, b.standbys);
  EXPECT_EQ(a.secrets_file, b.secrets_file);
  EXPECT_EQ(a.auth_user, b.auth_user);
  EXPECT_EQ(a.auth_database, b.auth_database);
  EXPECT_EQ(a.auth_query, b.auth_query);
  EXPECT_EQ(a.status_file, b.status_file);
  EXPECT_EQ(a.pid_file, b.pid_file);
}

TEST(RouterSpec, RoundTripEveryField) {
  RouterSpec s = Full();
  std::string text = RenderRouterSpec(s);
  Result<RouterSpec> back = ParseRouterSpec(text);
  ASSERT_TRUE(back.ok()) << back.status().message() << "\n" << text;
  ExpectSame(*back, s);
  EXPECT_EQ(RenderRouterSpec(*back), text);
}

TEST(RouterSpec, RoundTripOtherEnumValues) {
  for (ClientAuth auth : {ClientAuth::kScramSha256, ClientAuth::kPlain}) {
    RouterSpec s = Full();
    s.client_auth = auth;
    s.mode = PoolMode::kTransaction;
    s.tls_mode = auth == ClientAuth::kPlain ? TlsMode::kDisable : TlsMode::kAllow;
    Result<RouterSpec> back = ParseRouterSpec(RenderRouterSpec(s));
    ASSERT_TRUE(back.ok()) << back.status().message();
    ExpectSame(*back, s);
  }
}

TEST(RouterSpec, EnumsAreStrings) {
  auto doc = nlohmann::json::parse(RenderRouterSpec(Full()));
  EXPECT_EQ(doc["mode"], "session");
  EXPECT_EQ(doc["client_auth"], "md5");
  EXPECT_EQ(doc["tls_mode"], "require");
  EXPECT_EQ(doc["primary"], (nlohmann::json{{"host", "127.0.0.1"}, {"port", 5432}}));
  EXPECT_EQ(doc["standbys"][1]["host"], "/var/run/postgresql");
}

TEST(RouterSpec, MinimalSpecGetsDefaults) {
  Result<RouterSpec> s = ParseRouterSpec(R"({"instance": "main", "port": 6432,
      "tls_mode": "disable", "primary": {"host": "127.0.0.1", "port": 5432},
      "secrets_file": "/s/r.json"})");
  ASSERT_TRUE(s.ok()) << s.status().message();
  RouterSpec want;
  want.instance = "main";
  want.port = 6432;
  want.tls_mode = TlsMode::kDisable;
  want.primary = {"127.0.0.1", 5432};
  want.secrets_file = "/s/r.json";
  ExpectSame(*s, want);
  EXPECT_EQ(s->mode, PoolMode::kTransaction);
  EXPECT_EQ(s->pool_size, 20);
  EXPECT_EQ(s->max_message_bytes, 64u << 20);
  EXPECT_EQ(s->pipeline_depth, 0);
  EXPECT_EQ(s->pipeline_busy_limit_ms, 1);
  EXPECT_EQ(s->busy_poll_us, 50);
  EXPECT_EQ(s->sched_policy, sys::SchedPolicy::kBatch);
  EXPECT_EQ(s->concurrency_limit, RouterSpec::kConcurrencyLimitAuto);
  EXPECT_EQ(s->ConcurrencyLimit(),
            4 * std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
}

/// Full() rendered, with `key` replaced by `value` (or removed when value is discarded).
std::string Edited(const std::string& key, const nlohmann::json& value, bool remove = false) {
  auto doc = nlohmann::json::parse(RenderRouterSpec(Full()));
  if (remove) {
    doc.erase(key);
  } else {
    doc[key] = value;
  }
  return doc.dump();
}

void ExpectError(const std::string& text, const std::string& message) {
  Result<RouterSpec> s = ParseRouterSpec(text);
  ASSERT_FALSE(s.ok()) << "parsed: " << text;
  EXPECT_EQ(s.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(s.status().message(), message);
}

TEST(RouterSpec, Errors) {
  using nlohmann::json;
  ExpectError("{", "router spec: not valid JSON");
  ExpectError("[]", "router spec: (top level): expected an object");
  ExpectError(Edited("pool_sise", 3), "router spec: pool_sise: unknown key");
  ExpectError(Edited("instance", "", true), "router spec: instance: missing (required)");
  ExpectError(Edited("instance", ""), "router spec: instance: must not be empty");
  ExpectError(Edited("instance", 7), "router spec: instance: expected a string");
  ExpectError(Edited("listen", ""), "router spec: listen: must not be empty");
  ExpectError(Edited("port", 0, true), "router spec: port: missing (required)");
  ExpectError(Edited("port", 0), "router spec: port: must be between 1 and 65535");
  ExpectError(Edited("port", 70000), "router spec: port: must be between 1 and 65535");
  ExpectError(Edited("port", "6432"), "router spec: port: expected an integer");
  ExpectError(Edited("port", 6432.5), "router spec: port: expected an integer");
  ExpectError(Edited("readonly_port", -1),
              "router spec: readonly_port: must be between 0 and 65535");
  ExpectError(Edited("readonly_port", 6432), "router spec: readonly_port: must differ from port");
  ExpectError(Edited("mode", "statement"),
              "router spec: mode: must be one of session, transaction, got \"statement\"");
  ExpectError(Edited("workers", -1), "router spec: workers: must be between 0 and 1024");
  ExpectError(Edited("pool_size", 0), "router spec: pool_size: must be >= 1");
  ExpectError(Edited("pool_size", 1ull << 40), "router spec: pool_size: must be >= 1");
  ExpectError(Edited("max_client_connections", 0),
              "router spec: max_client_connections: must be >= 1");
  ExpectError(Edited("query_timeout_ms", -5), "router spec: query_timeout_ms: must be >= 0");
  ExpectError(Edited("server_lifetime_ms", 18446744073709551615ull),
              "router spec: server_lifetime_ms: must be >= 0");
  ExpectError(Edited("connect_timeout_ms", 0), "router spec: connect_timeout_ms: must be >= 1");
  ExpectError(Edited("max_message_bytes", 100),
              "router spec: max_message_bytes: must be between 16384 and 1073741824");
  ExpectError(Edited("client_auth", "trust"),
              "router spec: client_auth: must be one of scram-sha-256, md5, plain, got \"trust\"");
  ExpectError(Edited("admin_roles", "postgres"), "router spec: admin_roles: expected an array");
  ExpectError(Edited("admin_roles", json::array({"a", ""})),
              "router spec: admin_roles[1]: must not be empty");
  ExpectError(Edited("sched_policy", "fifo"),
              "router spec: sched_policy: must be one of normal, batch, got \"fifo\"");
  ExpectError(Edited("tls_mode", true), "router spec: tls_mode: expected a string");
  ExpectError(Edited("tls_mode", "verify"),
              "router spec: tls_mode: must be one of disable, allow, require, got \"verify\"");
  ExpectError(Edited("tls_cert_file", ""),
              "router spec: tls_cert_file: required unless tls_mode is disable");
  ExpectError(Edited("tls_key_file", "", true),
              "router spec: tls_key_file: required unless tls_mode is disable");
  ExpectError(Edited("server_tls", 1), "router spec: server_tls: expected true or false");
  ExpectError(Edited("metrics_port", 65536),
              "router spec: metrics_port: must be between 0 and 65535");
  ExpectError(Edited("metrics_listen", ""), "router spec: metrics_listen: must not be empty");
  ExpectError(Edited("primary", 0, true), "router spec: primary: missing (required)");
  ExpectError(Edited("primary", "127.0.0.1:5432"), "router spec: primary: expected an object");
  ExpectError(Edited("primary", json{{"host", "h"}}),
              "router spec: primary.port: missing (required)");
  ExpectError(Edited("primary", json{{"host", ""}, {"port", 1}}),
              "router spec: primary.host: must not be empty");
  ExpectError(Edited("primary", json{{"host", "h"}, {"port", 1}, {"weight", 2}}),
              "router spec: primary.weight: unknown key");
  ExpectError(Edited("standbys", json::object()), "router spec: standbys: expected an array");
  ExpectError(Edited("standbys", json::array({json{{"host", "a"}, {"port", 1}},
                                              json{{"host", "b"}, {"port", 0}}})),
              "router spec: standbys[1].port: must be between 1 and 65535");
  ExpectError(Edited("secrets_file", ""), "router spec: secrets_file: must not be empty");
  ExpectError(Edited("status_file", nullptr), "router spec: status_file: expected a string");
  ExpectError(Edited("pid_file", 1), "router spec: pid_file: expected a string");
  ExpectError(Edited("auth_user", 5), "router spec: auth_user: expected a string");
  ExpectError(Edited("auth_database", ""),
              "router spec: auth_database: required when auth_user is set");
  ExpectError(Edited("auth_query", "", true),
              "router spec: auth_query: required when auth_user is set");
  ExpectError(Edited("auth_query", nullptr), "router spec: auth_query: expected a string");
  ExpectError(Edited("auth_user", ""), "router spec: auth_database: set without auth_user");
}

TEST(RouterSpec, PipelineRoundTripAndErrors) {
  RouterSpec s = Full();
  s.mode = PoolMode::kTransaction;
  s.pipeline_depth = 8;
  s.pipeline_busy_limit_ms = 3;
  s.busy_poll_us = 0;
  s.concurrency_limit = 0;
  Result<RouterSpec> back = ParseRouterSpec(RenderRouterSpec(s));
  ASSERT_TRUE(back.ok()) << back.status().message();
  ExpectSame(*back, s);
  auto edited = [&](const std::string& key, const nlohmann::json& value) {
    auto doc = nlohmann::json::parse(RenderRouterSpec(s));
    doc[key] = value;
    return doc.dump();
  };
  ExpectError(edited("pipeline_depth", 65),
              "router spec: pipeline_depth: must be between 0 and 64");
  ExpectError(edited("pipeline_busy_limit_ms", 0),
              "router spec: pipeline_busy_limit_ms: must be >= 1");
  ExpectError(edited("busy_poll_us", 10001),
              "router spec: busy_poll_us: must be between 0 and 10000");
  ExpectError(edited("busy_poll_us", -1), "router spec: busy_poll_us: must be between 0 and 10000");
  ExpectError(edited("mode", "session"), "router spec: pipeline_depth: needs mode transaction");
  ExpectError(edited("concurrency_limit", -2), "router spec: concurrency_limit: must be >= -1");
  EXPECT_EQ(back->ConcurrencyLimit(), 0);  // off stays off
}

TEST(RouterSpec, AuthQueryOffWhenAllEmptyOrAbsent) {
  auto doc = nlohmann::json::parse(RenderRouterSpec(Full()));
  for (const char* key : {"auth_user", "auth_database", "auth_query"}) doc[key] = "";
  Result<RouterSpec> s = ParseRouterSpec(doc.dump());
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->auth_user, "");
  EXPECT_EQ(s->auth_query, "");
  for (const char* key : {"auth_user", "auth_database", "auth_query"}) doc.erase(key);
  s = ParseRouterSpec(doc.dump());
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->auth_database, "");
  doc["auth_user"] = "";
  doc["auth_query"] = "SELECT 1";
  ExpectError(doc.dump(), "router spec: auth_query: set without auth_user");
}

TEST(RouterSpec, TlsFilesOptionalWhenDisabled) {
  auto doc = nlohmann::json::parse(RenderRouterSpec(Full()));
  doc["tls_mode"] = "disable";
  doc.erase("tls_cert_file");
  doc.erase("tls_key_file");
  Result<RouterSpec> s = ParseRouterSpec(doc.dump());
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->tls_cert_file, "");
}

class RouterSpecFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/router-spec-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(RouterSpecFiles, LoadRouterSpec) {
  std::string path = Write("spec.json", RenderRouterSpec(Full()));
  Result<RouterSpec> s = LoadRouterSpec(path);
  ASSERT_TRUE(s.ok()) << s.status().message();
  ExpectSame(*s, Full());

  Result<RouterSpec> missing = LoadRouterSpec(dir_ + "/nope.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.json"), std::string::npos);

  std::string bad = Write("bad.json", Edited("pool_size", 0));
  Result<RouterSpec> invalid = LoadRouterSpec(bad);
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(invalid.status().message(), bad + ": router spec: pool_size: must be >= 1");
}

TEST_F(RouterSpecFiles, LoadRouterSecrets) {
  std::string path = Write("s.json", R"({"roles": {"postgres": "pw1", "app": "p\"w2"}})");
  auto secrets = LoadRouterSecrets(path);
  ASSERT_TRUE(secrets.ok()) << secrets.status().message();
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(*secrets, (Pairs{{"app", "p\"w2"}, {"postgres", "pw1"}}));

  auto empty = LoadRouterSecrets(Write("e.json", R"({"roles": {}})"));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());

  for (const char* text :
       {"", "[]", R"({"role": {}})", R"({"roles": []})", R"({"roles": {"a": 1234567}})"}) {
    auto r = LoadRouterSecrets(Write("x.json", text));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), Code::kInternal);
    EXPECT_EQ(r.status().message().find("1234567"), std::string::npos);
  }
  auto missing = LoadRouterSecrets(dir_ + "/nope.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kInternal);
}

/// The spec `tusk up` writes for the first instance of `yaml` (state in /s).
RouterSpec SpecFromConfig(const std::string& yaml) {
  test::FakeEnvironment env;
  env.all_files_readable = true;
  auto cfg = config::LoadConfigText(yaml, "t.yaml", "/cfg", env);
  EXPECT_TRUE(cfg.ok()) << cfg.status().message();
  if (!cfg.ok()) return {};
  cfg->state_dir = "/s";
  return cli::RouterSpecFor(cfg->instances[0], postgres::Layout::For(*cfg));
}

TEST(RouterSpecFromConfig, DefaultsAndFiles) {
  RouterSpec s = SpecFromConfig(R"(instances:
  - name: main
    port: 5433
    databases: [{name: app}]
    router: {port: 6432}
)");
  EXPECT_EQ(s.instance, "main");
  EXPECT_EQ(s.listen, "127.0.0.1");
  EXPECT_EQ(s.port, 6432);
  EXPECT_EQ(s.primary, (Backend{"127.0.0.1", 5433}));
  EXPECT_TRUE(s.standbys.empty());
  EXPECT_EQ(s.mode, PoolMode::kTransaction);
  EXPECT_EQ(s.pool_size, 20);
  EXPECT_EQ(s.client_auth, ClientAuth::kScramSha256);
  EXPECT_EQ(s.admin_roles, std::vector<std::string>{"postgres"});
  EXPECT_EQ(s.tls_mode, TlsMode::kAllow);
  EXPECT_EQ(s.tls_cert_file, "/s/.router/main/router.crt");
  EXPECT_EQ(s.tls_key_file, "/s/.router/main/router.key");
  EXPECT_EQ(s.secrets_file, "/s/.router/main/secrets.json");
  EXPECT_EQ(s.status_file, "/s/.router/main/status.json");
  EXPECT_EQ(s.pid_file, "/s/.run/main.router.pid");
  EXPECT_EQ(s.metrics_listen, "127.0.0.1");
  // auth_query is on by default: the constants of config/router_auth.h.
  EXPECT_EQ(s.auth_user, "tusk_router_auth");
  EXPECT_EQ(s.auth_database, "postgres");
  EXPECT_EQ(s.auth_query, "SELECT rolname, rolpassword FROM tusk_router.lookup($1)");
  Result<RouterSpec> back = ParseRouterSpec(RenderRouterSpec(s));
  ASSERT_TRUE(back.ok()) << back.status().message();
  ExpectSame(*back, s);
}

TEST(RouterSpecFromConfig, EverySetting) {
  RouterSpec s = SpecFromConfig(R"(instances:
  - name: data
    port: 5434
    listen: "10.0.0.5, 127.0.0.1"
    roles: [{name: ops}]
    router:
      port: 7000
      readonly_port: 7001
      listen: "*"
      mode: session
      pool_size: 3
      max_client_connections: 30
      workers: 2
      pool_wait_timeout: 1s
      idle_client_timeout: 2s
      idle_transaction_timeout: 3s
      query_timeout: 4s
      server_lifetime: 5s
      server_idle_timeout: 6s
      connect_timeout: 7s
      client_auth: plain
      admin_roles: [ops]
      tls: {mode: require, cert_file: /etc/r.crt, key_file: /etc/r.key}
      server_tls: true
      metrics_port: 9187
      standbys: [{host: 10.0.0.6}, {host: 10.0.0.7, port: 5440}]
      max_message_bytes: 32kB
      auth_query: false
)");
  EXPECT_EQ(s.listen, "*");
  EXPECT_EQ(s.port, 7000);
  EXPECT_EQ(s.readonly_port, 7001);
  EXPECT_EQ(s.mode, PoolMode::kSession);
  EXPECT_EQ(s.pool_size, 3);
  EXPECT_EQ(s.max_client_connections, 30);
  EXPECT_EQ(s.workers, 2);
  EXPECT_EQ(s.pool_wait_timeout_ms, 1000);
  EXPECT_EQ(s.idle_client_timeout_ms, 2000);
  EXPECT_EQ(s.idle_transaction_timeout_ms, 3000);
  EXPECT_EQ(s.query_timeout_ms, 4000);
  EXPECT_EQ(s.server_lifetime_ms, 5000);
  EXPECT_EQ(s.server_idle_timeout_ms, 6000);
  EXPECT_EQ(s.connect_timeout_ms, 7000);
  EXPECT_EQ(s.client_auth, ClientAuth::kPlain);
  EXPECT_EQ(s.admin_roles, std::vector<std::string>{"ops"});
  EXPECT_EQ(s.tls_mode, TlsMode::kRequire);
  // Configured files are read through private copies in the router's directory.
  EXPECT_EQ(s.tls_cert_file, "/s/.router/data/tls.crt");
  EXPECT_EQ(s.tls_key_file, "/s/.router/data/tls.key");
  EXPECT_TRUE(s.server_tls);
  EXPECT_EQ(s.metrics_port, 9187);
  EXPECT_EQ(s.max_message_bytes, 32u << 10);
  // The primary is reached on the instance's first listen address.
  EXPECT_EQ(s.primary, (Backend{"10.0.0.5", 5434}));
  EXPECT_EQ(s.standbys, (std::vector<Backend>{{"10.0.0.6", 5432}, {"10.0.0.7", 5440}}));
  EXPECT_EQ(s.auth_user, "");  // auth_query: false
  EXPECT_EQ(s.auth_database, "");
  EXPECT_EQ(s.auth_query, "");
  EXPECT_TRUE(ParseRouterSpec(RenderRouterSpec(s)).ok());
}

TEST(RouterSpecFromConfig, WildcardListenAndNoTls) {
  RouterSpec s = SpecFromConfig(R"(instances:
  - name: main
    listen: "*"
    router: {port: 6432, tls: {mode: disable}}
)");
  EXPECT_EQ(s.primary, (Backend{"127.0.0.1", 5432}));
  EXPECT_EQ(s.listen, "*");
  EXPECT_EQ(s.tls_mode, TlsMode::kDisable);
  EXPECT_EQ(s.tls_cert_file, "");  // nothing generated when TLS is off
  EXPECT_TRUE(ParseRouterSpec(RenderRouterSpec(s)).ok());
}

TEST(RouterSpecFromConfig, Pipeline) {
  RouterSpec s = SpecFromConfig(R"(instances:
  - name: main
    router: {port: 6432, pipeline_depth: 16, pipeline_busy_limit: 5ms, busy_poll_us: 200,
             sched_policy: normal}
)");
  EXPECT_EQ(s.pipeline_depth, 16);
  EXPECT_EQ(s.pipeline_busy_limit_ms, 5);
  EXPECT_EQ(s.busy_poll_us, 200);
  EXPECT_EQ(s.sched_policy, sys::SchedPolicy::kNormal);
}

}  // namespace
}  // namespace tusk::router
