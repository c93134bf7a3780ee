// Message field parsers; layouts from PostgreSQL docs, Protocol §55.7.
#include "protocol/messages.h"

#include "protocol/internal.h"

namespace tusk::protocol {
namespace {

// The body is a single NUL-terminated string and nothing else.
std::optional<std::string_view> ParseSingleCString(std::string_view body) {
  Reader r(body);
  std::string_view s;
  if (!r.ReadCString(&s) || !r.at_end()) return std::nullopt;
  return s;
}

// Skips an int16 count followed by `count` int16 format codes.
bool SkipFormats(Reader& r) {
  int16_t n = 0;
  if (!r.ReadInt16(&n) || n < 0) return false;
  std::string_view skipped;
  return r.ReadBytes(int64_t{n} * 2, &skipped);
}

// Bind after the statement name: formats, parameter values, result formats.
bool ValidBindRest(std::string_view rest) {
  Reader r(rest);
  if (!SkipFormats(r)) return false;
  int16_t values = 0;
  if (!r.ReadInt16(&values) || values < 0) return false;
  for (int i = 0; i < values; ++i) {
    int32_t len = 0;
    std::string_view value;
    if (!r.ReadInt32(&len)) return false;
    if (len < -1 || (len >= 0 && !r.ReadBytes(len, &value))) return false;
  }
  return SkipFormats(r) && r.at_end();
}

}  // namespace

std::optional<ParseMessage> ParseParse(std::string_view body) {
  Reader r(body);
  ParseMessage m;
  int16_t n = 0;
  if (!r.ReadCString(&m.name) || !r.ReadCString(&m.query) || !r.ReadInt16(&n) || n < 0) {
    return std::nullopt;
  }
  if (r.rest().size() != static_cast<size_t>(n) * 4) return std::nullopt;
  m.param_types.resize(static_cast<size_t>(n));
  for (int32_t& oid : m.param_types) r.ReadInt32(&oid);
  return m;
}

std::optional<BindMessage> ParseBind(std::string_view body) {
  Reader r(body);
  BindMessage m;
  if (!r.ReadCString(&m.portal) || !r.ReadCString(&m.statement)) return std::nullopt;
  m.rest = r.rest();
  if (!ValidBindRest(m.rest)) return std::nullopt;
  return m;
}

void AppendBind(std::string& out, std::string_view portal, std::string_view statement,
                std::string_view rest) {
  internal::AppendHeader(out, 'B', portal.size() + 1 + statement.size() + 1 + rest.size());
  AppendCString(out, portal);
  AppendCString(out, statement);
  out.append(rest);
}

std::optional<TargetMessage> ParseTarget(std::string_view body) {
  Reader r(body);
  TargetMessage m;
  if (!r.ReadByte(&m.kind) || !r.ReadCString(&m.name) || !r.at_end()) return std::nullopt;
  if (m.kind != 'S' && m.kind != 'P') return std::nullopt;
  return m;
}

void AppendTarget(std::string& out, char type, char kind, std::string_view name) {
  internal::AppendHeader(out, type, 1 + name.size() + 1);
  out.push_back(kind);
  AppendCString(out, name);
}

std::optional<ExecuteMessage> ParseExecute(std::string_view body) {
  Reader r(body);
  ExecuteMessage m;
  if (!r.ReadCString(&m.portal) || !r.ReadInt32(&m.max_rows) || !r.at_end()) return std::nullopt;
  return m;
}

std::optional<std::string_view> ParseQuery(std::string_view body) {
  return ParseSingleCString(body);
}

std::string_view ErrorMessage::Field(char code) const {
  for (const auto& [c, value] : fields) {
    if (c == code) return value;
  }
  return {};
}

std::optional<ErrorMessage> ParseError(std::string_view body) {
  Reader r(body);
  ErrorMessage m;
  for (;;) {
    char code = 0;
    if (!r.ReadByte(&code)) return std::nullopt;
    if (code == '\0') break;
    std::string_view value;
    if (!r.ReadCString(&value)) return std::nullopt;
    m.fields.emplace_back(code, value);
  }
  if (!r.at_end()) return std::nullopt;
  return m;
}

std::optional<ParameterStatusMessage> ParseParameterStatus(std::string_view body) {
  Reader r(body);
  ParameterStatusMessage m;
  if (!r.ReadCString(&m.name) || !r.ReadCString(&m.value) || !r.at_end()) return std::nullopt;
  return m;
}

std::optional<BackendKeyDataMessage> ParseBackendKeyData(std::string_view body) {
  Reader r(body);
  BackendKeyDataMessage m;
  if (!r.ReadInt32(&m.pid) || !r.ReadInt32(&m.key) || !r.at_end()) return std::nullopt;
  return m;
}

std::optional<TxStatus> ParseReadyForQuery(std::string_view body) {
  if (body.size() != 1) return std::nullopt;
  switch (body[0]) {
    case 'I':
      return TxStatus::kIdle;
    case 'T':
      return TxStatus::kInTransaction;
    case 'E':
      return TxStatus::kFailed;
    default:
      return std::nullopt;
  }
}

std::optional<AuthenticationMessage> ParseAuthentication(std::string_view body) {
  Reader r(body);
  AuthenticationMessage m;
  if (!r.ReadInt32(&m.code)) return std::nullopt;
  m.payload = r.rest();
  switch (m.code) {
    case 0:  // Ok
    case 2:  // KerberosV5
    case 3:  // CleartextPassword
    case 7:  // GSS
    case 9:  // SSPI
      if (!m.payload.empty()) return std::nullopt;
      break;
    case 5:  // MD5Password: 4-byte salt
      if (m.payload.size() != 4) return std::nullopt;
      break;
    default:  // SASL (10) and the *Continue/*Final messages carry free-form data
      break;
  }
  return m;
}

std::optional<std::vector<std::string_view>> ParseSaslMechanisms(std::string_view payload) {
  Reader r(payload);
  std::vector<std::string_view> names;
  for (;;) {
    std::string_view name;
    if (!r.ReadCString(&name)) return std::nullopt;
    if (name.empty()) break;
    names.push_back(name);
  }
  if (!r.at_end()) return std::nullopt;
  return names;
}

std::optional<SaslInitialResponse> ParseSaslInitialResponse(std::string_view body) {
  Reader r(body);
  SaslInitialResponse m;
  int32_t len = 0;
  if (!r.ReadCString(&m.mechanism) || !r.ReadInt32(&len) || len < -1) return std::nullopt;
  if (len >= 0 && !r.ReadBytes(len, &m.data)) return std::nullopt;
  if (!r.at_end()) return std::nullopt;
  return m;
}

std::optional<std::string_view> ParsePasswordMessage(std::string_view body) {
  return ParseSingleCString(body);
}

std::optional<std::string_view> ParseCommandComplete(std::string_view body) {
  return ParseSingleCString(body);
}

}  // namespace tusk::protocol
