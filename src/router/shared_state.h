// SharedState: what all worker threads of one router process share: the
// current settings snapshot (spec + credentials, swapped on reload), the pool
// registry, backend health, the cancel-key registry and the client count.
//
// Thread-safety: every method is thread-safe. Settings snapshots are
// immutable; readers hold a shared_ptr for as long as they use one.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/scram.h"
#include "router/auth_lookup.h"
#include "router/batch_clock.h"
#include "router/pool.h"
#include "router/router_spec.h"

namespace tusk::router {

class Worker;

/// A role the router can log in as and verify clients for.
struct RoleSecret {
  std::string password;
  ScramVerifier verifier;  ///< derived from password with a router-chosen salt
};

/// One immutable configuration generation.
struct Settings {
  RouterSpec spec;
  std::unordered_map<std::string, RoleSecret> roles;
  uint64_t generation = 0;
  bool IsAdmin(const std::string& role) const;
};

/// Health and load of one backend server; shared by all pools using it.
struct BackendHealth {
  Backend backend;
  std::atomic<int> outstanding{0};  ///< server connections of this backend linked to clients
  std::atomic<int64_t> down_until_ms{
      0};  ///< steady-clock ms; skipped for new connections until then
};

/// Where a client's cancel key leads: the worker owning it and its id there.
struct CancelTarget {
  int worker = 0;
  uint64_t client_id = 0;
};

class SharedState {
 public:
  std::shared_ptr<const Settings> settings() const { return settings_.load(); }
  void Publish(std::shared_ptr<const Settings> s) { settings_.store(std::move(s)); }

  /// The pool for `key`, created on first use with the current pool_size.
  std::shared_ptr<Pool> GetPool(const PoolKey& key);
  /// All pools, for the admin console and metrics.
  std::vector<std::shared_ptr<Pool>> Pools() const;
  /// Applies a new pool_size to every pool (reload).
  void ResizePools(int pool_size);
  /// PAUSE/RESUME [db] (empty = all databases): sets the flag on existing
  /// pools and remembers it for pools created later.
  void SetPaused(const std::string& database, bool paused);

  /// Health record for `b`, created on first use.
  std::shared_ptr<BackendHealth> Health(const Backend& b);

  /// Registers a new client; returns its (pid, key) pair for BackendKeyData.
  std::pair<int32_t, int32_t> RegisterCancel(CancelTarget target);
  void UnregisterCancel(int32_t pid);
  /// The target for a CancelRequest, if (pid, key) match a live client.
  bool LookupCancel(int32_t pid, int32_t key, CancelTarget* out) const;

  /// Salt (kScramSaltBytes raw bytes) of the mock SCRAM exchange for a role
  /// the router cannot verify: HMAC-SHA-256 of `user` under a random
  /// per-process secret, so repeated attempts for one unknown role see one
  /// salt, as for a real role, and the salt does not reveal that the role is
  /// missing (PostgreSQL's scram_mock_salt, auth-scram.c).
  std::string MockScramSalt(const std::string& user) const;

  /// Client admission against max_client_connections.
  bool AdmitClient(int max) {
    int cur = clients_.fetch_add(1) + 1;
    if (cur > max) {
      clients_.fetch_sub(1);
      return false;
    }
    return true;
  }
  void ClientGone() { clients_.fetch_sub(1); }
  int clients() const { return clients_.load(); }
  std::atomic<int> servers{0};  ///< all server connections
  /// Ids of client and server connections, unique in the process (a client
  /// keeps its id when it moves to another worker).
  std::atomic<uint64_t> next_connection_id{1};

  std::vector<Worker*> workers;   ///< set once before the workers start
  SSL_CTX* client_tls = nullptr;  ///< server-side TLS context for clients; null when disabled
  SSL_CTX* server_tls = nullptr;  ///< client-side TLS context towards PostgreSQL; null when off
  /// Asks the main thread to reload the spec (admin RELOAD); set by Router.
  std::function<std::string()> reload;
  /// Runs the auth query for roles without a router secret; reset (joined)
  /// by the router before its workers stop.
  std::unique_ptr<AuthLookup> auth_lookup = std::make_unique<AuthLookup>();

 private:
  std::atomic<std::shared_ptr<const Settings>> settings_;
  mutable std::mutex mu_;
  std::unordered_map<PoolKey, std::shared_ptr<Pool>, PoolKeyHash> pools_;
  bool paused_all_ = false;                      // PAUSE without a database
  std::unordered_set<std::string> paused_dbs_;   // PAUSE db
  std::unordered_set<std::string> resumed_dbs_;  // RESUME db while paused_all_
  bool PausedLocked(const std::string& database) const;
  std::vector<std::shared_ptr<BackendHealth>> health_;
  struct CancelEntry {
    int32_t key;
    CancelTarget target;
  };
  std::unordered_map<int32_t, CancelEntry> cancel_;
  int32_t next_pid_ = 1000;
  std::atomic<int> clients_{0};
  const std::string mock_secret_ = NewMockSecret();
  static std::string NewMockSecret();
};

/// Writes "<time> tusk router: <msg>" to stderr (the router log). Thread-safe.
void RouterLog(const std::string& msg);

}  // namespace tusk::router
