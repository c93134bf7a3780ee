// Router spec, secrets and certificate for `tusk up`.
#include "cli/router_files.h"

#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/context.h"
#include "common/strings.h"
#include "config/router_auth.h"
#include "sys/account.h"
#include "sys/certificate.h"

namespace tusk::cli {
namespace {

bool IsWildcard(const std::string& address) {
  return address == "*" || address == "0.0.0.0" || address == "::";
}

/// The settings a running router cannot change on SIGHUP.
bool NeedsRestart(const router::RouterSpec& a, const router::RouterSpec& b) {
  return a.listen != b.listen || a.port != b.port || a.readonly_port != b.readonly_port ||
         a.workers != b.workers || a.tls_mode != b.tls_mode || a.tls_cert_file != b.tls_cert_file ||
         a.tls_key_file != b.tls_key_file || a.server_tls != b.server_tls ||
         a.metrics_port != b.metrics_port || a.metrics_listen != b.metrics_listen;
}

std::string FileOrEmpty(const std::string& path) {
  auto text = sys::ReadFile(path);
  return text.ok() ? *text : "";
}

}  // namespace

router::RouterSpec RouterSpecFor(const config::Instance& instance, const postgres::Layout& layout) {
  const config::Router& r = *instance.router;
  router::RouterSpec s;
  s.instance = instance.name;
  s.listen = r.listen;
  s.port = r.port;
  s.readonly_port = r.readonly_port;
  s.mode = r.mode == config::RouterMode::kSession ? router::PoolMode::kSession
                                                  : router::PoolMode::kTransaction;
  s.workers = r.workers;
  s.pool_size = r.pool_size;
  s.max_client_connections = r.max_client_connections;
  s.pool_wait_timeout_ms = r.pool_wait_timeout_ms;
  s.idle_client_timeout_ms = r.idle_client_timeout_ms;
  s.idle_transaction_timeout_ms = r.idle_transaction_timeout_ms;
  s.query_timeout_ms = r.query_timeout_ms;
  s.server_lifetime_ms = r.server_lifetime_ms;
  s.server_idle_timeout_ms = r.server_idle_timeout_ms;
  s.connect_timeout_ms = r.connect_timeout_ms;
  s.pipeline_depth = r.pipeline_depth;
  s.pipeline_busy_limit_ms = r.pipeline_busy_limit_ms;
  static_assert(config::Router::kConcurrencyLimitAuto == router::RouterSpec::kConcurrencyLimitAuto);
  s.concurrency_limit = r.concurrency_limit;
  s.busy_poll_us = r.busy_poll_us;
  s.sched_policy = r.sched_policy == config::RouterSchedPolicy::kNormal ? sys::SchedPolicy::kNormal
                                                                        : sys::SchedPolicy::kBatch;
  s.max_message_bytes = static_cast<uint32_t>(r.max_message_bytes);  // the loader caps it at 1GB
  switch (r.client_auth) {
    case config::RouterClientAuth::kScramSha256:
      s.client_auth = router::ClientAuth::kScramSha256;
      break;
    case config::RouterClientAuth::kMd5:
      s.client_auth = router::ClientAuth::kMd5;
      break;
    case config::RouterClientAuth::kPlain:
      s.client_auth = router::ClientAuth::kPlain;
      break;
  }
  s.admin_roles = r.admin_roles;
  switch (r.tls_mode) {
    case config::RouterTlsMode::kDisable:
      s.tls_mode = router::TlsMode::kDisable;
      break;
    case config::RouterTlsMode::kAllow:
      s.tls_mode = router::TlsMode::kAllow;
      break;
    case config::RouterTlsMode::kRequire:
      s.tls_mode = router::TlsMode::kRequire;
      break;
  }
  if (!r.tls_cert_file.empty()) {
    // The router reads copies in its own directory (WriteRouterFiles).
    s.tls_cert_file = layout.RouterGivenCertFile(instance.name);
    s.tls_key_file = layout.RouterGivenKeyFile(instance.name);
  } else if (s.tls_mode != router::TlsMode::kDisable) {
    s.tls_cert_file = layout.RouterCertFile(instance.name);
    s.tls_key_file = layout.RouterKeyFile(instance.name);
  }
  s.server_tls = r.server_tls;
  s.metrics_port = r.metrics_port;
  s.primary = {Context::ClientHost(instance), instance.port};
  for (const config::RouterBackend& b : r.standbys) s.standbys.push_back({b.host, b.port});
  s.secrets_file = layout.RouterSecretsFile(instance.name);
  if (r.auth_query) {
    // The role, its password (in the secrets file) and the function: provision/plan.h.
    s.auth_user = config::kRouterAuthRole;
    s.auth_database = config::kRouterAuthDatabase;
    s.auth_query = config::kRouterAuthQuery;
  }
  s.status_file = layout.RouterStatusFile(instance.name);
  s.pid_file = layout.RouterPidFile(instance.name);
  return s;
}

agent::RouterProcessSpec RouterProcessFor(const config::Instance& instance,
                                          const postgres::Layout& layout,
                                          const sys::RunAs& account) {
  agent::RouterProcessSpec p;
  p.instance = instance.name;
  p.spec_file = layout.RouterSpecFile(instance.name);
  p.log_file = layout.RouterLogFile(instance.name);
  p.host = Context::ClientHostFor(instance.router->listen);
  p.port = instance.router->port;
  p.pid_file = layout.RouterPidFile(instance.name);
  p.run_as = account;
  return p;
}

Status WriteRouterFiles(const config::Instance& instance, const postgres::Layout& layout,
                        const std::map<std::string, std::string>& passwords,
                        const sys::RunAs& account) {
  const std::string& name = instance.name;
  router::RouterSpec spec = RouterSpecFor(instance, layout);
  TUSK_RETURN_IF_ERROR(sys::MakeDirs(layout.router_dir, 0755));
  TUSK_RETURN_IF_ERROR(sys::MakeDirs(layout.RouterDir(name), 0700, &account));
  bool new_certificate = false;
  if (spec.tls_cert_file == layout.RouterCertFile(name)) {
    std::vector<std::string> hostnames = {"localhost"};
    for (const std::string& a : SplitTrimmed(spec.listen, ',')) {
      if (!IsWildcard(a)) hostnames.push_back(a);
    }
    std::string before = FileOrEmpty(spec.tls_cert_file);
    TUSK_RETURN_IF_ERROR(
        sys::EnsureSelfSignedCertificate(spec.tls_cert_file, spec.tls_key_file, hostnames));
    new_certificate = !before.empty() && FileOrEmpty(spec.tls_cert_file) != before;
  } else if (!instance.router->tls_cert_file.empty()) {
    // The configured files may be readable by root only: the router's
    // account gets private copies, refreshed (and the router restarted)
    // when they change.
    const std::pair<const std::string*, std::string> copies[] = {
        {&instance.router->tls_cert_file, spec.tls_cert_file},
        {&instance.router->tls_key_file, spec.tls_key_file}};
    std::string texts[2];
    for (int i = 0; i < 2; ++i) {  // both readable before either copy changes
      auto text = sys::ReadFile(*copies[i].first);
      if (!text.ok()) {
        return InvalidArgument("cannot read tls file " + *copies[i].first + ": " +
                               text.status().message());
      }
      texts[i] = std::move(*text);
    }
    for (int i = 0; i < 2; ++i) {
      std::string before = FileOrEmpty(copies[i].second);
      if (before == texts[i]) continue;
      TUSK_RETURN_IF_ERROR(sys::WriteFileAtomic(copies[i].second, texts[i], 0600, &account));
      new_certificate |= !before.empty();
    }
  }
  if (auto st = WriteRouterSecrets(instance, layout, passwords, account); !st.ok()) {
    return st.status();
  }
  // The generated certificate and key (and whatever else is there) belong
  // to the account the router runs as.
  TUSK_RETURN_IF_ERROR(sys::ChownRecursive(layout.RouterDir(name), account));

  std::string spec_file = layout.RouterSpecFile(name);
  auto old_text = sys::ReadFile(spec_file);
  std::string text = router::RenderRouterSpec(spec);
  bool restart = new_certificate;
  if (old_text.ok() && *old_text != text) {
    auto old = router::ParseRouterSpec(*old_text);
    restart |= !old.ok() || NeedsRestart(*old, spec);
  }
  TUSK_RETURN_IF_ERROR(sys::WriteFileAtomic(spec_file, text, 0644));
  if (restart) std::ofstream(layout.RouterRestartMarker(name), std::ios::app);
  return Status::Ok();
}

Result<bool> WriteRouterSecrets(const config::Instance& instance, const postgres::Layout& layout,
                                const std::map<std::string, std::string>& passwords,
                                const sys::RunAs& account) {
  std::string path = layout.RouterSecretsFile(instance.name);
  std::string text = nlohmann::json{{"roles", passwords}}.dump(2) + "\n";
  if (FileOrEmpty(path) == text) return false;
  TUSK_RETURN_IF_ERROR(sys::MakeDirs(layout.RouterDir(instance.name), 0700, &account));
  TUSK_RETURN_IF_ERROR(sys::WriteFileAtomic(path, text, 0600, &account));
  return true;
}

void RemoveRouterFiles(const std::string& instance, const postgres::Layout& layout) {
  for (const std::string& path :
       {layout.RouterSpecFile(instance), layout.RouterSecretsFile(instance),
        layout.RouterRestartMarker(instance)}) {
    ::unlink(path.c_str());
  }
}

}  // namespace tusk::cli
