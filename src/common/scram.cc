// SCRAM-SHA-256 verifier math with OpenSSL; see scram.h for the sources.
#include "common/scram.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <charconv>

namespace tusk {
namespace {

constexpr std::string_view kPrefix = "SCRAM-SHA-256$";
constexpr int kKeyBytes = SHA256_DIGEST_LENGTH;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

struct Keys {
  std::string stored_key;
  std::string server_key;
};

Keys DeriveKeys(std::string_view password, std::string_view salt, int iterations) {
  unsigned char salted[kKeyBytes];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), Bytes(salt),
                    static_cast<int>(salt.size()), iterations, EVP_sha256(), kKeyBytes, salted);
  std::string salted_password(reinterpret_cast<char*>(salted), kKeyBytes);
  OPENSSL_cleanse(salted, sizeof salted);
  Keys k;
  k.stored_key = Sha256(HmacSha256(salted_password, "Client Key"));
  k.server_key = HmacSha256(salted_password, "Server Key");
  OPENSSL_cleanse(salted_password.data(), salted_password.size());
  return k;
}

// OpenSSL 3's one-shot HMAC() and SHA256() fetch the algorithm from the
// provider store on every call (name lookups, locks, allocations): about 1.6 µs
// of a 2 µs HMAC here. Each thread keeps its fetched algorithms and contexts.
struct ThreadDigests {
  EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* mac = hmac == nullptr ? nullptr : EVP_MAC_CTX_new(hmac);
  bool mac_ready = false;

  ThreadDigests() {
    if (mac == nullptr) return;
    char name[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, name, 0),
                           OSSL_PARAM_construct_end()};
    mac_ready = EVP_MAC_CTX_set_params(mac, params) == 1;
  }
  ~ThreadDigests() {
    EVP_MAC_CTX_free(mac);
    EVP_MAC_free(hmac);
    EVP_MD_CTX_free(md);
    EVP_MD_free(sha256);
  }
};

ThreadDigests& Digests() {
  thread_local ThreadDigests d;
  return d;
}

}  // namespace

std::string HmacSha256(std::string_view key, std::string_view msg) {
  unsigned char out[EVP_MAX_MD_SIZE];
  ThreadDigests& d = Digests();
  size_t n = 0;
  if (d.mac_ready && EVP_MAC_init(d.mac, Bytes(key), key.size(), nullptr) == 1 &&
      EVP_MAC_update(d.mac, Bytes(msg), msg.size()) == 1 &&
      EVP_MAC_final(d.mac, out, &n, sizeof out) == 1) {
    return std::string(reinterpret_cast<char*>(out), n);
  }
  unsigned int len = 0;  // fallback: the one-shot call
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), Bytes(msg), msg.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Sha256(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  ThreadDigests& d = Digests();
  unsigned int n = 0;
  if (d.sha256 != nullptr && d.md != nullptr && EVP_DigestInit_ex2(d.md, d.sha256, nullptr) == 1 &&
      EVP_DigestUpdate(d.md, data.data(), data.size()) == 1 &&
      EVP_DigestFinal_ex(d.md, out, &n) == 1) {
    return std::string(reinterpret_cast<char*>(out), n);
  }
  SHA256(Bytes(data), data.size(), out);  // fallback: the one-shot call
  return std::string(reinterpret_cast<char*>(out), SHA256_DIGEST_LENGTH);
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), Bytes(bytes),
                          static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.empty()) return std::string();
  if (text.size() % 4 != 0) return std::nullopt;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || (c == '=' && i + 2 >= text.size());
    if (!ok) return std::nullopt;
  }
  if (text[text.size() - 2] == '=' && text.back() != '=') return std::nullopt;
  std::string out(3 * (text.size() / 4), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), Bytes(text),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock keeps the zero bytes that padding stands for.
  size_t pad = text.back() == '=' ? (text[text.size() - 2] == '=' ? 2 : 1) : 0;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::optional<ScramVerifier> ParseScramVerifier(std::string_view text) {
  if (text.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  text.remove_prefix(kPrefix.size());
  // <iterations>:<salt>$<StoredKey>:<ServerKey>
  size_t colon1 = text.find(':');
  size_t dollar = text.find('$');
  if (colon1 == std::string_view::npos || dollar == std::string_view::npos || dollar < colon1) {
    return std::nullopt;
  }
  size_t colon2 = text.find(':', dollar);
  if (colon2 == std::string_view::npos) return std::nullopt;
  ScramVerifier v;
  std::string_view iter = text.substr(0, colon1);
  auto [ptr, ec] = std::from_chars(iter.data(), iter.data() + iter.size(), v.iterations);
  if (ec != std::errc() || ptr != iter.data() + iter.size() || v.iterations <= 0) {
    return std::nullopt;
  }
  auto salt = Base64Decode(text.substr(colon1 + 1, dollar - colon1 - 1));
  auto stored = Base64Decode(text.substr(dollar + 1, colon2 - dollar - 1));
  auto server = Base64Decode(text.substr(colon2 + 1));
  if (!salt || salt->empty() || !stored || !server) return std::nullopt;
  if (stored->size() != kKeyBytes || server->size() != kKeyBytes) return std::nullopt;
  v.salt = std::move(*salt);
  v.stored_key = std::move(*stored);
  v.server_key = std::move(*server);
  return v;
}

std::string ComputeScramVerifier(std::string_view password, std::string_view salt, int iterations) {
  Keys k = DeriveKeys(password, salt, iterations);
  return std::string(kPrefix) + std::to_string(iterations) + ":" + Base64Encode(salt) + "$" +
         Base64Encode(k.stored_key) + ":" + Base64Encode(k.server_key);
}

Result<std::string> NewScramVerifier(std::string_view password) {
  unsigned char salt[kScramSaltBytes];
  if (RAND_bytes(salt, sizeof salt) != 1) return Internal("RAND_bytes failed to produce a salt");
  return ComputeScramVerifier(
      password, std::string_view(reinterpret_cast<char*>(salt), sizeof salt), kScramIterations);
}

bool ScramVerifierMatches(std::string_view verifier, std::string_view password) {
  auto v = ParseScramVerifier(verifier);
  if (!v) return false;
  Keys k = DeriveKeys(password, v->salt, v->iterations);
  bool stored_ok = CRYPTO_memcmp(k.stored_key.data(), v->stored_key.data(), kKeyBytes) == 0;
  bool server_ok = CRYPTO_memcmp(k.server_key.data(), v->server_key.data(), kKeyBytes) == 0;
  return stored_ok && server_ok;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * bytes.size(), '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = kHex[c >> 4];
    out[2 * i + 1] = kHex[c & 0xF];
  }
  return out;
}

std::string Sha256Hex(std::string_view data) { return HexEncode(Sha256(data)); }

}  // namespace tusk
