// Decoding of the first, untyped packet a client sends: StartupMessage,
// SSLRequest, GSSENCRequest or CancelRequest (PostgreSQL docs, Protocol
// §55.2.1 "Start-up", §55.2.9 "SSL Session Encryption", §55.2.7 "Canceling
// Requests in Progress"). Pure, never throws; every malformed packet maps to
// an error with the SQLSTATE PostgreSQL itself would send.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tusk::protocol {

enum class StartupKind {
  kNeedMore,       ///< fewer bytes than the packet's length
  kStartup,        ///< StartupMessage, protocol 3.x
  kSslRequest,     ///< answer 'S' or 'N', then read another startup packet
  kGssEncRequest,  ///< answer 'N', then read another startup packet
  kCancel,         ///< CancelRequest(pid, key); no reply, close afterwards
  kError,          ///< malformed: send ErrorResponse(sqlstate, message) and close
};

/// A decoded startup packet.
struct StartupPacket {
  StartupKind kind = StartupKind::kNeedMore;
  uint32_t size = 0;  ///< bytes consumed from the buffer (kinds other than kNeedMore/kError)
  int32_t minor_version = 0;  ///< kStartup: requested 3.minor
  /// kStartup: parameters in order (user, database, application_name, options,
  /// ...), without the "_pq_.*" protocol options. "database" defaults to "user"
  /// as in PostgreSQL (appended when absent, filled in when empty).
  std::vector<std::pair<std::string, std::string>> params;
  /// kStartup: names of "_pq_." options (for NegotiateProtocolVersion).
  std::vector<std::string> protocol_options;
  int32_t cancel_pid = 0;  ///< kCancel
  int32_t cancel_key = 0;  ///< kCancel
  std::string sqlstate;    ///< kError: "08P01" (bad packet), "0A000" (unsupported protocol),
                           ///< "28000" (no user name)
  std::string message;     ///< kError: PostgreSQL-like message

  /// Value of parameter `name` (the last one when repeated), or "" when absent.
  std::string_view Param(std::string_view name) const;
};

/// Decodes the packet at the front of `buf`.
StartupPacket DecodeStartup(std::string_view buf);

/// The settings in a startup packet's `options` value (libpq's PGOPTIONS):
/// whitespace-separated "-c name=value", "-cname=value" or "--name=value"
/// (dashes in a "--" name become underscores), with backslash escaping a
/// space or backslash. Returns (name, value) pairs in order, or an error
/// message naming the first argument that is not such a setting (PostgreSQL
/// answers those with FATAL 42601 "invalid command-line argument for server
/// process"). Source: PostgreSQL docs, Protocol §55.7 StartupMessage
/// "options"; libpq §34.1.2 "options".
struct StartupOptions {
  std::vector<std::pair<std::string, std::string>> settings;
  std::string error;  ///< non-empty when an argument is not a setting
};
StartupOptions ParseStartupOptions(std::string_view options);

}  // namespace tusk::protocol
