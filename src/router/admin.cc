// Admin console commands: SHOW ..., RELOAD, PAUSE, RESUME.
#include "router/admin.h"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "common/strings.h"
#include "protocol/wire.h"
#include "router/shared_state.h"
#include "router/worker.h"

namespace tusk::router {
namespace {

using Rows = std::vector<std::vector<std::string>>;

void AppendTable(std::string& out, const std::vector<std::string>& columns, const Rows& rows,
                 const std::string& tag) {
  protocol::AppendRowDescription(out, columns);
  for (const auto& r : rows) {
    std::vector<std::optional<std::string>> cells(r.begin(), r.end());
    protocol::AppendDataRow(out, cells);
  }
  protocol::AppendCommandComplete(out, tag);
}

void AppendError(std::string& out, const std::string& sqlstate, const std::string& message,
                 const std::string& hint = "") {
  protocol::ErrorFields e;
  e.sqlstate = sqlstate;
  e.message = message;
  e.hint = hint;
  protocol::AppendErrorResponse(out, e);
}

/// Runs `fn` on every worker's thread and gathers the rows (own worker inline).
Rows Collect(Worker& self, const std::function<std::vector<ConnectionRow>(Worker&)>& fn) {
  Rows rows;
  auto add = [&rows](const std::vector<ConnectionRow>& part) {
    for (const auto& r : part) rows.push_back(r.cells);
  };
  add(fn(self));
  struct Pending {
    std::mutex mu;
    std::condition_variable cv;
    int left = 0;
    std::vector<ConnectionRow> rows;
  };
  auto pending = std::make_shared<Pending>();
  for (Worker* w : self.shared().workers) {
    if (w == &self) continue;
    pending->left++;
    w->loop().Post([pending, w, fn] {
      auto part = fn(*w);
      std::lock_guard<std::mutex> lock(pending->mu);
      pending->rows.insert(pending->rows.end(), part.begin(), part.end());
      pending->left--;
      pending->cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(pending->mu);
  pending->cv.wait_for(lock, std::chrono::seconds(1), [&] { return pending->left == 0; });
  for (const auto& r : pending->rows) rows.push_back(r.cells);
  return rows;
}

std::string PortKind(const PoolKey& k) { return k.readonly ? "ro" : "rw"; }

std::string Avg(uint64_t sum, uint64_t count) {
  return std::to_string(count == 0 ? 0 : sum / count);
}

}  // namespace

bool PauseComplete(Worker& worker, const std::string& database) {
  for (const auto& p : worker.shared().Pools()) {
    if (!database.empty() && p->key().database != database) continue;
    if (p->stats().servers_active.value() > 0) return false;
  }
  return true;
}

AdminOutcome RunAdminCommand(std::string_view sql, Worker& worker, std::string& out,
                             std::string* pause_db) {
  std::string text = Trim(sql);
  while (!text.empty() && text.back() == ';') text = Trim(text.substr(0, text.size() - 1));
  std::vector<std::string> words;
  for (const std::string& w : SplitTrimmed(text, ' ')) {
    if (!w.empty()) words.push_back(w);
  }
  auto upper = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  };
  std::string verb = words.empty() ? "" : upper(words[0]);
  std::string arg = words.size() > 1 ? upper(words[1]) : "";
  SharedState& shared = worker.shared();
  auto pools = shared.Pools();

  if (verb == "SHOW" && arg == "POOLS") {
    Rows rows;
    for (const auto& p : pools) {
      PoolStats& s = p->stats();
      rows.push_back(
          {p->key().database, p->key().role, PortKind(p->key()),
           std::to_string(s.clients_active.value()), std::to_string(s.clients_waiting.value()),
           std::to_string(s.clients_idle.value()), std::to_string(s.servers_active.value()),
           std::to_string(s.servers_idle.value()), std::to_string(p->servers()),
           std::to_string(p->pool_size()), p->paused() ? "yes" : "no"});
    }
    AppendTable(out,
                {"database", "user", "port", "cl_active", "cl_waiting", "cl_idle", "sv_active",
                 "sv_idle", "sv_total", "pool_size", "paused"},
                rows, "SHOW");
    return AdminOutcome::kDone;
  }
  if (verb == "SHOW" && arg == "CLIENTS") {
    Rows rows = Collect(worker, [](Worker& w) { return w.ClientRows(); });
    AppendTable(
        out, {"database", "user", "state", "addr", "tls", "age_s", "worker", "server_pid", "debug"},
        rows, "SHOW");
    return AdminOutcome::kDone;
  }
  if (verb == "SHOW" && arg == "SERVERS") {
    Rows rows = Collect(worker, [](Worker& w) { return w.ServerRows(); });
    AppendTable(out, {"database", "user", "state", "backend", "pid", "age_s", "worker", "prepared"},
                rows, "SHOW");
    return AdminOutcome::kDone;
  }
  if (verb == "SHOW" && arg == "STATS") {
    Rows rows;
    for (const auto& p : pools) {
      PoolStats& s = p->stats();
      auto q = s.query_us.Snapshot();
      auto x = s.transaction_us.Snapshot();
      auto w = s.wait_us.Snapshot();
      rows.push_back(
          {p->key().database, p->key().role, PortKind(p->key()),
           std::to_string(s.transactions.value()), std::to_string(s.queries.value()),
           std::to_string(s.bytes_received.value()), std::to_string(s.bytes_sent.value()),
           Avg(x.sum_us, x.count), Avg(q.sum_us, q.count), Avg(w.sum_us, w.count),
           std::to_string(s.wait_timeouts.value()), std::to_string(s.server_connects.value()),
           std::to_string(s.server_errors.value()), std::to_string(s.pipelined.value())});
    }
    AppendTable(
        out,
        {"database", "user", "port", "total_xact_count", "total_query_count", "total_received",
         "total_sent", "avg_xact_time_us", "avg_query_time_us", "avg_wait_time_us", "wait_timeouts",
         "server_connects", "server_errors", "pipelined"},
        rows, "SHOW");
    return AdminOutcome::kDone;
  }
  if (verb == "SHOW" && arg == "LATENCY") {
    Rows rows;
    for (const auto& p : pools) {
      PoolStats& s = p->stats();
      std::pair<const char*, metrics::Histogram*> hs[] = {
          {"query", &s.query_us}, {"transaction", &s.transaction_us}, {"wait", &s.wait_us}};
      for (auto [name, h] : hs) {
        auto snap = h->Snapshot();
        rows.push_back({p->key().database, p->key().role, PortKind(p->key()), name,
                        std::to_string(snap.count), std::to_string(snap.Percentile(50)),
                        std::to_string(snap.Percentile(95)), std::to_string(snap.Percentile(99)),
                        std::to_string(snap.Percentile(99.9)), std::to_string(snap.max_us)});
      }
    }
    AppendTable(out,
                {"database", "user", "port", "metric", "count", "p50_us", "p95_us", "p99_us",
                 "p99_9_us", "max_us"},
                rows, "SHOW");
    return AdminOutcome::kDone;
  }
  if (verb == "SHOW" && arg == "BACKENDS") {
    auto settings = shared.settings();
    Rows rows;
    int64_t now = NowMs();
    auto add = [&](const Backend& b, const char* role) {
      auto h = shared.Health(b);
      rows.push_back({role, b.host, std::to_string(b.port),
                      h->down_until_ms.load() > now ? "down" : "up",
                      std::to_string(h->outstanding.load())});
    };
    add(settings->spec.primary, "primary");
    for (const Backend& b : settings->spec.standbys) add(b, "standby");
    AppendTable(out, {"role", "host", "port", "state", "outstanding"}, rows, "SHOW");
    return AdminOutcome::kDone;
  }
  if (verb == "SHOW" && (arg == "HELP" || arg.empty())) {
    AppendTable(out, {"command"},
                {{"SHOW POOLS"},
                 {"SHOW CLIENTS"},
                 {"SHOW SERVERS"},
                 {"SHOW STATS"},
                 {"SHOW LATENCY"},
                 {"SHOW BACKENDS"},
                 {"RELOAD"},
                 {"PAUSE [db]"},
                 {"RESUME [db]"}},
                "SHOW");
    return AdminOutcome::kDone;
  }
  if (verb == "RELOAD" && words.size() == 1) {
    std::string error = shared.reload ? shared.reload() : "reload is not available";
    if (!error.empty()) {
      AppendError(out, "55000", "RELOAD failed: " + error);
    } else {
      protocol::AppendCommandComplete(out, "RELOAD");
    }
    return AdminOutcome::kDone;
  }
  if ((verb == "PAUSE" || verb == "RESUME") && words.size() <= 2) {
    std::string db = words.size() == 2 ? words[1] : "";
    bool pause = verb == "PAUSE";
    shared.SetPaused(db, pause);
    if (!pause) {
      for (Worker* w : shared.workers) {
        for (const auto& p : pools) {
          if (db.empty() || p->key().database == db) {
            w->loop().Post([w, p] { w->Kick(p); });
          }
        }
      }
      protocol::AppendCommandComplete(out, "RESUME");
      return AdminOutcome::kDone;
    }
    *pause_db = db;
    return AdminOutcome::kPauseWaiting;
  }
  AppendError(out, "42601", "unknown admin command: " + text, "try SHOW HELP");
  return AdminOutcome::kDone;
}

}  // namespace tusk::router
