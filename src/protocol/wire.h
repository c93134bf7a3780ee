// PostgreSQL protocol 3.0 primitives: constants, a bounds-checked reader over
// one message body, and builders that append complete messages to a buffer.
//
// Integers on the wire are big-endian (network order); strings are
// NUL-terminated. Source: PostgreSQL docs, Protocol §55.7 "Message Formats"
// and §55.2 "Message Flow".
//
// Nothing here throws or allocates beyond the output string it is given.
// Reader never reads past its view: every accessor returns false/nullopt and
// latches `failed()` instead. All types are values; not synchronized.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tusk::protocol {

/// Protocol 3.0 as sent in StartupMessage (major << 16 | minor).
inline constexpr int32_t kProtocol30 = 196608;
/// Special "protocol versions" of the untyped first packets.
inline constexpr int32_t kCancelRequestCode = 80877102;
inline constexpr int32_t kSslRequestCode = 80877103;
inline constexpr int32_t kGssEncRequestCode = 80877104;
/// PostgreSQL rejects startup packets longer than this (MAX_STARTUP_PACKET_LENGTH).
inline constexpr uint32_t kMaxStartupPacketBytes = 10000;
/// Default cap on one typed message (type byte excluded, length field included).
inline constexpr uint32_t kDefaultMaxMessageBytes = 64u << 20;

/// Transaction status in ReadyForQuery.
enum class TxStatus : char { kIdle = 'I', kInTransaction = 'T', kFailed = 'E' };

/// Reads a big-endian int32 from 4 bytes. REQUIRES: p points at 4 readable bytes.
inline int32_t LoadInt32(const char* p) {
  auto u = [&](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(p[i])); };
  return static_cast<int32_t>((u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3));
}

/// Cursor over one message body (without the type byte and length).
class Reader {
 public:
  explicit Reader(std::string_view body) : data_(body) {}

  /// Each Read* returns false (and sets failed()) when the body is too short;
  /// the output is untouched then.
  bool ReadByte(char* out);
  bool ReadInt16(int16_t* out);
  bool ReadInt32(int32_t* out);
  /// A NUL-terminated string; false when no NUL is found before the end.
  bool ReadCString(std::string_view* out);
  /// Exactly `n` bytes; false when n < 0 or fewer remain.
  bool ReadBytes(int64_t n, std::string_view* out);

  /// Bytes not yet consumed.
  std::string_view rest() const { return data_.substr(pos_); }
  size_t position() const { return pos_; }
  bool at_end() const { return pos_ == data_.size(); }
  bool failed() const { return failed_; }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  bool failed_ = false;
};

// ---- Builders: each appends one complete message to `out`. ----

/// Appends type byte, int32 length (body + 4) and body.
void AppendMessage(std::string& out, char type, std::string_view body);
void AppendInt16(std::string& out, int16_t v);
void AppendInt32(std::string& out, int32_t v);
/// Appends `s` and a NUL. REQUIRES: s holds no NUL.
void AppendCString(std::string& out, std::string_view s);

/// Fields of an ErrorResponse/NoticeResponse (§55.8 "Error and Notice Message Fields").
struct ErrorFields {
  std::string severity = "ERROR";  ///< S and V fields: ERROR, FATAL, WARNING, NOTICE, ...
  std::string sqlstate;            ///< C field, five characters, e.g. "08P01"
  std::string message;             ///< M field
  std::string detail;              ///< D field (omitted when empty)
  std::string hint;                ///< H field (omitted when empty)
};
void AppendErrorResponse(std::string& out, const ErrorFields& e);
void AppendNoticeResponse(std::string& out, const ErrorFields& e);

// Backend messages.
void AppendAuthenticationOk(std::string& out);
void AppendAuthenticationCleartext(std::string& out);
void AppendAuthenticationMd5(std::string& out, const char salt[4]);
/// AuthenticationSASL listing `mechanisms` (e.g. {"SCRAM-SHA-256"}).
void AppendAuthenticationSasl(std::string& out, const std::vector<std::string>& mechanisms);
void AppendAuthenticationSaslContinue(std::string& out, std::string_view data);
void AppendAuthenticationSaslFinal(std::string& out, std::string_view data);
void AppendParameterStatus(std::string& out, std::string_view name, std::string_view value);
void AppendBackendKeyData(std::string& out, int32_t pid, int32_t key);
void AppendReadyForQuery(std::string& out, TxStatus status);
void AppendParseComplete(std::string& out);
void AppendBindComplete(std::string& out);
void AppendCloseComplete(std::string& out);
void AppendCommandComplete(std::string& out, std::string_view tag);
void AppendEmptyQueryResponse(std::string& out);
/// NegotiateProtocolVersion: newest minor we support and options we did not recognise.
void AppendNegotiateProtocolVersion(std::string& out, int32_t newest_minor,
                                    const std::vector<std::string>& unrecognized);
/// RowDescription with every column typed text (oid 25), format text.
void AppendRowDescription(std::string& out, const std::vector<std::string>& columns);
/// DataRow; nullopt cells are SQL NULL.
void AppendDataRow(std::string& out, const std::vector<std::optional<std::string>>& cells);

// Frontend messages.
/// StartupMessage for protocol 3.0 with the given parameters (user, database, ...).
void AppendStartupMessage(std::string& out,
                          const std::vector<std::pair<std::string, std::string>>& params);
void AppendSslRequest(std::string& out);
void AppendCancelRequest(std::string& out, int32_t pid, int32_t key);
void AppendQuery(std::string& out, std::string_view sql);
/// Parse: statement name, query, parameter type OIDs (0 = unspecified).
void AppendParse(std::string& out, std::string_view name, std::string_view query,
                 const std::vector<int32_t>& param_types);
void AppendSync(std::string& out);
void AppendTerminate(std::string& out);
/// PasswordMessage carrying a cleartext or md5 password.
void AppendPasswordMessage(std::string& out, std::string_view password);
void AppendSaslInitialResponse(std::string& out, std::string_view mechanism, std::string_view data);
void AppendSaslResponse(std::string& out, std::string_view data);

}  // namespace tusk::protocol
