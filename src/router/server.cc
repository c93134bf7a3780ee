// ServerConn: connect and log in to PostgreSQL, then relay its responses.
#include "router/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/strings.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "router/backend_socket.h"
#include "router/client.h"
#include "router/set_command.h"
#include "router/shared_state.h"
#include "router/worker.h"

namespace tusk::router {
namespace {

/// Server messages may be as large as PostgreSQL allows (1 GiB rows).
constexpr uint32_t kMaxServerMessage = 1u << 30;
/// Stop reading from PostgreSQL while this much waits for a slow client.
constexpr size_t kBackPressureBytes = 1 << 20;

std::string Describe(const Backend& b) { return b.host + ":" + std::to_string(b.port); }

}  // namespace

ServerConn::ServerConn(Worker* worker, std::shared_ptr<Pool> pool,
                       std::shared_ptr<BackendHealth> backend, uint64_t id)
    : worker_(worker), pool_(std::move(pool)), backend_(std::move(backend)), id_(id) {
  created_ms_ = NowMs();
}

ServerConn::~ServerConn() = default;

bool ServerConn::Start(const std::string& password, std::optional<ScramKeys> keys) {
  password_ = password;
  keys_ = std::move(keys);
  std::string error;
  int fd = ConnectBackend(backend_->backend, /*blocking=*/false, &error);
  if (fd < 0) {
    backend_->down_until_ms = NowMs() + 2000;
    return false;
  }
  io_.Adopt(fd);
  if (!worker_->loop().Add(fd, this, /*write_interest=*/true).ok()) return false;  // connect
  state_ = ServerState::kConnecting;
  return true;
}

void ServerConn::Close(const std::string& reason, const std::string& sqlstate) {
  if (state_ == ServerState::kClosed) return;
  bool never_ready = !ready_;
  ServerState was = state_;
  if (io_.fd() >= 0) {
    if (ready_ && reason.empty()) {
      Buffer bye;
      protocol::AppendTerminate(bye.back());
      io_.WriteFrom(bye);
    }
    io_.Close();  // close() also takes the socket out of the epoll set
  }
  ClientConn* c = client_;
  client_ = nullptr;
  std::vector<ClientConn*> owners;  // kPipelining: every client with a queued request
  if (open_.owner != nullptr) owners.push_back(open_.owner);
  for (Segment& seg : segments_) {
    if (seg.owner != nullptr) owners.push_back(seg.owner);
  }
  if (was == ServerState::kActive) {
    pool_->stats().servers_active.Add(-1);
    backend_->outstanding--;
  } else if (was == ServerState::kPipelining) {
    pool_->stats().servers_active.Add(-1);
  }
  state_ = was;  // let the worker see where it was (idle or pipelining list)
  worker_->ServerClosed(this, never_ready, reason, sqlstate);
  state_ = ServerState::kClosed;
  pool_->Release();
  if (!reason.empty()) pool_->stats().server_errors.Add();
  const std::string why = reason.empty() ? "server connection closed" : reason;
  if (c != nullptr) c->ServerLost(why);
  for (ClientConn* owner : owners) owner->ServerLost(why);
}

bool ServerConn::SendStartup() {
  std::vector<std::pair<std::string, std::string>> params = {{"user", pool_->key().role},
                                                             {"database", pool_->key().database}};
  protocol::AppendStartupMessage(out_.back(), params);
  state_ = ServerState::kLogin;
  Flush();
  return state_ != ServerState::kClosed;
}

void ServerConn::Flush() {
  if (out_.empty() || io_.fd() < 0) return;
  IoStatus st = io_.WriteFrom(out_);
  if (st == IoStatus::kError || st == IoStatus::kClosed) {
    Close("lost connection to server " + Describe(backend_->backend));
    return;
  }
  // PostgreSQL reads each request at once, so a plain socket rarely fills:
  // EPOLLOUT stays off then, else every read of the server would wake this
  // loop (unix sockets signal each one). TLS may need the socket writable to
  // read, so it keeps it.
  bool want = !out_.empty() || io_.tls() || state_ == ServerState::kConnecting ||
              state_ == ServerState::kTlsRequest || state_ == ServerState::kTlsHandshake;
  if (want != write_interest_ && worker_->loop().SetWriteInterest(io_.fd(), this, want)) {
    write_interest_ = want;
  }
}

void ServerConn::FlushAtBatchEnd() {
  if (flush_queued_ || state_ == ServerState::kClosed) return;
  flush_queued_ = true;
  worker_->loop().AtBatchEnd(this);
}

void ServerConn::OnBatchEnd() {
  flush_queued_ = false;
  if (state_ != ServerState::kClosed) Flush();
  if (resume_at_batch_end_ && state_ != ServerState::kClosed) {
    resume_at_batch_end_ = false;
    Pump();
  }
}

bool ServerConn::Throttled() const { return out_.size() >= kBackPressureBytes; }

void ServerConn::EndSegment() {
  segments_.push_back(std::move(open_));
  open_ = Segment{};
}

void ServerConn::OwnOpenSegment(ClientConn* client) {
  if (queued_ == 0) streak_since_us_ = NowUs();  // a streak starts: this request runs now
  open_.owner = client;
  open_.queued = true;
  queued_++;
}

void ServerConn::Disown(ClientConn* client) {
  if (open_.owner == client) open_.owner = nullptr;
  for (Segment& seg : segments_) {
    if (seg.owner == client) seg.owner = nullptr;
  }
  if (paused_for_ == client) {
    // Its responses are dropped from now on, so nothing holds the reads
    // back; PostgreSQL, blocked on a full socket, sends nothing that would
    // wake us, so restart them once this batch ends (Pump may be on the
    // stack now).
    paused_for_ = nullptr;
    resume_at_batch_end_ = true;
    FlushAtBatchEnd();
  }
}

bool ServerConn::PreparedByAnotherQueued(const std::string& name, const ClientConn* client) const {
  if (queued_ == 0) return false;
  for (const Segment& seg : segments_) {
    if (!seg.queued || seg.owner == client) continue;
    if (std::find(seg.prepared.begin(), seg.prepared.end(), name) != seg.prepared.end()) {
      return true;
    }
  }
  return false;
}

void ServerConn::CancelFor(ClientConn* client) {
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (segments_[i].owner != client) continue;
    if (i == 0) {
      SendCancelNow();
    } else {
      segments_[i].cancel = true;
    }
    return;
  }
}

void ServerConn::SendCancelNow() {
  if (backend_pid_ != 0) SendCancel(backend_->backend, backend_pid_, backend_key_);
}

void ServerConn::PopFront() {
  bool was_queued;
  if (!segments_.empty()) {
    was_queued = segments_.front().queued;
    segments_.pop_front();
  } else {
    was_queued = open_.queued;
    open_ = Segment{};
  }
  if (was_queued) queued_--;
  if (state_ != ServerState::kPipelining || segments_.empty()) return;
  if (segments_.front().cancel) {
    segments_.front().cancel = false;
    SendCancelNow();
  }
}

void ServerConn::StartReset() {
  state_ = ServerState::kResetting;
  SendDiscardAll();
  Flush();
}

void ServerConn::SendDiscardAll() {
  needs_reset_ = false;
  prepared_.clear();
  settings_.clear();
  SendPrelude("DISCARD ALL");
}

void ServerConn::StartRollback() {
  state_ = ServerState::kResetting;
  SendPrelude("ROLLBACK");
  if (needs_reset_) {
    SendDiscardAll();  // an advisory lock or a WITH HOLD cursor outlives the ROLLBACK
  } else {
    // The transaction may have SET what the router recorded: back to the
    // values of the login (RESET ALL), with the record to match.
    EraseResetByResetAll(settings_);
    SendPrelude("RESET ALL");
  }
  Flush();
}

const std::string* ServerConn::CurrentSetting(const std::string& name) const {
  auto it = settings_.find(name);
  if (it != settings_.end()) return it->second ? &*it->second : nullptr;
  auto login = login_settings_.find(name);
  return login != login_settings_.end() ? &login->second : nullptr;
}

void ServerConn::SendPrelude(const std::string& sql) {
  protocol::AppendQuery(out_.back(), sql);
  Segment s;
  s.drop_all = true;
  s.start_us = NowUs();
  segments_.push_back(std::move(s));
}

void ServerConn::OnEvents(uint32_t events) {
  if (state_ == ServerState::kClosed) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable_ = true;
  if (state_ == ServerState::kConnecting) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(io_.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      backend_->down_until_ms = NowMs() + 2000;
      Close("connection to server at " + Describe(backend_->backend) +
            " failed: " + std::strerror(err));
      return;
    }
    if (worker_->shared().server_tls != nullptr) {
      protocol::AppendSslRequest(out_.back());
      state_ = ServerState::kTlsRequest;
      Flush();
      return;
    }
    if (!SendStartup()) return;
  }
  if (events & EPOLLOUT) {
    Flush();
    if (state_ == ServerState::kClosed) return;
    if (client_ != nullptr && !Throttled()) client_->Resume();
    if (state_ == ServerState::kClosed) return;
  }
  Pump();
}

void ServerConn::Pump() {
  paused_for_ = nullptr;
  for (;;) {
    if (state_ == ServerState::kClosed) return;
    if (state_ == ServerState::kTlsRequest) {
      if (in_.empty()) {
        if (!readable_) return;
        bool drained = false;
        IoStatus st = io_.ReadInto(in_, 1, &drained);
        if (drained) readable_ = false;
        if (st == IoStatus::kClosed || st == IoStatus::kError) {
          Close("server closed the connection during SSLRequest");
          return;
        }
        continue;
      }
      char answer = in_.view()[0];
      in_.Consume(1);
      if (answer != 'S' || !io_.StartTlsClient(worker_->shared().server_tls)) {
        Close("server " + Describe(backend_->backend) + " does not support SSL");
        return;
      }
      state_ = ServerState::kTlsHandshake;
      continue;
    }
    if (state_ == ServerState::kTlsHandshake) {
      TlsHandshake h = io_.ContinueHandshake();
      if (h == TlsHandshake::kInProgress) return;
      if (h == TlsHandshake::kFailed) {
        Close("TLS handshake with server failed: " + io_.last_tls_error());
        return;
      }
      if (!SendStartup()) return;
      continue;
    }
    size_t before = in_.size();
    switch (state_) {
      case ServerState::kLogin:
        HandleLogin();
        break;
      case ServerState::kActive:
      case ServerState::kPipelining:
      case ServerState::kResetting:
        HandleActive();
        break;
      default:
        HandleIdle();
        break;
    }
    if (state_ == ServerState::kClosed) return;
    // Back-pressure: the client that the next responses go to holds 1 MiB
    // unsent. It restarts this loop once it has drained (ClientConn::OnEvents
    // on EPOLLOUT, or ClientConn::OnBatchEnd when a flush sent it all).
    if (state_ == ServerState::kActive && client_ != nullptr && client_->Throttled()) {
      paused_for_ = client_;
      return;
    }
    if (state_ == ServerState::kPipelining && front().owner != nullptr &&
        front().owner->Throttled()) {
      paused_for_ = front().owner;
      return;
    }
    if (!readable_) {
      if (in_.size() == before || in_.empty()) return;
      continue;
    }
    bool drained = false;
    IoStatus st = io_.ReadInto(in_, 256 * 1024, &drained);
    if (drained) readable_ = false;
    if (st == IoStatus::kWouldBlock) {
      if (in_.size() == before) return;
    } else if (st == IoStatus::kClosed || st == IoStatus::kError) {
      // Deliver what arrived (e.g. a FATAL), then close.
      readable_ = false;
      if (state_ == ServerState::kLogin) HandleLogin();
      if (state_ == ServerState::kActive || state_ == ServerState::kPipelining ||
          state_ == ServerState::kResetting) {
        HandleActive();
      }
      if (state_ != ServerState::kClosed) {
        Close("server " + Describe(backend_->backend) + " closed the connection unexpectedly");
      }
      return;
    }
  }
}

void ServerConn::HandleLogin() {
  for (;;) {
    protocol::Frame f = protocol::ScanFrame(in_.view(), kMaxServerMessage);
    if (f.status == protocol::FrameStatus::kNeedMore) return;
    if (f.status == protocol::FrameStatus::kBadLength) {
      Close("invalid message length from server during login");
      return;
    }
    std::string_view body = f.body;
    char type = f.type;
    std::string reply;
    switch (type) {
      case 'R': {
        auto auth = protocol::ParseAuthentication(body);
        if (!auth) {
          Close("malformed authentication request from server");
          return;
        }
        if (auth->code == 0) break;
        if (keys_ && (auth->code == 3 || auth->code == 5)) {
          // Only SCRAM can log in from keys; the password itself is unknown.
          Close("server requested " + std::string(auth->code == 3 ? "password" : "md5") +
                    " authentication, but role \"" + pool_->key().role +
                    "\" is known to the router only by its SCRAM verifier (auth query)",
                "28000");
          return;
        }
        if (auth->code == 3) {
          protocol::AppendPasswordMessage(out_.back(), password_);
        } else if (auth->code == 5 && auth->payload.size() == 4) {
          protocol::AppendPasswordMessage(
              out_.back(),
              protocol::Md5PasswordResponse(pool_->key().role, password_, auth->payload.data()));
        } else if (auth->code == 10) {
          scram_.emplace(
              keys_
                  ? protocol::ScramClient::FromKeys(keys_->client_key, keys_->server_key)
                  : protocol::ScramClient::FromPassword(password_, pool_->derived_keys(password_)));
          protocol::AppendSaslInitialResponse(out_.back(), "SCRAM-SHA-256", scram_->ClientFirst());
        } else if (auth->code == 11 && scram_) {
          auto final_msg = scram_->HandleServerFirst(auth->payload);
          if (!final_msg.ok()) {
            Close("SCRAM with server failed: " + final_msg.status().message());
            return;
          }
          if (!keys_ && scram_->derived()) pool_->set_derived_keys(password_, *scram_->derived());
          protocol::AppendSaslResponse(out_.back(), *final_msg);
        } else if (auth->code == 12 && scram_) {
          Status st = scram_->HandleServerFinal(auth->payload);
          if (!st.ok()) {
            Close("SCRAM with server failed: " + st.message());
            return;
          }
        } else {
          Close("unsupported authentication method " + std::to_string(auth->code) +
                " requested by server");
          return;
        }
        Flush();
        if (state_ == ServerState::kClosed) return;
        break;
      }
      case 'S': {
        auto ps = protocol::ParseParameterStatus(body);
        if (ps) {
          login_params_.emplace_back(ps->name, ps->value);
          login_settings_[LowerAscii(ps->name)] = std::string(ps->value);
        }
        break;
      }
      case 'K': {
        auto k = protocol::ParseBackendKeyData(body);
        if (k) {
          backend_pid_ = k->pid;
          backend_key_ = k->key;
        }
        break;
      }
      case 'E': {
        auto e = protocol::ParseError(body);
        std::string msg = e ? std::string(e->Field('M')) : "server refused the connection";
        std::string code = e ? std::string(e->Field('C')) : "08006";
        // The first waiter of the pool gets PostgreSQL's message and SQLSTATE.
        Close(msg, code);
        return;
      }
      case 'Z':
        in_.Consume(f.size());
        ready_ = true;
        backend_->down_until_ms = 0;
        worker_->ServerFree(this);
        return;
      default:
        break;  // NoticeResponse, NegotiateProtocolVersion: ignored
    }
    in_.Consume(f.size());
  }
}

void ServerConn::HandleIdle() {
  for (;;) {
    protocol::Frame f = protocol::ScanFrame(in_.view(), kMaxServerMessage);
    if (f.status == protocol::FrameStatus::kNeedMore) return;
    if (f.status == protocol::FrameStatus::kBadLength || f.type == 'E') {
      Close("server sent " + std::string(1, f.type) + " while idle");
      return;
    }
    // NotificationResponse / NoticeResponse / ParameterStatus while idle: dropped
    in_.Consume(f.size());
  }
}

void ServerConn::HandleActive() {
  // kActive: everything goes to `client_`. kPipelining: each segment's
  // responses go to its owner, told when its ReadyForQuery arrives.
  const bool pipelining = state_ == ServerState::kPipelining;
  ClientConn* c = client_;
  bool released = false;
  bool answered = false;  // a ReadyForQuery arrived: one query fewer runs
  for (;;) {
    protocol::Frame f = protocol::ScanFrame(in_.view(), kMaxServerMessage);
    if (f.status == protocol::FrameStatus::kNeedMore) break;
    if (f.status == protocol::FrameStatus::kBadLength) {
      Close("invalid message length from server");
      return;
    }
    std::string_view frame = in_.view().substr(0, f.size());
    Segment& seg = front();
    const bool drop_all = seg.drop_all;  // `seg` dies when ReadyForQuery pops it
    ClientConn* sink = pipelining ? seg.owner : c;
    bool forward = !drop_all;
    switch (f.type) {
      case '1':
        if (seg.drop_parse > 0) {
          seg.drop_parse--;
          forward = false;
        }
        break;
      case '3':
        if (seg.drop_close > 0) {
          seg.drop_close--;
          forward = false;
        }
        break;
      case 'E':
        if (!seg.errored) {
          seg.errored = true;
          seg.drop_parse = 0;
          seg.drop_close = 0;
          for (const std::string& name : seg.prepared) prepared_.erase(name);
        }
        break;
      case 'C':
        if (sink != nullptr && seg.sets != nullptr && !drop_all) {
          auto tag = protocol::ParseCommandComplete(f.body);
          if (tag) sink->StatementCompleted(seg, *tag);
        }
        break;
      case 'S': {
        // A client's request changed a reported setting: the client follows
        // it, and the session's record is unknown until a tracked SET commits.
        auto ps = protocol::ParseParameterStatus(f.body);
        if (ps && !drop_all) {
          std::string name = LowerAscii(ps->name);
          if (!IgnoredReport(name)) {
            settings_[name] = std::nullopt;
            if (sink != nullptr) sink->Reported(name, ps->value);
          }
        }
        break;
      }
      case 'Z': {
        auto tx = protocol::ParseReadyForQuery(f.body);
        if (!tx) {
          Close("malformed ReadyForQuery from server");
          return;
        }
        tx_ = *tx;
        answered_us_ = NowUs();
        ++completed_requests;
        if (pipelining && tx_ != protocol::TxStatus::kIdle) {
          // Only autocommit requests are queued (pipeline_sql.h); one that
          // left a transaction open would put the next client's inside it.
          Close("a queued request left a transaction open on the server");
          return;
        }
        if (!drop_all && seg.start_us != 0) {
          pool_->stats().query_us.Record(static_cast<uint64_t>(NowUs() - seg.start_us));
          pool_->stats().queries.Add();
        }
        if (sink != nullptr) {
          sink->Touch();
          if (!drop_all && (seg.sets != nullptr || sink->has_pending_sets())) {
            sink->RequestEnded(tx_, seg);
          }
        }
        break;
      }
      default:
        break;
    }
    if (forward && sink != nullptr) {
      sink->out().Append(frame);
      pool_->stats().bytes_sent.Add(frame.size());
      if (pipelining) sink->FlushAtBatchEnd();
    }
    in_.Consume(f.size());
    if (f.type != 'Z') continue;
    answered = true;
    bool queued = seg.queued;
    PopFront();
    if (pipelining) {
      if (queued && sink != nullptr) sink->PipelineEnded(this);
      continue;
    }
    if (Quiet()) {
      if (state_ == ServerState::kResetting) {
        worker_->ServerFree(this);
        return;
      }
      if (c != nullptr && worker_->shared().settings()->spec.mode == PoolMode::kTransaction) {
        released = true;
        break;
      }
    }
  }
  if (pipelining) {
    worker_->PipelineProgress(this);  // more queued requests, or back to the pool
    return;
  }
  if (c != nullptr) c->FlushAtBatchEnd();
  if (released && client_ == c && c != nullptr && state_ == ServerState::kActive) {
    c->Unlink();  // the client gives the server back (ServerFree) and may request again
    return;
  }
  if (answered && state_ == ServerState::kActive) worker_->QueryEnded(pool_.get());
}

}  // namespace tusk::router
