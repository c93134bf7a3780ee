// PgConnection: a thin RAII wrapper over one libpq control connection.
//
// Used by the control plane (reconciler, status, readiness). Blocking calls;
// one connection must not be used from two threads at once. Errors come back
// as Status with PostgreSQL's message and SQLSTATE; nothing throws.
// Source: PostgreSQL docs, "libpq — C Library" (§34).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

struct pg_conn;

namespace tusk::postgres {

/// Where and as whom to connect. Rendered as a libpq key/value conninfo string.
struct ConnInfo {
  std::string host = "127.0.0.1";  ///< host name, IP, or a unix socket directory
  int port = 5432;
  std::string user;
  std::string password;  ///< never logged
  std::string dbname = "postgres";
  int connect_timeout_s = 5;
  std::string application_name = "tusk";

  /// libpq conninfo "host=... port=... ..." with values quoted as libpq requires.
  std::string ToKeyValue() const;
  /// postgresql://user:password@host:port/dbname (password percent-encoded).
  /// When `with_password` is false, the password is left out.
  std::string ToUri(bool with_password) const;
};

/// Result rows of a query: text values, NULL as nullopt.
struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;

  /// Value at row r, column named `col`, or "" when NULL/missing.
  std::string Get(size_t r, const std::string& col) const;
};

/// A failed statement: PostgreSQL's primary message, SQLSTATE and (when the
/// server reports one) the 1-based character position in the statement.
struct SqlError {
  std::string message;
  std::string sqlstate;
  int position = 0;
  std::string detail;
  std::string hint;
};

/// One open libpq connection.
class PgConnection {
 public:
  /// Connects; returns kUnavailable with libpq's message on failure.
  static Result<std::unique_ptr<PgConnection>> Open(const ConnInfo& info);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  /// Runs one or more statements (simple query protocol) and returns the
  /// last result set. On failure returns kInternal "SQLSTATE: message" and
  /// fills last_error().
  Result<QueryResult> Query(const std::string& sql);
  /// Query() for statements whose rows are not wanted.
  Status Exec(const std::string& sql);
  /// Runs `sql` with text parameters $1..$n (extended protocol).
  Result<QueryResult> QueryParams(const std::string& sql, const std::vector<std::string>& params);

  /// The error of the last failed call.
  const SqlError& last_error() const { return last_error_; }
  /// Server version number, e.g. 150018.
  int server_version() const;

 private:
  explicit PgConnection(pg_conn* conn) : conn_(conn) {}
  Result<QueryResult> Collect(void* res);
  pg_conn* conn_;
  SqlError last_error_;
};

/// Outcome of a readiness probe, numbered like pg_isready's exit codes.
enum class PingStatus { kAccepting = 0, kRejecting = 1, kNoResponse = 2, kNoAttempt = 3 };

/// PQping on `info` (no authentication happens). Source: libpq PQpingParams.
PingStatus Ping(const ConnInfo& info);

}  // namespace tusk::postgres
