// ClientConn: startup, authentication, request forwarding, transaction-mode
// statement and parameter tracking.
#include "router/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <iterator>
#include <thread>

#include "common/random.h"
#include "common/strings.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "protocol/startup.h"
#include "router/admin.h"
#include "router/backend_socket.h"
#include "router/pipeline_sql.h"
#include "router/server.h"
#include "router/worker.h"

namespace tusk::router {
namespace {

/// Stop reading from the client while this much waits for PostgreSQL.
constexpr size_t kBackPressureBytes = 1 << 20;

/// Startup parameters that are not session settings.
bool IsConnectionParam(const std::string& name) {
  return name == "user" || name == "database" || name == "replication" || name == "options";
}

std::string PeerName(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

/// Server-side name for a statement: identical text and types share one.
std::string ServerStatementName(std::string_view query, const std::vector<int32_t>& types) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  auto mix = [&](std::string_view bytes) {
    for (unsigned char ch : bytes) {
      h ^= ch;
      h *= 1099511628211ULL;
    }
  };
  mix(query);
  for (int32_t t : types) mix(std::string_view(reinterpret_cast<const char*>(&t), sizeof t));
  char buf[40];
  std::snprintf(buf, sizeof buf, "tusk_%016llx_%zx", static_cast<unsigned long long>(h),
                query.size());
  return buf;
}

/// Skips whitespace and SQL comments.
std::string_view SkipSpace(std::string_view s) {
  for (;;) {
    size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    s.remove_prefix(i);
    if (s.substr(0, 2) == "--") {
      size_t nl = s.find('\n');
      s.remove_prefix(nl == std::string_view::npos ? s.size() : nl);
    } else if (s.substr(0, 2) == "/*") {
      size_t end = s.find("*/");
      s.remove_prefix(end == std::string_view::npos ? s.size() : end + 2);
    } else {
      return s;
    }
  }
}

/// Takes the next word (identifier characters) and lower-cases it.
std::string NextWord(std::string_view& s) {
  s = SkipSpace(s);
  size_t i = 0;
  while (i < s.size() &&
         (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == '.')) {
    ++i;
  }
  std::string w(s.substr(0, i));
  for (char& ch : w) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  s.remove_prefix(i);
  return w;
}

/// The leading keywords the router acts on in a simple Query.
enum class Keyword {
  kOther,
  kDeallocate,
  kDiscard,
  kSet,
  kReset,
  kSavepoint,
  kRelease,
  kRollback,
  kTransactionEnd,  ///< COMMIT, END or ABORT
};

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.';
}

/// True when `s` starts with the lower-case keyword `kw` as a whole word.
bool KeywordAt(std::string_view s, std::string_view kw) {
  if (s.size() < kw.size()) return false;
  for (size_t i = 0; i < kw.size(); ++i) {
    if (AsciiLower(s[i]) != kw[i]) return false;
  }
  return s.size() == kw.size() || !IsWordChar(s[kw.size()]);
}

/// The first word of `sql` (after whitespace and comments) as a Keyword,
/// case-insensitively. Runs for every Query, so it is a few comparisons and
/// allocates nothing.
Keyword FirstKeyword(std::string_view sql) {
  std::string_view s = SkipSpace(sql);
  if (s.empty()) return Keyword::kOther;
  switch (AsciiLower(s[0])) {
    case 's':
      if (KeywordAt(s, "set")) return Keyword::kSet;
      return KeywordAt(s, "savepoint") ? Keyword::kSavepoint : Keyword::kOther;
    case 'r':
      if (KeywordAt(s, "reset")) return Keyword::kReset;
      if (KeywordAt(s, "release")) return Keyword::kRelease;
      return KeywordAt(s, "rollback") ? Keyword::kRollback : Keyword::kOther;
    case 'd':
      if (KeywordAt(s, "deallocate")) return Keyword::kDeallocate;
      return KeywordAt(s, "discard") ? Keyword::kDiscard : Keyword::kOther;
    case 'c':
      return KeywordAt(s, "commit") ? Keyword::kTransactionEnd : Keyword::kOther;
    case 'e':
      return KeywordAt(s, "end") ? Keyword::kTransactionEnd : Keyword::kOther;
    case 'a':
      return KeywordAt(s, "abort") ? Keyword::kTransactionEnd : Keyword::kOther;
    default:
      return Keyword::kOther;
  }
}

/// The SET/RESET/DISCARD ALL, savepoint or transaction end a query text
/// runs (kind kNone for anything else).
SetCommand SetCommandOf(std::string_view sql) {
  Keyword kw = FirstKeyword(sql);
  if (kw == Keyword::kOther || kw == Keyword::kDeallocate) return {};
  return ParseSetCommand(sql);
}

/// The SQL the server runs instead of a Parse text the router refuses in
/// transaction mode (a SET it cannot carry, a LISTEN), or "" to run it as is.
std::string RefusalOf(const SetCommand& cmd, std::string_view sql) {
  if (cmd.kind == SetKind::kUnsupported) return RefusalSql(cmd.reason);
  return RunsListen(sql) ? ListenRefusalSql() : std::string();
}

/// The statement a client's Parse creates, under its shared server-side name.
/// A SET the router cannot carry, or a LISTEN, becomes one that raises 0A000.
PreparedStatement MakeStatement(const protocol::ParseMessage& m) {
  PreparedStatement st;
  SetCommand cmd = SetCommandOf(m.query);
  std::string refusal = RefusalOf(cmd, m.query);
  if (!refusal.empty()) {
    st.server_name = ServerStatementName(refusal, {});
    protocol::AppendParse(st.parse, st.server_name, refusal, {});
    return st;
  }
  if (cmd.kind != SetKind::kNone) st.set = std::make_shared<const SetCommand>(std::move(cmd));
  st.server_name = ServerStatementName(m.query, m.param_types);
  protocol::AppendParse(st.parse, st.server_name, m.query, m.param_types);
  st.pipeline_safe = PipelineSafeSql(m.query);
  st.session_state = !st.pipeline_safe && LeavesSessionState(m.query);
  return st;
}

}  // namespace

ClientConn::ClientConn(Worker* worker, int fd, const sockaddr_storage& peer, bool readonly_port,
                       uint64_t id)
    : worker_(worker), id_(id), readonly_port_(readonly_port), io_(fd) {
  connected_ms_ = last_active_ms_ = NowMs();
  peer_ = PeerName(peer);
}

ClientConn::~ClientConn() = default;

std::string ClientConn::debug_state() const {
  std::string d = "in=" + std::to_string(in_.size()) + " out=" + std::to_string(out_.size()) +
                  " readable=" + std::to_string(readable_);
  if (server_ != nullptr) d += " " + server_->debug_state();
  return d;
}

void ClientConn::Touch() { last_active_ms_ = NowMs(); }

void ClientConn::ReleaseIdleBuffers() {
  if (state_ == ClientState::kClosed || in_pump_) return;
  in_.Shrink();
  out_.Shrink();
}

void ClientConn::FlushAtBatchEnd() {
  if (flush_queued_ || state_ == ClientState::kClosed) return;
  flush_queued_ = true;
  worker_->loop().AtBatchEnd(this);
}

void ClientConn::OnBatchEnd() {
  flush_queued_ = false;
  Flush();
  // A flush that sent everything brings no EPOLLOUT: a server that stopped
  // reading for this client's back-pressure is restarted here, or it would
  // wait for PostgreSQL to send more, which it may never do (the end of a
  // result already in the socket).
  if (state_ != ClientState::kClosed && server_ != nullptr && !Throttled() &&
      server_->PausedFor(this)) {
    server_->Pump();
  }
  if (pump_queued_) {
    pump_queued_ = false;
    if (state_ == ClientState::kReady) Pump();
  }
}

bool ClientConn::Throttled() const { return out_.size() >= kBackPressureBytes; }

void ClientConn::OnEvents(uint32_t events) {
  if (state_ == ClientState::kMoving) {
    // Handed over ready (HandOffReady): the first event on the new worker
    // adopts it; a stale event on the old one finds nothing to adopt.
    if (!worker_->Adopt(this)) return;
    state_ = ClientState::kReady;
  }
  if (state_ == ClientState::kClosed) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable_ = true;
  if ((events & EPOLLOUT) && !out_.empty()) {
    Flush();
    if (state_ == ClientState::kClosed) return;
    if (!Throttled() && server_ != nullptr) server_->Pump();
    if (state_ == ClientState::kClosed) return;
  }
  Pump();
}

void ClientConn::Resume() {
  if (state_ == ClientState::kClosed || state_ == ClientState::kMoving || in_pump_) return;
  Pump();
}

void ClientConn::Flush() {
  if (out_.empty() || state_ == ClientState::kClosed) return;
  IoStatus st = io_.WriteFrom(out_);
  if (st == IoStatus::kError || st == IoStatus::kClosed) {
    Close();
    return;
  }
  if (closing_ && out_.empty()) {
    Close();
    return;
  }
  SyncWriteInterest();
}

void ClientConn::SyncWriteInterest() {
  bool want = !out_.empty() || io_.tls();
  if (want != write_interest_ && state_ != ClientState::kMoving &&
      worker_->loop().SetWriteInterest(io_.fd(), this, want)) {
    write_interest_ = want;
  }
}

void ClientConn::Pump() {
  if (in_pump_) return;
  in_pump_ = true;
  for (;;) {
    if (state_ == ClientState::kClosed || state_ == ClientState::kMoving || closing_) break;
    if (state_ == ClientState::kTlsHandshake) {
      TlsHandshake h = io_.ContinueHandshake();
      if (h == TlsHandshake::kInProgress) break;
      if (h == TlsHandshake::kFailed) {
        Close();
        break;
      }
      state_ = ClientState::kStartup;
      readable_ = true;  // TLS may hold decrypted bytes already
    }
    bool progressed = false;
    switch (state_) {
      case ClientState::kStartup:
        progressed = HandleStartup();
        break;
      case ClientState::kAuth:
        progressed = HandleAuth();
        break;
      case ClientState::kAdmin:
        progressed = HandleAdmin();
        break;
      case ClientState::kReady:
      case ClientState::kActive:
        progressed = HandleRequests();
        break;
      default:
        break;  // kLogin, kWaiting: the request stays buffered
    }
    if (state_ == ClientState::kClosed) break;
    if (!out_.empty()) Flush();
    if (state_ == ClientState::kClosed || closing_) break;
    if (state_ == ClientState::kWaiting || state_ == ClientState::kLogin ||
        state_ == ClientState::kQueued) {
      break;
    }
    if (server_ != nullptr && server_->Throttled()) break;
    if (progressed) continue;
    if (!readable_) break;
    size_t before = in_.size();
    bool drained = false;
    IoStatus st = io_.ReadInto(in_, 256 * 1024, &drained);
    if (drained) readable_ = false;
    if (st == IoStatus::kWouldBlock) {
      if (in_.size() == before) break;
    } else if (st == IoStatus::kClosed || st == IoStatus::kError) {
      readable_ = false;
      Terminate();
      break;
    }
    Touch();
    if (pool_) pool_->stats().bytes_received.Add(in_.size() - before);
  }
  in_pump_ = false;
}

void ClientConn::ProtocolViolation(const std::string& message) { Fatal("08P01", message); }

void ClientConn::Fatal(const std::string& sqlstate, const std::string& message) {
  if (state_ == ClientState::kClosed || closing_) return;
  protocol::ErrorFields e;
  e.severity = "FATAL";
  e.sqlstate = sqlstate;
  e.message = message;
  protocol::AppendErrorResponse(out_.back(), e);
  closing_ = true;
  DetachFromPool();
  state_ = ClientState::kClosing;
  Flush();
  if (state_ != ClientState::kClosed && out_.empty()) Close();
  // Otherwise the rest goes out on the next writable event, then Close().
}

void ClientConn::DetachFromPool() {
  switch (state_) {
    case ClientState::kWaiting:
    case ClientState::kLogin:
      worker_->ForgetWaiter(this);
      break;
    case ClientState::kReady:
      pool_->stats().clients_idle.Add(-1);
      break;
    default:
      break;
  }
  if (state_ == ClientState::kQueued && server_ != nullptr) {
    // The request is autocommit: it finishes on the server, unanswered.
    server_->Disown(this);
    server_->backend()->outstanding--;
    server_ = nullptr;
    pool_->stats().clients_active.Add(-1);
    return;
  }
  if (server_ != nullptr) {
    ServerConn* s = server_;
    server_ = nullptr;
    s->set_client(nullptr);
    pool_->stats().clients_active.Add(-1);
    pool_->stats().servers_active.Add(-1);
    pool_->stats().transaction_us.Record(static_cast<uint64_t>(NowUs() - link_us_));
    pool_->stats().transactions.Add();
    s->backend()->outstanding--;
    bool clean = s->Quiet() && !closing_;
    bool transaction_mode = settings_->spec.mode == PoolMode::kTransaction;
    s->set_state(ServerState::kIdle);
    if (clean && transaction_mode && !s->needs_reset()) {
      worker_->ServerFree(s);
    } else if (clean) {
      s->StartReset();  // session mode, or session state left: DISCARD ALL before reuse
    } else if (transaction_mode && !closing_ && s->IdleInTransaction()) {
      s->StartRollback();  // left inside a transaction (e.g. no COMMIT before close)
    } else {
      s->Close("");  // mid-query: discard, never reuse
    }
  }
}

void ClientConn::Close() {
  if (state_ == ClientState::kClosed) return;
  DetachFromPool();
  if (cancel_pid_ != 0) worker_->shared().UnregisterCancel(cancel_pid_);
  if (admitted_) worker_->shared().ClientGone();
  state_ = ClientState::kClosed;
  io_.Close();  // close() also takes the socket out of the epoll set
  worker_->ClientClosed(this);
}

void ClientConn::Terminate() {
  // Terminate or EOF: leave quietly; the server is reused only if it is clean.
  Close();
}

void ClientConn::ServerLost(const std::string& why) {
  // The server already closed itself and fixed its own counters.
  if (state_ == ClientState::kQueued && server_ != nullptr) server_->backend()->outstanding--;
  server_ = nullptr;
  pool_->stats().clients_active.Add(-1);
  state_ = ClientState::kClosing;
  Fatal("08006", "server connection lost: " + why);
}

bool ClientConn::HandleStartup() {
  protocol::StartupPacket p = protocol::DecodeStartup(in_.view());
  switch (p.kind) {
    case protocol::StartupKind::kNeedMore:
      return false;
    case protocol::StartupKind::kError:
      Fatal(p.sqlstate, p.message);
      return false;
    case protocol::StartupKind::kSslRequest:
    case protocol::StartupKind::kGssEncRequest: {
      in_.Consume(p.size);
      if (!in_.empty()) {
        ProtocolViolation("unexpected data after SSL/GSS encryption request");
        return false;
      }
      bool tls = p.kind == protocol::StartupKind::kSslRequest &&
                 worker_->shared().client_tls != nullptr && !io_.tls();
      out_.Append(tls ? "S" : "N");
      Flush();
      if (state_ == ClientState::kClosed) return false;
      if (tls) {
        if (!io_.StartTlsServer(worker_->shared().client_tls)) {
          Close();
          return false;
        }
        state_ = ClientState::kTlsHandshake;
        SyncWriteInterest();
      }
      return true;
    }
    case protocol::StartupKind::kCancel: {
      in_.Consume(p.size);
      CancelTarget t;
      if (worker_->shared().LookupCancel(p.cancel_pid, p.cancel_key, &t) &&
          t.worker < static_cast<int>(worker_->shared().workers.size())) {
        Worker* w = worker_->shared().workers[t.worker];
        uint64_t cid = t.client_id;
        w->loop().Post([w, cid] {
          if (ClientConn* c = w->FindClient(cid)) c->CancelQuery();
        });
      }
      Close();
      return false;
    }
    case protocol::StartupKind::kStartup:
      break;
  }
  in_.Consume(p.size);
  settings_ = worker_->shared().settings();
  const RouterSpec& spec = settings_->spec;
  if (spec.tls_mode == TlsMode::kRequire && !io_.tls()) {
    Fatal("28000", "tusk router requires SSL: connect with sslmode=require");
    return false;
  }
  if (p.minor_version > 0 || !p.protocol_options.empty()) {
    protocol::AppendNegotiateProtocolVersion(out_.back(), 0, p.protocol_options);
  }
  user_ = std::string(p.Param("user"));
  database_ = std::string(p.Param("database"));
  if (!worker_->shared().AdmitClient(spec.max_client_connections)) {
    Fatal("53300", "sorry, too many clients already");
    return false;
  }
  admitted_ = true;
  if (!p.Param("replication").empty() && p.Param("replication") != "false" &&
      p.Param("replication") != "0") {
    Fatal("08P01", "replication connections are not supported through the tusk router");
    return false;
  }
  for (const auto& [name, value] : p.params) {
    if (!IsConnectionParam(name)) startup_params_[LowerAscii(name)] = value;
  }
  // `options` (PGOPTIONS): its -c settings are tracked like SET, since the
  // pool's server connections were started without them.
  protocol::StartupOptions opts = protocol::ParseStartupOptions(p.Param("options"));
  if (!opts.error.empty()) {
    Fatal("42601", opts.error);
    return false;
  }
  for (auto& [name, value] : opts.settings) startup_params_[LowerAscii(name)] = std::move(value);
  BeginAuth();
  return true;
}

void ClientConn::BeginAuth() {
  state_ = ClientState::kAuth;
  auth_step_ = 0;
  auto it = settings_->roles.find(user_);
  switch (settings_->spec.client_auth) {
    case ClientAuth::kScramSha256: {
      if (it != settings_->roles.end()) {
        StartScram(&it->second.verifier);
      } else if (!settings_->spec.auth_user.empty() && database_ != "tusk") {
        // Not a role tusk manages: ask PostgreSQL for its verifier first.
        state_ = ClientState::kAuthLookup;
        Worker* w = worker_;
        uint64_t id = id_;
        worker_->shared().auth_lookup->Lookup(settings_, user_, [w, id](LookupResult r) {
          w->loop().Post([w, id, r = std::move(r)]() mutable {
            if (ClientConn* c = w->FindClient(id)) c->LookupDone(std::move(r));
          });
        });
      } else {
        StartScram(nullptr);
      }
      break;
    }
    case ClientAuth::kMd5:
      RandomBytes(md5_salt_, 4);
      protocol::AppendAuthenticationMd5(out_.back(), md5_salt_);
      break;
    case ClientAuth::kPlain:
      protocol::AppendAuthenticationCleartext(out_.back());
      break;
  }
}

void ClientConn::StartScram(const ScramVerifier* verifier) {
  ScramVerifier v;
  if (verifier != nullptr) {
    v = *verifier;
  } else {
    // Unknown role: run the exchange against a made-up verifier so the
    // client learns nothing (PostgreSQL's mock authentication). The salt is
    // stable per role name; the keys are random, so no proof can match.
    v.iterations = kScramIterations;
    v.salt = worker_->shared().MockScramSalt(user_);
    v.stored_key.resize(32);
    v.server_key.resize(32);
    RandomBytes(v.stored_key.data(), 32);
    RandomBytes(v.server_key.data(), 32);
  }
  scram_ = std::make_unique<protocol::ScramServer>(std::move(v));
  protocol::AppendAuthenticationSasl(out_.back(), {"SCRAM-SHA-256"});
}

void ClientConn::LookupDone(LookupResult result) {
  if (state_ != ClientState::kAuthLookup) return;
  if (!result.status.ok()) {
    RouterLog("role \"" + user_ + "\" from " + peer_ + ": " + result.status.message());
    Fatal("08006", "could not check the password of role \"" + user_ +
                       "\": the router's auth query failed (see the router log)");
    return;
  }
  std::optional<ScramVerifier> v;
  if (result.verifier) v = ParseScramVerifier(*result.verifier);
  // No row, NULL, or an md5 hash (only SCRAM keys can log a server in):
  // the mock exchange fails with 28P01 like a wrong password.
  if (v) lookup_ = std::make_unique<Lookup>(Lookup{v->server_key, std::nullopt});
  state_ = ClientState::kAuth;
  StartScram(v ? &*v : nullptr);
  Flush();
  if (state_ != ClientState::kClosed && !in_pump_) Pump();
}

bool ClientConn::HandleAuth() {
  protocol::Frame f = protocol::ScanFrame(in_.view(), protocol::kMaxStartupPacketBytes);
  if (f.status == protocol::FrameStatus::kNeedMore) return false;
  if (f.status == protocol::FrameStatus::kBadLength || f.type != 'p') {
    ProtocolViolation("expected password response, got message type \"" + std::string(1, f.type) +
                      "\"");
    return false;
  }
  std::string body(f.body);
  in_.Consume(f.size());
  const std::string failed = "password authentication failed for user \"" + user_ + "\"";
  auto known = settings_->roles.find(user_);
  if (settings_->spec.client_auth == ClientAuth::kScramSha256) {
    if (auth_step_ == 0) {
      auto init = protocol::ParseSaslInitialResponse(body);
      if (!init) {
        ProtocolViolation("malformed SASLInitialResponse message");
        return false;
      }
      if (init->mechanism != "SCRAM-SHA-256") {
        ProtocolViolation("client selected an invalid SASL authentication mechanism");
        return false;
      }
      auto server_first = scram_->HandleClientFirst(init->data);
      if (!server_first.ok()) {
        ProtocolViolation(server_first.status().message());
        return false;
      }
      protocol::AppendAuthenticationSaslContinue(out_.back(), *server_first);
      auth_step_ = 1;
      return true;
    }
    auto server_final = scram_->HandleClientFinal(body);
    bool looked_up = known == settings_->roles.end() && lookup_ != nullptr;
    if (!server_final.ok() || (known == settings_->roles.end() && !looked_up)) {
      if (server_final.ok() || scram_->wrong_password()) {
        Fatal("28P01", failed);
      } else {
        ProtocolViolation(server_final.status().message());
      }
      return false;
    }
    protocol::AppendAuthenticationSaslFinal(out_.back(), *server_final);
    if (looked_up) lookup_->keys = ScramKeys{scram_->client_key(), lookup_->server_key};
    scram_.reset();
  } else {
    auto pw = protocol::ParsePasswordMessage(body);
    if (!pw) {
      ProtocolViolation("malformed password message");
      return false;
    }
    bool ok = false;
    if (known != settings_->roles.end()) {
      std::string expected =
          settings_->spec.client_auth == ClientAuth::kMd5
              ? protocol::Md5PasswordResponse(user_, known->second.password, md5_salt_)
              : known->second.password;
      ok = expected.size() == pw->size() &&
           CRYPTO_memcmp(expected.data(), pw->data(), expected.size()) == 0;
    }
    if (!ok) {
      Fatal("28P01", failed);
      return false;
    }
  }
  AuthSucceeded();
  return true;
}

void ClientConn::AuthSucceeded() {
  protocol::AppendAuthenticationOk(out_.back());
  if (database_ == "tusk") {
    if (!settings_->IsAdmin(user_)) {
      Fatal("42501", "permission denied: role \"" + user_ +
                         "\" is not an admin role of this router (router.admin_roles)");
      return;
    }
    state_ = ClientState::kAdmin;
    SendWelcome({{"server_version", "15.0 (tusk router admin)"},
                 {"server_encoding", "UTF8"},
                 {"client_encoding", "UTF8"},
                 {"DateStyle", "ISO, MDY"},
                 {"integer_datetimes", "on"},
                 {"standard_conforming_strings", "on"}});
    return;
  }
  pool_ = worker_->shared().GetPool({database_, user_, readonly_port_});
  if (lookup_ && lookup_->keys) {
    // The newest login's keys: after a password change the old ones fail.
    pool_->set_scram_keys(std::move(*lookup_->keys));
  }
  lookup_.reset();
  auto& workers = worker_->shared().workers;
  if (pool_->home() != worker_->index() && pool_->home() < static_cast<int>(workers.size())) {
    Worker* home = workers[pool_->home()];
    if (WelcomeFromPool(home->index())) {
      // Welcomed here; the home worker takes the client over on its first
      // message, so a new connection costs no cross-thread wake-up.
      if (state_ == ClientState::kClosed) return;
      state_ = ClientState::kMoving;
      worker_->HandOffReady(this, home);
      return;
    }
    Flush();
    if (state_ == ClientState::kClosed) return;
    state_ = ClientState::kMoving;
    worker_->HandOff(this, workers[pool_->home()]);
    return;
  }
  JoinPool();
}

void ClientConn::ArrivedReady() {
  if (abandoned_) {
    Close();
    return;
  }
  if (state_ != ClientState::kMoving) return;  // adopted by an event already
  state_ = ClientState::kReady;
  readable_ = true;  // bytes may have arrived while moving
  Pump();
}

void ClientConn::Arrived() {
  JoinPool();
  if (state_ == ClientState::kClosed) return;
  Flush();
  readable_ = true;  // bytes may have arrived while moving
  if (state_ != ClientState::kClosed) Pump();
}

bool ClientConn::WelcomeFromPool(int home) {
  if (!pool_->has_welcome() || settings_->spec.mode != PoolMode::kTransaction) return false;
  auto keys = worker_->shared().RegisterCancel({home, id_});
  cancel_pid_ = keys.first;
  cancel_key_ = keys.second;
  SendWelcome(pool_->welcome());
  state_ = ClientState::kReady;
  pool_->stats().clients_idle.Add(1);
  // Logged in: the login's buffers go now, so thousands of idle clients
  // hold none (a busy client keeps them between transactions).
  Flush();
  if (state_ == ClientState::kClosed) return true;
  in_.Shrink();
  out_.Shrink();
  return true;
}

void ClientConn::JoinPool() {
  if (WelcomeFromPool(worker_->index())) return;
  auto keys = worker_->shared().RegisterCancel({worker_->index(), id_});
  cancel_pid_ = keys.first;
  cancel_key_ = keys.second;
  // Learn the server's parameters first (and, in session mode, keep the server).
  state_ = ClientState::kLogin;
  wait_start_us_ = NowUs();
  worker_->RequestServer(this);
}

void ClientConn::SendWelcome(
    const std::vector<std::pair<std::string, std::string>>& server_params) {
  std::string& out = out_.back();
  for (const auto& [name, value] : server_params) {
    const std::string* mine = Setting(LowerAscii(name));
    protocol::AppendParameterStatus(out, name, mine != nullptr ? *mine : value);
  }
  if (cancel_pid_ != 0) protocol::AppendBackendKeyData(out, cancel_pid_, cancel_key_);
  protocol::AppendReadyForQuery(out, protocol::TxStatus::kIdle);
}

const std::string* ClientConn::Setting(const std::string& name) const {
  if (set_params_ != nullptr) {
    auto it = set_params_->find(name);
    if (it != set_params_->end()) return &it->second;
  }
  auto it = startup_params_.find(name);
  return it != startup_params_.end() ? &it->second : nullptr;
}

bool ClientConn::ApplySettings(ServerConn* s) {
  bool sent = false;
  auto apply = [&](const std::string& name, const std::string& value) {
    const std::string* current = s->CurrentSetting(name);
    if (current != nullptr && *current == value) return;
    s->SendPrelude(SetConfigSql(name, value));
    s->settings()[name] = value;
    sent = true;
  };
  if (set_params_ != nullptr) {
    for (const auto& [name, value] : *set_params_) apply(name, value);
  }
  for (const auto& [name, value] : startup_params_) {
    if (set_params_ == nullptr || set_params_->count(name) == 0) apply(name, value);
  }
  // What another client left there and this one did not choose: the login's value.
  auto& held = s->settings();
  for (auto it = held.begin(); it != held.end();) {
    if (Setting(it->first) == nullptr) {
      s->SendPrelude(ResetSql(it->first));
      it = held.erase(it);
      sent = true;
    } else {
      ++it;
    }
  }
  return sent;
}

void ClientConn::Reported(const std::string& name, std::string_view value) {
  if (set_params_ == nullptr) set_params_ = std::make_unique<std::map<std::string, std::string>>();
  (*set_params_)[name] = std::string(value);
}

namespace {

/// Statements whose effect on the pending SETs depends on their outcome,
/// seen in their CommandComplete.
bool IsTransactionControl(SetKind kind) {
  return kind == SetKind::kSavepoint || kind == SetKind::kRelease || kind == SetKind::kRollbackTo ||
         kind == SetKind::kCommit || kind == SetKind::kRollback;
}

/// Whether `tag` is the CommandComplete tag of a transaction-control
/// statement of `kind` (COMMIT of a failed transaction reports ROLLBACK).
bool CompletesWith(SetKind kind, std::string_view tag) {
  switch (kind) {
    case SetKind::kSavepoint:
      return tag == "SAVEPOINT";
    case SetKind::kRelease:
      return tag == "RELEASE";
    case SetKind::kCommit:
      return tag == "COMMIT" || tag == "ROLLBACK";
    case SetKind::kRollbackTo:
    case SetKind::kRollback:
      return tag == "ROLLBACK";
    default:
      return false;
  }
}

}  // namespace

void ClientConn::Track(const SetCommand& cmd) {
  // DISCARD ALL drops every prepared statement of the session, other
  // clients' too: they are prepared again where needed.
  if (cmd.kind == SetKind::kDiscardAll) server_->prepared().clear();
  std::unique_ptr<std::vector<SetCommand>>& sent = server_->open_segment().sets;
  if (sent == nullptr) sent = std::make_unique<std::vector<SetCommand>>();
  sent->push_back(cmd);
}

std::vector<SetCommand>& ClientConn::Pending() {
  if (pending_sets_ == nullptr) pending_sets_ = std::make_unique<std::vector<SetCommand>>();
  return *pending_sets_;
}

void ClientConn::StatementCompleted(Segment& seg, std::string_view tag) {
  std::vector<SetCommand>& sent = *seg.sets;
  auto control = std::find_if(sent.begin(), sent.end(),
                              [](const SetCommand& c) { return IsTransactionControl(c.kind); });
  if (control == sent.end() || !CompletesWith(control->kind, tag)) return;
  // The SETs sent before it ran before it.
  for (auto it = sent.begin(); it != control; ++it) Pending().push_back(std::move(*it));
  SetCommand done = std::move(*control);
  sent.erase(sent.begin(), control + 1);
  if (sent.empty()) seg.sets.reset();
  TransactionControl(done, tag == "COMMIT");
}

void ClientConn::RequestEnded(protocol::TxStatus tx, Segment& seg) {
  if (seg.sets != nullptr) {
    // Without an error every statement ran: the SETs left (after the last
    // transaction-control statement) join the transaction's. After an error
    // the rest of the request did not run, and what ran before it is undone
    // by the ROLLBACK [TO] that the failed transaction needs.
    if (!seg.errored) {
      for (SetCommand& cmd : *seg.sets) {
        if (!IsTransactionControl(cmd.kind)) Pending().push_back(std::move(cmd));
      }
    }
    seg.sets.reset();
  }
  if (pending_sets_ == nullptr || tx != protocol::TxStatus::kIdle) return;
  // Outside a transaction block: an autocommit request (or an implicit
  // transaction) ended, committed unless it failed.
  std::unique_ptr<std::vector<SetCommand>> pending = std::move(pending_sets_);
  if (seg.errored) return;
  for (const SetCommand& cmd : *pending) Commit(cmd);
}

void ClientConn::TransactionControl(const SetCommand& cmd, bool committed) {
  switch (cmd.kind) {
    case SetKind::kSavepoint:
      Pending().push_back(cmd);
      return;
    case SetKind::kCommit:
      // The transaction ended (AND CHAIN opens the next one): its SETs took
      // effect, unless it had failed and the COMMIT rolled it back.
      if (pending_sets_ != nullptr && committed) {
        for (const SetCommand& c : *pending_sets_) Commit(c);
      }
      pending_sets_.reset();
      return;
    case SetKind::kRollback:
      pending_sets_.reset();
      return;
    default:
      break;
  }
  if (pending_sets_ == nullptr) return;
  std::vector<SetCommand>& pending = *pending_sets_;
  // The newest savepoint of that name (PostgreSQL's rule for duplicates).
  // Every SAVEPOINT that completed is here; were one missing, the whole
  // transaction's entries are taken.
  auto mark = std::find_if(pending.rbegin(), pending.rend(), [&](const SetCommand& c) {
    return c.kind == SetKind::kSavepoint && c.savepoint == cmd.savepoint;
  });
  auto from = mark == pending.rend() ? pending.begin() : std::prev(mark.base());
  if (cmd.kind == SetKind::kRollbackTo) {
    // Undoes what came after the savepoint, which itself stays.
    if (mark != pending.rend()) ++from;
    pending.erase(from, pending.end());
    if (pending.empty()) pending_sets_.reset();
  } else {
    // RELEASE keeps the SETs (they now belong to the enclosing level) and
    // destroys the savepoint and every savepoint made after it.
    pending.erase(std::remove_if(from, pending.end(),
                                 [](const SetCommand& c) { return c.kind == SetKind::kSavepoint; }),
                  pending.end());
  }
}

void ClientConn::Commit(const SetCommand& cmd) {
  auto* held = server_ != nullptr ? &server_->settings() : nullptr;
  if (set_params_ == nullptr) set_params_ = std::make_unique<std::map<std::string, std::string>>();
  auto& mine = *set_params_;
  switch (cmd.kind) {
    case SetKind::kSet:
      for (const auto& [name, value] : cmd.settings) {
        mine[name] = value;
        if (held != nullptr) (*held)[name] = value;
      }
      break;
    case SetKind::kReset:
      // Back to the client's startup value where it gave one (the next
      // server it uses applies it again), else to the login's.
      for (const auto& [name, value] : cmd.settings) {
        mine.erase(name);
        if (held != nullptr) held->erase(name);
      }
      break;
    case SetKind::kResetAll:
      EraseResetByResetAll(mine);
      if (held != nullptr) EraseResetByResetAll(*held);
      break;
    case SetKind::kDiscardAll:
      mine.clear();
      if (held != nullptr) held->clear();
      statements_.clear();
      break;
    case SetKind::kNone:
    case SetKind::kUnsupported:
    case SetKind::kSavepoint:
    case SetKind::kRelease:
    case SetKind::kRollbackTo:
    case SetKind::kCommit:
    case SetKind::kRollback:
      break;
  }
}

void ClientConn::EndWait() {
  int64_t now = NowUs();
  if (wait_start_us_ != 0) {
    pool_->stats().wait_us.Record(static_cast<uint64_t>(now - wait_start_us_));
    wait_start_us_ = 0;
  }
  link_us_ = now;
}

void ClientConn::Link(ServerConn* s) {
  bool was_login = state_ == ClientState::kLogin;
  if (state_ == ClientState::kReady) pool_->stats().clients_idle.Add(-1);
  pipeline_bytes_ = 0;  // forwarded as it is, on a server of its own
  server_ = s;
  s->set_client(this);
  s->set_state(ServerState::kActive);
  s->backend()->outstanding++;
  pool_->stats().clients_active.Add(1);
  pool_->stats().servers_active.Add(1);
  EndWait();
  bool prelude = ApplySettings(s);
  state_ = ClientState::kActive;
  if (was_login) {
    if (!pool_->has_welcome()) pool_->set_welcome(s->login_params());
    SendWelcome(s->login_params());
    Flush();
    if (state_ == ClientState::kClosed) return;
  }
  if (!prelude && in_.empty() && settings_->spec.mode == PoolMode::kTransaction && s->Quiet()) {
    Unlink();  // only needed the welcome
    return;
  }
  s->Flush();
  if (!in_pump_) Pump();
}

void ClientConn::Unlink() {
  ServerConn* s = server_;
  if (s == nullptr) return;
  server_ = nullptr;
  s->set_client(nullptr);
  s->backend()->outstanding--;
  pool_->stats().clients_active.Add(-1);
  pool_->stats().servers_active.Add(-1);
  pool_->stats().transaction_us.Record(static_cast<uint64_t>(NowUs() - link_us_));
  pool_->stats().transactions.Add();
  state_ = ClientState::kReady;
  pool_->stats().clients_idle.Add(1);
  s->set_state(ServerState::kIdle);
  if (s->needs_reset()) {
    s->StartReset();  // the next client must not see what this one left
  } else {
    worker_->ServerFree(s);
  }
  if (!in_.empty() && !in_pump_) Pump();
}

void ClientConn::CancelQuery() {
  if (server_ == nullptr || server_->backend_pid() == 0) return;
  if (state_ == ClientState::kQueued) {
    if (cancelled_busy_us_ == link_us_) return;  // query_timeout: once per request
    cancelled_busy_us_ = link_us_;
    server_->CancelFor(this);
    return;
  }
  int64_t busy = server_->busy_since_us();
  if (busy != 0 && busy == cancelled_busy_us_) return;  // query_timeout: once per query
  cancelled_busy_us_ = busy;
  SendCancel(server_->backend()->backend, server_->backend_pid(), server_->backend_key());
}

bool ClientConn::HandleRequests() {
  bool progressed = false;
  const uint32_t max = settings_->spec.max_message_bytes;
  for (;;) {
    protocol::Frame f = protocol::ScanFrame(in_.view(), max);
    if (f.status == protocol::FrameStatus::kNeedMore) break;
    if (f.status == protocol::FrameStatus::kBadLength) {
      ProtocolViolation("invalid message length " + std::to_string(f.length) + " (limit " +
                        std::to_string(max) + " bytes)");
      return false;
    }
    if (f.type == 'X') {
      in_.Consume(f.size());
      Terminate();
      return false;
    }
    if (state_ == ClientState::kReady) {
      if ((f.type == 'P' || f.type == 'C') && settings_->spec.mode == PoolMode::kTransaction) {
        int local = AnswerLocally();
        if (local < 0) return progressed;  // the batch is not complete yet
        if (local > 0) {
          progressed = true;
          continue;
        }
      }
      if (f.type == 'S' || f.type == 'H') {
        // Nothing outstanding anywhere: answer Sync ourselves, ignore Flush.
        if (f.type == 'S') protocol::AppendReadyForQuery(out_.back(), protocol::TxStatus::kIdle);
        in_.Consume(f.size());
        progressed = true;
        continue;
      }
      pipeline_bytes_ = 0;
      if (settings_->spec.pipeline_depth > 0 && settings_->spec.mode == PoolMode::kTransaction) {
        int64_t n = PipelineRequestBytes();
        if (n < 0) return progressed;  // read the rest of the request first
        pipeline_bytes_ = static_cast<size_t>(n);
      }
      wait_start_us_ = NowUs();
      state_ = ClientState::kWaiting;
      pool_->stats().clients_idle.Add(-1);
      worker_->RequestServer(this);
      if (state_ == ClientState::kQueued) return true;
      if (state_ != ClientState::kActive) {
        return progressed;  // waiting; Link() or StartPipelined() resumes us
      }
    }
    std::string_view frame = in_.view().substr(0, f.size());
    if (!ForwardMessage(f.type, frame, f.body)) return false;
    in_.Consume(f.size());
    progressed = true;
    if (server_ == nullptr) break;
    if (server_->Throttled()) break;
  }
  if (server_ != nullptr) server_->Flush();
  return progressed;
}

int64_t ClientConn::PipelineRequestBytes() const {
  // Anything that could leave state behind on the server for the next
  // client (a transaction, a named portal, a statement of another client's
  // unnamed Parse) is not queueable.
  constexpr size_t kMaxRequestBytes = 64 << 10;
  std::string_view rest = in_.view();
  const uint32_t max = settings_->spec.max_message_bytes;
  size_t total = 0;
  bool unnamed_parsed = false;
  // A statement this request may use: its own unnamed Parse, or one of the
  // client's named statements whose query is queueable.
  auto statement_ok = [&](std::string_view name) {
    if (name.empty()) return unnamed_parsed;
    auto it = statements_.find(std::string(name));
    return it != statements_.end() && it->second.pipeline_safe;
  };
  for (;;) {
    protocol::Frame f = protocol::ScanFrame(rest, max);
    if (f.status == protocol::FrameStatus::kBadLength) return 0;  // reported when forwarded
    if (f.status == protocol::FrameStatus::kNeedMore) {
      return readable_ && total + rest.size() < kMaxRequestBytes ? -1 : 0;
    }
    total += f.size();
    rest.remove_prefix(f.size());
    if (total > kMaxRequestBytes) return 0;
    switch (f.type) {
      case 'Q': {
        if (total != f.size()) return 0;  // only as the whole request
        auto q = protocol::ParseQuery(f.body);
        return q && PipelineSafeSql(*q) ? static_cast<int64_t>(total) : 0;
      }
      case 'P': {
        auto m = protocol::ParseParse(f.body);
        if (!m || !PipelineSafeSql(m->query)) return 0;
        if (m->name.empty()) unnamed_parsed = true;
        break;
      }
      case 'B': {
        auto m = protocol::ParseBind(f.body);
        if (!m || !m->portal.empty() || !statement_ok(m->statement)) return 0;
        break;
      }
      case 'D': {
        auto m = protocol::ParseTarget(f.body);
        if (!m || (m->kind == 'P' ? !m->name.empty() : !statement_ok(m->name))) return 0;
        break;
      }
      case 'E': {
        auto m = protocol::ParseExecute(f.body);
        if (!m || !m->portal.empty()) return 0;
        break;
      }
      case 'S':
        return total == f.size() ? 0 : static_cast<int64_t>(total);
      default:
        return 0;
    }
  }
}

void ClientConn::StartPipelined(ServerConn* s) {
  server_ = s;
  state_ = ClientState::kQueued;
  s->backend()->outstanding++;
  pool_->stats().clients_active.Add(1);
  EndWait();
  if (s->queued() > 0) pool_->stats().pipelined.Add();
  ApplySettings(s);
  s->OwnOpenSegment(this);
  size_t left = pipeline_bytes_;
  pipeline_bytes_ = 0;
  const uint32_t max = settings_->spec.max_message_bytes;
  while (left > 0) {
    protocol::Frame f = protocol::ScanFrame(in_.view(), max);  // complete: checked when queued
    std::string_view frame = in_.view().substr(0, f.size());
    if (!ForwardMessage(f.type, frame, f.body)) return;
    in_.Consume(f.size());
    left -= f.size();
  }
  s->FlushAtBatchEnd();  // a failure closes `s`, which fails this client (ServerLost)
}

void ClientConn::PipelineEnded(ServerConn* s) {
  if (state_ != ClientState::kQueued || server_ != s) return;
  server_ = nullptr;
  s->backend()->outstanding--;
  state_ = ClientState::kReady;
  pool_->stats().clients_active.Add(-1);
  pool_->stats().clients_idle.Add(1);
  pool_->stats().transaction_us.Record(static_cast<uint64_t>(NowUs() - link_us_));
  pool_->stats().transactions.Add();
  if (!in_.empty() || readable_) {
    pump_queued_ = true;  // not now: `s` is in the middle of reading responses
    FlushAtBatchEnd();
  }
}

int ClientConn::AnswerLocally() {
  // A batch of named Parse / statement Close messages ending in Sync, sent
  // outside a transaction (PQprepare, pgbench -M prepared, psycopg's
  // prepare): remembered and acknowledged without a server; the statements
  // are prepared on whichever server runs their first Bind. Taking a server
  // here could deadlock clients that prepare while others of the same
  // program hold every server inside transactions. A syntax error therefore
  // surfaces at the first execution instead of at Parse.
  std::string_view rest = in_.view();
  const uint32_t max = settings_->spec.max_message_bytes;
  size_t total = 0;
  for (;;) {
    protocol::Frame f = protocol::ScanFrame(rest, max);
    if (f.status == protocol::FrameStatus::kNeedMore) return -1;
    if (f.status == protocol::FrameStatus::kBadLength) return 0;  // reported by the caller
    total += f.size();
    rest.remove_prefix(f.size());
    if (f.type == 'S') break;
    if (f.type == 'P') {
      auto m = protocol::ParseParse(f.body);
      if (!m || m->name.empty()) return 0;
    } else if (f.type == 'C') {
      auto m = protocol::ParseTarget(f.body);
      if (!m || m->kind != 'S' || m->name.empty()) return 0;
    } else {
      return 0;
    }
  }
  std::string_view batch = in_.view().substr(0, total);
  std::string& out = out_.back();
  for (;;) {
    protocol::Frame f = protocol::ScanFrame(batch, max);
    batch.remove_prefix(f.size());
    if (f.type == 'S') break;
    if (f.type == 'P') {
      auto m = protocol::ParseParse(f.body);
      statements_[std::string(m->name)] = MakeStatement(*m);
      protocol::AppendParseComplete(out);
    } else {
      statements_.erase(std::string(protocol::ParseTarget(f.body)->name));
      protocol::AppendCloseComplete(out);
    }
  }
  protocol::AppendReadyForQuery(out, protocol::TxStatus::kIdle);
  in_.Consume(total);
  return 1;
}

bool ClientConn::ForwardMessage(char type, std::string_view frame, std::string_view body) {
  ServerConn* s = server_;
  Segment& seg = s->open_segment();
  if (seg.start_us == 0) seg.start_us = NowUs();
  bool handled = false;
  if (settings_->spec.mode == PoolMode::kTransaction) {
    handled = RewriteForTransactionMode(type, body);
    if (state_ == ClientState::kClosed) return false;
  }
  if (!handled) s->out().Append(frame);
  if (type == 'S' || type == 'Q' || type == 'F') s->EndSegment();
  return true;
}

void ClientConn::EnsurePrepared(const PreparedStatement& st) {
  ServerConn* s = server_;
  if (s->prepared().count(st.server_name) > 0 &&
      !s->PreparedByAnotherQueued(st.server_name, this)) {
    return;
  }
  Segment& seg = s->open_segment();
  std::string& out = s->out().back();
  protocol::AppendTarget(out, 'C', 'S', st.server_name);
  out.append(st.parse);
  if (!seg.errored) {
    seg.drop_close++;
    seg.drop_parse++;
  }
  s->prepared().insert(st.server_name);
  seg.prepared.push_back(st.server_name);
}

bool ClientConn::RewriteForTransactionMode(char type, std::string_view body) {
  ServerConn* s = server_;
  switch (type) {
    case 'P': {
      auto m = protocol::ParseParse(body);
      if (!m) {
        ProtocolViolation("malformed Parse message");
        return true;
      }
      if (m->name.empty()) {
        SetCommand cmd = SetCommandOf(m->query);
        unnamed_set_.reset();
        std::string refusal = RefusalOf(cmd, m->query);
        if (!refusal.empty()) {
          protocol::AppendParse(s->out().back(), "", refusal, {});
          return true;
        }
        if (cmd.kind != SetKind::kNone) unnamed_set_ = std::make_unique<SetCommand>(std::move(cmd));
        if (LeavesSessionState(m->query)) s->set_needs_reset();
        return false;
      }
      PreparedStatement st = MakeStatement(*m);
      // Re-create under the shared name (Close first: it may exist already);
      // the client sees one ParseComplete, ours for Close is dropped.
      Segment& seg = s->open_segment();
      std::string& out = s->out().back();
      protocol::AppendTarget(out, 'C', 'S', st.server_name);
      out.append(st.parse);
      if (!seg.errored) seg.drop_close++;
      s->prepared().insert(st.server_name);
      seg.prepared.push_back(st.server_name);
      statements_[std::string(m->name)] = std::move(st);
      return true;
    }
    case 'B': {
      auto m = protocol::ParseBind(body);
      if (!m) {
        ProtocolViolation("malformed Bind message");
        return true;
      }
      if (m->statement.empty()) {
        if (unnamed_set_ != nullptr) Track(*unnamed_set_);
        return false;
      }
      auto it = statements_.find(std::string(m->statement));
      if (it == statements_.end()) return false;  // PostgreSQL reports it missing
      if (it->second.set != nullptr) Track(*it->second.set);
      if (it->second.session_state) s->set_needs_reset();
      EnsurePrepared(it->second);
      protocol::AppendBind(s->out().back(), m->portal, it->second.server_name, m->rest);
      return true;
    }
    case 'D':
    case 'C': {
      auto m = protocol::ParseTarget(body);
      if (!m) {
        ProtocolViolation(type == 'D' ? "malformed Describe message" : "malformed Close message");
        return true;
      }
      if (m->kind != 'S' || m->name.empty()) return false;
      auto it = statements_.find(std::string(m->name));
      if (type == 'C') {
        // Keep the server's copy cached for other clients; the client gets
        // its CloseComplete from closing a name that does not exist.
        if (it != statements_.end()) statements_.erase(it);
        protocol::AppendTarget(s->out().back(), 'C', 'S', "tusk_closed");
        return true;
      }
      if (it == statements_.end()) return false;
      EnsurePrepared(it->second);
      protocol::AppendTarget(s->out().back(), 'D', 'S', it->second.server_name);
      return true;
    }
    case 'Q': {
      auto q = protocol::ParseQuery(body);
      if (!q) {
        ProtocolViolation("malformed Query message");
        return true;
      }
      Keyword kw = FirstKeyword(*q);
      if (kw == Keyword::kDeallocate) {
        std::string_view r2 = *q;
        NextWord(r2);  // DEALLOCATE
        std::string w = NextWord(r2);
        if (w == "prepare") w = NextWord(r2);
        if (w == "all") {
          statements_.clear();
        } else {
          statements_.erase(w);
        }
        // Statements are shared on the server: drop them all there; they are
        // re-prepared on demand.
        s->prepared().clear();
        protocol::AppendQuery(s->out().back(), "DEALLOCATE ALL");
        return true;
      }
      if (LeavesSessionState(*q)) s->set_needs_reset();
      if (RunsListen(*q)) {
        // Notifications reach a client only while it holds a server, and the
        // channel would stay on the server for the next client: the server
        // raises 0A000, so that an open transaction fails as it would.
        protocol::AppendQuery(s->out().back(), ListenRefusalSql());
        return true;
      }
      std::vector<SetCommand> cmds = ParseSetCommands(*q);
      if (cmds.size() == 1 && cmds[0].kind == SetKind::kUnsupported) {
        // The server raises the error, so that a transaction block fails as
        // it would have, and the setting changes nowhere.
        protocol::AppendQuery(s->out().back(), RefusalSql(cmds[0].reason));
        return true;
      }
      for (const SetCommand& cmd : cmds) Track(cmd);
      return false;
    }
    default:
      return false;
  }
}

bool ClientConn::HandleAdmin() {
  bool progressed = false;
  for (;;) {
    if (pause_waiting_) return false;
    protocol::Frame f = protocol::ScanFrame(in_.view(), 1 << 20);
    if (f.status == protocol::FrameStatus::kNeedMore) return progressed;
    if (f.status == protocol::FrameStatus::kBadLength) {
      ProtocolViolation("invalid message length");
      return false;
    }
    std::string body(f.body);
    char type = f.type;
    in_.Consume(f.size());
    progressed = true;
    if (type == 'X') {
      Close();
      return false;
    }
    if (type != 'Q') {
      if (type == 'S') {
        protocol::ErrorFields e;
        e.sqlstate = "0A000";
        e.message = "the tusk admin console accepts simple queries only";
        protocol::AppendErrorResponse(out_.back(), e);
        protocol::AppendReadyForQuery(out_.back(), protocol::TxStatus::kIdle);
      }
      continue;
    }
    auto q = protocol::ParseQuery(body);
    if (!q) {
      ProtocolViolation("malformed Query message");
      return false;
    }
    if (RunAdminCommand(*q, *worker_, out_.back(), &pause_db_) == AdminOutcome::kPauseWaiting) {
      pause_waiting_ = true;
      AdminTick();
      return false;  // later commands wait until PAUSE completes
    }
    protocol::AppendReadyForQuery(out_.back(), protocol::TxStatus::kIdle);
  }
}

void ClientConn::AdminTick() {
  if (!pause_waiting_ || !PauseComplete(*worker_, pause_db_)) return;
  pause_waiting_ = false;
  protocol::AppendCommandComplete(out_.back(), "PAUSE");
  protocol::AppendReadyForQuery(out_.back(), protocol::TxStatus::kIdle);
  Flush();
  if (state_ != ClientState::kClosed && !in_pump_) Pump();
}

}  // namespace tusk::router
