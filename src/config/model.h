// The desired state read from tusk.yaml: plain structs, no behaviour.
//
// Produced by LoadConfig() (loader.h), which parses, substitutes ${VAR},
// applies defaults, validates, and resolves every relative path against the
// config file's directory. After loading, every field holds its final value:
// consumers never apply defaults themselves. Value types; not synchronized.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tusk::config {

/// Tuning template (in the spirit of PGTune / Pigsty): oltp | olap | tiny.
enum class Profile { kOltp, kOlap, kTiny };
/// Storage class; drives random_page_cost and effective_io_concurrency.
enum class Storage { kSsd, kHdd };
/// Whether an object should exist. kAbsent objects are dropped only with --allow-drop.
enum class ObjectState { kPresent, kAbsent };

/// Where a value came from in the YAML file (1-based line/column; 0 = unknown).
struct SourceLocation {
  int line = 0;
  int column = 0;
};

/// An extension wanted in a database. Empty schema/version = PostgreSQL's default.
struct Extension {
  std::string name;
  std::string schema;
  std::string version;
};

/// A database on an instance.
struct Database {
  std::string name;
  std::string owner;  ///< default: a login role named like the database
  std::vector<Extension> extensions;
  std::vector<std::string> schemas;  ///< created, owned by `owner`
  std::vector<std::string> init;     ///< absolute paths of SQL files run once
  std::vector<std::string> ensure;   ///< absolute paths of SQL files run on every apply
  std::string encoding = "UTF8";
  std::string locale = "C.UTF-8";
  int connection_limit = -1;  ///< -1 = unlimited (PostgreSQL's default)
  ObjectState state = ObjectState::kPresent;
  SourceLocation location;
};

/// How a role's password is obtained.
enum class PasswordSource {
  kNone,       ///< no password (NOLOGIN roles, or login via peer only)
  kGenerated,  ///< strong random, kept in the instance's secrets file
  kEnv,        ///< from the environment variable `password_env`
  kFile,       ///< from the first line of the file `password_file`
};

/// A privilege grant to a role. One of three kinds.
struct Grant {
  enum class Kind {
    kDatabase,  ///< GRANT {CONNECT|CREATE|TEMP} ON DATABASE database
    kTables,    ///< GRANT privileges ON ALL TABLES IN SCHEMA schema (+ default privileges)
    kUsage,     ///< GRANT USAGE ON SCHEMA schema
  };
  Kind kind = Kind::kDatabase;
  std::string database;
  std::string schema;                   ///< kTables, kUsage
  std::vector<std::string> privileges;  ///< upper case: CONNECT, SELECT, ...
};

/// A role (user or group) on an instance.
struct Role {
  std::string name;
  bool login = true;
  PasswordSource password_source = PasswordSource::kGenerated;
  std::string password_env;   ///< kEnv: variable name
  std::string password_file;  ///< kFile: absolute path
  bool superuser = false;
  bool createdb = false;
  bool createrole = false;
  bool replication = false;
  std::vector<std::string> member_of;
  int connection_limit = -1;
  std::vector<Grant> grants;
  /// INHERIT (true) / NOINHERIT (false); unset = not managed (PostgreSQL's
  /// default INHERIT on create, left as it is afterwards). No YAML key: only
  /// the implicit router auth role sets it (false).
  std::optional<bool> inherit;
  ObjectState state = ObjectState::kPresent;
  /// Added by the loader: a database's default owner, or the router auth role
  /// (config/router_auth.h).
  bool implicit = false;
  SourceLocation location;
};

/// One pg_hba.conf line.
struct HbaRule {
  std::string type;      ///< local | host | hostssl
  std::string database;  ///< e.g. "all", "keycloak"
  std::string user;      ///< e.g. "all", "keycloak"
  std::string address;   ///< empty for local; CIDR or host otherwise
  std::string method;    ///< scram-sha-256 | peer | md5 | trust | reject | ...
};

/// Router pooling mode: a server connection per client session or per transaction.
enum class RouterMode { kSession, kTransaction };
/// How router clients authenticate.
enum class RouterClientAuth { kScramSha256, kMd5, kPlain };
/// Client-side TLS of the router: refused, offered, or mandatory.
enum class RouterTlsMode { kDisable, kAllow, kRequire };
/// Linux scheduling policy of the router's workers: SCHED_OTHER or SCHED_BATCH.
enum class RouterSchedPolicy { kNormal, kBatch };

/// A PostgreSQL server the router may send read-only connections to.
struct RouterBackend {
  std::string host;
  int port = 5432;
};

/// The instance's wire-protocol pooler (`router:`). Durations in milliseconds,
/// 0 = off where the key allows it.
struct Router {
  int port = 0;           ///< read-write port (required)
  int readonly_port = 0;  ///< 0 = none
  std::string listen;     ///< resolved: the instance's listen when not given
  RouterMode mode = RouterMode::kTransaction;
  int pool_size = 20;  ///< server connections per (database, role)
  int max_client_connections = 10000;
  int workers = 0;  ///< event-loop threads; 0 = number of CPUs
  int64_t pool_wait_timeout_ms = 30000;
  int64_t idle_client_timeout_ms = 0;
  int64_t idle_transaction_timeout_ms = 0;
  int64_t query_timeout_ms = 0;
  int64_t server_lifetime_ms = 3600000;
  int64_t server_idle_timeout_ms = 600000;
  int64_t connect_timeout_ms = 5000;
  /// Transaction mode: autocommit requests of different clients that may be
  /// queued on one server connection (`pipeline_depth`); 0 = off.
  int pipeline_depth = 0;
  /// A server connection that has run queued requests back to back this long
  /// (since its queue was last empty) takes no more until it has drained
  /// (`pipeline_busy_limit`), ms.
  int64_t pipeline_busy_limit_ms = 1;
  /// Transaction mode: transactions of one pool that may run at once before
  /// new ones wait in the router's queue (`concurrency_limit`); 0 = off,
  /// kConcurrencyLimitAuto (`auto`) = 4 per CPU of the router's host.
  static constexpr int kConcurrencyLimitAuto = -1;
  int concurrency_limit = kConcurrencyLimitAuto;
  /// The longest a router worker polls for events before it sleeps
  /// (`busy_poll_us`), µs; 0 = never.
  int busy_poll_us = 50;
  /// The workers' scheduling policy (`sched_policy`): batch = their wake-ups
  /// do not preempt the task running on the CPU.
  RouterSchedPolicy sched_policy = RouterSchedPolicy::kBatch;
  RouterClientAuth client_auth = RouterClientAuth::kScramSha256;
  std::vector<std::string> admin_roles;  ///< resolved: [superuser] when not given
  RouterTlsMode tls_mode = RouterTlsMode::kAllow;
  std::string tls_cert_file;            ///< absolute; empty (with key) = generated by tusk
  std::string tls_key_file;             ///< absolute; empty (with cert) = generated by tusk
  bool server_tls = false;              ///< TLS towards PostgreSQL
  int metrics_port = 0;                 ///< Prometheus endpoint; 0 = off
  std::vector<RouterBackend> standbys;  ///< static read-only targets
  uint64_t max_message_bytes = 64ull << 20;
  /// `auth_query`: let the router look up SCRAM verifiers of roles tusk does
  /// not manage through the implicit role and function of config/router_auth.h.
  bool auth_query = true;
  SourceLocation location;
};

/// One PostgreSQL instance (cluster) managed on this host.
struct Instance {
  std::string name;
  int port = 5432;
  std::string listen = "127.0.0.1";  ///< listen_addresses
  std::string data_dir;              ///< absolute
  std::string postgres_bin;          ///< absolute dir holding initdb/postgres/pg_ctl
  Profile profile = Profile::kOltp;
  uint64_t memory_bytes = 0;        ///< tuning budget in bytes (resolved, never 0)
  int cpus = 0;                     ///< resolved, never 0
  Storage storage = Storage::kSsd;  ///< resolved (detected when not given)
  int max_connections = 100;
  std::map<std::string, std::string> parameters;  ///< explicit GUCs; override tuning
  std::vector<Database> databases;
  std::vector<Role> roles;             ///< includes implicit roles (owners, router auth)
  std::vector<HbaRule> hba;            ///< resolved (defaults filled in when not given)
  std::string superuser = "postgres";  ///< bootstrap superuser (POSTGRES_USER)
  /// Superuser password source: POSTGRES_PASSWORD (kEnv) or generated.
  PasswordSource superuser_password_source = PasswordSource::kGenerated;
  std::string superuser_password_env;
  int lock_timeout_ms = 5000;    ///< lock_timeout for DDL during apply
  std::optional<Router> router;  ///< the pooler in front of this instance, when configured
  SourceLocation location;
};

/// The whole desired state.
struct Config {
  std::string source;     ///< config file path, or "<embedded default>"
  std::string base_dir;   ///< directory relative paths were resolved against
  std::string state_dir;  ///< absolute; holds .secrets/, .agent/, .run/ (default <base>/tusk-data)
  std::vector<Instance> instances;
};

}  // namespace tusk::config
