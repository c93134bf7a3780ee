// The admin console: the virtual database `tusk` on the router's ports,
// psql-able like PgBouncer's console. Admin roles (router.admin_roles) may run
//   SHOW POOLS | CLIENTS | SERVERS | STATS | LATENCY | BACKENDS | HELP,
//   RELOAD, PAUSE [db], RESUME [db]
// Results are text columns (RowDescription + DataRow + CommandComplete).
// Runs on the admin client's worker thread; SHOW CLIENTS/SERVERS ask the
// other workers for their rows (waiting at most 1 s).
#pragma once

#include <string>
#include <string_view>

namespace tusk::router {

class Worker;

/// What the caller must do after RunAdminCommand.
enum class AdminOutcome {
  kDone,          ///< the reply is complete in `out` (add ReadyForQuery)
  kPauseWaiting,  ///< PAUSE: reply once no paused pool has an active server
};

/// Executes one admin command, appending the reply (rows or ErrorResponse;
/// no ReadyForQuery) to `out`. Unknown commands get 42601 with a hint.
/// For kPauseWaiting, `pause_db` receives the database ("" = all).
AdminOutcome RunAdminCommand(std::string_view sql, Worker& worker, std::string& out,
                             std::string* pause_db);

/// True when no pool of `database` ("" = all) has an active server connection.
bool PauseComplete(Worker& worker, const std::string& database);

}  // namespace tusk::router
