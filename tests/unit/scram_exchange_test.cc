// SCRAM-SHA-256 exchange (RFC 5802, RFC 7677) and the md5 password response.
// Known answers come from an independent reference computed here with
// OpenSSL's EVP_Q_mac/EVP_Q_digest/PKCS5_PBKDF2_HMAC (a different code path
// from the library's), itself checked against the RFC 7677 §3 example.
#include "protocol/scram_exchange.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>
#include <vector>

namespace tusk::protocol {
namespace {

using namespace std::literals;

// ---- Independent reference ----

std::string RefHmac(std::string_view key, std::string_view msg) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  EXPECT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                      reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out,
                      sizeof out, &len),
            nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string RefSha256(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  EXPECT_EQ(EVP_Q_digest(nullptr, "SHA256", nullptr, data.data(), data.size(), out, &len), 1);
  return std::string(reinterpret_cast<char*>(out), len);
}

struct RefKeys {
  std::string client_key;
  std::string server_key;
};

RefKeys RefDerive(std::string_view password, std::string_view salt, int iterations) {
  unsigned char salted[32];
  EXPECT_EQ(PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                              reinterpret_cast<const unsigned char*>(salt.data()),
                              static_cast<int>(salt.size()), iterations, EVP_sha256(), 32, salted),
            1);
  std::string sp(reinterpret_cast<char*>(salted), 32);
  return {RefHmac(sp, "Client Key"), RefHmac(sp, "Server Key")};
}

// Base64 ClientProof for AuthMessage `auth`.
std::string RefProof(const RefKeys& k, std::string_view auth) {
  std::string sig = RefHmac(RefSha256(k.client_key), auth);
  std::string proof(32, '\0');
  for (size_t i = 0; i < 32; ++i) proof[i] = static_cast<char>(k.client_key[i] ^ sig[i]);
  return Base64Encode(proof);
}

std::string RefServerSignature(const RefKeys& k, std::string_view auth) {
  return Base64Encode(RefHmac(k.server_key, auth));
}

// RFC 7677 §3 example.
constexpr std::string_view kRfcClientFirstBare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kRfcServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kRfcFinalWithoutProof =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view kRfcProof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view kRfcServerSignature = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
constexpr std::string_view kRfcSaltB64 = "W22ZaJ0SNY7soEsUEjb6gQ==";

std::string RfcSalt() { return Base64Decode(kRfcSaltB64).value(); }

std::string Join3(std::string_view a, std::string_view b, std::string_view c) {
  return std::string(a) + "," + std::string(b) + "," + std::string(c);
}

TEST(ScramReferenceTest, MatchesRfc7677Example) {
  RefKeys k = RefDerive("pencil", RfcSalt(), 4096);
  std::string auth = Join3(kRfcClientFirstBare, kRfcServerFirst, kRfcFinalWithoutProof);
  EXPECT_EQ(RefProof(k, auth), kRfcProof);
  EXPECT_EQ(RefServerSignature(k, auth), kRfcServerSignature);
}

// ---- Helpers ----

ScramVerifier Verifier(std::string_view password) {
  return ParseScramVerifier(ComputeScramVerifier(password, RfcSalt(), 4096)).value();
}

// Runs a full exchange; returns the first error, or "" on success.
std::string Exchange(ScramServer& server, ScramClient& client) {
  auto sf = server.HandleClientFirst(client.ClientFirst());
  if (!sf.ok()) return "server first: " + sf.status().message();
  auto cf = client.HandleServerFirst(*sf);
  if (!cf.ok()) return "client first: " + cf.status().message();
  auto fin = server.HandleClientFinal(*cf);
  if (!fin.ok()) return "server final: " + fin.status().message();
  Status st = client.HandleServerFinal(*fin);
  if (!st.ok()) return "client final: " + st.message();
  return "";
}

// The server nonce part of a server-first-message for client nonce `cn`.
std::string ServerNonce(std::string_view server_first, std::string_view cn) {
  std::string_view s = server_first;
  EXPECT_TRUE(s.starts_with("r="s + std::string(cn)));
  s.remove_prefix(2 + cn.size());
  return std::string(s.substr(0, s.find(',')));
}

// ---- Server against the reference ----

TEST(ScramServerTest, AcceptsReferenceProofAndSendsReferenceSignature) {
  ScramServer server(Verifier("pencil"));
  auto sf = server.HandleClientFirst("n,,"s + std::string(kRfcClientFirstBare));
  ASSERT_TRUE(sf.ok()) << sf.status().message();
  std::string snonce = ServerNonce(*sf, "rOprNGfwEbeRWgbNEkqO");
  EXPECT_EQ(snonce.size(), 24u);  // base64 of 18 random bytes
  EXPECT_TRUE(Base64Decode(snonce).has_value());
  EXPECT_EQ(*sf, "r=rOprNGfwEbeRWgbNEkqO" + snonce + ",s=" + std::string(kRfcSaltB64) + ",i=4096");

  std::string without_proof = "c=biws,r=rOprNGfwEbeRWgbNEkqO" + snonce;
  std::string auth = Join3(kRfcClientFirstBare, *sf, without_proof);
  RefKeys k = RefDerive("pencil", RfcSalt(), 4096);
  auto fin = server.HandleClientFinal(without_proof + ",p=" + RefProof(k, auth));
  ASSERT_TRUE(fin.ok()) << fin.status().message();
  EXPECT_EQ(*fin, "v=" + RefServerSignature(k, auth));
  EXPECT_FALSE(server.wrong_password());
  EXPECT_EQ(server.client_key(), k.client_key);
}

TEST(ScramServerTest, ServerNoncesDiffer) {
  ScramServer a(Verifier("x")), b(Verifier("x"));
  auto fa = a.HandleClientFirst("n,,n=,r=abc");
  auto fb = b.HandleClientFirst("n,,n=,r=abc");
  ASSERT_TRUE(fa.ok() && fb.ok());
  EXPECT_NE(*fa, *fb);
}

TEST(ScramServerTest, GssHeaderYesNeedsMatchingChannelBinding) {
  RefKeys k = RefDerive("pencil", RfcSalt(), 4096);
  for (std::string_view cbind : {"eSws"sv, "biws"sv}) {
    ScramServer server(Verifier("pencil"));
    auto sf = server.HandleClientFirst("y,,n=,r=nonce1");
    ASSERT_TRUE(sf.ok()) << sf.status().message();
    std::string without_proof =
        "c=" + std::string(cbind) + ",r=nonce1" + ServerNonce(*sf, "nonce1");
    std::string auth = Join3("n=,r=nonce1", *sf, without_proof);
    auto fin = server.HandleClientFinal(without_proof + ",p=" + RefProof(k, auth));
    if (cbind == "eSws") {  // base64("y,,")
      EXPECT_TRUE(fin.ok()) << fin.status().message();
    } else {
      ASSERT_FALSE(fin.ok());
      EXPECT_FALSE(server.wrong_password());
    }
  }
}

TEST(ScramServerTest, IgnoresExtensionsBeforeTheProof) {
  RefKeys k = RefDerive("pencil", RfcSalt(), 4096);
  ScramServer server(Verifier("pencil"));
  auto sf = server.HandleClientFirst("n,,n=ignored,r=abc,x=ext");
  ASSERT_TRUE(sf.ok()) << sf.status().message();
  std::string without_proof = "c=biws,r=abc" + ServerNonce(*sf, "abc") + ",z=1";
  std::string auth = Join3("n=ignored,r=abc,x=ext", *sf, without_proof);
  auto fin = server.HandleClientFinal(without_proof + ",p=" + RefProof(k, auth));
  EXPECT_TRUE(fin.ok()) << fin.status().message();
}

TEST(ScramServerTest, MalformedClientFirst) {
  const std::vector<std::string> bad = {
      "",
      "n",
      "n,",
      "n,,",
      "p=tls-server-end-point,,n=,r=abc",  // channel binding requested
      "x,,n=,r=abc",                       // unknown flag
      "n,a=admin,n=,r=abc",                // authzid
      "n;,n=,r=abc",
      "n,,r=abc",           // no n=
      "n,,n=,m=ext,r=abc",  // mandatory extension
      "n,,n=,r=",           // empty nonce
      "n,,n=,r=a b",        // unprintable nonce
      "n,,n=,r=ab\x7f",     // DEL in nonce
      "n,,n=,r=abc,",       // trailing comma
      "n,,n=,r=abc,=x",     // attribute without a name
      "n,,n=,r=abc,1=x",    // attribute name not a letter
      "n,,n=,r=abc,xx",     // extension without '='
      "n,,n=,s=abc",        // r missing
      "n,,n,r=abc",         // n without '='
  };
  for (const auto& m : bad) {
    ScramServer server(Verifier("x"));
    auto r = server.HandleClientFirst(m);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << m;
  }
}

TEST(ScramServerTest, MalformedClientFinal) {
  const std::string valid_proof = Base64Encode(std::string(32, 'x'));
  // "%N" stands for the combined nonce.
  const std::vector<std::string> bad = {
      "",
      "c=biws",
      "c=biws,r=%N",                             // no proof
      "c=biws,r=%N,p=",                          // empty proof
      "c=biws,r=%N,p=" + Base64Encode("short"),  // proof not 32 bytes
      "c=biws,r=%N,p=!!!!",                      // not base64
      "c=biws,r=%N,p=" + valid_proof + ",x=1",   // garbage after the proof
      "c=biws,r=%N,p=" + valid_proof + ",",      // trailing comma
      "c=eSws,r=%N,p=" + valid_proof,            // channel binding for "y,,"
      "c=,r=%N,p=" + valid_proof,                //
      "r=%N,c=biws,p=" + valid_proof,            // attribute order
      "c=biws,r=abc,p=" + valid_proof,           // client nonce only
      "c=biws,r=%Nx,p=" + valid_proof,           // nonce extended
      "c=biws,p=" + valid_proof,                 // no nonce
      "c=biws,r=%N,,p=" + valid_proof,           // empty attribute
  };
  for (std::string m : bad) {
    ScramServer server(Verifier("x"));
    auto sf = server.HandleClientFirst("n,,n=,r=abc");
    ASSERT_TRUE(sf.ok());
    std::string nonce = "abc" + ServerNonce(*sf, "abc");
    if (size_t at = m.find("%N"); at != std::string::npos) m.replace(at, 2, nonce);
    auto r = server.HandleClientFinal(m);
    EXPECT_FALSE(r.ok()) << m;
    EXPECT_FALSE(server.wrong_password()) << m;
    EXPECT_TRUE(server.client_key().empty());
  }
}

TEST(ScramServerTest, OutOfOrderAndRepeatedMessages) {
  ScramServer server(Verifier("pw"));
  EXPECT_FALSE(server.HandleClientFinal("c=biws,r=abc,p=xxxx").ok());
  ScramClient client = ScramClient::FromPassword("pw");
  auto sf = server.HandleClientFirst(client.ClientFirst());
  ASSERT_TRUE(sf.ok());
  EXPECT_FALSE(server.HandleClientFirst("n,,n=,r=abc").ok());
  auto cf = client.HandleServerFirst(*sf);
  ASSERT_TRUE(cf.ok());
  EXPECT_FALSE(client.HandleServerFirst(*sf).ok());  // second server-first
  ASSERT_TRUE(server.HandleClientFinal(*cf).ok());
  EXPECT_FALSE(server.HandleClientFinal(*cf).ok());  // replay on the same exchange
}

TEST(ScramServerTest, RejectsInvalidVerifier) {
  ScramVerifier v = Verifier("x");
  v.stored_key.resize(31);
  ScramServer server(v);
  EXPECT_FALSE(server.HandleClientFirst("n,,n=,r=abc").ok());
}

// ---- Client against the reference ----

TEST(ScramClientTest, ClientFirstFormat) {
  ScramClient client = ScramClient::FromPassword("pencil");
  std::string first = client.ClientFirst();
  ASSERT_TRUE(first.starts_with("n,,n=,r="));
  std::string nonce = first.substr(8);
  EXPECT_EQ(nonce.size(), 24u);
  auto raw = Base64Decode(nonce);
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->size(), 18u);
  EXPECT_NE(ScramClient::FromPassword("pencil").ClientFirst(), first);
}

TEST(ScramClientTest, ProofAndSignatureMatchReference) {
  ScramClient client = ScramClient::FromPassword("pencil");
  std::string first = client.ClientFirst();
  std::string bare = first.substr(3);
  std::string cnonce = first.substr(8);
  std::string server_first = "r=" + cnonce + "%hvYDp,s=" + std::string(kRfcSaltB64) + ",i=4096";
  auto cf = client.HandleServerFirst(server_first);
  ASSERT_TRUE(cf.ok()) << cf.status().message();
  std::string without_proof = "c=biws,r=" + cnonce + "%hvYDp";
  std::string auth = Join3(bare, server_first, without_proof);
  RefKeys k = RefDerive("pencil", RfcSalt(), 4096);
  EXPECT_EQ(*cf, without_proof + ",p=" + RefProof(k, auth));
  Status st = client.HandleServerFinal("v=" + RefServerSignature(k, auth));
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST(ScramClientTest, RejectsMalformedServerFirst) {
  const std::vector<std::string> bad = {
      "",
      "r=%C",                                               // client nonce only, nothing else
      "r=%Cs,s=" + std::string(kRfcSaltB64),                // no iterations
      "r=%C,s=" + std::string(kRfcSaltB64) + ",i=4096",     // nonce not extended
      "r=other,s=" + std::string(kRfcSaltB64) + ",i=4096",  // not our nonce
      "r=%Cs s,s=" + std::string(kRfcSaltB64) + ",i=4096",  // unprintable
      "r=%Cs,s=" + std::string(kRfcSaltB64) + ",i=0",
      "r=%Cs,s=" + std::string(kRfcSaltB64) + ",i=-1",
      "r=%Cs,s=" + std::string(kRfcSaltB64) + ",i=4096x",
      "r=%Cs,s=" + std::string(kRfcSaltB64) + ",i=",
      "r=%Cs,s=" + std::string(kRfcSaltB64) + ",i=99999999999",
      "r=%Cs,s=" + std::string(kRfcSaltB64) + ",i=4096,x=1",  // garbage at end
      "r=%Cs,s=,i=4096",                                      // empty salt
      "r=%Cs,s=***,i=4096",                                   // bad base64
      "s=" + std::string(kRfcSaltB64) + ",r=%Cs,i=4096",      // order
  };
  for (std::string m : bad) {
    ScramClient client = ScramClient::FromPassword("pencil");
    std::string cnonce = client.ClientFirst().substr(8);
    if (size_t at = m.find("%C"); at != std::string::npos) m.replace(at, 2, cnonce);
    EXPECT_FALSE(client.HandleServerFirst(m).ok()) << m;
  }
}

TEST(ScramClientTest, OutOfOrder) {
  ScramClient client = ScramClient::FromPassword("pw");
  EXPECT_FALSE(client.HandleServerFirst("r=abc,s=QUJD,i=1").ok());
  EXPECT_FALSE(client.HandleServerFinal("v=" + Base64Encode(std::string(32, 'x'))).ok());
}

TEST(ScramClientTest, FromKeysRequires32ByteKeys) {
  ScramClient client = ScramClient::FromKeys("short", std::string(32, 'k'));
  std::string cnonce = client.ClientFirst().substr(8);
  auto cf = client.HandleServerFirst("r=" + cnonce + "x,s=QUJD,i=1");
  EXPECT_FALSE(cf.ok());
}

// ---- Both sides ----

TEST(ScramExchangeTest, ClientAndServerAgree) {
  ScramServer server(Verifier("correct horse"));
  ScramClient client = ScramClient::FromPassword("correct horse");
  EXPECT_EQ(Exchange(server, client), "");
  EXPECT_FALSE(server.wrong_password());
  EXPECT_EQ(server.client_key(), RefDerive("correct horse", RfcSalt(), 4096).client_key);
}

TEST(ScramExchangeTest, FreshVerifierWithFewIterations) {
  ScramVerifier v = ParseScramVerifier(ComputeScramVerifier("", "s", 1)).value();
  ScramServer server(v);
  ScramClient client = ScramClient::FromPassword("");
  EXPECT_EQ(Exchange(server, client), "");
}

TEST(ScramExchangeTest, WrongPassword) {
  ScramServer server(Verifier("right"));
  ScramClient client = ScramClient::FromPassword("wrong");
  auto sf = server.HandleClientFirst(client.ClientFirst());
  ASSERT_TRUE(sf.ok());
  auto cf = client.HandleServerFirst(*sf);
  ASSERT_TRUE(cf.ok());
  auto fin = server.HandleClientFinal(*cf);
  ASSERT_FALSE(fin.ok());
  EXPECT_TRUE(server.wrong_password());
  EXPECT_TRUE(fin.status().message().starts_with("wrong password")) << fin.status().message();
  EXPECT_EQ(fin.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(server.client_key().empty());
}

TEST(ScramExchangeTest, RecoveredClientKeyLogsInToAnotherServer) {
  ScramVerifier v = Verifier("s3cret");
  ScramServer first(v);
  ScramClient client = ScramClient::FromPassword("s3cret");
  ASSERT_EQ(Exchange(first, client), "");
  ASSERT_EQ(first.client_key().size(), 32u);

  ScramServer second(v);
  ScramClient by_keys = ScramClient::FromKeys(first.client_key(), v.server_key);
  EXPECT_EQ(Exchange(second, by_keys), "");
  EXPECT_EQ(second.client_key(), first.client_key());

  // Keys of another password do not work.
  ScramServer third(v);
  ScramVerifier other = Verifier("other");
  ScramClient wrong_keys =
      ScramClient::FromKeys(RefDerive("other", RfcSalt(), 4096).client_key, other.server_key);
  EXPECT_TRUE(Exchange(third, wrong_keys).starts_with("server final: wrong password"));
  EXPECT_TRUE(third.wrong_password());
}

TEST(ScramExchangeTest, ClientRejectsBadServerFinal) {
  const std::vector<std::string> bad_finals = {
      "", "e=invalid-proof", "v=", "v=!!!!", "x=abc", "v=" + Base64Encode("short"),
  };
  ScramVerifier v = Verifier("pw");
  for (int tamper = 0; tamper <= static_cast<int>(bad_finals.size()); ++tamper) {
    ScramServer server(v);
    ScramClient client = ScramClient::FromPassword("pw");
    auto sf = server.HandleClientFirst(client.ClientFirst());
    ASSERT_TRUE(sf.ok());
    auto cf = client.HandleServerFirst(*sf);
    ASSERT_TRUE(cf.ok());
    auto fin = server.HandleClientFinal(*cf);
    ASSERT_TRUE(fin.ok());
    std::string final_message = *fin;
    if (tamper < static_cast<int>(bad_finals.size())) {
      final_message = bad_finals[tamper];
    } else {  // flip one bit of the signature
      std::string sig = Base64Decode(fin->substr(2)).value();
      sig[5] ^= 1;
      final_message = "v=" + Base64Encode(sig);
    }
    Status st = client.HandleServerFinal(final_message);
    EXPECT_FALSE(st.ok()) << final_message;
    if (final_message.starts_with("e=")) {
      EXPECT_NE(st.message().find("invalid-proof"), std::string::npos) << st.message();
    }
    // The genuine signature after a failed check does not rescue the exchange.
    EXPECT_FALSE(client.HandleServerFinal(*fin).ok());
  }
}

TEST(ScramExchangeTest, ClientAcceptsGenuineServerFinalOnce) {
  ScramServer server(Verifier("pw"));
  ScramClient client = ScramClient::FromPassword("pw");
  auto sf = server.HandleClientFirst(client.ClientFirst());
  auto cf = client.HandleServerFirst(*sf);
  auto fin = server.HandleClientFinal(*cf);
  ASSERT_TRUE(fin.ok());
  EXPECT_TRUE(client.HandleServerFinal(*fin).ok());
  EXPECT_FALSE(client.HandleServerFinal(*fin).ok());
}

// ---- md5 ----

TEST(Md5PasswordResponseTest, KnownAnswers) {
  // python3: "md5" + md5(md5(b"p" + b"u").hexdigest().encode() + bytes([1, 2, 3, 4])).hexdigest()
  const char salt[4] = {1, 2, 3, 4};
  EXPECT_EQ(Md5PasswordResponse("u", "p", salt), "md5facdc455923b0a58efea84a6d9ee0e76");
  const char salt2[4] = {'\xde', '\xad', '\xbe', '\xef'};
  EXPECT_EQ(Md5PasswordResponse("postgres", "secret", salt2),
            "md5c546d0bbed2af888b328536b45c76348");
  EXPECT_NE(Md5PasswordResponse("postgres", "secret", salt), Md5PasswordResponse("u", "p", salt));
}

TEST(ScramExchangeTest, KnownKeysSkipDerivationOnlyForTheSameSalt) {
  ScramServer first_server(Verifier("correct horse"));
  ScramClient first = ScramClient::FromPassword("correct horse");
  ASSERT_EQ(Exchange(first_server, first), "");
  ASSERT_TRUE(first.derived().has_value());
  DerivedScramKeys keys = *first.derived();
  EXPECT_EQ(keys.iterations, 4096);
  EXPECT_EQ(keys.salt, RfcSalt());
  EXPECT_EQ(keys.client_key, RefDerive("correct horse", RfcSalt(), 4096).client_key);

  // Same salt: the known keys log in (even with a wrong password text, which
  // proves PBKDF2 was skipped).
  ScramServer second_server(Verifier("correct horse"));
  ScramClient second = ScramClient::FromPassword("not used", keys);
  EXPECT_EQ(Exchange(second_server, second), "");

  // Another salt: the keys do not apply and the password is derived again.
  ScramVerifier other =
      ParseScramVerifier(ComputeScramVerifier("correct horse", "other salt", 4096)).value();
  ScramServer third_server(other);
  ScramClient third = ScramClient::FromPassword("correct horse", keys);
  EXPECT_EQ(Exchange(third_server, third), "");
  ASSERT_TRUE(third.derived().has_value());
  EXPECT_EQ(third.derived()->salt, "other salt");
}

}  // namespace
}  // namespace tusk::protocol
