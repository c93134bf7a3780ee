// AuthLookup: the auth_query thread and its libpq connection.
#include "router/auth_lookup.h"

#include <algorithm>

#include "postgres/connection.h"
#include "router/shared_state.h"

namespace tusk::router {

/// The open connection and the conninfo it was opened with.
struct AuthLookup::Connection {
  std::string conninfo;
  std::unique_ptr<postgres::PgConnection> pg;
};

AuthLookup::AuthLookup() = default;

AuthLookup::~AuthLookup() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AuthLookup::Lookup(std::shared_ptr<const Settings> settings, std::string role, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    queue_.push_back(Request{std::move(settings), std::move(role), std::move(done)});
    if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  }
  cv_.notify_one();
}

void AuthLookup::Run() {
  for (;;) {
    Request r;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) break;
      r = std::move(queue_.front());
      queue_.pop_front();
    }
    r.done(Answer(r));
  }
  conn_.reset();
}

LookupResult AuthLookup::Answer(const Request& r) {
  const RouterSpec& spec = r.settings->spec;
  postgres::ConnInfo info;
  info.host = spec.primary.host;
  info.port = spec.primary.port;
  info.user = spec.auth_user;
  info.dbname = spec.auth_database;
  info.connect_timeout_s =
      static_cast<int>(std::max<int64_t>(1, (spec.connect_timeout_ms + 999) / 1000));
  info.application_name = "tusk router auth_query";
  auto secret = r.settings->roles.find(spec.auth_user);
  if (secret != r.settings->roles.end()) info.password = secret->second.password;
  std::string conninfo = info.ToKeyValue();

  LookupResult out;
  // Two attempts: a connection that died since the last lookup (server
  // restart, failover) is reopened once before giving up.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (conn_ == nullptr || conn_->conninfo != conninfo) {
      conn_.reset();
      auto pg = postgres::PgConnection::Open(info);
      if (!pg.ok()) {
        out.status = Unavailable("auth_query: cannot connect as \"" + spec.auth_user + "\" to " +
                                 spec.primary.host + ":" + std::to_string(spec.primary.port) +
                                 ": " + pg.status().message());
        return out;
      }
      conn_ = std::make_unique<Connection>();
      conn_->conninfo = conninfo;
      conn_->pg = std::move(*pg);
      // A stuck lookup must not hold every later login.
      (void)conn_->pg->Exec("SET statement_timeout = '5s'");
    }
    auto rows = conn_->pg->QueryParams(spec.auth_query, {r.role});
    if (rows.ok()) {
      if (!rows->rows.empty() && rows->columns.size() >= 2 && rows->rows[0].size() >= 2) {
        out.verifier = rows->rows[0][1];
      }
      out.status = Status::Ok();
      return out;
    }
    out.status = Unavailable("auth_query failed: " + rows.status().message());
    conn_.reset();  // reconnect on the next attempt
  }
  return out;
}

}  // namespace tusk::router
