// Pool: one (database, role, port kind) pool: its server-connection budget,
// pause flag, statistics and home worker.
//
// Every client and server connection of a pool lives on the pool's home
// worker (clients are handed there right after login), so pooling decisions
// never cross threads: many pools spread over the workers, and accepting,
// TLS handshakes and authentication run on whichever worker accepted.
// `servers` counts server connections of this pool (connecting, idle,
// active); TryReserve() admits a new one only below pool_size.
// Thread-safety: all members are atomics or immutable after construction.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "metrics/counter.h"
#include "metrics/histogram.h"
#include "protocol/scram_exchange.h"

namespace tusk::router {

/// SCRAM keys (32 raw bytes each) that log in a role whose password the
/// router does not hold: ClientKey recovered from a client's proof and
/// ServerKey from the verifier the auth query returned (ScramClient::FromKeys).
struct ScramKeys {
  std::string client_key;
  std::string server_key;
};

/// Identifies a pool.
struct PoolKey {
  std::string database;
  std::string role;
  bool readonly = false;  ///< reached through the read-only port
  bool operator==(const PoolKey&) const = default;
};

struct PoolKeyHash {
  size_t operator()(const PoolKey& k) const {
    return std::hash<std::string>()(k.database) * 31 + std::hash<std::string>()(k.role) * 7 +
           (k.readonly ? 1 : 0);
  }
};

/// Per-pool counters; the admin console and /metrics only render these.
struct PoolStats {
  metrics::Counter transactions;      ///< completed transactions (or sessions in session mode)
  metrics::Counter queries;           ///< completed queries (ReadyForQuery after Q or Sync)
  metrics::Counter bytes_received;    ///< from clients, bytes
  metrics::Counter bytes_sent;        ///< to clients, bytes
  metrics::Counter wait_timeouts;     ///< clients failed by pool_wait_timeout
  metrics::Counter pipelined;         ///< requests queued behind another client's (pipeline_depth)
  metrics::Counter server_connects;   ///< server connections opened
  metrics::Counter server_errors;     ///< server connections failed or lost
  metrics::Gauge clients_active;      ///< clients linked to a server
  metrics::Gauge clients_waiting;     ///< clients queued for a server
  metrics::Gauge clients_idle;        ///< logged-in clients without a server
  metrics::Gauge servers_active;      ///< linked server connections
  metrics::Gauge servers_idle;        ///< idle server connections
  metrics::Histogram query_us;        ///< query time, µs
  metrics::Histogram transaction_us;  ///< transaction time (server held), µs
  metrics::Histogram wait_us;         ///< time spent waiting for a server, µs
};

class Pool {
 public:
  Pool(PoolKey key, int pool_size, int home)
      : key_(std::move(key)), pool_size_(pool_size), home_(home) {}

  const PoolKey& key() const { return key_; }
  /// Index of the worker that owns this pool's connections.
  int home() const { return home_; }
  PoolStats& stats() { return stats_; }

  /// Admits one more server connection if the budget allows.
  bool TryReserve() {
    int cur = servers_.load(std::memory_order_relaxed);
    while (cur < pool_size_.load(std::memory_order_relaxed)) {
      if (servers_.compare_exchange_weak(cur, cur + 1)) return true;
    }
    return false;
  }
  /// Returns a server connection's budget slot (it closed or failed).
  void Release() { servers_.fetch_sub(1); }
  int servers() const { return servers_.load(); }
  void set_pool_size(int n) { pool_size_ = n; }
  int pool_size() const { return pool_size_.load(); }

  /// Keys of the last client of an auth-query role that logged in; server
  /// connections of the pool log in with them. nullopt for managed roles.
  std::optional<ScramKeys> scram_keys() const {
    std::lock_guard<std::mutex> lock(mu_);
    return scram_keys_;
  }
  void set_scram_keys(ScramKeys keys) {
    std::lock_guard<std::mutex> lock(mu_);
    scram_keys_ = std::move(keys);
  }

  /// SCRAM keys derived from `password` for this pool's role by an earlier
  /// server login, so the next login skips PBKDF2 (milliseconds of CPU)
  /// while PostgreSQL's salt stays the same. nullopt when none match.
  std::optional<protocol::DerivedScramKeys> derived_keys(const std::string& password) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (!derived_keys_ || derived_password_ != password) return std::nullopt;
    return derived_keys_;
  }
  void set_derived_keys(const std::string& password, protocol::DerivedScramKeys keys) {
    std::lock_guard<std::mutex> lock(mu_);
    derived_password_ = password;
    derived_keys_ = std::move(keys);
  }

  bool paused() const { return paused_.load(); }
  void set_paused(bool p) { paused_ = p; }

  /// ParameterStatus values of the first server connection, sent to clients
  /// at login. Empty until one server logged in.
  std::vector<std::pair<std::string, std::string>> welcome() const {
    std::lock_guard<std::mutex> lock(mu_);
    return welcome_;
  }
  bool has_welcome() const { return has_welcome_.load(); }
  void set_welcome(std::vector<std::pair<std::string, std::string>> params) {
    std::lock_guard<std::mutex> lock(mu_);
    welcome_ = std::move(params);
    has_welcome_ = true;
  }

 private:
  const PoolKey key_;
  std::atomic<int> pool_size_;
  std::atomic<int> servers_{0};
  const int home_;
  std::atomic<bool> paused_{false};
  std::atomic<bool> has_welcome_{false};
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> welcome_;  // guarded by mu_
  std::optional<ScramKeys> scram_keys_;                       // guarded by mu_
  std::string derived_password_;                              // guarded by mu_
  std::optional<protocol::DerivedScramKeys> derived_keys_;    // guarded by mu_
  PoolStats stats_;
};

}  // namespace tusk::router
