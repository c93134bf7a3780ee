// SetCommand: what a session-level SET or RESET statement (or a savepoint
// around one) does to the session's settings, so that transaction pooling can
// carry them to whichever server connection runs the client's next
// transaction; and the SQL that applies a setting there. Beside it, the two
// other things transaction pooling must know about a statement: whether it
// LISTENs (refused) and whether it leaves other session state behind
// (LeavesSessionState: the server is reset before the next client).
//
// A value is kept in its string form, the text set_config() takes and SHOW
// prints: PostgreSQL joins a SET's list items with ", " and, for the
// list-of-names settings (search_path, temp_tablespaces, *_preload_libraries),
// double-quotes items that are not plain lowercase names (PostgreSQL docs,
// SET; src/backend/utils/misc/guc_funcs.c flatten_set_variable_args). So
// `SET search_path = app, 'My Schema'` is search_path `app, "My Schema"`.
// The scan assumes standard_conforming_strings = on (the default): a
// backslash in '...' is an ordinary character.
//
// Thread-safety: pure functions on values; thread-safe; nothing throws.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tusk::router {

/// What a simple-Query text does to session settings.
enum class SetKind {
  kNone,         ///< not a session-level SET/RESET (or not alone in the text): nothing to track
  kSet,          ///< `settings` hold (name, string form) pairs
  kReset,        ///< RESET name, SET name TO DEFAULT: `settings` hold (name, "")
  kResetAll,     ///< RESET ALL (role and session_authorization stay, as in PostgreSQL)
  kDiscardAll,   ///< DISCARD ALL: every setting back to the login's, prepared statements gone
  kUnsupported,  ///< a session-level SET whose value the router cannot carry; see `reason`
  kSavepoint,    ///< SAVEPOINT `savepoint`: a SET after it is undone by a ROLLBACK TO it
  kRelease,      ///< RELEASE [SAVEPOINT] `savepoint` (and the savepoints made after it)
  kRollbackTo,   ///< ROLLBACK [WORK|TRANSACTION] TO [SAVEPOINT] `savepoint`: SETs since are undone
  /// COMMIT or END [WORK|TRANSACTION] [AND [NO] CHAIN]: the transaction's
  /// SETs take effect, unless the command tag says ROLLBACK (it had failed).
  kCommit,
  /// ROLLBACK or ABORT [WORK|TRANSACTION] [AND [NO] CHAIN]: its SETs are undone.
  kRollback,
};

/// The parsed statement. Names are lowercased (setting names are
/// case-insensitive) and joined with '.' for custom settings ("app.tenant").
struct SetCommand {
  SetKind kind = SetKind::kNone;
  std::vector<std::pair<std::string, std::string>> settings;
  std::string reason;  ///< kUnsupported: what the router cannot carry, for the client's error
  /// kSavepoint, kRelease, kRollbackTo: the savepoint's name (lowercased
  /// unless it was double-quoted, as PostgreSQL folds identifiers).
  std::string savepoint;
};

/// Parses one simple-Query text. Tracked: SET [SESSION] name {TO|=} value
/// [, ...] | DEFAULT; SET [SESSION] SCHEMA 'x' (search_path); SET [SESSION]
/// ROLE, SESSION AUTHORIZATION, XML OPTION; SET SESSION CHARACTERISTICS AS
/// TRANSACTION modes (default_transaction_*); RESET name | ALL | ROLE |
/// SESSION AUTHORIZATION; DISCARD ALL; SAVEPOINT, RELEASE and ROLLBACK TO;
/// the ends of a transaction block (kCommit, kRollback; not their PREPARED
/// forms, nor PREPARE TRANSACTION). kNone for SET LOCAL, SET TRANSACTION,
/// SET/RESET TIME ZONE and SET NAMES (reported by ParameterStatus instead),
/// FROM CURRENT, other statements, and texts with a second statement. Values
/// that are E'', U&'', B'', X'' or N'' strings, dollar-quoted, typed or
/// malformed are kUnsupported (PostgreSQL may accept them; the router could
/// not re-apply them). O(n) in the length of `sql`.
SetCommand ParseSetCommand(std::string_view sql);

/// Every statement ParseSetCommand tracks among those of a simple-Query
/// text, in order (kNone statements left out): the text is split at each
/// ';' that PostgreSQL's lexer would see (not in '', E'' with backslash escapes, "",
/// dollar quotes or comments) and each statement goes through
/// ParseSetCommand. A single kUnsupported entry when any statement is one.
/// O(n) in the length of `sql`; a text is split only when the first word
/// of its start or of the text after one of its ';' is SET, RESET, DISCARD,
/// SAVEPOINT, RELEASE, ROLLBACK, COMMIT, END or ABORT (any case).
std::vector<SetCommand> ParseSetCommands(std::string_view sql);

/// `SELECT pg_catalog.set_config(E'name', E'value', false)`: sets a
/// session-level value in its string form, whatever standard_conforming_strings is.
std::string SetConfigSql(std::string_view name, std::string_view value);

/// `RESET "name"` (the name quoted, so that any name is one identifier).
std::string ResetSql(std::string_view name);

/// A DO block that fails with SQLSTATE 0A000, `reason` in its message and a
/// hint: sent instead of a kUnsupported SET, so that the server (and an open
/// transaction) sees the error a client expects and the setting changes nowhere.
std::string RefusalSql(std::string_view reason);

/// True when some statement of a Query or Parse text (split as in
/// ParseSetCommands) starts with LISTEN. Notifications reach a client only
/// while it holds a server, and in transaction mode the channel would stay
/// on the server for the next client, so the router refuses it. O(n); a text
/// is split only when the first word of its start or of the text after one
/// of its ';' is LISTEN (any case).
bool RunsListen(std::string_view sql);

/// True when a statement of `sql` (a Query or Parse text) may leave state in
/// the server's session past its transaction that the router does not carry
/// to the client's next server, and that the next client of this server must
/// not see: a temporary table, view or sequence (CREATE [GLOBAL|LOCAL] TEMP,
/// CREATE OR REPLACE TEMP VIEW, SELECT .. INTO TEMP, anything naming
/// pg_temp), a session-level advisory lock (pg_[try_]advisory_lock[_shared]),
/// a cursor WITH HOLD, a SQL-level PREPARE, or a set_config() whose third
/// argument (is_local) is not a literal true. Lexical: words inside string
/// literals, dollar quotes and comments do not count; a column named temp
/// does not either, but the code of a DO block and the strings in it (which
/// it may EXECUTE) are scanned the same way (strings nested more than four
/// deep count as session state). Functions may still leave state it cannot
/// see. O(n); the full scan runs only for texts holding "temp", "advi",
/// "hold" or "set_", or a statement starting with PREPARE.
bool LeavesSessionState(std::string_view sql);

/// Like RefusalSql, for LISTEN: a DO block failing with 0A000 and a hint
/// pointing to session mode.
std::string ListenRefusalSql();

/// Settings RESET ALL leaves alone (PostgreSQL's GUC_NO_RESET_ALL among the
/// ones a session sets): role, session_authorization.
bool KeptByResetAll(std::string_view name);

/// Erases from `settings` (a map keyed by lowercase setting name) every
/// entry RESET ALL resets, i.e. all but the KeptByResetAll ones.
template <class Map>
void EraseResetByResetAll(Map& settings) {
  for (auto it = settings.begin(); it != settings.end();) {
    if (KeptByResetAll(it->first)) {
      ++it;
    } else {
      it = settings.erase(it);
    }
  }
}

/// Reported settings a client cannot SET (server_version, is_superuser,
/// in_hot_standby, ...) or that the router follows through SET alone
/// (session_authorization): not tracked from ParameterStatus.
bool IgnoredReport(std::string_view name);

}  // namespace tusk::router
