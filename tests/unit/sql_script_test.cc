// SQL script splitting and error-position-to-line mapping (no server).
// Position semantics checked against PostgreSQL 15: PG_DIAG_STATEMENT_POSITION
// is a 1-based character (not byte) offset into the query string.
#include "provision/sql_script.h"

#include <gtest/gtest.h>

namespace tusk::provision {
namespace {

std::vector<std::string> Texts(std::string_view script) {
  std::vector<std::string> out;
  for (const auto& st : SplitSqlScript(script)) out.push_back(st.text);
  return out;
}

TEST(SqlScriptTest, SplitsOnSemicolons) {
  auto st = SplitSqlScript("select 1;\nselect 2;\n\n  select 3");
  ASSERT_EQ(st.size(), 3u);
  EXPECT_EQ(st[0].text, "select 1");
  EXPECT_EQ(st[0].first_line, 1);
  EXPECT_EQ(st[1].text, "\nselect 2");
  EXPECT_EQ(st[1].first_line, 2);
  EXPECT_EQ(st[2].first_line, 4);
  EXPECT_EQ(st[2].offset, 19u);
}

TEST(SqlScriptTest, IgnoresSemicolonsInStringsCommentsAndQuotes) {
  EXPECT_EQ(Texts("select 'a;b', \"x;y\" from t; -- c;d\nselect 2 /* ; /* ; */ ; */;"),
            (std::vector<std::string>{"select 'a;b', \"x;y\" from t",
                                      " -- c;d\nselect 2 /* ; /* ; */ ; */"}));
  EXPECT_EQ(Texts("select 'it''s;'; select E'\\';';"),
            (std::vector<std::string>{"select 'it''s;'", " select E'\\';'"}));
  EXPECT_EQ(Texts("select '\\'; select 2"),  // standard strings: backslash is literal
            (std::vector<std::string>{"select '\\'", " select 2"}));
}

TEST(SqlScriptTest, DollarQuotedBodies) {
  std::string f =
      "create function f() returns int as $$ select 1; $$ language sql;\n"
      "do $body$ begin perform 1; end $body$;\n"
      "select $1";
  auto t = Texts(f);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[1], "\ndo $body$ begin perform 1; end $body$");
  EXPECT_EQ(Texts("select a$b; select 2").size(), 2u);  // $ inside an identifier
}

TEST(SqlScriptTest, BeginAtomicBody) {
  std::string f =
      "create or replace function g(x int) returns int language sql\n"
      "begin atomic\n  select case when x > 0 then 1 else 0 end;\n  select 2;\nend;\n"
      "begin; select 1; commit;";
  auto t = Texts(f);
  ASSERT_EQ(t.size(), 4u);
  EXPECT_NE(t[0].find("select 2;\nend"), std::string::npos);
  EXPECT_EQ(t[1], "\nbegin");
}

TEST(SqlScriptTest, DropsEmptyStatements) {
  EXPECT_TRUE(Texts("  ;; -- only a comment\n/* x */ ;").empty());
  EXPECT_EQ(Texts("select 1;;select 2").size(), 2u);
}

TEST(SqlScriptTest, LineOfPositionCountsCharacters) {
  // Measured on PostgreSQL 15: the error for "foo" is at position 46.
  std::string s =
      "-- \xc3\xa9 comment \xc3\xbc\nselect '\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4';\n\nselect * from "
      "foo;";
  EXPECT_EQ(LineOfPosition(s, 46), 4);
  EXPECT_EQ(LineOfPosition(s, 15), 1);  // the newline closing line 1
  EXPECT_EQ(LineOfPosition(s, 16), 2);
  EXPECT_EQ(LineOfPosition("select 1;\nselect 2;\nselect * from foo;\n", 35), 3);
  EXPECT_EQ(LineOfPosition("a\nb", 0), 1);
  EXPECT_EQ(LineOfPosition("a\nb", 99), 2);
}

TEST(SqlScriptTest, LineOfOffset) {
  EXPECT_EQ(LineOfOffset("a\nb\nc", 0), 1);
  EXPECT_EQ(LineOfOffset("a\nb\nc", 2), 2);
  EXPECT_EQ(LineOfOffset("a\nb\nc", 4), 3);
}

}  // namespace
}  // namespace tusk::provision
