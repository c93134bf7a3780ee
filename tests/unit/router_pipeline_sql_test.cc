// PipelineSafeSql: which simple-Query texts may be queued behind another
// client's query (allowed first keywords, one statement, quoting, comments,
// session-state functions, conservative bail-outs).
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "router/pipeline_sql.h"

namespace tusk::router {
namespace {

TEST(PipelineSafeSqlTest, PgbenchQueries) {
  EXPECT_TRUE(PipelineSafeSql("SELECT abalance FROM pgbench_accounts WHERE aid = 4242;"));
  EXPECT_TRUE(
      PipelineSafeSql("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 1;"));
}

TEST(PipelineSafeSqlTest, AllowedFirstKeywords) {
  for (const char* s :
       {"SELECT 1", "SELECT 1;", "select 1", "SeLeCt 1", "  \t\n\r\f\vselect 1",
        "INSERT INTO t VALUES (1)", "update t set a = 2", "DELETE FROM t",
        "WITH x AS (SELECT 1) SELECT * FROM x", "values (1), (2)", "TABLE t", "select(1)",
        "select*from t", "SELECT a INTO t2 FROM t", "SELECT * FROM t FOR UPDATE",
        "SELECT nextval('s')", "SELECT pg_advisory_xact_lock(1)", "SELECT pg_sleep(0.1)"}) {
    EXPECT_TRUE(PipelineSafeSql(s)) << s;
  }
}

TEST(PipelineSafeSqlTest, OtherStatementsRefused) {
  for (const char* s : {"BEGIN",
                        "begin;",
                        "COMMIT",
                        "ROLLBACK",
                        "START TRANSACTION",
                        "END",
                        "ABORT",
                        "SAVEPOINT a",
                        "RELEASE a",
                        "SET search_path = x",
                        "RESET ALL",
                        "DISCARD ALL",
                        "LISTEN c",
                        "UNLISTEN *",
                        "NOTIFY c",
                        "PREPARE p AS SELECT 1",
                        "EXECUTE p",
                        "DEALLOCATE p",
                        "DECLARE c CURSOR FOR SELECT 1",
                        "FETCH c",
                        "CLOSE c",
                        "MOVE c",
                        "COPY t FROM STDIN",
                        "DO 'begin end'",
                        "SHOW work_mem",
                        "LOCK t",
                        "CREATE TABLE t (a int)",
                        "DROP TABLE t",
                        "ALTER TABLE t ADD b int",
                        "VACUUM t",
                        "CALL p()",
                        "EXPLAIN SELECT 1",
                        "MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE",
                        "(SELECT 1)",
                        ";SELECT 1"}) {
    EXPECT_FALSE(PipelineSafeSql(s)) << s;
  }
}

TEST(PipelineSafeSqlTest, KeywordMustBeWholeWord) {
  for (const char* s : {"selectx 1", "select_1", "select1", "selecté 1", "1select", "_select 1",
                        "\"select\" 1", "sel ect 1"}) {
    EXPECT_FALSE(PipelineSafeSql(s)) << s;
  }
}

TEST(PipelineSafeSqlTest, EmptyOrCommentOnly) {
  for (const char* s :
       {"", " ", "\n\t  ", ";", " ; ", "-- select 1", "/* select 1 */", "/* a */ -- b\n"}) {
    EXPECT_FALSE(PipelineSafeSql(s)) << s;
  }
}

TEST(PipelineSafeSqlTest, ExactlyOneStatement) {
  EXPECT_TRUE(PipelineSafeSql("SELECT 1;;  "));
  EXPECT_TRUE(PipelineSafeSql("SELECT 1; -- done\n ; /* end */ "));
  EXPECT_FALSE(PipelineSafeSql("SELECT 1; BEGIN"));
  EXPECT_FALSE(PipelineSafeSql("SELECT 1; SELECT 2"));
  EXPECT_FALSE(PipelineSafeSql("SELECT 1;BEGIN"));
  EXPECT_FALSE(PipelineSafeSql("SELECT 1; 2"));
  EXPECT_FALSE(PipelineSafeSql("SELECT 1; ("));  // any token after ';'
}

TEST(PipelineSafeSqlTest, SemicolonsInsideQuotesAndComments) {
  EXPECT_TRUE(PipelineSafeSql("SELECT ';'"));
  EXPECT_TRUE(PipelineSafeSql("SELECT '; BEGIN'"));
  EXPECT_TRUE(PipelineSafeSql("SELECT 'it''s; ok'"));
  EXPECT_TRUE(PipelineSafeSql("SELECT 1 -- ; BEGIN"));
  EXPECT_TRUE(PipelineSafeSql("SELECT 1 /* ; BEGIN */"));
  EXPECT_TRUE(PipelineSafeSql("select\"x;\" from t"));
  EXPECT_TRUE(PipelineSafeSql("select \"a\"\";b\" from t"));
  EXPECT_FALSE(PipelineSafeSql("SELECT 1 -- x\n; BEGIN"));
  EXPECT_FALSE(PipelineSafeSql("SELECT 1 -- x\r; BEGIN"));
  EXPECT_FALSE(PipelineSafeSql("SELECT 'a''; BEGIN"));  // unterminated: ''; is inside
}

TEST(PipelineSafeSqlTest, Comments) {
  EXPECT_TRUE(PipelineSafeSql("-- leading\nSELECT 1"));
  EXPECT_TRUE(PipelineSafeSql("/* leading */SELECT 1"));
  EXPECT_TRUE(PipelineSafeSql("/* a /* nested */ still comment */ SELECT 1"));
  EXPECT_TRUE(PipelineSafeSql("SELECT 1 /* a /* b */ ; BEGIN */"));
  EXPECT_TRUE(PipelineSafeSql("SELECT 1 +/* op then comment */ 2"));
  EXPECT_TRUE(PipelineSafeSql("SELECT 1 /* ' \" $ */"));
  EXPECT_TRUE(PipelineSafeSql("SELECT 1 /**/"));
  EXPECT_TRUE(PipelineSafeSql("SELECT 1 /*/ still open */"));
  // Nesting: the first "*/" closes only the inner comment.
  EXPECT_FALSE(PipelineSafeSql("/* a /* b */ SELECT 1"));
  EXPECT_FALSE(PipelineSafeSql("SELECT 1 /* a /* b */ */ ; BEGIN"));
  EXPECT_FALSE(PipelineSafeSql("SELECT 1 /* unterminated"));
  EXPECT_FALSE(PipelineSafeSql("SELECT 1 /*"));
  EXPECT_FALSE(PipelineSafeSql("SELECT 1 /*/"));
  EXPECT_FALSE(PipelineSafeSql("/* c */ BEGIN"));
}

TEST(PipelineSafeSqlTest, ParametersOfExtendedQueries) {
  // pgbench -M extended / prepared: the Parse texts.
  EXPECT_TRUE(PipelineSafeSql("SELECT abalance FROM pgbench_accounts WHERE aid = $1;"));
  EXPECT_TRUE(PipelineSafeSql("UPDATE t SET a = $1 WHERE b = $12"));
  EXPECT_TRUE(PipelineSafeSql("SELECT $1::int"));
}

TEST(PipelineSafeSqlTest, ConservativeBailOuts) {
  EXPECT_FALSE(PipelineSafeSql("SELECT $$;BEGIN$$"));
  EXPECT_FALSE(PipelineSafeSql("SELECT $tag$x$tag$"));
  EXPECT_FALSE(PipelineSafeSql("SELECT $"));
  EXPECT_FALSE(PipelineSafeSql("SELECT $a$"));
  EXPECT_FALSE(PipelineSafeSql("SELECT 1 = $1 AND $_$;BEGIN$_$"));
  EXPECT_FALSE(PipelineSafeSql("SELECT E'\\''; BEGIN; SELECT ''"));
  EXPECT_FALSE(PipelineSafeSql("SELECT E'\\''"));
  EXPECT_FALSE(PipelineSafeSql("SELECT 'a\\b'"));
  EXPECT_FALSE(PipelineSafeSql("SELECT 'unterminated"));
  EXPECT_FALSE(PipelineSafeSql("SELECT \"unterminated"));
  EXPECT_FALSE(PipelineSafeSql("SELECT U&\"\\0073et_config\"('a', 'b', false)"));
  EXPECT_FALSE(PipelineSafeSql(std::string_view("SELECT 1\0", 9)));
  EXPECT_FALSE(PipelineSafeSql(std::string_view("SELECT '\0'", 10)));
  EXPECT_FALSE(PipelineSafeSql(std::string_view("SELECT 1 -- \0", 13)));
  // '$' and backslashes are fine where they cannot end a quote.
  EXPECT_TRUE(PipelineSafeSql("SELECT '$$' AS \"a\\b$\""));
  EXPECT_TRUE(PipelineSafeSql("SELECT 1 -- $$ \\"));
}

TEST(PipelineSafeSqlTest, SessionStateWordsRefused) {
  for (const char* s : {"SELECT set_config('search_path', 'x', false)",
                        "select SET_CONFIG('a', 'b', false)",
                        "SELECT pg_catalog.set_config('a', 'b', false)",
                        "SELECT \"set_config\"('a', 'b', false)",
                        "SELECT setseed(0.5)",
                        "SELECT pg_advisory_lock(1)",
                        "SELECT pg_advisory_lock_shared(1)",
                        "SELECT pg_try_advisory_lock(1)",
                        "SELECT pg_try_advisory_lock_shared(1)",
                        "SELECT pg_advisory_unlock(1)",
                        "SELECT pg_advisory_unlock_shared(1)",
                        "SELECT pg_advisory_unlock_all()",
                        "SELECT lo_open(1, 2)",
                        "SELECT dblink_connect('c')",
                        "SELECT currval('s')",
                        "select CurrVal('s')",
                        "SELECT lastval()",
                        "SELECT * INTO TEMP t2 FROM t",
                        "SELECT * INTO TEMPORARY t2 FROM t",
                        "SELECT * INTO pg_temp.t2 FROM t",
                        "SELECT 1temp",
                        "WITH x AS (SELECT currval('s')) SELECT * FROM x"}) {
    EXPECT_FALSE(PipelineSafeSql(s)) << s;
  }
  // Whole words only; quoted literals and comments do not count.
  for (const char* s :
       {"SELECT my_set_config FROM t", "SELECT currval_x FROM t", "SELECT temperature FROM t",
        "SELECT 'set_config(1)'", "SELECT 1 -- currval\n", "SELECT 1 /* temp */"}) {
    EXPECT_TRUE(PipelineSafeSql(s)) << s;
  }
}

TEST(PipelineSafeSqlTest, AppendingAStatementRefuses) {
  for (const char* s : {"SELECT 1", "SELECT 1;", "SELECT 1 -- c\n", "UPDATE t SET a = 1;;"}) {
    ASSERT_TRUE(PipelineSafeSql(s)) << s;
    EXPECT_FALSE(PipelineSafeSql(std::string(s) + "; BEGIN")) << s;
  }
}

}  // namespace
}  // namespace tusk::router
