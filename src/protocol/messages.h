// Field-level views of the messages the router inspects or rewrites.
// Each Parse* takes a message body (no type byte, no length) and returns
// nullopt when the body is malformed (short, missing NUL, trailing bytes
// where none are allowed). Views point into the body: they live as long as
// it does. Pure, never throws. Source: PostgreSQL docs, Protocol §55.7.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/wire.h"

namespace tusk::protocol {

/// Frontend 'P' Parse.
struct ParseMessage {
  std::string_view name;  ///< "" = unnamed statement
  std::string_view query;
  std::vector<int32_t> param_types;
};
std::optional<ParseMessage> ParseParse(std::string_view body);

/// Frontend 'B' Bind. Only the names are split out; `rest` is everything after
/// the statement name (formats, values, result formats), kept verbatim so the
/// router can re-emit the message with a different statement name.
struct BindMessage {
  std::string_view portal;
  std::string_view statement;
  std::string_view rest;
};
std::optional<BindMessage> ParseBind(std::string_view body);
/// Appends a Bind message with `statement` replacing the original name.
void AppendBind(std::string& out, std::string_view portal, std::string_view statement,
                std::string_view rest);

/// Frontend 'D' Describe and 'C' Close: kind 'S' (statement) or 'P' (portal).
struct TargetMessage {
  char kind = 'S';
  std::string_view name;
};
/// nullopt also when kind is neither 'S' nor 'P'.
std::optional<TargetMessage> ParseTarget(std::string_view body);
/// Appends a Describe ('D') or Close ('C') message: AppendTarget(out, 'C', 'S', name).
void AppendTarget(std::string& out, char type, char kind, std::string_view name);

/// Frontend 'E' Execute: the portal and the row limit (0 = all rows).
/// Source: PostgreSQL docs, Protocol §55.7 Message Formats.
struct ExecuteMessage {
  std::string_view portal;
  int32_t max_rows = 0;
};
std::optional<ExecuteMessage> ParseExecute(std::string_view body);

/// Frontend 'Q' Query: the SQL text (without its NUL).
std::optional<std::string_view> ParseQuery(std::string_view body);

/// Backend 'E'/'N': field code → value (e.g. 'C' → "42P01", 'M' → message).
struct ErrorMessage {
  std::vector<std::pair<char, std::string_view>> fields;
  /// The value of field `code`, or "" when absent.
  std::string_view Field(char code) const;
};
std::optional<ErrorMessage> ParseError(std::string_view body);

/// Backend 'S' ParameterStatus.
struct ParameterStatusMessage {
  std::string_view name;
  std::string_view value;
};
std::optional<ParameterStatusMessage> ParseParameterStatus(std::string_view body);

/// Backend 'K' BackendKeyData.
struct BackendKeyDataMessage {
  int32_t pid = 0;
  int32_t key = 0;
};
std::optional<BackendKeyDataMessage> ParseBackendKeyData(std::string_view body);

/// Backend 'Z' ReadyForQuery: nullopt unless exactly one of 'I', 'T', 'E'.
std::optional<TxStatus> ParseReadyForQuery(std::string_view body);

/// Backend 'R' Authentication*: the int32 code and what follows it.
/// Codes: 0 ok, 3 cleartext, 5 md5 (payload = 4-byte salt), 10 SASL (payload =
/// mechanism list), 11 SASL continue, 12 SASL final.
struct AuthenticationMessage {
  int32_t code = 0;
  std::string_view payload;
};
std::optional<AuthenticationMessage> ParseAuthentication(std::string_view body);
/// The mechanism names in an AuthenticationSASL payload.
std::optional<std::vector<std::string_view>> ParseSaslMechanisms(std::string_view payload);

/// Frontend 'p' in SASL: SASLInitialResponse (mechanism + data; data length
/// -1 means none) and SASLResponse (all of the body is data).
struct SaslInitialResponse {
  std::string_view mechanism;
  std::string_view data;
};
std::optional<SaslInitialResponse> ParseSaslInitialResponse(std::string_view body);

/// Frontend 'p' PasswordMessage (cleartext or md5): the password without NUL.
std::optional<std::string_view> ParsePasswordMessage(std::string_view body);

/// Backend 'C' CommandComplete: the tag ("SELECT 1", "SET", ...).
std::optional<std::string_view> ParseCommandComplete(std::string_view body);

}  // namespace tusk::protocol
