// libpq wrapper: connection, queries, readiness ping.
#include "postgres/connection.h"

#include <libpq-fe.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "common/strings.h"

namespace tusk::postgres {
namespace {

std::string QuoteConnValue(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string PercentEncode(const std::string& v) {
  std::string out;
  for (unsigned char c : v) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace

std::string ConnInfo::ToKeyValue() const {
  std::string s = "host=" + QuoteConnValue(host) + " port=" + std::to_string(port) +
                  " dbname=" + QuoteConnValue(dbname) +
                  " connect_timeout=" + std::to_string(connect_timeout_s) +
                  " application_name=" + QuoteConnValue(application_name);
  if (!user.empty()) s += " user=" + QuoteConnValue(user);
  if (!password.empty()) s += " password=" + QuoteConnValue(password);
  return s;
}

std::string ConnInfo::ToUri(bool with_password) const {
  std::string s = "postgresql://" + PercentEncode(user);
  if (with_password && !password.empty()) s += ":" + PercentEncode(password);
  std::string h = host;
  if (!h.empty() && h[0] == '/') {
    // Unix socket directory: give it as a query parameter.
    return s + "@/" + PercentEncode(dbname) + "?host=" + PercentEncode(h) +
           "&port=" + std::to_string(port);
  }
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return s + "@" + h + ":" + std::to_string(port) + "/" + PercentEncode(dbname);
}

std::string QueryResult::Get(size_t r, const std::string& col) const {
  if (r >= rows.size()) return "";
  for (size_t c = 0; c < columns.size(); ++c) {
    if (columns[c] == col) return rows[r][c].value_or("");
  }
  return "";
}

Result<std::unique_ptr<PgConnection>> PgConnection::Open(const ConnInfo& info) {
  pg_conn* c = PQconnectdb(info.ToKeyValue().c_str());
  if (c == nullptr) return Unavailable("libpq: out of memory");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = Trim(PQerrorMessage(c));
    PQfinish(c);
    return Unavailable(msg);
  }
  // Keep server notices (e.g. "extension already exists") off our stderr.
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgConnection>(new PgConnection(c));
}

PgConnection::~PgConnection() { PQfinish(conn_); }

int PgConnection::server_version() const { return PQserverVersion(conn_); }

Result<QueryResult> PgConnection::Collect(void* raw) {
  PGresult* res = static_cast<PGresult*>(raw);
  ExecStatusType st = PQresultStatus(res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
    auto field = [&](int code) {
      const char* f = PQresultErrorField(res, code);
      return std::string(f ? f : "");
    };
    last_error_.message = field(PG_DIAG_MESSAGE_PRIMARY);
    if (last_error_.message.empty()) last_error_.message = Trim(PQerrorMessage(conn_));
    last_error_.sqlstate = field(PG_DIAG_SQLSTATE);
    std::string pos = field(PG_DIAG_STATEMENT_POSITION);
    last_error_.position = pos.empty() ? 0 : std::atoi(pos.c_str());
    last_error_.detail = field(PG_DIAG_MESSAGE_DETAIL);
    last_error_.hint = field(PG_DIAG_MESSAGE_HINT);
    PQclear(res);
    return Internal(last_error_.sqlstate + ": " + last_error_.message);
  }
  QueryResult out;
  int nf = PQnfields(res), nt = PQntuples(res);
  for (int f = 0; f < nf; ++f) out.columns.emplace_back(PQfname(res, f));
  out.rows.reserve(nt);
  for (int t = 0; t < nt; ++t) {
    std::vector<std::optional<std::string>> row;
    row.reserve(nf);
    for (int f = 0; f < nf; ++f) {
      if (PQgetisnull(res, t, f))
        row.emplace_back(std::nullopt);
      else
        row.emplace_back(std::string(PQgetvalue(res, t, f), PQgetlength(res, t, f)));
    }
    out.rows.push_back(std::move(row));
  }
  PQclear(res);
  return out;
}

Result<QueryResult> PgConnection::Query(const std::string& sql) {
  // PQexec returns only the last result of a multi-statement string, and
  // stops at the first error, which is what callers want.
  PGresult* res = PQexec(conn_, sql.c_str());
  if (res == nullptr) {
    last_error_ = SqlError{Trim(PQerrorMessage(conn_)), "08006", 0, "", ""};
    return Internal(last_error_.message);
  }
  return Collect(res);
}

Status PgConnection::Exec(const std::string& sql) { return Query(sql).status(); }

Result<QueryResult> PgConnection::QueryParams(const std::string& sql,
                                              const std::vector<std::string>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  PGresult* res = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                               values.data(), nullptr, nullptr, 0);
  if (res == nullptr) {
    last_error_ = SqlError{Trim(PQerrorMessage(conn_)), "08006", 0, "", ""};
    return Internal(last_error_.message);
  }
  return Collect(res);
}

PingStatus Ping(const ConnInfo& info) {
  switch (PQping(info.ToKeyValue().c_str())) {
    case PQPING_OK:
      return PingStatus::kAccepting;
    case PQPING_REJECT:
      return PingStatus::kRejecting;
    case PQPING_NO_RESPONSE:
      return PingStatus::kNoResponse;
    default:
      return PingStatus::kNoAttempt;
  }
}

}  // namespace tusk::postgres
