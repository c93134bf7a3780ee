// Worker: one event-loop thread. Accepts clients on its own SO_REUSEPORT
// listening sockets and authenticates them; a logged-in client is handed to
// its pool's home worker (pool.h), which owns the pool's server connections,
// its idle list and its FIFO of waiting clients.
//
// A client that needs a server takes the most recently idle one, or opens a
// new one if the pool's budget allows, or waits. A server that becomes free
// goes to the first waiter, or is parked idle. With `pipeline_depth` set, a
// request that may be queued (ClientConn::pipeline_bytes) goes to the
// pipelining server with the shortest queue among those that have been
// running queued requests back to back for less than `pipeline_busy_limit_ms`,
// if that queue is below the depth the demand calls for (pipeline_depth.h);
// else to an idle server, which starts pipelining; else it waits, and a
// pipelining server that makes progress takes queueable waiters up to
// `pipeline_depth`. So a server is added only when the busy ones are full or
// past the limit; waiters keep their FIFO order. With `concurrency_limit`
// set, a transaction starts on a server only while fewer transactions of its
// pool than that are open and active (MayStartTransaction): the rest wait
// their turn in the FIFO instead of queueing for locks and CPUs inside
// PostgreSQL.
// Timeouts are enforced by Tick() every 100 ms.
// Thread-safety: methods run on the worker's own thread, except Post()-ed
// closures from other threads (EventLoop::Post).
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "router/event_loop.h"
#include "router/shared_state.h"
#include "sys/sched_policy.h"

namespace tusk::router {

class ClientConn;
class ServerConn;

/// A listening socket and which port kind it serves.
struct Listener {
  int fd = -1;
  bool readonly = false;
};

/// One row of SHOW CLIENTS / SHOW SERVERS.
struct ConnectionRow {
  std::vector<std::string> cells;
};

class Worker {
 public:
  Worker(int index, SharedState* shared);
  ~Worker();

  /// Creates the loop and registers `listeners` (already bound). kInternal on failure.
  Status Init(const std::vector<Listener>& listeners);
  void Start();
  void Join();
  EventLoop& loop() { return loop_; }
  int index() const { return index_; }
  SharedState& shared() { return *shared_; }

  // ---- Called by connections on this worker's thread. ----
  /// `client` needs a server: links it now, or queues it (kWaiting).
  void RequestServer(ClientConn* client);
  /// Removes a waiting client from its pool's queue (it closed or timed out).
  void ForgetWaiter(ClientConn* client);
  /// A server finished login or reset, or its client released it: hand it to
  /// a waiter, park it, or close it (retired, budget needed elsewhere).
  void ServerFree(ServerConn* server);
  /// A linked server answered a query and stays linked (a transaction goes
  /// on): one fewer query runs, so a waiter held by concurrency_limit may start.
  void QueryEnded(Pool* pool);
  /// A pipelining server answered requests: feeds it queued waiters, or,
  /// when its queue is empty, returns it to the pool (ServerFree).
  void PipelineProgress(ServerConn* server);
  /// A server closed; `error` (if any) fails the first waiter of its pool
  /// when the server never logged in.
  void ServerClosed(ServerConn* server, bool never_ready, const std::string& error,
                    const std::string& sqlstate);
  void ClientClosed(ClientConn* client);
  /// Looks up a client of this worker by id (nullptr when gone).
  ClientConn* FindClient(uint64_t id);

  // ---- Cross-thread entry points (Post()-ed). ----
  /// Serves waiters of `pool` from idle servers or new ones if the budget allows (RESUME, a server
  /// closed).
  void Kick(const std::shared_ptr<Pool>& pool);
  /// Moves a logged-in client to `target` (its pool's home worker); the
  /// client continues there with ClientConn::Arrived().
  void HandOff(ClientConn* client, Worker* target);
  /// Moves a client that is already welcomed and ready (transaction mode) to
  /// `target` without waking it: after this batch the socket joins the
  /// target's epoll set, and the target adopts the client on its first
  /// event (Adopt) or at its next tick.
  void HandOffReady(ClientConn* client, Worker* target);
  /// On this worker's thread: takes `client` from the incoming list into
  /// the client table. false when it is not there (not handed here).
  bool Adopt(ClientConn* client);
  /// Applies a reloaded spec on this worker's thread: busy_poll_us and
  /// sched_policy; retires servers whose backend left the set.
  void Reconfigure();
  /// Rows for SHOW CLIENTS / SHOW SERVERS of this worker.
  std::vector<ConnectionRow> ClientRows();
  std::vector<ConnectionRow> ServerRows();
  /// Number of clients/servers owned (for status).
  size_t client_count() const { return clients_.size(); }

 private:
  struct LocalPool {
    std::vector<ServerConn*> servers;  ///< every server connection of the pool (owned by servers_)
    std::vector<ServerConn*> idle;
    std::vector<ServerConn*> pipelining;  ///< kPipelining servers
    std::deque<ClientConn*> waiters;
    int opening = 0;  ///< servers still logging in
  };
  class Acceptor;

  void Accept(const Listener& l);
  void Tick();
  LocalPool& Local(Pool* pool) { return local_[pool]; }
  bool OpenServer(const std::shared_ptr<Pool>& pool);
  std::shared_ptr<BackendHealth> ChooseBackend(const Settings& s, bool readonly);
  /// Takes an idle server out of the list: the most recently used, or on the
  /// read-only port the one whose backend has the fewest outstanding queries.
  /// REQUIRES: !lp.idle.empty().
  ServerConn* TakeIdle(LocalPool& lp, Pool* pool);
  /// Gives the free server `s` (kIdle, in no list) to the first waiter: a
  /// queueable request starts `s` pipelining (and more follow), any other
  /// links it. false when nobody waits, the pool is paused or the first
  /// waiter's transaction may not start yet (FrontMayStart).
  bool GiveToWaiters(LocalPool& lp, ServerConn* s);
  /// Whether the first waiter may be given a server now: a queueable
  /// request always (pipeline_depth bounds those), a transaction only when
  /// MayStartTransaction. REQUIRES: !lp.waiters.empty().
  bool FrontMayStart(LocalPool& lp, Pool* pool);
  /// Whether fewer than concurrency_limit transactions of `pool` count
  /// (concurrency_count.h: a query running or a pause between queries, each
  /// only so long). When not, asks the loop to wake when the first of them
  /// stops counting (ServeHeld).
  bool MayStartTransaction(Pool* pool, const RouterSpec& spec);
  /// Gives idle servers to the waiters of `pool` while FrontMayStart.
  void ServeWaiters(LocalPool& lp, Pool* pool);
  /// The loop's alarm: serves the waiters of every pool with idle servers.
  void ServeHeld();
  /// Queues `client`'s request (pipeline_bytes > 0) on a pipelining server
  /// or an idle one; false when none may take it (it waits instead).
  bool TryPipeline(LocalPool& lp, ClientConn* client);
  /// Makes the idle server `s` (in no list) a pipelining one.
  void BeginPipelining(LocalPool& lp, ServerConn* s);
  /// Moves queueable waiters at the head of the FIFO onto `s` while it has
  /// room (up to pipeline_depth, whatever the demand).
  void FeedPipeline(LocalPool& lp, ServerConn* s);
  /// Whether `s` may take one more queued request now: fewer than
  /// pipeline_depth queued, within the busy limit (`now_us`: NowUs()).
  bool PipelineHasRoom(ServerConn* s, const RouterSpec& spec, int64_t now_us) const;
  /// Read-only pools: closes idle connections to the primary when a standby is up.
  void DropPrimaryFromReadOnly(LocalPool& lp);
  void AdoptClient(const std::shared_ptr<ClientConn>& client);
  /// Sets this thread's scheduling policy to the spec's when it differs;
  /// a failure is logged and the thread keeps its policy.
  /// REQUIRES: on this worker's thread.
  void ApplySchedPolicy();

  int index_;
  SharedState* shared_;
  EventLoop loop_;
  std::thread thread_;
  /// The policy this thread was last set to; none before the first call
  /// (a thread starts with its creator's policy, whatever that is).
  std::optional<sys::SchedPolicy> sched_policy_;
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  std::unordered_map<uint64_t, std::shared_ptr<ClientConn>> clients_;
  std::unordered_map<uint64_t, std::shared_ptr<ServerConn>> servers_;
  std::unordered_map<Pool*, LocalPool> local_;
  /// Clients handed over without a wake-up (HandOffReady): adopted on
  /// their first event here or at the next tick. Guarded by incoming_mu_.
  std::mutex incoming_mu_;
  std::vector<std::shared_ptr<ClientConn>> incoming_;
};

}  // namespace tusk::router
