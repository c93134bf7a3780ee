// RunRouter: process entry point: spec, listeners, workers, signals, status
// file, Prometheus endpoint, reload.
#include "router/router.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/strings.h"
#include "metrics/http_endpoint.h"
#include "metrics/prometheus_writer.h"
#include "router/shared_state.h"
#include "router/worker.h"

namespace tusk::router {
namespace {

/// Builds a settings generation: the spec plus verifiers for every role.
/// Verifiers of unchanged passwords are reused from `previous`.
Result<std::shared_ptr<Settings>> BuildSettings(const RouterSpec& spec, const Settings* previous) {
  auto settings = std::make_shared<Settings>();
  settings->spec = spec;
  settings->generation = previous ? previous->generation + 1 : 1;
  if (spec.secrets_file.empty()) return settings;
  auto secrets = LoadRouterSecrets(spec.secrets_file);
  if (!secrets.ok()) return secrets.status();
  for (const auto& [role, password] : *secrets) {
    if (previous) {
      auto it = previous->roles.find(role);
      if (it != previous->roles.end() && it->second.password == password) {
        settings->roles[role] = it->second;
        continue;
      }
    }
    std::string salt(kScramSaltBytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), kScramSaltBytes) != 1) {
      return Internal("RAND_bytes failed");
    }
    auto v = ParseScramVerifier(ComputeScramVerifier(password, salt, kScramIterations));
    if (!v) return Internal("cannot derive a SCRAM verifier for role " + role);
    settings->roles[role] = RoleSecret{password, *v};
  }
  return settings;
}

Result<int> BindListener(const std::string& address, int port) {
  std::string host = address == "*" || address.empty() ? "0.0.0.0" : address;
  if (host == "localhost") host = "127.0.0.1";
  sockaddr_storage addr{};
  socklen_t len;
  int family;
  auto* in4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in);
    family = AF_INET;
  } else if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in6);
    family = AF_INET6;
  } else {
    return InvalidArgument("listen address " + address + " is not an IP address");
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Internal(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, 4096) != 0) {
    int err = errno;
    close(fd);
    return Internal("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                    std::strerror(err));
  }
  return fd;
}

/// Fails when the port is taken by another process (SO_REUSEPORT would let
/// two routers share it silently): bind once without SO_REUSEPORT first.
Status CheckPortFree(const std::string& address, int port) {
  std::string host = address == "*" || address.empty() ? "0.0.0.0" : address;
  if (host == "localhost") host = "127.0.0.1";
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) return Status::Ok();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  int err = errno;
  close(fd);
  if (rc != 0) {
    return Internal("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                    std::strerror(err));
  }
  return Status::Ok();
}

SSL_CTX* MakeClientTlsContext(const RouterSpec& spec, std::string* error) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    *error = "SSL_CTX_new failed";
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, spec.tls_cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, spec.tls_key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    *error = "cannot load TLS certificate " + spec.tls_cert_file + " / key " + spec.tls_key_file +
             ": " + buf;
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

std::string StatusJson(SharedState& shared, bool* any_paused) {
  auto settings = shared.settings();
  nlohmann::json pools = nlohmann::json::array();
  metrics::HistogramSnapshot q, x, w;
  bool paused = false;
  for (const auto& p : shared.Pools()) {
    PoolStats& s = p->stats();
    paused = paused || p->paused();
    pools.push_back({{"database", p->key().database},
                     {"role", p->key().role},
                     {"port", p->key().readonly ? "ro" : "rw"},
                     {"clients_active", s.clients_active.value()},
                     {"clients_waiting", s.clients_waiting.value()},
                     {"clients_idle", s.clients_idle.value()},
                     {"servers_active", s.servers_active.value()},
                     {"servers_idle", s.servers_idle.value()},
                     {"transactions", s.transactions.value()},
                     {"queries", s.queries.value()},
                     {"paused", p->paused()}});
    q.Merge(s.query_us.Snapshot());
    x.Merge(s.transaction_us.Snapshot());
    w.Merge(s.wait_us.Snapshot());
  }
  *any_paused = paused;
  auto lat = [](const metrics::HistogramSnapshot& s) {
    return nlohmann::json{{"count", s.count},           {"p50", s.Percentile(50)},
                          {"p95", s.Percentile(95)},    {"p99", s.Percentile(99)},
                          {"p999", s.Percentile(99.9)}, {"max", s.max_us}};
  };
  nlohmann::json j = {
      {"pid", getpid()},
      {"port", settings->spec.port},
      {"readonly_port", settings->spec.readonly_port},
      {"mode", settings->spec.mode == PoolMode::kSession ? "session" : "transaction"},
      {"workers", shared.workers.size()},
      {"paused", paused},
      {"clients", shared.clients()},
      {"servers", shared.servers.load()},
      {"generation", settings->generation},
      {"pools", pools},
      {"latency_us", {{"query", lat(q)}, {"transaction", lat(x)}, {"wait", lat(w)}}}};
  return j.dump();
}

void WriteFileAtomically(const std::string& path, const std::string& text) {
  if (path.empty()) return;
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) return;
    f << text << "\n";
  }
  std::rename(tmp.c_str(), path.c_str());
}

std::string RenderPrometheus(SharedState& shared) {
  metrics::PrometheusWriter w;
  w.Gauge("tusk_router_clients", "Client connections", {}, shared.clients());
  w.Gauge("tusk_router_servers", "Server connections", {}, shared.servers.load());
  for (const auto& p : shared.Pools()) {
    PoolStats& s = p->stats();
    metrics::PrometheusWriter::Labels l = {{"database", p->key().database},
                                           {"user", p->key().role},
                                           {"port", p->key().readonly ? "ro" : "rw"}};
    w.Counter("tusk_router_transactions_total", "Completed transactions", l,
              s.transactions.value());
    w.Counter("tusk_router_queries_total", "Completed queries", l, s.queries.value());
    w.Counter("tusk_router_received_bytes_total", "Bytes received from clients", l,
              s.bytes_received.value());
    w.Counter("tusk_router_sent_bytes_total", "Bytes sent to clients", l, s.bytes_sent.value());
    w.Counter("tusk_router_wait_timeouts_total", "Clients failed by pool_wait_timeout", l,
              s.wait_timeouts.value());
    w.Counter("tusk_router_server_connects_total", "Server connections opened", l,
              s.server_connects.value());
    w.Counter("tusk_router_server_errors_total", "Server connections failed or lost", l,
              s.server_errors.value());
    w.Counter("tusk_router_pipelined_total",
              "Requests queued on a server connection behind another client's", l,
              s.pipelined.value());
    w.Gauge("tusk_router_clients_active", "Clients linked to a server", l,
            s.clients_active.value());
    w.Gauge("tusk_router_clients_waiting", "Clients waiting for a server", l,
            s.clients_waiting.value());
    w.Gauge("tusk_router_clients_idle", "Clients without a server", l, s.clients_idle.value());
    w.Gauge("tusk_router_servers_active", "Server connections in use", l, s.servers_active.value());
    w.Gauge("tusk_router_servers_idle", "Idle server connections", l, s.servers_idle.value());
    w.Gauge("tusk_router_paused", "1 while the pool is paused", l, p->paused() ? 1 : 0);
    w.Histogram("tusk_router_query_seconds", "Query time", l, s.query_us.Snapshot());
    w.Histogram("tusk_router_transaction_seconds", "Transaction time (server held)", l,
                s.transaction_us.Snapshot());
    w.Histogram("tusk_router_wait_seconds", "Time waiting for a server connection", l,
                s.wait_us.Snapshot());
  }
  return w.Finish();
}

}  // namespace

int RunRouter(const std::string& spec_path) {
  auto spec = LoadRouterSpec(spec_path);
  if (!spec.ok()) {
    RouterLog("cannot load spec: " + spec.status().message());
    return 1;
  }
  auto built = BuildSettings(*spec, nullptr);
  if (!built.ok()) {
    RouterLog(built.status().message());
    return 1;
  }
  SharedState shared;
  shared.Publish(*built);

  // Signals: handled synchronously by this thread; workers inherit the mask.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (spec->tls_mode != TlsMode::kDisable) {
    std::string error;
    shared.client_tls = MakeClientTlsContext(*spec, &error);
    if (shared.client_tls == nullptr) {
      RouterLog(error);
      return 1;
    }
  }
  if (spec->server_tls) {
    shared.server_tls = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(shared.server_tls, SSL_VERIFY_NONE, nullptr);  // sslmode=require
  }

  int n = spec->workers > 0 ? spec->workers
                            : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<std::string> addresses = SplitTrimmed(spec->listen, ',');
  std::vector<std::pair<int, bool>> ports = {{spec->port, false}};
  if (spec->readonly_port > 0) ports.push_back({spec->readonly_port, true});
  for (const auto& a : addresses) {
    for (auto [port, ro] : ports) {
      Status st = CheckPortFree(a, port);
      if (!st.ok()) {
        RouterLog(st.message());
        return 1;
      }
    }
  }
  // The pid file goes first: the kernel accepts connections as soon as a
  // port listens, and `tusk up` returns then, so `tusk down` must already be
  // able to find this process. Removed on every way out.
  WriteFileAtomically(spec->pid_file, std::to_string(getpid()));
  struct PidFileRemover {
    std::string path;
    ~PidFileRemover() {
      if (!path.empty()) unlink(path.c_str());
    }
  } pid_file_remover{spec->pid_file};
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<int> listen_fds;
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>(i, &shared);
    std::vector<Listener> listeners;
    for (const auto& a : addresses) {
      for (auto [port, ro] : ports) {
        auto fd = BindListener(a, port);
        if (!fd.ok()) {
          RouterLog(fd.status().message());
          return 1;
        }
        listen_fds.push_back(*fd);
        listeners.push_back({*fd, ro});
      }
    }
    Status st = w->Init(listeners);
    if (!st.ok()) {
      RouterLog(st.message());
      return 1;
    }
    shared.workers.push_back(w.get());
    workers.push_back(std::move(w));
  }

  std::mutex reload_mu;
  shared.reload = [&]() -> std::string {
    std::lock_guard<std::mutex> lock(reload_mu);
    auto next = LoadRouterSpec(spec_path);
    if (!next.ok()) return next.status().message();
    auto current = shared.settings();
    auto s = BuildSettings(*next, current.get());
    if (!s.ok()) return s.status().message();
    const RouterSpec& old = current->spec;
    if (next->port != old.port || next->readonly_port != old.readonly_port ||
        next->listen != old.listen || next->workers != old.workers ||
        next->tls_mode != old.tls_mode) {
      RouterLog("reload: ports, listen, workers and tls.mode take effect after a restart");
    }
    shared.Publish(*s);
    shared.ResizePools(next->pool_size);
    for (Worker* w : shared.workers) w->loop().Post([w] { w->Reconfigure(); });
    RouterLog("reloaded (generation " + std::to_string((*s)->generation) + ", " +
              std::to_string(next->standbys.size()) + " standby(s))");
    return "";
  };

  std::unique_ptr<metrics::HttpEndpoint> http;
  if (spec->metrics_port > 0) {
    auto ep = metrics::HttpEndpoint::Start(spec->metrics_listen, spec->metrics_port,
                                           [&shared] { return RenderPrometheus(shared); });
    if (!ep.ok()) {
      RouterLog("metrics endpoint: " + ep.status().message());
      return 1;
    }
    http = std::move(*ep);
  }

  for (auto& w : workers) w->Start();
  RouterLog(
      "listening on " + spec->listen + " port " + std::to_string(spec->port) +
      (spec->readonly_port ? " (read-only " + std::to_string(spec->readonly_port) + ")" : "") +
      ", " + std::to_string(n) + " worker(s), " +
      (spec->mode == PoolMode::kSession ? "session" : "transaction") + " pooling");

  for (;;) {
    bool paused = false;
    WriteFileAtomically(spec->status_file, StatusJson(shared, &paused));
    timespec timeout{1, 0};
    int sig = sigtimedwait(&mask, nullptr, &timeout);
    if (sig == SIGHUP) {
      std::string error = shared.reload();
      if (!error.empty()) RouterLog("reload failed, keeping the previous settings: " + error);
    } else if (sig == SIGTERM || sig == SIGINT) {
      break;
    }
  }
  RouterLog("stopping");
  if (http) http->Stop();
  shared.auth_lookup.reset();  // its answers Post() to the workers' loops
  for (auto& w : workers) w->loop().Stop();
  for (auto& w : workers) w->Join();
  workers.clear();
  for (int fd : listen_fds) close(fd);
  if (!spec->status_file.empty()) unlink(spec->status_file.c_str());
  if (shared.client_tls) SSL_CTX_free(shared.client_tls);
  if (shared.server_tls) SSL_CTX_free(shared.server_tls);
  return 0;
}

}  // namespace tusk::router
