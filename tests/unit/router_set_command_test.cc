// ParseSetCommand: which SET/RESET texts the router tracks, and each value's
// string form as PostgreSQL 15 would show it (SHOW) after the same SET; the
// SQL that re-applies a setting.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "router/set_command.h"

namespace tusk::router {
namespace {

using Settings = std::vector<std::pair<std::string, std::string>>;

void ExpectSet(const std::string& sql, const Settings& want) {
  SetCommand cmd = ParseSetCommand(sql);
  EXPECT_EQ(cmd.kind, SetKind::kSet) << sql << " reason: " << cmd.reason;
  EXPECT_EQ(cmd.settings, want) << sql;
}

struct Case {
  const char* sql;
  const char* name;
  const char* value;  // the string form PostgreSQL 15 gives the setting
};

void ExpectSets(std::initializer_list<Case> cases) {
  for (const Case& c : cases) ExpectSet(c.sql, Settings{{c.name, c.value}});
}

// The kinds ParseSetCommands finds in `sql`, in order.
std::vector<SetKind> KindsIn(std::string_view sql) {
  std::vector<SetKind> kinds;
  for (const SetCommand& cmd : ParseSetCommands(sql)) kinds.push_back(cmd.kind);
  return kinds;
}

TEST(SetCommandTest, GenericValues) {
  ExpectSets({
      {"SET statement_timeout = 4321", "statement_timeout", "4321"},
      {"set Statement_Timeout to '5s';", "statement_timeout", "5s"},
      {"SET SESSION work_mem = '64MB' ;; ", "work_mem", "64MB"},
      {"SET application_name = 'it''s'", "application_name", "it's"},
      {"SET application_name = \"Mixed Case\"", "application_name", "Mixed Case"},
      {"SET application_name = Mixed", "application_name", "mixed"},
      {"SET enable_seqscan = OFF", "enable_seqscan", "off"},
      {"SET enable_seqscan TO true", "enable_seqscan", "true"},
      {"SET application_name TO'x'", "application_name", "x"},
      {"SET application_name = b", "application_name", "b"},
      {"SET datestyle = iso, dmy", "datestyle", "iso, dmy"},
      {"SET datestyle = 'ISO, DMY'", "datestyle", "ISO, DMY"},
      {"/* c */ SET -- line\n lock_timeout = 10", "lock_timeout", "10"},
      {"SET backslash_quote = 'a\\b'", "backslash_quote", "a\\b"},
  });
}

TEST(SetCommandTest, Numbers) {
  ExpectSets({
      {"SET extra_float_digits = 3", "extra_float_digits", "3"},
      {"SET extra_float_digits = -3", "extra_float_digits", "-3"},
      {"SET extra_float_digits = +003", "extra_float_digits", "3"},
      {"SET seed_like = 0.5", "seed_like", "0.5"},
      {"SET seed_like = -.5e3", "seed_like", "-.5e3"},
      {"SET big = 99999999999", "big", "99999999999"},
  });
}

TEST(SetCommandTest, ListOfNamesAreQuotedLikeIdentifiers) {
  ExpectSets({
      {"SET search_path = app, public", "search_path", "app, public"},
      {"SET search_path TO 'app', 'public'", "search_path", "app, public"},
      {"SET search_path = \"$user\", public", "search_path", "\"$user\", public"},
      {"SET search_path = 'My Schema', App", "search_path", "\"My Schema\", app"},
      {"SET search_path = 'a\"b'", "search_path", "\"a\"\"b\""},
      {"SET search_path = 'app, public'", "search_path", "\"app, public\""},
      {"SET temp_tablespaces = 'fast'", "temp_tablespaces", "fast"},
      {"SET SCHEMA 'App'", "search_path", "\"App\""},
  });
}

TEST(SetCommandTest, CustomSettingsAreDotted) {
  ExpectSets({
      {"SET app.tenant_id = '42'", "app.tenant_id", "42"},
      {"SET \"MyApp\".Tenant = x", "myapp.tenant", "x"},
      {"SET a.b.c TO 1", "a.b.c", "1"},
  });
}

TEST(SetCommandTest, SpecialForms) {
  ExpectSets({
      {"SET ROLE admin", "role", "admin"},
      {"SET SESSION ROLE 'Admin'", "role", "Admin"},
      {"SET ROLE NONE", "role", "none"},
      {"SET SESSION AUTHORIZATION bob", "session_authorization", "bob"},
      {"SET XML OPTION document", "xmloption", "document"},
      {"SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE",
       "default_transaction_isolation", "serializable"},
      {"set session characteristics as transaction read write", "default_transaction_read_only",
       "off"},
  });
  ExpectSet(
      "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ, "
      "READ ONLY NOT DEFERRABLE",
      Settings{{"default_transaction_isolation", "repeatable read"},
               {"default_transaction_read_only", "on"},
               {"default_transaction_deferrable", "off"}});
}

TEST(SetCommandTest, Resets) {
  auto expect = [](const std::string& sql, SetKind kind, const std::string& name) {
    SetCommand cmd = ParseSetCommand(sql);
    EXPECT_EQ(cmd.kind, kind) << sql;
    if (!name.empty()) {
      ASSERT_EQ(cmd.settings.size(), 1u) << sql;
      EXPECT_EQ(cmd.settings[0].first, name) << sql;
    }
  };
  expect("RESET ALL", SetKind::kResetAll, "");
  expect("reset all;", SetKind::kResetAll, "");
  expect("RESET search_path", SetKind::kReset, "search_path");
  expect("RESET app.Tenant_Id", SetKind::kReset, "app.tenant_id");
  expect("RESET ROLE", SetKind::kReset, "role");
  expect("RESET SESSION AUTHORIZATION", SetKind::kReset, "session_authorization");
  expect("SET work_mem TO DEFAULT", SetKind::kReset, "work_mem");
  expect("SET SESSION AUTHORIZATION DEFAULT", SetKind::kReset, "session_authorization");
}

TEST(SetCommandTest, NotTracked) {
  for (const char* s : {"SELECT 1",
                        "",
                        "   ",
                        "SET LOCAL work_mem = '1MB'",
                        "SET TRANSACTION READ ONLY",
                        "SET TIME ZONE 'UTC'",
                        "SET SESSION TIME ZONE LOCAL",
                        "RESET TIME ZONE",
                        "SET NAMES 'UTF8'",
                        "SET CONSTRAINTS ALL DEFERRED",
                        "SET work_mem FROM CURRENT",
                        "RESET TRANSACTION ISOLATION LEVEL",
                        "SET search_path = a; SELECT 1",
                        "SET search_path = a; RESET ALL",
                        "RESET ALL; SET a = 1",
                        "SET work_mem",
                        "SET = 1",
                        "SETTING x = 1",
                        "SET x = 1 )",
                        "select set_config('a', 'b', false)",
                        "SET x = 1 /* unterminated"}) {
    SetCommand cmd = ParseSetCommand(s);
    EXPECT_EQ(cmd.kind, SetKind::kNone) << s;
    EXPECT_TRUE(cmd.settings.empty()) << s;
  }
}

TEST(SetCommandTest, ValuesTheRouterCannotCarry) {
  for (const char* s :
       {"SET application_name = E'a\\nb'", "SET application_name = U&'\\0041'",
        "SET application_name = $$x$$", "SET application_name = $1", "SET x = B'101'",
        "SET x = X'1F'", "SET x = N'abc'", "SET x = 'unterminated", "SET x = \"\"",
        "SET work_mem = 64MB", "SET x = INTERVAL '1 hour'", "SET x = 'a' 'b'", "SET x = (1)",
        "SET x = -'1'", "SET ROLE 1", "SET SCHEMA app"}) {
    SetCommand cmd = ParseSetCommand(s);
    EXPECT_EQ(cmd.kind, SetKind::kUnsupported) << s;
    EXPECT_FALSE(cmd.reason.empty()) << s;
  }
}

TEST(SetCommandTest, StatementsOfAMultiStatementText) {
  auto kinds = [](const std::string& sql) {
    std::vector<std::string> out;
    for (const SetCommand& c : ParseSetCommands(sql)) {
      std::string k = c.kind == SetKind::kSet          ? "set"
                      : c.kind == SetKind::kReset      ? "reset"
                      : c.kind == SetKind::kResetAll   ? "reset all"
                      : c.kind == SetKind::kDiscardAll ? "discard all"
                                                       : "unsupported";
      out.push_back(c.settings.empty() ? k : k + " " + c.settings[0].first);
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(kinds("SELECT 1"), V{});
  EXPECT_EQ(kinds("UPDATE t SET a = 1; SELECT 'x;SET a = 1'"), V{});
  EXPECT_EQ(kinds("SET a.x = 1; SELECT 2; RESET a.y ;SET SESSION b.z TO 'q;r'"),
            (V{"set a.x", "reset a.y", "set b.z"}));
  // asyncpg's reset query when a connection goes back to its pool
  EXPECT_EQ(kinds("SELECT pg_advisory_unlock_all();\nCLOSE ALL;\nUNLISTEN *;\nRESET ALL;"),
            V{"reset all"});
  EXPECT_EQ(kinds("DISCARD ALL"), V{"discard all"});
  // Semicolons PostgreSQL's lexer does not see: E'' escapes, dollar quotes,
  // quoted names, comments.
  EXPECT_EQ(kinds("SELECT E'\\'; SET a.x = 1'; SET a.y = 2"), V{"set a.y"});
  EXPECT_EQ(kinds("DO $f$ BEGIN SET a.x = 1; END $f$; SET a.y = 2"), V{"set a.y"});
  EXPECT_EQ(kinds("DO $$ SET a.x = 1; $$"), V{});
  EXPECT_EQ(kinds("SELECT 1 AS \"x;SET a.x = 1\"; -- ; SET a.y = 1\nSET a.z = 3"), V{"set a.z"});
  EXPECT_EQ(kinds("SELECT $1; SET a.x = 1"), V{"set a.x"});
  EXPECT_EQ(kinds("SELECT a$b; SET a.x = 1 /* ; SET a.y = 1 */"), V{"set a.x"});
  // One statement the router cannot carry: the whole text is refused.
  EXPECT_EQ(kinds("SET a.x = 1; SET a.y = E'z'"), V{"unsupported"});
  EXPECT_EQ(kinds("SET a.x = 'unterminated; SET a.y = 1"), V{"unsupported"});
}

TEST(SetCommandTest, Savepoints) {
  struct SavepointCase {
    const char* sql;
    SetKind kind;
    const char* name;
  };
  for (const SavepointCase& c : {
           SavepointCase{"SAVEPOINT a", SetKind::kSavepoint, "a"},
           {"savepoint PGJDBC_AUTOSAVE;", SetKind::kSavepoint, "pgjdbc_autosave"},
           {"SAVEPOINT \"Mixed Case\"", SetKind::kSavepoint, "Mixed Case"},
           {"SAVEPOINT savepoint", SetKind::kSavepoint, "savepoint"},
           {"RELEASE SAVEPOINT a", SetKind::kRelease, "a"},
           {"release a", SetKind::kRelease, "a"},
           {"RELEASE savepoint", SetKind::kRelease, "savepoint"},
           {"ROLLBACK TO SAVEPOINT a", SetKind::kRollbackTo, "a"},
           {"rollback work to b", SetKind::kRollbackTo, "b"},
           {"ROLLBACK TRANSACTION TO SAVEPOINT \"B\" ;", SetKind::kRollbackTo, "B"},
           {"ROLLBACK TO savepoint", SetKind::kRollbackTo, "savepoint"},
           {"ROLLBACK TO savepoint;;", SetKind::kRollbackTo, "savepoint"},
       }) {
    SetCommand cmd = ParseSetCommand(c.sql);
    EXPECT_EQ(cmd.kind, c.kind) << c.sql;
    EXPECT_EQ(cmd.savepoint, c.name) << c.sql;
    EXPECT_TRUE(cmd.settings.empty()) << c.sql;
  }
  // Not savepoints (ROLLBACK alone ends the transaction), and malformed.
  for (const char* sql : {"ROLLBACK PREPARED 'x'", "SAVEPOINT", "RELEASE", "ROLLBACK TO",
                          "SAVEPOINT a b", "SAVEPOINT 'a'",
                          // A second statement after the word (found by fuzzing).
                          "ROLLBACK TO savepoint;R", "RELEASE SAVEPOINT; SELECT 1"}) {
    EXPECT_EQ(ParseSetCommand(sql).kind, SetKind::kNone) << sql;
  }
  EXPECT_EQ(
      KindsIn("BEGIN; SAVEPOINT a; SET x.y = 1; ROLLBACK TO a; COMMIT"),
      (std::vector{SetKind::kSavepoint, SetKind::kSet, SetKind::kRollbackTo, SetKind::kCommit}));
  EXPECT_EQ(KindsIn("rollback to a"), std::vector{SetKind::kRollbackTo});
  EXPECT_EQ(KindsIn("Release a"), std::vector{SetKind::kRelease});
}

TEST(SetCommandTest, TransactionEnds) {
  for (const char* sql : {"COMMIT", "commit work", "END TRANSACTION;", "Commit And Chain",
                          "END AND NO CHAIN", "/* c */ COMMIT -- x"}) {
    SetCommand cmd = ParseSetCommand(sql);
    EXPECT_EQ(cmd.kind, SetKind::kCommit) << sql;
    EXPECT_TRUE(cmd.settings.empty() && cmd.savepoint.empty()) << sql;
  }
  for (const char* sql : {"ROLLBACK", "rollback transaction", "ABORT", "ABORT WORK AND CHAIN",
                          "ROLLBACK AND NO CHAIN;"}) {
    EXPECT_EQ(ParseSetCommand(sql).kind, SetKind::kRollback) << sql;
  }
  for (const char* sql :
       {"COMMIT PREPARED 'x'", "ROLLBACK PREPARED 'x'", "COMMIT AND", "END x", "COMMIT AND NO",
        "PREPARE TRANSACTION 'x'", "ENDING", "COMMIT; SELECT 1", "END LOOP"}) {
    EXPECT_EQ(ParseSetCommand(sql).kind, SetKind::kNone) << sql;
  }
  // One transaction committed and the next rolled back, in one text.
  EXPECT_EQ(KindsIn("BEGIN; SET a.b = 1; COMMIT AND CHAIN; SET a.c = 2; ROLLBACK; SELECT 1"),
            (std::vector{SetKind::kSet, SetKind::kCommit, SetKind::kSet, SetKind::kRollback}));
  EXPECT_EQ(KindsIn("select 1; end"), std::vector{SetKind::kCommit});
  EXPECT_TRUE(KindsIn("SELECT 1 AS commit; SELECT 'end'").empty());
}

TEST(SetCommandTest, ListenAnywhereInTheText) {
  EXPECT_TRUE(RunsListen("LISTEN events"));
  EXPECT_TRUE(RunsListen("  /* c */ -- line\n listen \"Events\";"));
  EXPECT_TRUE(RunsListen("SELECT 1; Listen events"));
  EXPECT_TRUE(RunsListen("BEGIN;SELECT 'a;b';LISTEN events;COMMIT"));
  EXPECT_FALSE(RunsListen("UNLISTEN *"));
  EXPECT_FALSE(RunsListen("SELECT 'listen'; SELECT 1 AS listen"));
  EXPECT_FALSE(RunsListen("SELECT 1 /* ; LISTEN x */; -- ; LISTEN y"));
  EXPECT_FALSE(RunsListen("DO $$ BEGIN EXECUTE 'x'; END $$; SELECT listener FROM t"));
  EXPECT_FALSE(RunsListen("SELECT E'\\'; LISTEN x'"));
  EXPECT_FALSE(RunsListen("NOTIFY events"));
  EXPECT_NE(ListenRefusalSql().find("'0A000'"), std::string::npos);
}

TEST(SetCommandTest, SessionStateLeftBehind) {
  for (const char* sql : {
           "CREATE TEMP TABLE t (x int)",
           "create temporary table t as select 1",
           "CREATE GLOBAL TEMPORARY TABLE t (x int)",
           "CREATE LOCAL TEMP SEQUENCE s",
           "CREATE OR REPLACE TEMP VIEW v AS SELECT 1",
           "SELECT 1 AS x INTO TEMP t",
           "SELECT 1; CREATE TABLE pg_temp.t (x int)",
           "SELECT * FROM \"pg_temp\".t",
           "SELECT pg_advisory_lock(42)",
           "SELECT PG_TRY_ADVISORY_LOCK_SHARED(1, 2)",
           "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
           "PREPARE p (int) AS SELECT $1",
           "BEGIN; /* c */ prepare q AS SELECT 1; COMMIT",
           "SELECT set_config('app.tenant', '42', false)",
           "SELECT pg_catalog.set_config('a.b', $1, $2)",
           "SELECT set_config('a.b', x, is_local) FROM t",
           "SELECT \"set_config\"('a.b', 'x', 'off')",
           "SELECT set_config('a.b', 'x', true OR false)",
           "SELECT set_config('a.b', 'x', true), set_config('a.c', 'y', false)",
           // The code of a DO block runs now.
           "DO $$ BEGIN CREATE TEMP TABLE t (x int); END $$",
           "do language plpgsql $body$ begin perform pg_advisory_lock(1); end $body$",
           "DO 'BEGIN PERFORM set_config(''a.b'', ''x'', false); END'",
           "SELECT 1; DO $a$ BEGIN EXECUTE $b$ CREATE TEMP TABLE t () $b$; END $a$",
           "DO $$ BEGIN EXECUTE format('CREATE TEMP TABLE %I ()', 't'); END $$",
           // Deeper than the scan goes.
           "DO $a$ $b$ $c$ $d$ $e$ temp $e$ $d$ $c$ $b$ $a$",
       }) {
    EXPECT_TRUE(LeavesSessionState(sql)) << sql;
  }
  for (const char* sql : {
           "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
           "SELECT temp, hold FROM weather",
           "INSERT INTO temp VALUES (1)",
           "UPDATE temp SET x = 1",
           "SELECT pg_advisory_xact_lock(42), pg_advisory_unlock(42)",
           "SELECT 'CREATE TEMP TABLE t' /* pg_advisory_lock( */ -- PREPARE x",
           "DO $$ BEGIN RAISE NOTICE 'temp: %', pg_temp_name(); END $$ LANGUAGE plpgsql",
           "CREATE FUNCTION f() RETURNS void AS $$ CREATE TEMP TABLE t () $$ LANGUAGE sql",
           "SELECT $$ CREATE TEMP TABLE t () $$, 'pg_advisory_lock(1)'",
           "DO $$ BEGIN CREATE TEMP TABLE t (x int)",  // unterminated: no code
           "DO $a$ $b$ $c$ $d$ temp $d$ $c$ $b$ $a$",  // four deep, read
           "SELECT E'\\'; CREATE TEMP TABLE t'",
           "PREPARE TRANSACTION 'gid'",
           "DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1",
           "SELECT 1; SELECT x AS prepare FROM t",
           "SELECT set_config('app.tenant', '42', true)",
           "select PG_CATALOG.SET_CONFIG('a.b', f(1, g(2, 3)), 'On')",
           "SELECT set_config('a.b', concat('x', 'y'), TRUE), current_setting('set_config')",
       }) {
    EXPECT_FALSE(LeavesSessionState(sql)) << sql;
  }
}

TEST(SetCommandTest, RenderedSql) {
  EXPECT_EQ(SetConfigSql("search_path", "\"$user\", public"),
            "SELECT pg_catalog.set_config(E'search_path', E'\"$user\", public', false)");
  EXPECT_EQ(SetConfigSql("application_name", "it's a\\b"),
            "SELECT pg_catalog.set_config(E'application_name', E'it''s a\\\\b', false)");
  EXPECT_EQ(ResetSql("app.tenant_id"), "RESET \"app.tenant_id\"");
  EXPECT_EQ(ResetSql("we\"ird"), "RESET \"we\"\"ird\"");
}

}  // namespace
}  // namespace tusk::router
