// ClientConn: one application connection to the router.
//
// Life: kStartup (startup packet; SSLRequest → kTlsHandshake → kStartup) →
// [kAuthLookup (a role without a router secret: its verifier is fetched by
// the auth query)] → kAuth (SCRAM/md5/plain exchange) → kLogin (waiting for a server to learn
// the pool's ParameterStatus values, first client of a pool only) → kReady
// (logged in, no server: in its worker's client table only) ⇄ kWaiting (a
// request is buffered; in its worker's waiter queue for the pool) ⇄ kActive
// (linked to a ServerConn) → kClosed. With `pipeline_depth` set, a request
// that may share a server (pipeline_sql.h) goes kReady/kWaiting → kQueued
// (queued on a pipelining ServerConn) → kReady instead of linking one.
// Admin sessions (database `tusk`) live in kAdmin. Owned by the worker that
// accepted it until login, then (kMoving) by its pool's home worker. Not
// synchronized.
//
// In transaction mode the client's named prepared statements are kept here
// and re-created on whichever server serves the next transaction; the
// settings it chose (startup parameters, SET/RESET once they took effect,
// ParameterStatus) are applied there too (set_command.h).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/scram_exchange.h"
#include "protocol/wire.h"
#include "router/auth_lookup.h"
#include "router/buffer.h"
#include "router/event_loop.h"
#include "router/pool.h"
#include "router/set_command.h"
#include "router/shared_state.h"
#include "router/transport.h"

namespace tusk::router {

class ServerConn;
struct Segment;
class Worker;

enum class ClientState {
  kStartup,       ///< reading the startup packet
  kTlsHandshake,  ///< after answering 'S' to SSLRequest
  kAuthLookup,    ///< role unknown to the router: waiting for the auth query (auth_lookup.h)
  kAuth,          ///< authentication exchange
  kLogin,         ///< authenticated; waiting for a server to complete the welcome
  kReady,         ///< logged in, no server linked
  kWaiting,       ///< in the pool's waiter queue of its worker
  kActive,        ///< linked to `server`
  kQueued,        ///< request queued on the pipelining `server`; in its segments only
  kAdmin,         ///< admin console session (database `tusk`)
  kClosing,       ///< FATAL queued; flushing, then closed; in no pool list
  kMoving,        ///< logged in, being handed to its pool's home worker
  kClosed,        ///< closed; destroyed after the current event batch
};

/// A named prepared statement as the client created it.
struct PreparedStatement {
  std::string server_name;     ///< "tusk_<hash>", shared by identical statements
  std::string parse;           ///< a complete Parse message under server_name
  bool pipeline_safe = false;  ///< its query passes PipelineSafeSql
  bool session_state = false;  ///< its query passes LeavesSessionState: reset after each Bind
  /// The SET/RESET/DISCARD ALL it runs (tracked at each Bind); null for other queries.
  std::shared_ptr<const SetCommand> set;
};

class ClientConn : public IoHandler {
 public:
  /// Takes ownership of the accepted socket `fd`; `peer` is its address
  /// from accept4 (shown as host:port in logs and SHOW CLIENTS).
  ClientConn(Worker* worker, int fd, const sockaddr_storage& peer, bool readonly_port, uint64_t id);
  ~ClientConn() override;

  void OnEvents(uint32_t events) override;
  void OnBatchEnd() override;
  /// Flushes server responses at the end of the event batch: a client
  /// program with many connections (pgbench, an application's pool) gets the
  /// responses of one batch together and wakes up fewer times; measured
  /// +4 % TPS on pgbench -S with 10 clients.
  void FlushAtBatchEnd();
  int fd() const { return io_.fd(); }
  /// Called on the adopting worker's thread after a hand-off.
  void set_worker(Worker* w, uint64_t id) {
    worker_ = w;
    id_ = id;
  }
  /// Continues the login on the pool's home worker (after HandOff).
  void Arrived();
  /// Adopted at a tick by the home worker after HandOffReady: becomes
  /// kReady and reads what arrived meanwhile (closes when abandoned).
  void ArrivedReady();
  /// The hand-over failed (the socket could not join the new epoll set):
  /// the new worker closes the client when it adopts it.
  void Abandon() { abandoned_ = true; }

  ClientState state() const { return state_; }
  uint64_t id() const { return id_; }
  Pool* pool() const { return pool_.get(); }
  const std::shared_ptr<Pool>& pool_ptr() const { return pool_; }
  ServerConn* server() const { return server_; }
  const std::string& user() const { return user_; }
  const std::string& database() const { return database_; }
  const std::string& peer() const { return peer_; }
  bool tls() const { return io_.tls(); }
  int64_t connected_ms() const { return connected_ms_; }
  int64_t last_active_ms() const { return last_active_ms_; }
  int64_t wait_start_us() const { return wait_start_us_; }
  /// Marks activity now (idle timeouts count from here).
  void Touch();
  /// Whether the client came in through the read-only port.
  bool readonly_port() const { return readonly_port_; }

  /// Called by the worker when a server is assigned (kWaiting/kLogin → kActive).
  void Link(ServerConn* server);
  /// Called by the server when a transaction ended and the server went back
  /// to the pool (transaction mode) — the client returns to kReady.
  void Unlink();
  /// Queues bytes for the client (server responses) and remembers to flush.
  Buffer& out() { return out_; }
  void Flush();
  /// The linked server lost its connection: fail the client.
  void ServerLost(const std::string& why);
  /// Sends FATAL with `sqlstate` and closes after flushing.
  void Fatal(const std::string& sqlstate, const std::string& message);
  /// Closes immediately (no message).
  void Close();
  /// Resumes reading after back-pressure or a server assignment.
  void Resume();
  /// Cancels the query running for this client (CancelRequest to its backend).
  void CancelQuery();

  // ---- Pipelining (transaction mode, pipeline_depth > 0). ----
  /// Bytes of the buffered request when it may be queued behind other
  /// clients' requests on one server connection, else 0. Set when the
  /// client asks for a server (kWaiting).
  size_t pipeline_bytes() const { return pipeline_bytes_; }
  /// Called by the worker: queues the buffered request on `server`
  /// (kWaiting → kQueued).
  void StartPipelined(ServerConn* server);
  /// Called by `server` at the ReadyForQuery ending this client's request
  /// (kQueued → kReady); the next request is read at the batch end.
  void PipelineEnded(ServerConn* server);
  /// When the current request was queued or the server linked (µs).
  int64_t request_start_us() const { return link_us_; }
  /// PostgreSQL reported `name` (lowercase) = `value` while running this
  /// client's request: the client's setting follows it.
  void Reported(const std::string& name, std::string_view value);
  /// A SET/RESET of this client's waits for the end of its transaction.
  bool has_pending_sets() const { return pending_sets_ != nullptr; }
  /// Called by the server at each CommandComplete (`tag`, as "COMMIT") of
  /// `seg`, a request of this client with tracked statements (seg.sets):
  /// when `tag` is that of the first transaction-control statement waiting
  /// in seg.sets (SAVEPOINT, RELEASE, ROLLBACK [TO], COMMIT), that statement
  /// ran and acts on the SETs before it; else the tag is an untracked
  /// statement's and nothing changes.
  void StatementCompleted(Segment& seg, std::string_view tag);
  /// Called by the server at the ReadyForQuery ending `seg`, a request of
  /// this client: the SETs left in seg.sets join the open transaction's
  /// (dropped when the request failed), and outside a transaction block the
  /// pending SET/RESETs take effect unless the request failed.
  void RequestEnded(protocol::TxStatus tx, Segment& seg);
  /// Buffer sizes and server segment state, for SHOW CLIENTS.
  std::string debug_state() const;
  /// Admin sessions: completes a pending PAUSE once its pools are quiet (each tick).
  void AdminTick();
  /// Frees the memory of empty buffers (each tick): a busy client keeps its
  /// buffers between messages, an idle one holds none.
  void ReleaseIdleBuffers();
  /// Bytes queued towards the client exceed the back-pressure mark.
  bool Throttled() const;
  /// EPOLLOUT should be registered for the socket: a write would block, or
  /// TLS (which may need it to read). Off for an accepted plain client, so
  /// neither the accept nor a hand-over to another worker wakes a loop.
  bool write_interest() const { return write_interest_; }
  /// The auth query answered for this client's role (kAuthLookup → kAuth).
  void LookupDone(LookupResult result);

 private:
  void Pump();
  /// Registers or drops EPOLLOUT to match out_ and TLS (write_interest()).
  void SyncWriteInterest();
  bool HandleStartup();
  bool HandleAuth();
  bool HandleRequests();
  bool HandleAdmin();
  void BeginAuth();
  /// Starts the SCRAM exchange against `verifier`, or a mock one when null.
  void StartScram(const ScramVerifier* verifier);
  void AuthSucceeded();
  void JoinPool();
  /// Transaction mode with the pool's parameters known: registers the
  /// cancel key for worker `home`, sends the welcome and becomes kReady.
  /// false (nothing done) otherwise.
  bool WelcomeFromPool(int home);
  void SendWelcome(const std::vector<std::pair<std::string, std::string>>& server_params);
  /// Answers a Parse/Close(statement)…Sync batch without a server: 1 done,
  /// 0 not such a batch, -1 batch incomplete (read more).
  int AnswerLocally();
  /// Size of a complete queueable request at the head of `in_`: one simple
  /// Query, or Parse/Bind/Describe/Execute messages up to Sync with unnamed
  /// portals, each statement passing PipelineSafeSql. 0 when not
  /// queueable, -1 when incomplete while more bytes may be read.
  int64_t PipelineRequestBytes() const;
  bool ForwardMessage(char type, std::string_view frame, std::string_view body);
  bool RewriteForTransactionMode(char type, std::string_view body);
  /// Queues on `s` the set_config()/RESET queries (one Query each, replies
  /// dropped) that give it this client's settings; true when any was queued.
  bool ApplySettings(ServerConn* s);
  /// The client's value of setting `name` (lowercase), or null.
  const std::string* Setting(const std::string& name) const;
  /// A tracked statement (SET/RESET/DISCARD ALL, a savepoint or the end of
  /// a transaction) is sent for this client: kept in the open segment's
  /// `sets` until its CommandComplete or the request's ReadyForQuery.
  // REQUIRES: server_ linked, the statement's request in its open segment.
  void Track(const SetCommand& cmd);
  /// A transaction-control statement completed (`committed`: its tag was
  /// COMMIT): SAVEPOINT marks the pending SETs, ROLLBACK TO drops the SETs
  /// after that savepoint and RELEASE keeps them, as PostgreSQL does; COMMIT
  /// makes the pending SETs take effect, ROLLBACK drops them.
  void TransactionControl(const SetCommand& cmd, bool committed);
  /// pending_sets_, allocated on first use.
  std::vector<SetCommand>& Pending();
  /// A tracked SET/RESET took effect: records it for the client and for its server.
  void Commit(const SetCommand& cmd);
  /// A server was assigned: records the pool wait (if any) and starts the
  /// request's clock (link_us_).
  void EndWait();
  void EnsurePrepared(const PreparedStatement& st);
  void ProtocolViolation(const std::string& message);
  void Terminate();
  void DetachFromPool();

  Worker* worker_;
  uint64_t id_;
  bool readonly_port_;
  ClientState state_ = ClientState::kStartup;
  Transport io_;
  Buffer in_;
  Buffer out_;
  std::string peer_;
  std::string user_;
  std::string database_;
  std::shared_ptr<const Settings> settings_;
  std::shared_ptr<Pool> pool_;
  ServerConn* server_ = nullptr;
  /// Startup parameters and `options` settings (lowercase names).
  std::map<std::string, std::string> startup_params_;
  /// Settings changed since (SET, ParameterStatus); allocated when first needed.
  std::unique_ptr<std::map<std::string, std::string>> set_params_;
  /// SET/RESETs (and the savepoints among them) of the open transaction's
  /// completed requests: they take effect when it commits.
  std::unique_ptr<std::vector<SetCommand>> pending_sets_;
  /// What the unnamed statement runs when it is a tracked SET (extended protocol).
  std::unique_ptr<SetCommand> unnamed_set_;
  std::unordered_map<std::string, PreparedStatement> statements_;
  size_t pipeline_bytes_ = 0;                     ///< see pipeline_bytes()
  std::unique_ptr<protocol::ScramServer> scram_;  ///< during authentication only
  /// A role verified with the auth query's verifier: that verifier's
  /// ServerKey during authentication, then the keys that log servers in.
  /// Allocated only for such logins (idle clients stay small).
  struct Lookup {
    std::string server_key;
    std::optional<ScramKeys> keys;
  };
  std::unique_ptr<Lookup> lookup_;
  char md5_salt_[4] = {0, 0, 0, 0};
  int auth_step_ = 0;
  bool admitted_ = false;
  int32_t cancel_pid_ = 0;
  int32_t cancel_key_ = 0;
  int64_t connected_ms_ = 0;
  int64_t last_active_ms_ = 0;
  int64_t wait_start_us_ = 0;
  int64_t link_us_ = 0;
  int64_t cancelled_busy_us_ = 0;  ///< busy_since of the query last cancelled
  bool readable_ = false;
  bool closing_ = false;       ///< flush out_, then close
  bool flush_queued_ = false;  ///< AtBatchEnd() asked for this batch
  bool pump_queued_ = false;   ///< read the next request at the batch end (PipelineEnded)
  bool abandoned_ = false;     ///< see Abandon()
  bool in_pump_ = false;
  bool write_interest_ = false;  ///< see write_interest()
  bool pause_waiting_ = false;   ///< admin: PAUSE sent, reply pending
  std::string pause_db_;
};

}  // namespace tusk::router
