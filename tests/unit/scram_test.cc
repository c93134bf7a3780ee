// SCRAM-SHA-256 verifier math against verifiers made by a real PostgreSQL 15
// server (SET password_encryption = 'scram-sha-256'; CREATE ROLE t PASSWORD ...;
// SELECT rolpassword FROM pg_authid). Source: RFC 5802, RFC 7677.
#include "common/scram.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace tusk {
namespace {

// From PostgreSQL 15.x: CREATE ROLE t PASSWORD 'secret'.
constexpr const char* kSecretVerifier =
    "SCRAM-SHA-256$4096:OXKYEPvggQPKCHo+rvw4IA==$W271zUR5abH23Azj1GKzjYkxZCFAh8XTOuRPLGmucHE=:"
    "dOBI7PmfuLR1p/eR5ySSVQXeD6zgSOvLojJDu+gAHkE=";
// From PostgreSQL 15.x: CREATE ROLE u PASSWORD 'pä ss wörd' (UTF-8, NFC).
constexpr const char* kUtf8Verifier =
    "SCRAM-SHA-256$4096:m0SzJCYLpHV/AQ4EJHzYlg==$TG1Gg7riSqYKV4KBHSMp9iXcjlPBwlfIOLmo/vJj9P4=:"
    "0J0PZinS488RYknyUVjFqPzqIVDy2DfXBbJ/EIxkELQ=";

TEST(ScramTest, MatchesServerMadeVerifier) {
  EXPECT_TRUE(ScramVerifierMatches(kSecretVerifier, "secret"));
  EXPECT_FALSE(ScramVerifierMatches(kSecretVerifier, "Secret"));
  EXPECT_FALSE(ScramVerifierMatches(kSecretVerifier, ""));
  EXPECT_TRUE(ScramVerifierMatches(kUtf8Verifier, "pä ss wörd"));
  EXPECT_FALSE(ScramVerifierMatches(kUtf8Verifier, "pa ss word"));
}

TEST(ScramTest, RecomputingWithStoredSaltReproducesServerVerifier) {
  auto v = ParseScramVerifier(kSecretVerifier);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->iterations, 4096);
  EXPECT_EQ(v->salt.size(), 16u);
  EXPECT_EQ(ComputeScramVerifier("secret", v->salt, v->iterations), kSecretVerifier);
}

TEST(ScramTest, RejectsNonScramValues) {
  EXPECT_FALSE(ScramVerifierMatches("md5" + std::string(32, 'a'), "secret"));
  EXPECT_FALSE(ScramVerifierMatches("secret", "secret"));
  EXPECT_FALSE(ScramVerifierMatches("", ""));
  EXPECT_FALSE(ParseScramVerifier("SCRAM-SHA-256$x:AAAA$AAAA:AAAA").has_value());
  EXPECT_FALSE(ParseScramVerifier("SCRAM-SHA-256$4096:OXKYEPvggQPKCHo+rvw4IA==$AAAA:AAAA"));
  EXPECT_FALSE(
      ParseScramVerifier("SCRAM-SHA-256$4096:!!!!$W271zUR5abH23Azj1GKzjYkxZCFAh8XTOuRPLGmucHE=:"
                         "dOBI7PmfuLR1p/eR5ySSVQXeD6zgSOvLojJDu+gAHkE="));
}

TEST(ScramTest, NewVerifierUsesFreshSaltAndDefaults) {
  auto a = NewScramVerifier("hunter2");
  auto b = NewScramVerifier("hunter2");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_NE(*a, *b);  // different random salts
  EXPECT_TRUE(ScramVerifierMatches(*a, "hunter2"));
  EXPECT_TRUE(ScramVerifierMatches(*b, "hunter2"));
  EXPECT_FALSE(ScramVerifierMatches(*a, "hunter3"));
  auto parsed = ParseScramVerifier(*a);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->iterations, kScramIterations);
  EXPECT_EQ(parsed->salt.size(), static_cast<size_t>(kScramSaltBytes));
  EXPECT_EQ(a->find("hunter2"), std::string::npos);
}

TEST(ScramTest, Base64RoundTrip) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d.has_value()) << s;
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(Base64Encode("abcd"), "YWJjZA==");
  EXPECT_FALSE(Base64Decode("YWJjZA=").has_value());
  EXPECT_FALSE(Base64Decode("YW=jZA==").has_value());
}

// RFC 4231 test cases 2 (short key) and 6 (key longer than the block),
// computed in turn on one thread's reused context, then on another thread.
TEST(ScramTest, HmacSha256MatchesRfc4231OnReusedAndFreshContexts) {
  const std::string long_key(131, '\xaa');
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_EQ(
        HexEncode(HmacSha256(long_key, "Test Using Larger Than Block-Size Key - Hash Key First")),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    EXPECT_EQ(HexEncode(Sha256("abc")),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }
  std::string other;
  std::thread([&] {
    other = HexEncode(HmacSha256("Jefe", "what do ya want for nothing?"));
  }).join();
  EXPECT_EQ(other, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(ScramTest, HexEncode) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string("\x00\x0f\xa5\xff", 4)), "000fa5ff");
}

TEST(ScramTest, Sha256Hex) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace tusk
