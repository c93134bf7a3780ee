// DecodeStartup against the checks and messages of PostgreSQL's
// ProcessStartupPacket (postmaster.c) and the layouts of Protocol §55.7.
#include <gtest/gtest.h>

#include <string>

#include "protocol/startup.h"
#include "protocol/wire.h"

namespace tusk::protocol {
namespace {

using namespace std::literals;

// A packet whose length word covers `payload` (version/code word included).
std::string Packet(std::string_view payload) {
  std::string out;
  AppendInt32(out, static_cast<int32_t>(payload.size() + 4));
  out.append(payload);
  return out;
}

std::string Version(int major, int minor) {
  std::string out;
  AppendInt32(out, (major << 16) | minor);
  return out;
}

void ExpectError(const StartupPacket& p, std::string_view sqlstate, std::string_view message) {
  EXPECT_EQ(p.kind, StartupKind::kError);
  EXPECT_EQ(p.sqlstate, sqlstate);
  EXPECT_EQ(p.message, message);
}

constexpr std::string_view kBadLength = "invalid length of startup packet";
constexpr std::string_view kBadLayout =
    "invalid startup packet layout: expected terminator as last byte";

TEST(DecodeStartupTest, StartupMessageRoundTrip) {
  std::string buf;
  AppendStartupMessage(buf, {{"user", "alice"}, {"database", "db"}, {"application_name", "x"}});
  buf += "trailing";  // the next packet, not consumed
  StartupPacket p = DecodeStartup(buf);
  ASSERT_EQ(p.kind, StartupKind::kStartup) << p.message;
  EXPECT_EQ(p.size, buf.size() - 8);
  EXPECT_EQ(p.minor_version, 0);
  ASSERT_EQ(p.params.size(), 3u);
  EXPECT_EQ(p.params[0], (std::pair<std::string, std::string>("user", "alice")));
  EXPECT_EQ(p.Param("user"), "alice");
  EXPECT_EQ(p.Param("database"), "db");
  EXPECT_EQ(p.Param("application_name"), "x");
  EXPECT_EQ(p.Param("missing"), "");
  EXPECT_TRUE(p.protocol_options.empty());
}

TEST(DecodeStartupTest, DatabaseDefaultsToUser) {
  std::string buf;
  AppendStartupMessage(buf, {{"user", "bob"}});
  StartupPacket p = DecodeStartup(buf);
  ASSERT_EQ(p.kind, StartupKind::kStartup);
  EXPECT_EQ(p.Param("database"), "bob");
  EXPECT_EQ(p.params.size(), 2u);

  buf.clear();
  AppendStartupMessage(buf, {{"database", ""}, {"user", "bob"}});
  p = DecodeStartup(buf);
  ASSERT_EQ(p.kind, StartupKind::kStartup);
  EXPECT_EQ(p.Param("database"), "bob");
  EXPECT_EQ(p.params.size(), 2u);
}

TEST(DecodeStartupTest, RepeatedParameterLastOneWins) {
  std::string buf;
  AppendStartupMessage(buf, {{"user", "a"}, {"user", "b"}});
  StartupPacket p = DecodeStartup(buf);
  ASSERT_EQ(p.kind, StartupKind::kStartup);
  EXPECT_EQ(p.Param("user"), "b");
  EXPECT_EQ(p.Param("database"), "b");
}

TEST(DecodeStartupTest, ProtocolOptionsAndMinorVersion) {
  std::string payload = Version(3, 2) + "user\0u\0_pq_.compression\0on\0options\0-c x=1\0\0"s;
  StartupPacket p = DecodeStartup(Packet(payload));
  ASSERT_EQ(p.kind, StartupKind::kStartup) << p.message;
  EXPECT_EQ(p.minor_version, 2);
  EXPECT_EQ(p.protocol_options, std::vector<std::string>{"_pq_.compression"});
  EXPECT_EQ(p.Param("_pq_.compression"), "");
  EXPECT_EQ(p.Param("options"), "-c x=1");
}

TEST(DecodeStartupTest, IncrementalArrival) {
  std::string buf;
  AppendStartupMessage(buf, {{"user", "u"}, {"database", "d"}});
  for (size_t n = 0; n < buf.size(); ++n) {
    StartupPacket p = DecodeStartup(std::string_view(buf).substr(0, n));
    ASSERT_EQ(p.kind, StartupKind::kNeedMore) << n;
  }
  EXPECT_EQ(DecodeStartup(buf).kind, StartupKind::kStartup);
}

TEST(DecodeStartupTest, SslGssAndCancel) {
  std::string buf;
  AppendSslRequest(buf);
  StartupPacket p = DecodeStartup(buf);
  EXPECT_EQ(p.kind, StartupKind::kSslRequest);
  EXPECT_EQ(p.size, 8u);

  std::string gss;
  AppendInt32(gss, kGssEncRequestCode);
  p = DecodeStartup(Packet(gss));
  EXPECT_EQ(p.kind, StartupKind::kGssEncRequest);
  EXPECT_EQ(p.size, 8u);

  buf.clear();
  AppendCancelRequest(buf, 1234, -5678);
  for (size_t n = 0; n < buf.size(); ++n) {
    ASSERT_EQ(DecodeStartup(std::string_view(buf).substr(0, n)).kind, StartupKind::kNeedMore);
  }
  p = DecodeStartup(buf);
  ASSERT_EQ(p.kind, StartupKind::kCancel);
  EXPECT_EQ(p.size, 16u);
  EXPECT_EQ(p.cancel_pid, 1234);
  EXPECT_EQ(p.cancel_key, -5678);
}

TEST(DecodeStartupTest, SpecialCodesWithWrongLength) {
  std::string ssl, gss, cancel;
  AppendInt32(ssl, kSslRequestCode);
  AppendInt32(gss, kGssEncRequestCode);
  AppendInt32(cancel, kCancelRequestCode);
  ExpectError(DecodeStartup(Packet(ssl + "\0"s)), "08P01", kBadLength);
  ExpectError(DecodeStartup(Packet(gss + "abcd"s)), "08P01", kBadLength);
  ExpectError(DecodeStartup(Packet(cancel + "12345678x"s)), "08P01", kBadLength);
  ExpectError(DecodeStartup(Packet(cancel + "1234"s)), "08P01", kBadLength);
  ExpectError(DecodeStartup(Packet(cancel)), "08P01", kBadLength);
}

TEST(DecodeStartupTest, LengthOutOfRangeIsReportedBeforeTheBodyArrives) {
  std::string tiny, negative, huge, max_ok;
  AppendInt32(tiny, 7);
  AppendInt32(negative, -8);
  AppendInt32(huge, static_cast<int32_t>(kMaxStartupPacketBytes) + 1);
  AppendInt32(max_ok, static_cast<int32_t>(kMaxStartupPacketBytes));
  ExpectError(DecodeStartup(tiny), "08P01", kBadLength);
  ExpectError(DecodeStartup(negative), "08P01", kBadLength);
  ExpectError(DecodeStartup(huge), "08P01", kBadLength);
  EXPECT_EQ(DecodeStartup(max_ok).kind, StartupKind::kNeedMore);
  EXPECT_EQ(DecodeStartup("\0\0\0"sv).kind, StartupKind::kNeedMore);
}

TEST(DecodeStartupTest, LargestPacketIsAccepted) {
  std::string value(kMaxStartupPacketBytes - 4 - 4 - 5 - 1 - 1, 'u');
  std::string buf = Packet(Version(3, 0) + "user\0"s + value + "\0\0"s);
  ASSERT_EQ(buf.size(), kMaxStartupPacketBytes);
  StartupPacket p = DecodeStartup(buf);
  ASSERT_EQ(p.kind, StartupKind::kStartup) << p.message;
  EXPECT_EQ(p.Param("user"), value);
}

TEST(DecodeStartupTest, UnsupportedProtocolVersion) {
  ExpectError(DecodeStartup(Packet(Version(2, 0) + "user\0u\0\0"s)), "0A000",
              "unsupported frontend protocol 2.0: server supports 3.0 to 3.0");
  ExpectError(DecodeStartup(Packet(Version(4, 1) + "\0"s)), "0A000",
              "unsupported frontend protocol 4.1: server supports 3.0 to 3.0");
  ExpectError(DecodeStartup(Packet("\xff\xff\0\x07"s)), "0A000",
              "unsupported frontend protocol 65535.7: server supports 3.0 to 3.0");
}

TEST(DecodeStartupTest, BadLayout) {
  const std::string v = Version(3, 0);
  // No parameters and no terminator.
  ExpectError(DecodeStartup(Packet(v)), "08P01", kBadLayout);
  // Missing final terminator.
  ExpectError(DecodeStartup(Packet(v + "user\0u\0"s)), "08P01", kBadLayout);
  // Name without a value.
  ExpectError(DecodeStartup(Packet(v + "user\0"s)), "08P01", kBadLayout);
  ExpectError(DecodeStartup(Packet(v + "user\0u\0db\0"s)), "08P01", kBadLayout);
  // Name with no NUL at all.
  ExpectError(DecodeStartup(Packet(v + "user"s)), "08P01", kBadLayout);
  // Value with no NUL.
  ExpectError(DecodeStartup(Packet(v + "user\0u"s)), "08P01", kBadLayout);
  // Data after the terminator.
  ExpectError(DecodeStartup(Packet(v + "user\0u\0\0x"s)), "08P01", kBadLayout);
  ExpectError(DecodeStartup(Packet(v + "user\0u\0\0\0"s)), "08P01", kBadLayout);
}

TEST(DecodeStartupTest, MissingOrEmptyUser) {
  constexpr std::string_view kNoUser = "no PostgreSQL user name specified in startup packet";
  const std::string v = Version(3, 0);
  ExpectError(DecodeStartup(Packet(v + "\0"s)), "28000", kNoUser);
  ExpectError(DecodeStartup(Packet(v + "database\0d\0\0"s)), "28000", kNoUser);
  ExpectError(DecodeStartup(Packet(v + "user\0\0\0"s)), "28000", kNoUser);
  // "_pq_.user" is a protocol option, not the user.
  ExpectError(DecodeStartup(Packet(v + "_pq_.user\0u\0\0"s)), "28000", kNoUser);
}

TEST(ParseStartupOptionsTest, SettingsInEveryForm) {
  auto o = ParseStartupOptions("-c search_path=app  -cstatement_timeout=5s --work-mem=4MB");
  EXPECT_EQ(o.error, "");
  ASSERT_EQ(o.settings.size(), 3u);
  EXPECT_EQ(o.settings[0], std::make_pair(std::string("search_path"), std::string("app")));
  EXPECT_EQ(o.settings[1], std::make_pair(std::string("statement_timeout"), std::string("5s")));
  EXPECT_EQ(o.settings[2], std::make_pair(std::string("work_mem"), std::string("4MB")));
}

TEST(ParseStartupOptionsTest, BackslashEscapesSpace) {
  auto o = ParseStartupOptions("-c application_name=my\\ app -c x.y=a\\\\b");
  EXPECT_EQ(o.error, "");
  ASSERT_EQ(o.settings.size(), 2u);
  EXPECT_EQ(o.settings[0].second, "my app");
  EXPECT_EQ(o.settings[1].first, "x.y");
  EXPECT_EQ(o.settings[1].second, "a\\b");
}

TEST(ParseStartupOptionsTest, EmptyIsNothing) {
  auto o = ParseStartupOptions("   ");
  EXPECT_EQ(o.error, "");
  EXPECT_TRUE(o.settings.empty());
}

TEST(ParseStartupOptionsTest, NonSettingsAreErrors) {
  EXPECT_NE(ParseStartupOptions("-B 100").error, "");
  EXPECT_NE(ParseStartupOptions("-c").error, "");
  EXPECT_NE(ParseStartupOptions("-c noequals").error, "");
  EXPECT_NE(ParseStartupOptions("-c =x").error, "");
  EXPECT_NE(ParseStartupOptions("plain").error, "");
}

}  // namespace
}  // namespace tusk::protocol
