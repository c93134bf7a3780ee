// RouterSpec: everything one router process needs, as JSON in
// <state_dir>/.agent/router-<instance>.spec.json. Written by `tusk up` from the
// instance's `router:` config, read by `tusk router --spec FILE` at start and
// again on SIGHUP or the admin command RELOAD (which is how the backend set
// changes at runtime). Passwords are never in the spec: `secrets_file` names
// a 0600 JSON file {"roles": {name: password}} written next to the instance's
// secrets. Value type; not synchronized.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "sys/sched_policy.h"

namespace tusk::router {

/// Pooling mode (PgBouncer's terms): a server connection is held by a client
/// for its whole session, or only for the duration of each transaction.
enum class PoolMode { kSession, kTransaction };

/// How clients prove who they are to the router.
enum class ClientAuth { kScramSha256, kMd5, kPlain };

/// Client-side TLS: refuse it ('N' to SSLRequest), allow it, or require it
/// (plaintext startup refused with 28000 like a hostssl-only pg_hba).
enum class TlsMode { kDisable, kAllow, kRequire };

/// One PostgreSQL server the router can send connections to. A `host`
/// starting with '/' is a unix socket directory.
struct Backend {
  std::string host;
  int port = 0;
  bool operator==(const Backend&) const = default;
};

struct RouterSpec {
  std::string instance;              ///< instance name, for logs and status
  std::string listen = "127.0.0.1";  ///< comma-separated addresses to bind
  int port = 0;                      ///< read-write port (required)
  int readonly_port = 0;             ///< 0 = no read-only port
  PoolMode mode = PoolMode::kTransaction;
  int workers = 0;     ///< event-loop threads; 0 = number of CPUs
  int pool_size = 20;  ///< server connections per (database, role), all threads
  int max_client_connections = 10000;
  int64_t pool_wait_timeout_ms = 30000;     ///< 0 = wait forever
  int64_t idle_client_timeout_ms = 0;       ///< 0 = off
  int64_t idle_transaction_timeout_ms = 0;  ///< 0 = off
  int64_t query_timeout_ms = 0;             ///< 0 = off
  int64_t server_lifetime_ms = 3600000;     ///< close server connections older than this when idle
  int64_t server_idle_timeout_ms = 600000;  ///< close server connections idle this long
  int64_t connect_timeout_ms = 5000;        ///< towards PostgreSQL
  /// Transaction mode: how many autocommit requests of different clients
  /// may be queued on one server connection (pipeline.h); 0 = off.
  int pipeline_depth = 0;
  /// A server that has run queued requests back to back this long (since its
  /// queue was last empty) takes no more until it has drained.
  int64_t pipeline_busy_limit_ms = 1;
  /// Transaction mode: a client's transaction gets a server only while fewer
  /// than this many of its pool's open transactions count
  /// (concurrency_count.h); the others wait in the pool's FIFO. 0 = off;
  /// kConcurrencyLimitAuto = 4 per CPU (ConcurrencyLimit()).
  static constexpr int kConcurrencyLimitAuto = -1;
  int concurrency_limit = kConcurrencyLimitAuto;
  /// concurrency_limit with `auto` resolved: 4 × std::thread::hardware_concurrency().
  int ConcurrencyLimit() const;
  /// The longest a worker polls for events after a batch before it sleeps
  /// (busy_poll.h), µs; 0 = never. A reload applies it (Worker::Reconfigure).
  int busy_poll_us = 50;
  /// The workers' scheduling policy (sys/sched_policy.h): batch keeps a
  /// worker's wake-up from preempting the client or PostgreSQL backend that
  /// just sent it data (docs/router.md). A reload applies it.
  sys::SchedPolicy sched_policy = sys::SchedPolicy::kBatch;
  uint32_t max_message_bytes = 64u << 20;  ///< larger messages are 08P01
  ClientAuth client_auth = ClientAuth::kScramSha256;
  std::vector<std::string> admin_roles;  ///< may use the `tusk` admin database
  TlsMode tls_mode = TlsMode::kAllow;
  std::string tls_cert_file;  ///< PEM; required unless kDisable
  std::string tls_key_file;   ///< PEM; required unless kDisable
  bool server_tls = false;    ///< sslmode=require towards PostgreSQL
  int metrics_port = 0;       ///< Prometheus /metrics; 0 = off
  std::string metrics_listen = "127.0.0.1";
  Backend primary;                ///< read-write target
  std::vector<Backend> standbys;  ///< read-only targets
  std::string secrets_file;       ///< {"roles": {name: password}}, mode 0600
  /// Auth query (PgBouncer's auth_user/auth_query): for a role not in the
  /// secrets file, connect to `auth_database` as `auth_user` (password from
  /// the secrets file) and run `auth_query` with $1 = the role name,
  /// expecting zero rows or one row (rolname, rolpassword). All three empty
  /// = off; when auth_user is set the other two are required. tusk writes
  /// the values of config/router_auth.h.
  std::string auth_user;
  std::string auth_database;
  std::string auth_query;
  std::string status_file;  ///< router writes its status JSON here
  std::string pid_file;     ///< router writes its pid here
};

/// Parses spec JSON. Errors: kInvalidArgument naming the key and why
/// (missing port, unknown mode, negative timeout, port out of range,
/// auth_database or auth_query empty while auth_user is set or set without it, ...).
Result<RouterSpec> ParseRouterSpec(const std::string& json_text);
/// Reads and parses `path`. kNotFound / kInternal when unreadable.
Result<RouterSpec> LoadRouterSpec(const std::string& path);
/// Renders spec as JSON that ParseRouterSpec reads back identically.
std::string RenderRouterSpec(const RouterSpec& spec);

/// Reads the router secrets file: role name → password. Errors: kInternal
/// when unreadable or not {"roles": {string: string}}.
Result<std::vector<std::pair<std::string, std::string>>> LoadRouterSecrets(const std::string& path);

}  // namespace tusk::router
