// Message parsers: builder → ScanFrame → Parse* round trips and malformed
// bodies (layouts from PostgreSQL docs, Protocol §55.7).
#include <gtest/gtest.h>

#include <string>

#include "protocol/frame.h"
#include "protocol/messages.h"
#include "protocol/wire.h"

namespace tusk::protocol {
namespace {

using namespace std::literals;

// The body of the single message in `wire`, checking its type and framing.
std::string Body(const std::string& wire, char type) {
  Frame f = ScanFrame(wire, kDefaultMaxMessageBytes);
  EXPECT_EQ(f.status, FrameStatus::kComplete);
  EXPECT_EQ(f.type, type);
  EXPECT_EQ(f.size(), wire.size());
  return std::string(f.body);
}

// Every strict prefix of a valid body must be rejected by `parse`.
template <typename Parse>
void ExpectPrefixesRejected(std::string_view body, Parse parse) {
  for (size_t n = 0; n < body.size(); ++n) {
    EXPECT_FALSE(parse(body.substr(0, n)).has_value()) << "prefix of " << n << " bytes";
  }
}

TEST(ParseMessagesTest, Parse) {
  std::string wire;
  AppendParse(wire, "stmt1", "select $1, $2", {23, 0});
  std::string body = Body(wire, 'P');
  auto m = ParseParse(body);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->name, "stmt1");
  EXPECT_EQ(m->query, "select $1, $2");
  EXPECT_EQ(m->param_types, (std::vector<int32_t>{23, 0}));
  ExpectPrefixesRejected(body, ParseParse);
  EXPECT_FALSE(ParseParse(body + "x").has_value());
  EXPECT_FALSE(ParseParse("\0q\0\xff\xff"sv).has_value());  // negative count

  wire.clear();
  AppendParse(wire, "", "select 1", {});
  body = Body(wire, 'P');
  m = ParseParse(body);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->name, "");
  EXPECT_TRUE(m->param_types.empty());
}

// Bind "portal", "stmt": 1 format code (binary), 2 values ("ab", NULL), 1 result format.
const std::string kBindRest =
    "\0\x01\0\x01\0\x02\0\0\0\x02"
    "ab\xff\xff\xff\xff\0\x01\0\0"s;

TEST(ParseMessagesTest, BindRoundTripWithRenamedStatement) {
  std::string wire;
  AppendBind(wire, "portal", "stmt", kBindRest);
  std::string body = Body(wire, 'B');
  auto m = ParseBind(body);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->portal, "portal");
  EXPECT_EQ(m->statement, "stmt");
  EXPECT_EQ(m->rest, kBindRest);
  ExpectPrefixesRejected(body, ParseBind);

  std::string renamed;
  AppendBind(renamed, m->portal, "tusk_s1", m->rest);
  std::string renamed_body = Body(renamed, 'B');
  auto r = ParseBind(renamed_body);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->statement, "tusk_s1");
  EXPECT_EQ(r->portal, "portal");
  EXPECT_EQ(r->rest, kBindRest);
}

TEST(ParseMessagesTest, BindRejectsMalformedRest) {
  auto bind = [](std::string_view rest) { return ParseBind("\0\0"s + std::string(rest)); };
  EXPECT_TRUE(bind("\0\0\0\0\0\0"sv).has_value());       // no formats, values, result formats
  EXPECT_FALSE(bind("\0\0\0\0\0\0x"sv).has_value());     // trailing byte
  EXPECT_FALSE(bind("\xff\xff\0\0\0\0"sv).has_value());  // negative format count
  EXPECT_FALSE(bind("\0\0\0\x01\xff\xff\xff\xfe\0\0"sv).has_value());  // value length -2
  EXPECT_FALSE(bind("\0\0\0\x01\0\0\0\x09"
                    "ab\0\0"sv)
                   .has_value());                        // value past the end
  EXPECT_FALSE(bind("\0\0\xff\xff\0\0"sv).has_value());  // negative value count
}

TEST(ParseMessagesTest, DescribeAndClose) {
  std::string wire;
  AppendTarget(wire, 'C', 'S', "s1");
  std::string body = Body(wire, 'C');
  auto m = ParseTarget(body);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->kind, 'S');
  EXPECT_EQ(m->name, "s1");
  ExpectPrefixesRejected(body, ParseTarget);

  wire.clear();
  AppendTarget(wire, 'D', 'P', "");
  body = Body(wire, 'D');
  m = ParseTarget(body);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->kind, 'P');
  EXPECT_EQ(m->name, "");

  EXPECT_FALSE(ParseTarget("Xname\0"sv).has_value());
  EXPECT_FALSE(ParseTarget("Sname\0x"sv).has_value());
}

TEST(ParseMessagesTest, Execute) {
  const std::string_view unnamed("\0\0\0\0\0", 5);  // portal "", all rows
  auto m = ParseExecute(unnamed);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->portal, "");
  EXPECT_EQ(m->max_rows, 0);
  ExpectPrefixesRejected(std::string(unnamed), ParseExecute);
  m = ParseExecute("p1\0\0\0\0\x0a"sv);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->portal, "p1");
  EXPECT_EQ(m->max_rows, 10);
  EXPECT_FALSE(ParseExecute("p1\0\0\0\0\x0a!"sv).has_value());  // trailing byte
}

TEST(ParseMessagesTest, QueryPasswordAndCommandComplete) {
  std::string wire;
  AppendQuery(wire, "select 1");
  EXPECT_EQ(ParseQuery(Body(wire, 'Q')), "select 1");
  wire.clear();
  AppendPasswordMessage(wire, "md5abc");
  EXPECT_EQ(ParsePasswordMessage(Body(wire, 'p')), "md5abc");
  wire.clear();
  AppendCommandComplete(wire, "INSERT 0 1");
  EXPECT_EQ(ParseCommandComplete(Body(wire, 'C')), "INSERT 0 1");

  for (auto parse : {ParseQuery, ParsePasswordMessage, ParseCommandComplete}) {
    EXPECT_FALSE(parse("").has_value());
    EXPECT_FALSE(parse("no nul").has_value());
    EXPECT_FALSE(parse("a\0b\0"sv).has_value());
    EXPECT_EQ(parse("\0"sv), "");
  }
}

TEST(ParseMessagesTest, ErrorResponse) {
  std::string wire;
  ErrorFields fields;
  fields.severity = "FATAL";
  fields.sqlstate = "28P01";
  fields.message = "password authentication failed for user \"u\"";
  fields.hint = "h";
  AppendErrorResponse(wire, fields);
  std::string body = Body(wire, 'E');
  auto m = ParseError(body);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->Field('S'), "FATAL");
  EXPECT_EQ(m->Field('V'), "FATAL");
  EXPECT_EQ(m->Field('C'), "28P01");
  EXPECT_EQ(m->Field('M'), "password authentication failed for user \"u\"");
  EXPECT_EQ(m->Field('H'), "h");
  EXPECT_EQ(m->Field('D'), "");
  EXPECT_EQ(m->fields.size(), 5u);
  ExpectPrefixesRejected(body, ParseError);
  EXPECT_FALSE(ParseError(body + "x").has_value());

  wire.clear();
  AppendNoticeResponse(wire, {"NOTICE", "00000", "m", "", ""});
  body = Body(wire, 'N');
  m = ParseError(body);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->Field('S'), "NOTICE");

  m = ParseError("\0"sv);
  ASSERT_TRUE(m.has_value());
  EXPECT_TRUE(m->fields.empty());
}

TEST(ParseMessagesTest, ParameterStatusAndBackendKeyData) {
  std::string wire;
  AppendParameterStatus(wire, "TimeZone", "UTC");
  std::string body = Body(wire, 'S');
  auto ps = ParseParameterStatus(body);
  ASSERT_TRUE(ps.has_value());
  EXPECT_EQ(ps->name, "TimeZone");
  EXPECT_EQ(ps->value, "UTC");
  ExpectPrefixesRejected(body, ParseParameterStatus);
  EXPECT_FALSE(ParseParameterStatus(body + "x").has_value());

  wire.clear();
  AppendBackendKeyData(wire, 4242, -7);
  body = Body(wire, 'K');
  auto k = ParseBackendKeyData(body);
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->pid, 4242);
  EXPECT_EQ(k->key, -7);
  ExpectPrefixesRejected(body, ParseBackendKeyData);
  EXPECT_FALSE(ParseBackendKeyData(body + "x").has_value());
}

TEST(ParseMessagesTest, ReadyForQuery) {
  for (TxStatus s : {TxStatus::kIdle, TxStatus::kInTransaction, TxStatus::kFailed}) {
    std::string wire;
    AppendReadyForQuery(wire, s);
    EXPECT_EQ(ParseReadyForQuery(Body(wire, 'Z')), s);
  }
  EXPECT_FALSE(ParseReadyForQuery("").has_value());
  EXPECT_FALSE(ParseReadyForQuery("X").has_value());
  EXPECT_FALSE(ParseReadyForQuery("II").has_value());
}

TEST(ParseMessagesTest, Authentication) {
  std::string wire, body;
  AppendAuthenticationOk(wire);
  body = Body(wire, 'R');
  auto a = ParseAuthentication(body);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->code, 0);
  EXPECT_EQ(a->payload, "");

  wire.clear();
  AppendAuthenticationCleartext(wire);
  body = Body(wire, 'R');
  a = ParseAuthentication(body);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->code, 3);

  wire.clear();
  const char salt[4] = {'a', 'b', '\0', 'd'};
  AppendAuthenticationMd5(wire, salt);
  body = Body(wire, 'R');
  a = ParseAuthentication(body);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->code, 5);
  EXPECT_EQ(a->payload, "ab\0d"sv);

  wire.clear();
  AppendAuthenticationSaslContinue(wire, "r=abc,s=x,i=1");
  body = Body(wire, 'R');
  a = ParseAuthentication(body);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->code, 11);
  EXPECT_EQ(a->payload, "r=abc,s=x,i=1");

  wire.clear();
  AppendAuthenticationSaslFinal(wire, "v=sig");
  body = Body(wire, 'R');
  a = ParseAuthentication(body);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->code, 12);
  EXPECT_EQ(a->payload, "v=sig");

  EXPECT_FALSE(ParseAuthentication("\0\0\0"sv).has_value());
  EXPECT_FALSE(ParseAuthentication("\0\0\0\0x"sv).has_value());  // ok with payload
  EXPECT_FALSE(ParseAuthentication("\0\0\0\x05"
                                   "abc"sv)
                   .has_value());  // md5, short salt
  EXPECT_FALSE(ParseAuthentication("\0\0\0\x05"
                                   "abcde"sv)
                   .has_value());
}

TEST(ParseMessagesTest, SaslMechanisms) {
  std::string wire, body;
  AppendAuthenticationSasl(wire, {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"});
  body = Body(wire, 'R');
  auto a = ParseAuthentication(body);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->code, 10);
  auto names = ParseSaslMechanisms(a->payload);
  ASSERT_TRUE(names.has_value());
  EXPECT_EQ(*names, (std::vector<std::string_view>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}));
  ExpectPrefixesRejected(a->payload, ParseSaslMechanisms);
  EXPECT_FALSE(ParseSaslMechanisms("A\0\0x"sv).has_value());
  auto empty = ParseSaslMechanisms("\0"sv);
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
}

TEST(ParseMessagesTest, SaslInitialResponse) {
  std::string wire;
  AppendSaslInitialResponse(wire, "SCRAM-SHA-256", "n,,n=,r=abc");
  std::string body = Body(wire, 'p');
  auto m = ParseSaslInitialResponse(body);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(m->data, "n,,n=,r=abc");
  ExpectPrefixesRejected(body, ParseSaslInitialResponse);
  EXPECT_FALSE(ParseSaslInitialResponse(body + "x").has_value());

  // Length -1: no data.
  m = ParseSaslInitialResponse("M\0\xff\xff\xff\xff"sv);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->mechanism, "M");
  EXPECT_EQ(m->data, "");
  EXPECT_FALSE(ParseSaslInitialResponse("M\0\xff\xff\xff\xffx"sv).has_value());
  EXPECT_FALSE(ParseSaslInitialResponse("M\0\xff\xff\xff\xfe"sv).has_value());
  EXPECT_FALSE(ParseSaslInitialResponse("M\0\x7f\xff\xff\xff"sv).has_value());
}

}  // namespace
}  // namespace tusk::protocol
