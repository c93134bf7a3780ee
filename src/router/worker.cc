// Worker: accept loop, per-pool idle lists and waiter queues, timeouts.
#include "router/worker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/strings.h"
#include "router/client.h"
#include "router/concurrency_count.h"
#include "router/pipeline_depth.h"
#include "router/server.h"
#include "sys/sched_policy.h"

namespace tusk::router {

class Worker::Acceptor : public IoHandler {
 public:
  Acceptor(Worker* w, Listener l) : w_(w), l_(l) {}
  void OnEvents(uint32_t) override { w_->Accept(l_); }

 private:
  Worker* w_;
  Listener l_;
};

Worker::Worker(int index, SharedState* shared) : index_(index), shared_(shared) {}

Worker::~Worker() {
  // Shutdown: the connection objects' transports close their sockets; no
  // pool bookkeeping is needed any more (Close() would call back into us).
  clients_.clear();
  servers_.clear();
}

Status Worker::Init(const std::vector<Listener>& listeners) {
  TUSK_RETURN_IF_ERROR(loop_.Init());
  loop_.SetBusyPoll(shared_->settings()->spec.busy_poll_us);
  for (const Listener& l : listeners) {
    acceptors_.push_back(std::make_unique<Acceptor>(this, l));
    TUSK_RETURN_IF_ERROR(loop_.AddListener(l.fd, acceptors_.back().get()));
  }
  return Status::Ok();
}

void Worker::Start() {
  thread_ = std::thread([this] {
    // "tusk-worker-N" in top -H, ps -T and /proc/PID/task/*/comm (15 bytes at most).
    pthread_setname_np(pthread_self(), ("tusk-worker-" + std::to_string(index_ % 1000)).c_str());
    ApplySchedPolicy();
    loop_.Run([this] { Tick(); }, [this] { ServeHeld(); });
  });
}

void Worker::ApplySchedPolicy() {
  sys::SchedPolicy want = shared_->settings()->spec.sched_policy;
  if (want == sched_policy_) return;
  Status st = sys::SetThreadSchedPolicy(want);
  if (!st.ok()) {
    RouterLog("worker " + std::to_string(index_) + ": " + st.message());
    return;
  }
  sched_policy_ = want;
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::Accept(const Listener& l) {
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    int fd = accept4(l.fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a transient error (EMFILE): try on the next event
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint64_t id = shared_->next_connection_id++;
    auto c = std::make_shared<ClientConn>(this, fd, peer, l.readonly, id);
    // On failure the ClientConn destructor closes fd.
    if (!loop_.Add(fd, c.get(), c->write_interest()).ok()) continue;
    clients_.emplace(id, std::move(c));
  }
}

ClientConn* Worker::FindClient(uint64_t id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

void Worker::ClientClosed(ClientConn* client) {
  auto it = clients_.find(client->id());
  if (it == clients_.end()) return;
  loop_.Defer(it->second);
  clients_.erase(it);
}

std::shared_ptr<BackendHealth> Worker::ChooseBackend(const Settings& s, bool readonly) {
  if (readonly && !s.spec.standbys.empty()) {
    int64_t now = NowMs();
    std::shared_ptr<BackendHealth> best;
    for (const Backend& b : s.spec.standbys) {
      auto h = shared_->Health(b);
      if (h->down_until_ms.load() > now) continue;
      if (!best || h->outstanding.load() < best->outstanding.load()) best = h;
    }
    if (best) return best;
  }
  return shared_->Health(s.spec.primary);
}

bool Worker::OpenServer(const std::shared_ptr<Pool>& pool) {
  auto settings = shared_->settings();
  auto secret = settings->roles.find(pool->key().role);
  std::string password = secret == settings->roles.end() ? "" : secret->second.password;
  std::optional<ScramKeys> keys;
  if (secret == settings->roles.end()) keys = pool->scram_keys();  // an auth-query role
  auto backend = ChooseBackend(*settings, pool->key().readonly);
  uint64_t id = shared_->next_connection_id++;
  auto s = std::make_shared<ServerConn>(this, pool, backend, id);
  servers_.emplace(id, s);
  LocalPool& lp = Local(pool.get());
  lp.servers.push_back(s.get());
  lp.opening++;
  shared_->servers++;
  pool->stats().server_connects.Add();
  if (!s->Start(password, std::move(keys))) {
    s->Close("cannot connect to server " + backend->backend.host + ":" +
             std::to_string(backend->backend.port));
    return false;
  }
  return true;
}

void Worker::HandOff(ClientConn* client, Worker* target) {
  auto it = clients_.find(client->id());
  std::shared_ptr<ClientConn> sp = it->second;
  clients_.erase(it);
  loop_.Remove(client->fd());
  // Post only after this batch: an event for it fetched in this batch must
  // not run here once the other thread owns it.
  loop_.AfterBatch(
      [target, sp] { target->loop().Post([target, sp] { target->AdoptClient(sp); }); });
}

void Worker::HandOffReady(ClientConn* client, Worker* target) {
  auto it = clients_.find(client->id());
  std::shared_ptr<ClientConn> sp = it->second;
  clients_.erase(it);
  loop_.Remove(client->fd());
  // After this batch (an event for it fetched in this batch must not run
  // here once the other thread owns it). The target's lock is held until
  // the socket is in its epoll set, so it adopts the client only then.
  loop_.AfterBatch([target, sp] {
    sp->set_worker(target, sp->id());
    std::lock_guard<std::mutex> lock(target->incoming_mu_);
    target->incoming_.push_back(sp);
    if (!target->loop().Add(sp->fd(), sp.get(), sp->write_interest()).ok()) sp->Abandon();
  });
}

bool Worker::Adopt(ClientConn* client) {
  std::shared_ptr<ClientConn> sp;
  {
    std::lock_guard<std::mutex> lock(incoming_mu_);
    auto it = std::find_if(incoming_.begin(), incoming_.end(),
                           [client](const auto& p) { return p.get() == client; });
    if (it == incoming_.end()) return false;
    sp = std::move(*it);
    incoming_.erase(it);
  }
  clients_.emplace(client->id(), std::move(sp));
  return true;
}

void Worker::AdoptClient(const std::shared_ptr<ClientConn>& sp) {
  ClientConn* c = sp.get();
  c->set_worker(this, c->id());
  uint64_t id = c->id();
  clients_.emplace(id, sp);
  if (!loop_.Add(c->fd(), c, c->write_interest()).ok()) {
    c->Close();
    return;
  }
  c->Arrived();
}

ServerConn* Worker::TakeIdle(LocalPool& lp, Pool* pool) {
  // Most recently used first (warm caches); on the read-only port prefer the
  // backend with the fewest outstanding queries.
  size_t pick = lp.idle.size() - 1;
  if (pool->key().readonly) {
    for (size_t i = 0; i < lp.idle.size(); ++i) {
      if (lp.idle[i]->backend()->outstanding.load() <
          lp.idle[pick]->backend()->outstanding.load()) {
        pick = i;
      }
    }
  }
  ServerConn* s = lp.idle[pick];
  lp.idle.erase(lp.idle.begin() + static_cast<long>(pick));
  pool->stats().servers_idle.Add(-1);
  return s;
}

bool Worker::PipelineHasRoom(ServerConn* s, const RouterSpec& spec, int64_t now_us) const {
  if (s->state() != ServerState::kPipelining || s->queued() >= spec.pipeline_depth) return false;
  // Retired or past its lifetime: it takes no more, drains and is closed
  // by ServerFree (a busy queue would otherwise never let it go).
  if (s->retire() || NowMs() - s->created_ms() > spec.server_lifetime_ms) return false;
  // A backend that never finds its socket empty never sleeps, so it runs
  // whole scheduler slices while pgbench or other clients wait for the CPU:
  // after the busy limit it drains and goes idle, and a request that arrives
  // meanwhile starts another streak elsewhere. This also keeps requests from
  // queueing behind one that has run that long.
  int64_t streak = s->streak_since_us();
  return streak == 0 || now_us - streak <= spec.pipeline_busy_limit_ms * 1000;
}

bool Worker::TryPipeline(LocalPool& lp, ClientConn* client) {
  // Few servers, even queues: a backend that always has the next query
  // buffered never sleeps between them, and the shortest queue keeps the
  // tail latency down. A queue grows past the depth the demand calls for
  // (pipeline_depth.h) only by FeedPipeline, when no idle server was left
  // (docs/router.md).
  auto settings = shared_->settings();  // held: the spec outlives a concurrent reload
  const RouterSpec& spec = settings->spec;
  if (spec.pipeline_depth == 0) return false;  // turned off by a reload
  int64_t now = NowUs();
  ServerConn* best = nullptr;
  int demand = 1;  // this request; none waits (RequestServer), so the rest are queued
  for (ServerConn* s : lp.pipelining) {
    demand += s->queued();
    if (PipelineHasRoom(s, spec, now) && (best == nullptr || s->queued() < best->queued()))
      best = s;
  }
  if (best == nullptr || best->queued() >= PipelineDepthFor(spec.pipeline_depth, demand)) {
    if (lp.idle.empty()) return false;  // waits: a busy server takes it (FeedPipeline)
    best = TakeIdle(lp, client->pool());
    BeginPipelining(lp, best);
  }
  client->StartPipelined(best);
  return true;
}

void Worker::BeginPipelining(LocalPool& lp, ServerConn* s) {
  s->set_state(ServerState::kPipelining);
  lp.pipelining.push_back(s);
  s->pool()->stats().servers_active.Add(1);
}

void Worker::FeedPipeline(LocalPool& lp, ServerConn* s) {
  Pool* pool = s->pool();
  if (lp.waiters.empty()) return;  // the common case: nothing to load
  auto settings = shared_->settings();
  while (!pool->paused() && !lp.waiters.empty() && lp.waiters.front()->pipeline_bytes() > 0 &&
         PipelineHasRoom(s, settings->spec, NowUs())) {
    ClientConn* c = lp.waiters.front();
    lp.waiters.pop_front();
    pool->stats().clients_waiting.Add(-1);
    c->StartPipelined(s);
  }
}

bool Worker::FrontMayStart(LocalPool& lp, Pool* pool) {
  auto settings = shared_->settings();
  const RouterSpec& spec = settings->spec;
  if (lp.waiters.front()->pipeline_bytes() > 0 && spec.pipeline_depth > 0) return true;
  return MayStartTransaction(pool, spec);
}

bool Worker::MayStartTransaction(Pool* pool, const RouterSpec& spec) {
  const int limit = spec.ConcurrencyLimit();
  if (limit <= 0 || spec.mode != PoolMode::kTransaction) return true;
  // Linked and pipelining servers: with fewer than the limit, fewer count
  // (the common case: no scan).
  if (pool->stats().servers_active.value() < limit) return true;
  ConcurrencyCount count(NowUs());
  for (const ServerConn* s : Local(pool).servers) {
    if (s->state() != ServerState::kActive && s->state() != ServerState::kPipelining) continue;
    count.Add(s->busy_since_us(), s->IdleInTransaction(), s->answered_us());
  }
  if (count.counted() < limit) return true;
  loop_.WakeAt(count.first_expiry_us());
  return false;
}

void Worker::ServeWaiters(LocalPool& lp, Pool* pool) {
  while (!pool->paused() && !lp.waiters.empty() && !lp.idle.empty() && FrontMayStart(lp, pool)) {
    GiveToWaiters(lp, TakeIdle(lp, pool));  // true: not paused, a waiter that may start
  }
}

void Worker::QueryEnded(Pool* pool) {
  LocalPool& lp = Local(pool);
  if (lp.waiters.empty() || lp.idle.empty()) return;  // the common case
  ServeWaiters(lp, pool);
}

void Worker::ServeHeld() {
  for (auto& [pool, lp] : local_) ServeWaiters(lp, pool);
}

bool Worker::GiveToWaiters(LocalPool& lp, ServerConn* s) {
  Pool* pool = s->pool();
  if (pool->paused() || lp.waiters.empty() || !FrontMayStart(lp, pool)) return false;
  ClientConn* c = lp.waiters.front();
  lp.waiters.pop_front();
  pool->stats().clients_waiting.Add(-1);
  if (c->pipeline_bytes() > 0 && shared_->settings()->spec.pipeline_depth > 0) {
    // The first request goes on unconditionally (as Link would), so the
    // server never sits pipelining with an empty queue; more may follow.
    BeginPipelining(lp, s);
    c->StartPipelined(s);
    FeedPipeline(lp, s);
    return true;
  }
  c->Link(s);
  return true;
}

void Worker::PipelineProgress(ServerConn* s) {
  if (s->state() != ServerState::kPipelining) return;
  LocalPool& lp = Local(s->pool());
  if (s->queued() > 0 || !s->Quiet()) {
    FeedPipeline(lp, s);
    return;
  }
  lp.pipelining.erase(std::find(lp.pipelining.begin(), lp.pipelining.end(), s));
  s->pool()->stats().servers_active.Add(-1);
  s->set_state(ServerState::kIdle);
  ServerFree(s);
}

void Worker::DropPrimaryFromReadOnly(LocalPool& lp) {
  // Idle read-only-pool connections to the primary were opened while no
  // standby was usable; once one is, they must not keep serving reads.
  auto settings = shared_->settings();
  int64_t now = NowMs();
  bool standby_up = false;
  for (const Backend& b : settings->spec.standbys) {
    if (shared_->Health(b)->down_until_ms.load() <= now) standby_up = true;
  }
  if (!standby_up) return;
  std::vector<ServerConn*> stale;
  for (ServerConn* s : lp.idle) {
    if (s->backend()->backend == settings->spec.primary) stale.push_back(s);
  }
  for (ServerConn* s : stale) s->Close("");
}

void Worker::RequestServer(ClientConn* client) {
  Pool* pool = client->pool();
  LocalPool& lp = Local(pool);
  if (pool->key().readonly && !lp.idle.empty()) DropPrimaryFromReadOnly(lp);
  if (!pool->paused() && lp.waiters.empty()) {
    if (client->pipeline_bytes() > 0 && TryPipeline(lp, client)) return;
    if (!lp.idle.empty() && MayStartTransaction(pool, shared_->settings()->spec)) {
      client->Link(TakeIdle(lp, pool));
      return;
    }
  }
  lp.waiters.push_back(client);
  pool->stats().clients_waiting.Add(1);
  if (pool->paused()) return;
  // An idle server left means concurrency_limit holds the waiters: no more servers.
  if (lp.idle.empty() && static_cast<int>(lp.waiters.size()) > lp.opening && pool->TryReserve()) {
    OpenServer(client->pool_ptr());
  }
}

void Worker::ForgetWaiter(ClientConn* client) {
  LocalPool& lp = Local(client->pool());
  auto it = std::find(lp.waiters.begin(), lp.waiters.end(), client);
  if (it == lp.waiters.end()) return;
  lp.waiters.erase(it);
  client->pool()->stats().clients_waiting.Add(-1);
}

void Worker::ServerFree(ServerConn* s) {
  Pool* pool = s->pool();
  LocalPool& lp = Local(pool);
  if (s->state() == ServerState::kLogin || s->state() == ServerState::kConnecting) lp.opening--;
  auto settings = shared_->settings();
  int64_t now = NowMs();
  if (s->retire() || now - s->created_ms() > settings->spec.server_lifetime_ms) {
    s->Close("");
    return;
  }
  s->set_state(ServerState::kIdle);
  if (GiveToWaiters(lp, s)) return;
  s->set_idle_since_ms(now);
  lp.idle.push_back(s);
  pool->stats().servers_idle.Add(1);
}

void Worker::ServerClosed(ServerConn* s, bool never_ready, const std::string& error,
                          const std::string& sqlstate) {
  Pool* pool = s->pool();
  LocalPool& lp = Local(pool);
  if (s->state() == ServerState::kIdle) {
    auto it = std::find(lp.idle.begin(), lp.idle.end(), s);
    if (it != lp.idle.end()) {
      lp.idle.erase(it);
      pool->stats().servers_idle.Add(-1);
    }
  } else if (s->state() == ServerState::kPipelining) {
    auto it = std::find(lp.pipelining.begin(), lp.pipelining.end(), s);
    if (it != lp.pipelining.end()) lp.pipelining.erase(it);
  }
  if (never_ready) {
    lp.opening--;
    // A standby that cannot be reached is skipped for 2 s and the waiter is
    // served from the next backend (or the primary) instead of failing.
    bool retry_elsewhere = sqlstate.empty() && pool->key().readonly &&
                           !(s->backend()->backend == shared_->settings()->spec.primary);
    if (!error.empty() && !lp.waiters.empty() && !retry_elsewhere) {
      // Login failed (bad database, password, server down): the first waiter
      // gets PostgreSQL's error; others keep waiting for a retry.
      ClientConn* c = lp.waiters.front();
      lp.waiters.pop_front();
      pool->stats().clients_waiting.Add(-1);
      c->Fatal(sqlstate.empty() ? "08006" : sqlstate, error);
    }
  }
  if (auto own = std::find(lp.servers.begin(), lp.servers.end(), s); own != lp.servers.end()) {
    lp.servers.erase(own);
  }
  auto it = servers_.find(s->id());
  if (it != servers_.end()) {
    loop_.Defer(it->second);
    servers_.erase(it);
  }
  shared_->servers--;
  auto p = s->pool_ptr();
  loop_.Post([this, p] { Kick(p); });
}

void Worker::Kick(const std::shared_ptr<Pool>& pool) {
  LocalPool& lp = Local(pool.get());
  if (pool->paused()) return;
  // FeedPipeline never changes the list: queued requests are written at the
  // batch end, so no server closes under it.
  for (ServerConn* s : lp.pipelining) FeedPipeline(lp, s);
  ServeWaiters(lp, pool.get());
  while (lp.idle.empty() && static_cast<int>(lp.waiters.size()) > lp.opening &&
         pool->TryReserve()) {
    if (!OpenServer(pool)) break;
  }
}

void Worker::Reconfigure() {
  auto settings = shared_->settings();
  loop_.SetBusyPoll(settings->spec.busy_poll_us);
  ApplySchedPolicy();
  auto in_set = [&](const Backend& b) {
    if (b == settings->spec.primary) return true;
    return std::find(settings->spec.standbys.begin(), settings->spec.standbys.end(), b) !=
           settings->spec.standbys.end();
  };
  std::vector<ServerConn*> idle_gone;
  for (auto& [id, s] : servers_) {
    if (in_set(s->backend()->backend)) continue;
    s->set_retire(true);
    if (s->state() == ServerState::kIdle) idle_gone.push_back(s.get());
  }
  for (ServerConn* s : idle_gone) s->Close("");
}

void Worker::Tick() {
  // Clients handed over ready that have not sent anything yet.
  std::vector<std::shared_ptr<ClientConn>> arrived;
  {
    std::lock_guard<std::mutex> lock(incoming_mu_);
    arrived.swap(incoming_);
  }
  for (auto& sp : arrived) {
    ClientConn* c = sp.get();
    clients_.emplace(c->id(), std::move(sp));
    c->ArrivedReady();
  }
  auto settings = shared_->settings();
  const RouterSpec& spec = settings->spec;
  int64_t now_ms = NowMs();
  int64_t now_us = NowUs();
  // Waiters that waited too long.
  for (auto& [pool, lp] : local_) {
    while (spec.pool_wait_timeout_ms > 0 && !lp.waiters.empty() &&
           now_us - lp.waiters.front()->wait_start_us() > spec.pool_wait_timeout_ms * 1000) {
      ClientConn* c = lp.waiters.front();
      lp.waiters.pop_front();
      pool->stats().clients_waiting.Add(-1);
      pool->stats().wait_timeouts.Add();
      c->Fatal("08P01", "no server connection became free within pool_wait_timeout (" +
                            std::to_string(spec.pool_wait_timeout_ms) + " ms)");
    }
    if (static_cast<int>(lp.waiters.size()) > lp.opening && !pool->paused()) {
      Kick(shared_->GetPool(pool->key()));  // opens servers if budget appeared (e.g. RELOAD)
    }
    // Idle servers past their idle timeout or lifetime.
    std::vector<ServerConn*> expired;
    for (ServerConn* s : lp.idle) {
      s->ReleaseIdleBuffers();
      if ((spec.server_idle_timeout_ms > 0 &&
           now_ms - s->idle_since_ms() > spec.server_idle_timeout_ms) ||
          now_ms - s->created_ms() > spec.server_lifetime_ms || s->retire()) {
        expired.push_back(s);
      }
    }
    for (ServerConn* s : expired) s->Close("");
  }
  // Client timeouts.
  std::vector<std::pair<ClientConn*, int>> timed_out;
  for (auto& [id, c] : clients_) {
    ClientState st = c->state();
    c->ReleaseIdleBuffers();
    if (st == ClientState::kAdmin) c->AdminTick();
    if (st == ClientState::kReady && spec.idle_client_timeout_ms > 0 &&
        now_ms - c->last_active_ms() > spec.idle_client_timeout_ms) {
      timed_out.push_back({c.get(), 0});
    } else if (st == ClientState::kActive && c->server() != nullptr) {
      int64_t busy_us = c->server()->busy_since_us();
      bool in_tx = c->server()->tx_status() != protocol::TxStatus::kIdle;
      bool idle_in_tx = in_tx && busy_us == 0;
      if (idle_in_tx && spec.idle_transaction_timeout_ms > 0 &&
          now_ms - c->last_active_ms() > spec.idle_transaction_timeout_ms) {
        timed_out.push_back({c.get(), 1});
      } else if (!in_tx && busy_us == 0 && spec.idle_client_timeout_ms > 0 &&
                 now_ms - c->last_active_ms() > spec.idle_client_timeout_ms) {
        timed_out.push_back({c.get(), 0});  // session mode, idle
      } else if (busy_us != 0 && spec.query_timeout_ms > 0 &&
                 now_us - busy_us > spec.query_timeout_ms * 1000) {
        timed_out.push_back({c.get(), 2});
      }
    } else if (st == ClientState::kQueued && spec.query_timeout_ms > 0 &&
               now_us - c->request_start_us() > spec.query_timeout_ms * 1000) {
      timed_out.push_back({c.get(), 2});  // counted from when it was queued
    } else if ((st == ClientState::kStartup || st == ClientState::kAuth ||
                st == ClientState::kAuthLookup || st == ClientState::kTlsHandshake) &&
               now_ms - c->connected_ms() > std::max<int64_t>(spec.connect_timeout_ms, 5000) * 4) {
      timed_out.push_back({c.get(), 3});
    }
  }
  for (auto [c, kind] : timed_out) {
    switch (kind) {
      case 0:
        c->Fatal("57P05", "terminating connection due to idle-session timeout");
        break;
      case 1:
        c->Fatal("25P03", "terminating connection due to idle-in-transaction timeout");
        break;
      case 2:
        c->CancelQuery();
        break;
      default:
        c->Fatal("08P01", "authentication timed out");
    }
  }
  // Servers stuck connecting.
  std::vector<ServerConn*> stuck;
  for (auto& [id, s] : servers_) {
    if ((s->state() == ServerState::kConnecting || s->state() == ServerState::kLogin ||
         s->state() == ServerState::kTlsRequest || s->state() == ServerState::kTlsHandshake) &&
        now_ms - s->created_ms() > spec.connect_timeout_ms) {
      stuck.push_back(s.get());
    }
  }
  for (ServerConn* s : stuck) {
    s->backend()->down_until_ms = now_ms + 2000;
    s->Close("connect timeout");
  }
}

std::vector<ConnectionRow> Worker::ClientRows() {
  std::vector<ConnectionRow> rows;
  int64_t now = NowMs();
  static const char* kStates[] = {"startup", "tls",     "lookup", "auth",   "login",
                                  "idle",    "waiting", "active", "queued", "admin",
                                  "closing", "moving",  "closed"};
  for (auto& [id, c] : clients_) {
    rows.push_back(
        {{c->database(), c->user(), kStates[static_cast<int>(c->state())], c->peer(),
          c->tls() ? "yes" : "no", std::to_string((now - c->connected_ms()) / 1000),
          std::to_string(index_), c->server() ? std::to_string(c->server()->backend_pid()) : "",
          c->debug_state()}});
  }
  return rows;
}

std::vector<ConnectionRow> Worker::ServerRows() {
  std::vector<ConnectionRow> rows;
  int64_t now = NowMs();
  static const char* kStates[] = {"connecting", "tls",        "tls",   "login", "idle",
                                  "active",     "pipelining", "reset", "closed"};
  for (auto& [id, s] : servers_) {
    const Backend& b = s->backend()->backend;
    rows.push_back(
        {{s->pool()->key().database, s->pool()->key().role, kStates[static_cast<int>(s->state())],
          b.host + ":" + std::to_string(b.port), std::to_string(s->backend_pid()),
          std::to_string((now - s->created_ms()) / 1000), std::to_string(index_),
          std::to_string(s->prepared().size())}});
  }
  return rows;
}

}  // namespace tusk::router
