// SCRAM-SHA-256 password verifiers as PostgreSQL stores them, plus SHA-256.
//
// A verifier is the text kept in pg_authid.rolpassword:
//   SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
// with SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations),
// ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = SHA-256(ClientKey),
// ServerKey = HMAC(SaltedPassword, "Server Key").
// Sources: RFC 5802 §3 (SCRAM), RFC 7677 (SCRAM-SHA-256), PostgreSQL docs
// §21.5 "Password Authentication", src/common/scram-common.c for the layout.
//
// Computing a verifier client side lets tusk set a password without the
// plaintext ever appearing in SQL text or in the server log.
//
// Limitation: PostgreSQL applies SASLprep (RFC 4013, NFKC normalisation) to
// non-ASCII passwords; tusk hashes the password bytes as given. For ASCII
// passwords (all generated ones) and already-normalised UTF-8 the result is
// identical. Pure functions, thread-safe (OpenSSL's RNG is thread-safe).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tusk {

/// The parsed parts of a SCRAM-SHA-256 verifier; binary fields are raw bytes.
struct ScramVerifier {
  int iterations = 0;
  std::string salt;        ///< raw salt bytes
  std::string stored_key;  ///< 32 raw bytes
  std::string server_key;  ///< 32 raw bytes
};

/// Iterations PostgreSQL uses by default (scram_iterations in PG 16+, fixed in 15).
inline constexpr int kScramIterations = 4096;
/// Salt length PostgreSQL uses (SCRAM_DEFAULT_SALT_LEN).
inline constexpr int kScramSaltBytes = 16;

/// Parses `text` as a SCRAM-SHA-256 verifier. nullopt for anything else
/// (NULL-equivalent "", "md5...", malformed base64, wrong key length).
std::optional<ScramVerifier> ParseScramVerifier(std::string_view text);

/// Builds the verifier text for `password` with the given raw salt and iterations.
/// REQUIRES: iterations > 0, salt non-empty.
std::string ComputeScramVerifier(std::string_view password, std::string_view salt, int iterations);

/// A fresh verifier: random 16-byte salt (RAND_bytes), 4096 iterations.
/// kInternal when the RNG fails.
Result<std::string> NewScramVerifier(std::string_view password);

/// True when `verifier` is a SCRAM-SHA-256 verifier of `password`: recomputes
/// StoredKey and ServerKey with the stored salt and iteration count and
/// compares in constant time. False for md5 hashes, plaintext or garbage.
bool ScramVerifierMatches(std::string_view verifier, std::string_view password);

/// HMAC-SHA-256 of `msg` under `key`: 32 raw bytes (RFC 2104). Runs on this
/// thread's cached OpenSSL context (no algorithm fetch per call).
std::string HmacSha256(std::string_view key, std::string_view msg);
/// SHA-256 of `data`: 32 raw bytes; same per-thread caching.
std::string Sha256(std::string_view data);

/// Standard base64 (RFC 4648 §4) with padding.
std::string Base64Encode(std::string_view bytes);
/// Decodes standard padded base64; nullopt on any invalid input.
std::optional<std::string> Base64Decode(std::string_view text);

/// Lower-case hex of raw `bytes` (2 characters per byte).
std::string HexEncode(std::string_view bytes);

/// Lower-case hex SHA-256 of `data` (64 characters).
std::string Sha256Hex(std::string_view data);

}  // namespace tusk
