// SCRAM-SHA-256 exchange; message syntax from RFC 5802 §7, checks as in
// PostgreSQL's auth-scram.c (server) and fe-auth-scram.c (client).
#include "protocol/scram_exchange.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <charconv>

#include "common/random.h"

namespace tusk::protocol {
namespace {

constexpr size_t kKeyBytes = SHA256_DIGEST_LENGTH;
constexpr int kRawNonceBytes = 18;  // SCRAM_RAW_NONCE_LEN

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// a XOR b. REQUIRES: equal sizes.
std::string Xor(std::string_view a, std::string_view b) {
  std::string out(a);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(out[i] ^ b[i]);
  return out;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// 18 random bytes, base64: printable and comma-free, like PostgreSQL's nonces.
std::optional<std::string> RandomNonce() {
  unsigned char raw[kRawNonceBytes];
  if (!RandomBytes(raw, sizeof raw)) return std::nullopt;
  return Base64Encode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
}

// RFC 5802: printable = %x21-2B / %x2D-7E (visible ASCII except ',').
bool IsPrintableNonce(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < 0x21 || c > 0x7E || c == ',') return false;
  }
  return true;
}

// AuthMessage = client-first-bare "," server-first "," client-final-without-proof.
std::string AuthMessage(std::string_view client_first_bare, std::string_view server_first,
                        std::string_view client_final_without_proof) {
  std::string m;
  m.reserve(client_first_bare.size() + server_first.size() + client_final_without_proof.size() + 2);
  m.append(client_first_bare).append(",").append(server_first).append(",");
  m.append(client_final_without_proof);
  return m;
}

// Lower-case hex MD5 of `data`; "" when the digest is unavailable (FIPS mode).
std::string Md5Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr) != 1) return "";
  return HexEncode(std::string_view(reinterpret_cast<char*>(digest), len));
}

Status Malformed(std::string_view what) {
  return InvalidArgument("malformed SCRAM message: " + std::string(what));
}

// Walks the comma-separated "<letter>=<value>" attributes of a SCRAM message.
class Attributes {
 public:
  explicit Attributes(std::string_view text) : text_(text) {}

  /// Reads the next attribute; false when there is none or it is malformed.
  bool Next(char* name, std::string_view* value) {
    std::string_view rest = text_.substr(pos_);
    if (done_ || rest.size() < 2 || rest[1] != '=' ||
        !((rest[0] >= 'a' && rest[0] <= 'z') || (rest[0] >= 'A' && rest[0] <= 'Z'))) {
      return false;
    }
    start_ = pos_;
    *name = rest[0];
    size_t comma = rest.find(',');
    *value = rest.substr(2, comma == std::string_view::npos ? std::string_view::npos : comma - 2);
    if (comma == std::string_view::npos) {
      done_ = true;
      pos_ = text_.size();
    } else {
      pos_ += comma + 1;
    }
    return true;
  }
  /// Reads the next attribute and requires its name to be `want`.
  bool Expect(char want, std::string_view* value) {
    char name = 0;
    return Next(&name, value) && name == want;
  }
  /// True once the last attribute was read (no trailing comma).
  bool at_end() const { return done_; }
  /// Offset of the attribute read last.
  size_t last_start() const { return start_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  size_t start_ = 0;
  bool done_ = false;
};

}  // namespace

// ---- Server ----

ScramServer::ScramServer(ScramVerifier verifier) : verifier_(std::move(verifier)) {}

Result<std::string> ScramServer::HandleClientFirst(std::string_view client_first) {
  if (!server_first_.empty()) return InvalidArgument("unexpected second client-first-message");
  if (verifier_.iterations < 1 || verifier_.salt.empty() ||
      verifier_.stored_key.size() != kKeyBytes || verifier_.server_key.size() != kKeyBytes) {
    return InvalidArgument("invalid SCRAM verifier");
  }
  // gs2-header: gs2-cbind-flag "," [authzid] ","
  if (client_first.empty()) return Malformed("empty client-first-message");
  char flag = client_first[0];
  if (flag == 'p') {
    return InvalidArgument("SCRAM channel binding was requested but is not supported");
  }
  if ((flag != 'n' && flag != 'y') || client_first.size() < 2 || client_first[1] != ',') {
    return Malformed("unexpected gs2-cbind-flag in client-first-message");
  }
  if (client_first.size() > 2 && client_first[2] == 'a') {
    return InvalidArgument("SCRAM authorization identity is not supported");
  }
  if (client_first.size() < 3 || client_first[2] != ',') {
    return Malformed("unexpected gs2 header in client-first-message");
  }
  std::string_view bare = client_first.substr(3);
  Attributes attrs(bare);
  std::string_view user, nonce;
  if (!attrs.Expect('n', &user)) return Malformed("expected attribute \"n\"");
  char name = 0;
  if (!attrs.Next(&name, &nonce)) return Malformed("expected attribute \"r\"");
  if (name == 'm') return InvalidArgument("client requires an unsupported SCRAM extension");
  if (name != 'r') return Malformed("expected attribute \"r\"");
  if (!IsPrintableNonce(nonce)) return Malformed("invalid client nonce");
  while (!attrs.at_end()) {  // extensions, ignored
    std::string_view ignored;
    if (!attrs.Next(&name, &ignored)) return Malformed("invalid attribute in client-first-message");
  }

  std::optional<std::string> server_nonce = RandomNonce();
  if (!server_nonce) return Internal("could not generate random SCRAM nonce");
  gs2_flag_ = flag;
  client_first_bare_.assign(bare);
  nonce_.assign(nonce).append(*server_nonce);
  server_first_ = "r=" + nonce_ + ",s=" + Base64Encode(verifier_.salt) +
                  ",i=" + std::to_string(verifier_.iterations);
  return server_first_;
}

Result<std::string> ScramServer::HandleClientFinal(std::string_view client_final) {
  // One attempt per exchange: the nonce is gone after this call.
  std::string nonce = std::move(nonce_);
  nonce_.clear();
  if (nonce.empty()) return InvalidArgument("unexpected client-final-message");

  Attributes attrs(client_final);
  std::string_view cbind, final_nonce, proof_b64;
  if (!attrs.Expect('c', &cbind)) return Malformed("expected attribute \"c\"");
  const char header[3] = {gs2_flag_, ',', ','};
  if (cbind != Base64Encode(std::string_view(header, 3))) {
    return InvalidArgument("unexpected SCRAM channel-binding attribute in client-final-message");
  }
  if (!attrs.Expect('r', &final_nonce)) return Malformed("expected attribute \"r\"");
  if (final_nonce != nonce) return InvalidArgument("SCRAM nonce mismatch");
  char name = 0;
  do {  // extensions before the proof, ignored
    if (!attrs.Next(&name, &proof_b64)) return Malformed("expected attribute \"p\"");
  } while (name != 'p');
  if (!attrs.at_end()) return Malformed("garbage at end of client-final-message");
  std::optional<std::string> proof = Base64Decode(proof_b64);
  if (!proof || proof->size() != kKeyBytes) return Malformed("invalid proof");

  std::string auth = AuthMessage(client_first_bare_, server_first_,
                                 client_final.substr(0, attrs.last_start() - 1));
  std::string client_key = Xor(*proof, HmacSha256(verifier_.stored_key, auth));
  if (!ConstantTimeEqual(Sha256(client_key), verifier_.stored_key)) {
    OPENSSL_cleanse(client_key.data(), client_key.size());
    wrong_password_ = true;
    return InvalidArgument("wrong password: SCRAM proof does not match the stored verifier");
  }
  client_key_ = std::move(client_key);
  return "v=" + Base64Encode(HmacSha256(verifier_.server_key, auth));
}

// ---- Client ----

ScramClient ScramClient::FromPassword(std::string password, std::optional<DerivedScramKeys> known) {
  ScramClient c;
  c.password_ = std::move(password);
  c.known_ = std::move(known);
  return c;
}

ScramClient ScramClient::FromKeys(std::string client_key, std::string server_key) {
  ScramClient c;
  c.client_key_ = std::move(client_key);
  c.server_key_ = std::move(server_key);
  return c;
}

std::string ScramClient::ClientFirst() {
  // On an RNG failure the nonce stays empty and HandleServerFirst reports it.
  client_nonce_ = RandomNonce().value_or("");
  client_first_bare_ = "n=,r=" + client_nonce_;
  auth_message_.clear();
  return "n,," + client_first_bare_;
}

Result<std::string> ScramClient::HandleServerFirst(std::string_view server_first) {
  if (client_nonce_.empty()) return InvalidArgument("no client-first-message was sent");
  if (!auth_message_.empty()) return InvalidArgument("unexpected second server-first-message");
  Attributes attrs(server_first);
  std::string_view nonce, salt_b64, iter_text;
  if (!attrs.Expect('r', &nonce) || !attrs.Expect('s', &salt_b64) ||
      !attrs.Expect('i', &iter_text)) {
    return Malformed("expected attributes \"r\", \"s\", \"i\" in server-first-message");
  }
  if (!attrs.at_end()) return Malformed("garbage at end of server-first-message");
  if (nonce.size() <= client_nonce_.size() || !nonce.starts_with(client_nonce_) ||
      !IsPrintableNonce(nonce)) {
    return InvalidArgument("invalid SCRAM response (nonce mismatch)");
  }
  std::optional<std::string> salt = Base64Decode(salt_b64);
  if (!salt || salt->empty()) return Malformed("invalid salt");
  int iterations = 0;
  auto [end, ec] =
      std::from_chars(iter_text.data(), iter_text.data() + iter_text.size(), iterations);
  if (ec != std::errc() || end != iter_text.data() + iter_text.size() || iterations < 1) {
    return Malformed("invalid iteration count");
  }

  if (client_key_.empty() && known_ && known_->salt == *salt && known_->iterations == iterations) {
    client_key_ = known_->client_key;  // FromPassword with keys derived before
    server_key_ = known_->server_key;
    derived_ = std::move(known_);
    OPENSSL_cleanse(password_.data(), password_.size());
    password_.clear();
  }
  if (client_key_.empty()) {  // FromPassword: derive the keys now
    unsigned char salted[kKeyBytes];
    if (PKCS5_PBKDF2_HMAC(password_.data(), static_cast<int>(password_.size()), Bytes(*salt),
                          static_cast<int>(salt->size()), iterations, EVP_sha256(), kKeyBytes,
                          salted) != 1) {
      return Internal("PBKDF2 failed");
    }
    std::string_view salted_password(reinterpret_cast<char*>(salted), kKeyBytes);
    client_key_ = HmacSha256(salted_password, "Client Key");
    server_key_ = HmacSha256(salted_password, "Server Key");
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(password_.data(), password_.size());
    password_.clear();
    derived_ = DerivedScramKeys{*salt, iterations, client_key_, server_key_};
  }
  if (client_key_.size() != kKeyBytes || server_key_.size() != kKeyBytes) {
    return InvalidArgument("SCRAM client and server keys must be 32 bytes");
  }

  std::string final_message = "c=biws,r=";
  final_message.append(nonce);
  auth_message_ = AuthMessage(client_first_bare_, server_first, final_message);
  std::string proof = Xor(client_key_, HmacSha256(Sha256(client_key_), auth_message_));
  final_message.append(",p=").append(Base64Encode(proof));
  return final_message;
}

Status ScramClient::HandleServerFinal(std::string_view server_final) {
  // One attempt per exchange: the AuthMessage is gone after this call.
  std::string auth = std::move(auth_message_);
  auth_message_.clear();
  if (auth.empty()) return InvalidArgument("unexpected server-final-message");
  Attributes attrs(server_final);
  char name = 0;
  std::string_view value;
  if (!attrs.Next(&name, &value)) return Malformed("invalid server-final-message");
  if (name == 'e') {
    return InvalidArgument("error received from server in SCRAM exchange: " + std::string(value));
  }
  if (name != 'v') return Malformed("expected attribute \"v\" in server-final-message");
  if (!attrs.at_end()) return Malformed("garbage at end of server-final-message");
  std::optional<std::string> signature = Base64Decode(value);
  if (!signature || signature->size() != kKeyBytes) {
    return Malformed("invalid server signature");
  }
  if (!ConstantTimeEqual(*signature, HmacSha256(server_key_, auth))) {
    return InvalidArgument("incorrect server signature");
  }
  return Status::Ok();
}

// ---- md5 ----

std::string Md5PasswordResponse(std::string_view user, std::string_view password,
                                const char salt[4]) {
  std::string inner(password);
  inner.append(user);
  std::string outer = Md5Hex(inner);
  OPENSSL_cleanse(inner.data(), inner.size());
  if (outer.empty()) return "";
  outer.append(salt, 4);
  return "md5" + Md5Hex(outer);
}

}  // namespace tusk::protocol
