// AuthLookup: fetches the stored password verifier of a role the router does
// not hold a secret for, by running the spec's auth_query (PgBouncer's
// auth_user/auth_query) on the primary through a low-privilege login role.
//
// One background thread owns one libpq control connection (opened on first
// use, reopened after an error or when the settings name another target) and
// answers requests in order; each answer is delivered through the request's
// callback on that thread, which must only Post() to the requester's loop.
// There is no cache: every login looks the role up again, so a changed or
// revoked password takes effect at the next login.
// Thread-safety: Lookup() and the destructor from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/status.h"

namespace tusk::router {

struct Settings;

/// What the auth query said about one role.
struct LookupResult {
  /// kUnavailable when PostgreSQL could not be asked (connection refused,
  /// auth role rejected, query error; the message says which, for the log).
  Status status = Status::Ok();
  /// The role's rolpassword: a SCRAM verifier, an md5 hash, or nullopt when
  /// the query returned no row or NULL (unknown, NOLOGIN, superuser, expired).
  std::optional<std::string> verifier;
};

class AuthLookup {
 public:
  using Done = std::function<void(LookupResult)>;

  AuthLookup();
  ~AuthLookup();  ///< stops the thread; pending requests are dropped
  AuthLookup(const AuthLookup&) = delete;
  AuthLookup& operator=(const AuthLookup&) = delete;

  /// Queues a lookup of `role` with `settings` (spec.auth_user, auth_database,
  /// auth_query, the primary, and the auth user's password from roles).
  /// REQUIRES: settings->spec.auth_user is not empty.
  void Lookup(std::shared_ptr<const Settings> settings, std::string role, Done done);

 private:
  struct Request {
    std::shared_ptr<const Settings> settings;
    std::string role;
    Done done;
  };
  struct Connection;
  void Run();
  LookupResult Answer(const Request& r);

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Request> queue_;         // guarded by mu_
  bool stop_ = false;                 // guarded by mu_
  std::unique_ptr<Connection> conn_;  // lookup thread only
  std::thread thread_;                // started on the first Lookup()
};

}  // namespace tusk::router
