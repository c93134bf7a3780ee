// Reader, builders and ScanFrame against byte layouts from the PostgreSQL
// docs, Protocol §55.7 "Message Formats".
#include <gtest/gtest.h>

#include <string>

#include "protocol/frame.h"
#include "protocol/wire.h"

namespace tusk::protocol {
namespace {

using namespace std::literals;

// ---- Reader ----

TEST(ReaderTest, ReadsBigEndianIntegersStringsAndBytes) {
  std::string body = "\x01\xff\xfe\x80\x00\x00\x01"s + "ab\0"s + "xyz";
  Reader r(body);
  char b = 0;
  int16_t i16 = 0;
  int32_t i32 = 0;
  std::string_view s, bytes;
  ASSERT_TRUE(r.ReadByte(&b));
  EXPECT_EQ(b, '\x01');
  ASSERT_TRUE(r.ReadInt16(&i16));
  EXPECT_EQ(i16, -2);
  ASSERT_TRUE(r.ReadInt32(&i32));
  EXPECT_EQ(i32, static_cast<int32_t>(0x80000001u));
  ASSERT_TRUE(r.ReadCString(&s));
  EXPECT_EQ(s, "ab");
  EXPECT_EQ(r.rest(), "xyz");
  ASSERT_TRUE(r.ReadBytes(3, &bytes));
  EXPECT_EQ(bytes, "xyz");
  EXPECT_TRUE(r.at_end());
  EXPECT_FALSE(r.failed());
  EXPECT_EQ(r.position(), body.size());
}

TEST(ReaderTest, ShortReadsFailLatchAndLeaveOutputUntouched) {
  std::string body = "\x00\x01\x02"s;
  Reader r(body);
  int32_t i32 = 42;
  EXPECT_FALSE(r.ReadInt32(&i32));
  EXPECT_EQ(i32, 42);
  EXPECT_TRUE(r.failed());
  EXPECT_EQ(r.position(), 0u);
  // Latched: even a read that would fit now fails.
  char b = 'z';
  EXPECT_FALSE(r.ReadByte(&b));
  EXPECT_EQ(b, 'z');
}

TEST(ReaderTest, EachAccessorFailsAtTheEnd) {
  std::string_view out = "untouched";
  char b = 0;
  int16_t i16 = 0;
  EXPECT_FALSE(Reader("").ReadByte(&b));
  EXPECT_FALSE(Reader("x").ReadInt16(&i16));
  EXPECT_FALSE(Reader("").ReadCString(&out));
  EXPECT_FALSE(Reader("no nul").ReadCString(&out));
  EXPECT_EQ(out, "untouched");
  EXPECT_FALSE(Reader("abc").ReadBytes(4, &out));
  EXPECT_FALSE(Reader("abc").ReadBytes(-1, &out));
  EXPECT_EQ(out, "untouched");
  Reader zero("abc");
  EXPECT_TRUE(zero.ReadBytes(0, &out));
  EXPECT_EQ(out, "");
  EXPECT_FALSE(zero.failed());
}

TEST(ReaderTest, EmptyCStringAtEnd) {
  std::string body = "\0"s;
  Reader r(body);
  std::string_view s = "x";
  ASSERT_TRUE(r.ReadCString(&s));
  EXPECT_EQ(s, "");
  EXPECT_TRUE(r.at_end());
}

// ---- Builders: exact bytes ----

TEST(BuilderTest, Primitives) {
  std::string out;
  AppendInt16(out, -2);
  AppendInt32(out, 0x01020304);
  AppendCString(out, "hi");
  AppendMessage(out, 'Q', "x");
  EXPECT_EQ(out, "\xff\xfe\x01\x02\x03\x04hi\0Q\x00\x00\x00\x05x"s);
  EXPECT_EQ(LoadInt32("\xff\xff\xff\xfe"), -2);
}

TEST(BuilderTest, AppendsWithoutTouchingExistingBytes) {
  std::string out = "prefix";
  AppendSync(out);
  AppendTerminate(out);
  EXPECT_EQ(out, "prefixS\0\0\0\4X\0\0\0\4"s);
}

TEST(BuilderTest, AuthenticationMessages) {
  std::string out;
  AppendAuthenticationOk(out);
  EXPECT_EQ(out, "R\0\0\0\x08\0\0\0\0"s);
  out.clear();
  AppendAuthenticationCleartext(out);
  EXPECT_EQ(out, "R\0\0\0\x08\0\0\0\x03"s);
  out.clear();
  const char salt[4] = {'\x01', '\x02', '\x03', '\x04'};
  AppendAuthenticationMd5(out, salt);
  EXPECT_EQ(out, "R\0\0\0\x0c\0\0\0\x05\x01\x02\x03\x04"s);
  out.clear();
  AppendAuthenticationSasl(out, {"SCRAM-SHA-256"});
  EXPECT_EQ(out, "R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0"s);
  out.clear();
  AppendAuthenticationSaslContinue(out, "r=a");
  EXPECT_EQ(out, "R\0\0\0\x0b\0\0\0\x0br=a"s);
  out.clear();
  AppendAuthenticationSaslFinal(out, "v=b");
  EXPECT_EQ(out, "R\0\0\0\x0b\0\0\0\x0cv=b"s);
}

TEST(BuilderTest, ErrorResponseFieldsInOrderOptionalOnesOmitted) {
  std::string out;
  AppendErrorResponse(out, {"FATAL", "08P01", "bad", "", ""});
  EXPECT_EQ(out, "E\0\0\0\x1fSFATAL\0VFATAL\0C08P01\0Mbad\0\0"s);
  out.clear();
  AppendNoticeResponse(
      out, {.severity = "NOTICE", .sqlstate = "00000", .message = "m", .detail = "d", .hint = "h"});
  EXPECT_EQ(out, "N\0\0\0\x25SNOTICE\0VNOTICE\0C00000\0Mm\0Dd\0Hh\0\0"s);
}

TEST(BuilderTest, SimpleBackendMessages) {
  std::string out;
  AppendParameterStatus(out, "a", "b");
  AppendBackendKeyData(out, 7, -1);
  AppendReadyForQuery(out, TxStatus::kInTransaction);
  AppendParseComplete(out);
  AppendBindComplete(out);
  AppendCloseComplete(out);
  AppendCommandComplete(out, "SET");
  AppendEmptyQueryResponse(out);
  EXPECT_EQ(out,
            "S\0\0\0\x08"
            "a\0b\0"s
            "K\0\0\0\x0c\0\0\0\x07\xff\xff\xff\xff"s
            "Z\0\0\0\x05T"s
            "1\0\0\0\x04"
            "2\0\0\0\x04"
            "3\0\0\0\x04"s
            "C\0\0\0\x08SET\0"s
            "I\0\0\0\x04"s);
}

TEST(BuilderTest, NegotiateProtocolVersion) {
  std::string out;
  AppendNegotiateProtocolVersion(out, 0, {"_pq_.a", "_pq_.b"});
  EXPECT_EQ(out, "v\0\0\0\x1a\0\0\0\0\0\0\0\x02_pq_.a\0_pq_.b\0"s);
  out.clear();
  AppendNegotiateProtocolVersion(out, 0, {});
  EXPECT_EQ(out, "v\0\0\0\x0c\0\0\0\0\0\0\0\0"s);
}

TEST(BuilderTest, RowDescriptionAndDataRow) {
  std::string out;
  AppendRowDescription(out, {"a"});
  EXPECT_EQ(out,
            "T\0\0\0\x1a\0\x01"
            "a\0"s
            "\0\0\0\0\0\0\0\0\0\x19\xff\xff\xff\xff\xff\xff\0\0"s);
  out.clear();
  AppendDataRow(out, {std::string("xy"), std::nullopt, std::string()});
  EXPECT_EQ(out, "D\0\0\0\x14\0\x03\0\0\0\x02xy\xff\xff\xff\xff\0\0\0\0"s);
}

TEST(BuilderTest, FrontendMessages) {
  std::string out;
  AppendStartupMessage(out, {{"user", "u"}});
  EXPECT_EQ(out, "\0\0\0\x10\0\x03\0\0user\0u\0\0"s);
  out.clear();
  AppendSslRequest(out);
  EXPECT_EQ(out, "\0\0\0\x08\x04\xd2\x16\x2f"s);
  out.clear();
  AppendCancelRequest(out, 1, 2);
  EXPECT_EQ(out, "\0\0\0\x10\x04\xd2\x16\x2e\0\0\0\x01\0\0\0\x02"s);
  out.clear();
  AppendQuery(out, "select");
  EXPECT_EQ(out, "Q\0\0\0\x0bselect\0"s);
  out.clear();
  AppendParse(out, "s", "q", {23, 0});
  EXPECT_EQ(out, "P\0\0\0\x12s\0q\0\0\x02\0\0\0\x17\0\0\0\0"s);
  out.clear();
  AppendPasswordMessage(out, "pw");
  EXPECT_EQ(out, "p\0\0\0\x07pw\0"s);
  out.clear();
  AppendSaslInitialResponse(out, "M", "ab");
  EXPECT_EQ(out,
            "p\0\0\0\x0cM\0\0\0\0\x02"
            "ab"s);
  out.clear();
  AppendSaslResponse(out, "cd");
  EXPECT_EQ(out,
            "p\0\0\0\x06"
            "cd"s);
}

// ---- ScanFrame ----

TEST(ScanFrameTest, NeedsFiveBytesForAHeader) {
  for (std::string_view buf : {""sv, "Q"sv, "Q\0\0\0"sv}) {
    Frame f = ScanFrame(buf, kDefaultMaxMessageBytes);
    EXPECT_EQ(f.status, FrameStatus::kNeedMore);
    EXPECT_FALSE(f.has_header);
  }
}

TEST(ScanFrameTest, CompleteMessageAndTrailingBytes) {
  std::string buf;
  AppendQuery(buf, "select 1");
  size_t first = buf.size();
  AppendSync(buf);
  Frame f = ScanFrame(buf, kDefaultMaxMessageBytes);
  ASSERT_EQ(f.status, FrameStatus::kComplete);
  EXPECT_TRUE(f.has_header);
  EXPECT_EQ(f.type, 'Q');
  EXPECT_EQ(f.length, first - 1);
  EXPECT_EQ(f.size(), first);
  EXPECT_EQ(f.body, "select 1\0"sv);
  Frame g = ScanFrame(std::string_view(buf).substr(f.size()), kDefaultMaxMessageBytes);
  ASSERT_EQ(g.status, FrameStatus::kComplete);
  EXPECT_EQ(g.type, 'S');
  EXPECT_EQ(g.body, "");
  EXPECT_EQ(g.size(), 5u);
}

TEST(ScanFrameTest, ByteByByteArrival) {
  std::string msg;
  AppendParameterStatus(msg, "server_version", "15.4");
  for (size_t n = 0; n < msg.size(); ++n) {
    Frame f = ScanFrame(std::string_view(msg).substr(0, n), kDefaultMaxMessageBytes);
    ASSERT_EQ(f.status, FrameStatus::kNeedMore) << n;
    EXPECT_EQ(f.has_header, n >= 5) << n;
    if (n >= 5) {
      EXPECT_EQ(f.type, 'S');
      EXPECT_EQ(f.length, msg.size() - 1);
    }
  }
  Frame f = ScanFrame(msg, kDefaultMaxMessageBytes);
  EXPECT_EQ(f.status, FrameStatus::kComplete);
  EXPECT_EQ(f.body.size(), msg.size() - 5);
}

TEST(ScanFrameTest, BadLengths) {
  // Below 4, negative (huge as unsigned), and above the cap.
  for (std::string_view buf : {"Q\0\0\0\x03"sv, "Q\0\0\0\0"sv, "Q\xff\xff\xff\xff"sv,
                               "Q\x80\0\0\0"sv, "Q\0\0\x01\x01"sv}) {
    Frame f = ScanFrame(buf, 256);
    EXPECT_EQ(f.status, FrameStatus::kBadLength) << f.length;
    EXPECT_TRUE(f.has_header);
    EXPECT_EQ(f.type, 'Q');
  }
  // Exactly at the cap is fine (and just waits for the body).
  Frame f = ScanFrame("Q\0\0\x01\0"sv, 256);
  EXPECT_EQ(f.status, FrameStatus::kNeedMore);
  EXPECT_EQ(f.length, 256u);
}

TEST(ScanFrameTest, WalksAStreamOfFrames) {
  std::string buf;
  AppendParse(buf, "", "select $1", {25});
  AppendBindComplete(buf);
  AppendDataRow(buf, {std::string("v")});
  AppendReadyForQuery(buf, TxStatus::kIdle);
  std::string types;
  std::string_view rest = buf;
  for (;;) {
    Frame f = ScanFrame(rest, kDefaultMaxMessageBytes);
    if (f.status != FrameStatus::kComplete) break;
    types.push_back(f.type);
    rest.remove_prefix(f.size());
  }
  EXPECT_EQ(types, "P2DZ");
  EXPECT_TRUE(rest.empty());
}

}  // namespace
}  // namespace tusk::protocol
