// The SCRAM-SHA-256 exchange (RFC 5802, RFC 7677) as PostgreSQL runs it inside
// SASL messages (PostgreSQL docs, Protocol §55.3 "SASL Authentication"), for
// both sides: ScramServer verifies a client against a stored verifier;
// ScramClient logs in to a server with a password or with the raw keys.
// No channel binding: the server only advertises SCRAM-SHA-256 (not -PLUS)
// and accepts gs2 headers "n,," and "y,,"; "p=" is refused.
//
// Pure state machines over strings, never throw. Each object handles one
// exchange; not synchronized. Nonces come from OpenSSL RAND_bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/scram.h"
#include "common/status.h"

namespace tusk::protocol {

/// Server side. Errors are kInvalidArgument with a message for the log; the
/// router then answers 28P01 "password authentication failed for user" (for a
/// wrong proof) or 08P01 (for a malformed message), as PostgreSQL does.
class ScramServer {
 public:
  /// `verifier` is the role's stored verifier (its salt and iterations are
  /// what the client is told).
  explicit ScramServer(ScramVerifier verifier);

  /// Takes the client-first-message (SASLInitialResponse data); returns the
  /// server-first-message to send in AuthenticationSASLContinue.
  Result<std::string> HandleClientFirst(std::string_view client_first);
  /// Takes the client-final-message; on a valid proof returns the
  /// server-final-message ("v=...") to send in AuthenticationSASLFinal.
  /// A wrong proof is an error whose message starts with "wrong password".
  Result<std::string> HandleClientFinal(std::string_view client_final);
  /// True when the proof failed (vs a malformed message).
  bool wrong_password() const { return wrong_password_; }
  /// After a successful HandleClientFinal: the ClientKey recovered from the
  /// proof (32 raw bytes), usable with ScramClient::FromKeys towards a server
  /// that holds the same verifier.
  const std::string& client_key() const { return client_key_; }

 private:
  ScramVerifier verifier_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;    ///< client nonce + server nonce
  char gs2_flag_ = 'n';  ///< the client's gs2-cbind-flag: 'n' or 'y'
  std::string client_key_;
  bool wrong_password_ = false;
};

/// ClientKey and ServerKey (32 raw bytes each) derived from a password for
/// one salt (raw bytes) and iteration count: PBKDF2 with 4096 iterations
/// costs milliseconds, so a caller that logs the same role in again can
/// keep these and skip it while the server's salt stays the same.
struct DerivedScramKeys {
  std::string salt;
  int iterations = 0;
  std::string client_key;
  std::string server_key;
};

/// Client side.
class ScramClient {
 public:
  /// Logs in with a plaintext password (SaltedPassword computed from the
  /// server's salt and iterations). When `known` holds keys for the salt and
  /// iterations the server sends, they are used instead of PBKDF2 (the
  /// caller guarantees they were derived from this password).
  static ScramClient FromPassword(std::string password,
                                  std::optional<DerivedScramKeys> known = std::nullopt);
  /// Logs in with ClientKey and ServerKey (32 raw bytes each), as recovered by
  /// ScramServer / stored in a verifier; the server must use the same salt.
  static ScramClient FromKeys(std::string client_key, std::string server_key);

  /// client-first-message: "n,,n=,r=<nonce>" (PostgreSQL ignores n=).
  std::string ClientFirst();
  /// Takes server-first; returns client-final with the proof. Errors on a
  /// malformed message, a nonce that does not extend ours, or iterations < 1.
  Result<std::string> HandleServerFirst(std::string_view server_first);
  /// Checks the server signature in server-final ("v=..."); an "e=..." or a
  /// wrong signature is an error.
  Status HandleServerFinal(std::string_view server_final);
  /// After HandleServerFirst of a FromPassword client: the keys for the
  /// server's salt and iterations (to pass as `known` next time).
  const std::optional<DerivedScramKeys>& derived() const { return derived_; }

 private:
  ScramClient() = default;
  std::string password_;
  std::string client_key_;
  std::string server_key_;
  std::string client_nonce_;
  std::string client_first_bare_;
  std::string auth_message_;
  std::optional<DerivedScramKeys> known_;
  std::optional<DerivedScramKeys> derived_;
};

/// PostgreSQL's md5 password response: "md5" + md5hex(md5hex(password + user) + salt).
std::string Md5PasswordResponse(std::string_view user, std::string_view password,
                                const char salt[4]);

}  // namespace tusk::protocol
