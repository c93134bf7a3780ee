// String helpers: byte sizes, PostgreSQL byte formatting, SQL quoting,
// splitting and identifier checks.
#include "common/strings.h"

#include <gtest/gtest.h>

namespace tusk {
namespace {

TEST(ParseBytesTest, PlainNumbersAndUnits) {
  EXPECT_EQ(ParseBytes("0"), 0u);
  EXPECT_EQ(ParseBytes("1048576"), 1048576u);
  EXPECT_EQ(ParseBytes("12B"), 12u);
  EXPECT_EQ(ParseBytes("64kB"), 64u << 10);
  EXPECT_EQ(ParseBytes("64KiB"), 64u << 10);
  EXPECT_EQ(ParseBytes("512MB"), 512ull << 20);
  EXPECT_EQ(ParseBytes("512m"), 512ull << 20);
  EXPECT_EQ(ParseBytes("2GiB"), 2ull << 30);
  EXPECT_EQ(ParseBytes("2g"), 2ull << 30);
  EXPECT_EQ(ParseBytes("3TB"), 3ull << 40);
}

TEST(ParseBytesTest, WhitespaceAroundNumberAndUnit) {
  EXPECT_EQ(ParseBytes("  4 GB \t"), 4ull << 30);
  EXPECT_EQ(ParseBytes("\n8\n"), 8u);
}

TEST(ParseBytesTest, RejectsJunk) {
  for (const char* s : {"", "   ", "GB", "-1", "-1GB", "+5", "1.5GB", "5 XB", "5GBB", "5 G B",
                        "0x10", "ten", "5GB extra", "1e3"}) {
    EXPECT_FALSE(ParseBytes(s).has_value()) << s;
  }
}

TEST(ParseBytesTest, RejectsOverflow) {
  EXPECT_EQ(ParseBytes("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(ParseBytes("18446744073709551616").has_value());
  EXPECT_FALSE(ParseBytes("99999999999999999999999").has_value());
  EXPECT_EQ(ParseBytes("16777215TB"), 16777215ull << 40);
  EXPECT_FALSE(ParseBytes("16777216TB").has_value());  // 2^64 bytes
  EXPECT_FALSE(ParseBytes("18014398509481984kB").has_value());
}

TEST(FormatPgBytesTest, LargestEvenUnit) {
  EXPECT_EQ(FormatPgBytes(512ull << 20), "512MB");
  EXPECT_EQ(FormatPgBytes(1ull << 30), "1GB");
  EXPECT_EQ(FormatPgBytes(1536ull << 20), "1536MB");
  EXPECT_EQ(FormatPgBytes(2ull << 40), "2TB");
  EXPECT_EQ(FormatPgBytes(64ull << 10), "64kB");
  EXPECT_EQ(FormatPgBytes((1ull << 20) + (1ull << 10)), "1025kB");
}

TEST(FormatPgBytesTest, RoundsUpToWholeKilobytes) {
  EXPECT_EQ(FormatPgBytes(1), "1kB");
  EXPECT_EQ(FormatPgBytes(1023), "1kB");
  EXPECT_EQ(FormatPgBytes(1025), "2kB");
  EXPECT_EQ(FormatPgBytes(0), "0kB");
}

TEST(FormatPgBytesTest, RoundTripsThroughParseBytes) {
  for (uint64_t b : {1ull << 10, 3ull << 20, 7ull << 30, 5ull << 40, 123456ull << 10}) {
    EXPECT_EQ(ParseBytes(FormatPgBytes(b)), b) << b;
  }
}

TEST(QuoteTest, Ident) {
  EXPECT_EQ(QuoteIdent("app"), "\"app\"");
  EXPECT_EQ(QuoteIdent("my db"), "\"my db\"");
  EXPECT_EQ(QuoteIdent("a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(QuoteIdent(""), "\"\"");
  EXPECT_EQ(QuoteIdent("it's"), "\"it's\"");
}

TEST(QuoteTest, Literal) {
  EXPECT_EQ(QuoteLiteral("x"), "'x'");
  EXPECT_EQ(QuoteLiteral("it's"), "'it''s'");
  EXPECT_EQ(QuoteLiteral("''"), "''''''");
  EXPECT_EQ(QuoteLiteral(""), "''");
  EXPECT_EQ(QuoteLiteral("a\\b"), "'a\\b'");  // standard_conforming_strings: no escaping
  EXPECT_EQ(QuoteLiteral("say \"hi\""), "'say \"hi\"'");
}

TEST(SplitTrimmedTest, TrimsAndDropsEmptyParts) {
  EXPECT_EQ(SplitTrimmed(" a , b,,c ,", ','), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(SplitTrimmed("a:b", ':'), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(SplitTrimmed("single", ','), (std::vector<std::string>{"single"}));
  EXPECT_TRUE(SplitTrimmed("", ',').empty());
  EXPECT_TRUE(SplitTrimmed(" , ,\t,", ',').empty());
  EXPECT_EQ(SplitTrimmed("x y, z", ','), (std::vector<std::string>{"x y", "z"}));
}

TEST(TrimJoinTest, Basics) {
  EXPECT_EQ(Trim(" \t a b \n"), "a b");
  EXPECT_EQ(Trim("   "), "");
  EXPECT_EQ(Join({"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(Join({}, ","), "");
  EXPECT_EQ(Join({"one"}, ","), "one");
}

TEST(IsSimpleIdentifierTest, AcceptsPlainLowercase) {
  for (const char* s : {"a", "app", "_x", "tbl_2", "a1b2"}) {
    EXPECT_TRUE(IsSimpleIdentifier(s)) << s;
  }
  EXPECT_TRUE(IsSimpleIdentifier(std::string(63, 'a')));
}

TEST(IsSimpleIdentifierTest, RejectsEverythingElse) {
  for (const char* s : {"", "App", "1abc", "my db", "a-b", "a\"b", "a$b", "é", "a.b"}) {
    EXPECT_FALSE(IsSimpleIdentifier(s)) << s;
  }
  EXPECT_FALSE(IsSimpleIdentifier(std::string(64, 'a')));
}

TEST(SkipSqlCommentTest, LineAndNestedBlockComments) {
  EXPECT_EQ(SkipSqlComment("-- x\nSELECT", 0), 4u);
  EXPECT_EQ(SkipSqlComment("a -- x\rb", 2), 6u);
  EXPECT_EQ(SkipSqlComment("-- to the end", 0), 13u);
  EXPECT_EQ(SkipSqlComment("/* a /* b */ c */d", 0), 17u);
  EXPECT_EQ(SkipSqlComment("/**/", 0), 4u);
  EXPECT_EQ(SkipSqlComment("/* a /* b */", 0), std::string_view::npos);
  EXPECT_EQ(SkipSqlComment("/*/", 0), std::string_view::npos);
}

TEST(LowerAsciiTest, OnlyAsciiLettersChange) {
  EXPECT_EQ(LowerAscii("DateStyle"), "datestyle");
  EXPECT_EQ(LowerAscii("App.Tenant_ID-9"), "app.tenant_id-9");
  EXPECT_EQ(LowerAscii("\xc3\x89t\xc3\xa9"), "\xc3\x89t\xc3\xa9");
}

TEST(EqualsIgnoreCaseTest, AsciiCaseOnly) {
  EXPECT_TRUE(EqualsIgnoreCase("SeLeCt", "select"));
  EXPECT_TRUE(EqualsIgnoreCase("pg_temp", "pg_temp"));
  EXPECT_FALSE(EqualsIgnoreCase("selects", "select"));
  EXPECT_FALSE(EqualsIgnoreCase("", "select"));
  EXPECT_FALSE(
      EqualsIgnoreCase("S\xc9"
                       "LECT",
                       "s\xe9lect"));
  EXPECT_FALSE(EqualsIgnoreCase("s@lect", "s`lect"));  // '@' is not '`' in another case
}

TEST(SqlCharClassTest, FollowPostgresLexer) {
  for (char c : std::string(" \t\n\r\f\v")) EXPECT_TRUE(IsSqlSpace(c)) << int(c);
  EXPECT_FALSE(IsSqlSpace('x'));
  EXPECT_TRUE(IsSqlDigit('0') && IsSqlDigit('9') && !IsSqlDigit('a'));
  for (char c : std::string("aZ_\xc3")) EXPECT_TRUE(IsSqlIdentStart(c)) << int(c);
  for (char c : std::string("0$.\"'")) EXPECT_FALSE(IsSqlIdentStart(c)) << int(c);
}

}  // namespace
}  // namespace tusk
