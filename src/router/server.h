// ServerConn: one connection from the router to PostgreSQL.
//
// Life: kConnecting (TCP connect) → kTlsRequest/kTlsHandshake (server_tls) →
// kLogin (startup, authentication, ParameterStatus, BackendKeyData until the
// first ReadyForQuery) → kIdle (in its worker's idle list for the pool) ⇄
// kActive (linked to one client) → kResetting (session mode: DISCARD ALL) →
// kClosed. With `pipeline_depth` set, an idle server may instead turn
// kPipelining: it runs queued autocommit requests of several clients, each
// segment naming the client its responses go to, and is idle again once the
// queue is empty. Owned by its pool's home worker; never changes threads.
//
// In transaction mode the response stream is filtered by "segments": each
// Sync/Query/FunctionCall the client sends closes one segment, and each
// ReadyForQuery ends the oldest one. A segment remembers how many
// ParseComplete/CloseComplete replies to messages the router injected
// (re-preparing a statement on this connection) must be dropped, and when it
// started (query latency). Not synchronized.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "protocol/scram_exchange.h"
#include "protocol/wire.h"
#include "router/buffer.h"
#include "router/event_loop.h"
#include "router/pool.h"
#include "router/router_spec.h"
#include "router/set_command.h"
#include "router/transport.h"

namespace tusk::router {

class ClientConn;
class Worker;
struct BackendHealth;

enum class ServerState {
  kConnecting,    ///< non-blocking connect in flight; counted in the pool budget
  kTlsRequest,    ///< SSLRequest sent, waiting for 'S'/'N'
  kTlsHandshake,  ///< TLS handshake towards PostgreSQL
  kLogin,         ///< startup sent; authentication and parameters until ReadyForQuery
  kIdle,          ///< in the worker's idle list of its pool
  kActive,        ///< linked to `client`
  kPipelining,    ///< running queued requests of several clients; in the worker's pipelining list
  kResetting,     ///< DISCARD ALL after a session-mode client left
  kClosed,        ///< closed; destroyed after the current event batch
};

/// Responses of one Sync/Query-delimited stretch of client messages.
struct Segment {
  int drop_parse = 0;     ///< ParseComplete replies to swallow (injected Parse)
  int drop_close = 0;     ///< CloseComplete replies to swallow (injected Close)
  bool drop_all = false;  ///< router's own query (SET prelude): swallow everything
  bool errored = false;   ///< an ErrorResponse arrived: the server skips to Sync
  /// Transaction mode: the request's tracked statements (ClientConn::Track)
  /// whose outcome is not known yet, in the order sent; null when none.
  std::unique_ptr<std::vector<SetCommand>> sets;
  int64_t start_us = 0;               ///< when its first message was sent
  std::vector<std::string> prepared;  ///< statements named in this segment (forgotten on error)
  /// kPipelining: the client whose request this is (its responses go there);
  /// nullptr for the router's own segments or when the client left.
  ClientConn* owner = nullptr;
  bool queued = false;  ///< kPipelining: a client's request (owner may have left since)
  bool cancel = false;  ///< kPipelining: cancel the request when it reaches the head
  bool empty() const { return start_us == 0; }
};

class ServerConn : public IoHandler {
 public:
  ServerConn(Worker* worker, std::shared_ptr<Pool> pool, std::shared_ptr<BackendHealth> backend,
             uint64_t id);
  ~ServerConn() override;

  /// Starts the non-blocking connect and login with `password`, or with
  /// `keys` (SCRAM only) for a role known through the auth query. false when
  /// the socket could not be created.
  bool Start(const std::string& password, std::optional<ScramKeys> keys = std::nullopt);
  void OnEvents(uint32_t events) override;

  /// Closes the connection, returns its budget slot, tells the worker.
  /// A non-empty `reason` (and `sqlstate`) is reported to the linked client,
  /// or, for a server that never logged in, to the first waiter of its pool.
  void Close(const std::string& reason, const std::string& sqlstate = "");

  ServerState state() const { return state_; }
  void set_state(ServerState s) { state_ = s; }
  Pool* pool() const { return pool_.get(); }
  const std::shared_ptr<Pool>& pool_ptr() const { return pool_; }
  BackendHealth* backend() const { return backend_.get(); }
  uint64_t id() const { return id_; }
  ClientConn* client() const { return client_; }
  void set_client(ClientConn* c) { client_ = c; }
  int32_t backend_pid() const { return backend_pid_; }
  int32_t backend_key() const { return backend_key_; }
  int64_t created_ms() const { return created_ms_; }
  int64_t idle_since_ms() const { return idle_since_ms_; }
  void set_idle_since_ms(int64_t t) { idle_since_ms_ = t; }
  protocol::TxStatus tx_status() const { return tx_; }
  /// The ParameterStatus values of the login (names as PostgreSQL spells them).
  const std::vector<std::pair<std::string, std::string>>& login_params() const {
    return login_params_;
  }
  /// Statements prepared on this connection (server-side names).
  std::unordered_set<std::string>& prepared() { return prepared_; }
  /// Marks the connection to be closed instead of reused (reload, lifetime).
  void set_retire(bool r) { retire_ = r; }
  bool retire() const { return retire_; }
  /// Transaction mode: a client's statement may have left session state
  /// (LeavesSessionState): DISCARD ALL before the next client.
  void set_needs_reset() { needs_reset_ = true; }
  bool needs_reset() const { return needs_reset_; }

  // ---- Data path (kActive), called by the linked client. ----
  /// Bytes queued towards PostgreSQL.
  Buffer& out() { return out_; }
  /// The segment collecting the messages being sent now.
  Segment& open_segment() { return open_; }
  /// Closes the open segment (after Sync/Query/FunctionCall was queued).
  void EndSegment();
  /// True when nothing is outstanding: no unanswered segment, no unsynced
  /// messages, transaction status idle.
  bool Quiet() const {
    return segments_.empty() && open_.empty() && tx_ == protocol::TxStatus::kIdle;
  }
  /// Writes `out()` to the socket.
  void Flush();
  /// Writes `out()` once the current event batch is handled, so that the
  /// requests several clients queued in one batch reach PostgreSQL in one
  /// write (and one wake-up of the backend).
  void FlushAtBatchEnd();
  void OnBatchEnd() override;
  /// Sends DISCARD ALL and moves to kResetting (needs_reset() false again).
  void StartReset();
  /// Transaction mode, the client left inside a transaction with nothing
  /// outstanding: sends ROLLBACK and RESET ALL (DISCARD ALL when
  /// needs_reset()) and moves to kResetting; the
  /// connection returns to the pool afterwards instead of being closed.
  void StartRollback();
  /// Idle inside a transaction: no unanswered message, status 'T' or 'E'.
  bool IdleInTransaction() const {
    return segments_.empty() && open_.empty() && tx_ != protocol::TxStatus::kIdle;
  }
  /// Queues DISCARD ALL as a prelude and forgets what it drops (prepared
  /// statements, settings, needs_reset()).
  void SendDiscardAll();
  /// Queues one Query of the router's own (a segment whose replies are dropped).
  void SendPrelude(const std::string& sql);
  /// When the last ReadyForQuery arrived (µs), 0 before the first.
  int64_t answered_us() const { return answered_us_; }
  /// When the oldest unanswered message was sent (µs), 0 when none is outstanding.
  int64_t busy_since_us() const {
    return segments_.empty() ? open_.start_us : segments_.front().start_us;
  }

  // ---- Pipelining (kPipelining). ----
  /// Queued client requests (segments with an owner), including the running one.
  int queued() const { return queued_; }
  /// When the queue last went from empty to non-empty (µs): the backend has
  /// run queued requests back to back, without sleeping, since then, and no
  /// queued request started before it. 0 when none is queued.
  int64_t streak_since_us() const { return queued_ > 0 ? streak_since_us_ : 0; }
  /// Marks the open segment as `client`'s request, about to be queued.
  void OwnOpenSegment(ClientConn* client);
  /// `client` left: its queued request still runs, its responses are dropped.
  void Disown(ClientConn* client);
  /// Whether statement `name` (server-side) is prepared by an unanswered
  /// queued request of another client: that Parse may yet fail, so a request
  /// queued behind it prepares the statement itself (Close + Parse) and gets
  /// PostgreSQL's own error rather than 26000 "does not exist".
  bool PreparedByAnotherQueued(const std::string& name, const ClientConn* client) const;
  /// Cancels `client`'s request now if it runs, else when it reaches the head.
  void CancelFor(ClientConn* client);
  /// Settings of this session that may differ from the login's (lowercase
  /// name → string form, as set_config() takes it), or nullopt when a
  /// client's request changed it in a way the router could not follow (a
  /// ParameterStatus outside a tracked SET): reset or re-applied before the
  /// next client's request.
  std::unordered_map<std::string, std::optional<std::string>>& settings() { return settings_; }
  /// What the session holds for `name` (lowercase): its settings() entry, or
  /// the login's reported value; null when unknown.
  const std::string* CurrentSetting(const std::string& name) const;
  std::string debug_state() const {
    return "srv_in=" + std::to_string(in_.size()) + " srv_out=" + std::to_string(out_.size()) +
           " segs=" + std::to_string(segments_.size()) + " open=" + std::to_string(!open_.empty()) +
           " front_dp=" +
           std::to_string(segments_.empty() ? open_.drop_parse : segments_.front().drop_parse) +
           " front_dc=" +
           std::to_string(segments_.empty() ? open_.drop_close : segments_.front().drop_close) +
           " tx=" + std::string(1, static_cast<char>(tx_)) +
           " readable=" + std::to_string(readable_);
  }
  /// Frees the memory of empty buffers (idle servers, each tick).
  void ReleaseIdleBuffers() {
    in_.Shrink();
    out_.Shrink();
  }
  /// True while this much waits to be written to PostgreSQL (1 MiB) that
  /// the client should stop being read (back-pressure).
  bool Throttled() const;
  /// Reads and processes what PostgreSQL sent (called on events and when a
  /// throttled client drained).
  void Pump();
  /// Pump() stopped reading because `client`, which the next responses go
  /// to, was Throttled(); only compared, never dereferenced.
  bool PausedFor(const ClientConn* client) const { return paused_for_ == client; }

 private:
  void HandleLogin();
  void HandleActive();
  void HandleIdle();
  bool SendStartup();
  Segment& front() { return segments_.empty() ? open_ : segments_.front(); }
  /// The front segment ended: drops it and, when pipelining, starts the next
  /// one's clock and delivers a cancel that waited for it.
  void PopFront();
  void SendCancelNow();

  Worker* worker_;
  std::shared_ptr<Pool> pool_;
  std::shared_ptr<BackendHealth> backend_;
  uint64_t id_;
  ServerState state_ = ServerState::kConnecting;
  Transport io_;
  Buffer in_;
  Buffer out_;
  ClientConn* client_ = nullptr;
  std::string password_;
  std::optional<ScramKeys> keys_;
  std::optional<protocol::ScramClient> scram_;
  int32_t backend_pid_ = 0;
  int32_t backend_key_ = 0;
  protocol::TxStatus tx_ = protocol::TxStatus::kIdle;
  std::vector<std::pair<std::string, std::string>> login_params_;
  std::unordered_map<std::string, std::string> login_settings_;  ///< the same, lowercase names
  std::unordered_set<std::string> prepared_;
  std::unordered_map<std::string, std::optional<std::string>> settings_;
  bool ready_ = false;  ///< logged in at least once
  std::deque<Segment> segments_;
  Segment open_;
  int64_t created_ms_ = 0;
  int64_t idle_since_ms_ = 0;
  bool retire_ = false;
  bool needs_reset_ = false;  ///< see needs_reset()
  bool readable_ = false;
  bool flush_queued_ = false;  ///< FlushAtBatchEnd() asked for this batch
  /// EPOLLOUT is registered: while connecting, for TLS, and after a write
  /// would block (see EventLoop::SetWriteInterest).
  bool write_interest_ = true;
  int queued_ = 0;                          ///< segments with an owner or disowned (kPipelining)
  const ClientConn* paused_for_ = nullptr;  ///< see PausedFor()
  bool resume_at_batch_end_ = false;        ///< Disown() of paused_for_: Pump() then
  int64_t streak_since_us_ = 0;             ///< see streak_since_us()
  int64_t answered_us_ = 0;                 ///< see answered_us()
};

}  // namespace tusk::router
