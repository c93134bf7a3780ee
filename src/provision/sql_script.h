// Running a SQL file statement by statement, with errors mapped to file:line.
//
// A file is split into statements with a small lexer that knows what the
// PostgreSQL lexer knows about where a ';' does not end a statement: quoted
// strings ('..' with '' doubling, E'..' with backslash escapes), quoted
// identifiers, dollar-quoted bodies ($$..$$, $tag$..$tag$), -- and nested
// /* */ comments, parentheses, and the BEGIN ATOMIC .. END body of a
// SQL-standard CREATE FUNCTION/PROCEDURE (the same heuristic psql uses).
// Sources: PostgreSQL docs §4.1 "Lexical Structure", §4.1.2.4 "Dollar-Quoted
// String Constants", CREATE FUNCTION "sql_body".
//
// Each statement is sent on its own (simple query protocol), so an error
// knows its statement even when the server reports no position (e.g.
// "division by zero"). When it does, PG_DIAG_STATEMENT_POSITION is a 1-based
// offset in CHARACTERS (not bytes) into the text sent; LineOfPosition turns
// it into a line of the file. Pure helpers are thread-safe; RunSqlScript
// uses the connection it is given.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "postgres/connection.h"

namespace tusk::provision {

/// One statement of a script: its text as it appears in the file (leading
/// whitespace/comments included, the terminating ';' excluded) and where it starts.
struct SqlStatement {
  std::string text;
  size_t offset = 0;   ///< byte offset of `text` in the file
  int first_line = 1;  ///< 1-based line of the statement's first token
};

/// Splits `script` into statements. Parts holding only whitespace and
/// comments are dropped. An unterminated string/comment runs to the end of
/// the file (the server then reports the syntax error).
std::vector<SqlStatement> SplitSqlScript(std::string_view script);

/// 1-based line in `text` of the character at 1-based CHARACTER position
/// `position` (UTF-8: continuation bytes are not counted). Positions past the
/// end give the last line; position <= 0 gives 1.
int LineOfPosition(std::string_view text, int position);

/// 1-based line number of byte `offset` in `text`.
int LineOfOffset(std::string_view text, size_t offset);

/// Runs every statement of `script` on `conn`, in order, stopping at the
/// first failure. `display_path` names the file in errors. Error: kInternal
/// "<display_path>:<line>: <PostgreSQL message>" plus " (HINT: ...)" when the
/// server gave one; line is where the server's position points, else the
/// failing statement's first line. The caller owns the transaction.
Status RunSqlScript(postgres::PgConnection& conn, const std::string& display_path,
                    std::string_view script);

}  // namespace tusk::provision
