// Classifies simple-Query SQL texts that may be pipelined: queued on a
// server connection behind another client's query in transaction-pooling
// mode, without waiting for that query's ReadyForQuery. Such a text must run
// as its own implicit transaction and leave no trace in the session that the
// next client could see (or depend on one left by a previous statement).
//
// The check is lexical and conservative: a small PostgreSQL-compatible
// scanner (quotes, nested comments) looks at one statement's first keyword
// and words; anything it cannot vouch for is refused. It cannot see inside
// user-defined functions, which may still change session state.
// Thread-safety: pure functions, thread-safe; nothing allocates or throws.
#pragma once

#include <string_view>

namespace tusk::router {

/// True when `sql` is exactly one statement (trailing ';', whitespace and
/// comments allowed) starting with SELECT, INSERT, UPDATE, DELETE, WITH, VALUES
/// or TABLE that mentions no session-state function or temporary object
/// (set_config, advisory locks, currval, TEMP, ...). $n parameters (an
/// extended-protocol Parse) are allowed. False for anything else, including
/// empty texts, unterminated quotes or comments, any other '$' (dollar
/// quotes), backslashes in string literals, U&"" identifiers and NUL bytes.
/// O(n) in the length of `sql`.
bool PipelineSafeSql(std::string_view sql) noexcept;

}  // namespace tusk::router
