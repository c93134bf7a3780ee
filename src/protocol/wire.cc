// Reader and message builders; layouts from PostgreSQL docs, Protocol §55.7.
#include "protocol/wire.h"

#include <cstring>

#include "protocol/internal.h"

namespace tusk::protocol {

using internal::AppendHeader;

namespace {

// Latches a Reader's failure flag; returns false for the caller to return.
bool Fail(bool& failed) {
  failed = true;
  return false;
}

// Bytes a cstring takes on the wire.
size_t CStringBytes(std::string_view s) { return s.size() + 1; }

void AppendAuthentication(std::string& out, int32_t code, std::string_view payload) {
  AppendHeader(out, 'R', 4 + payload.size());
  AppendInt32(out, code);
  out.append(payload);
}

void AppendEmpty(std::string& out, char type) { AppendHeader(out, type, 0); }

void AppendOneCString(std::string& out, char type, std::string_view s) {
  AppendHeader(out, type, CStringBytes(s));
  AppendCString(out, s);
}

void AppendFields(std::string& out, char type, const ErrorFields& e) {
  const std::pair<char, const std::string*> fields[] = {{'S', &e.severity}, {'V', &e.severity},
                                                        {'C', &e.sqlstate}, {'M', &e.message},
                                                        {'D', &e.detail},   {'H', &e.hint}};
  // D and H are optional: left out when empty.
  auto skip = [](char code, const std::string* v) {
    return v->empty() && (code == 'D' || code == 'H');
  };
  size_t body = 1;  // final terminator
  for (const auto& [code, value] : fields) {
    if (!skip(code, value)) body += 1 + CStringBytes(*value);
  }
  AppendHeader(out, type, body);
  for (const auto& [code, value] : fields) {
    if (skip(code, value)) continue;
    out.push_back(code);
    AppendCString(out, *value);
  }
  out.push_back('\0');
}

}  // namespace

// ---- Reader ----

bool Reader::ReadByte(char* out) {
  if (failed_ || data_.size() - pos_ < 1) return Fail(failed_);
  *out = data_[pos_++];
  return true;
}

bool Reader::ReadInt16(int16_t* out) {
  if (failed_ || data_.size() - pos_ < 2) return Fail(failed_);
  auto b = [&](size_t i) { return static_cast<unsigned char>(data_[pos_ + i]); };
  *out = static_cast<int16_t>((b(0) << 8) | b(1));
  pos_ += 2;
  return true;
}

bool Reader::ReadInt32(int32_t* out) {
  if (failed_ || data_.size() - pos_ < 4) return Fail(failed_);
  *out = LoadInt32(data_.data() + pos_);
  pos_ += 4;
  return true;
}

bool Reader::ReadCString(std::string_view* out) {
  if (failed_ || pos_ == data_.size()) return Fail(failed_);
  const char* begin = data_.data() + pos_;
  const void* nul = std::memchr(begin, '\0', data_.size() - pos_);
  if (nul == nullptr) return Fail(failed_);
  size_t len = static_cast<size_t>(static_cast<const char*>(nul) - begin);
  *out = data_.substr(pos_, len);
  pos_ += len + 1;
  return true;
}

bool Reader::ReadBytes(int64_t n, std::string_view* out) {
  if (failed_ || n < 0 || static_cast<uint64_t>(n) > data_.size() - pos_) return Fail(failed_);
  *out = data_.substr(pos_, static_cast<size_t>(n));
  pos_ += static_cast<size_t>(n);
  return true;
}

// ---- Primitives ----

void AppendMessage(std::string& out, char type, std::string_view body) {
  AppendHeader(out, type, body.size());
  out.append(body);
}

void AppendInt16(std::string& out, int16_t v) {
  auto u = static_cast<uint16_t>(v);
  const char b[2] = {static_cast<char>(u >> 8), static_cast<char>(u)};
  out.append(b, 2);
}

void AppendInt32(std::string& out, int32_t v) {
  auto u = static_cast<uint32_t>(v);
  const char b[4] = {static_cast<char>(u >> 24), static_cast<char>(u >> 16),
                     static_cast<char>(u >> 8), static_cast<char>(u)};
  out.append(b, 4);
}

void AppendCString(std::string& out, std::string_view s) {
  out.append(s);
  out.push_back('\0');
}

// ---- Backend messages ----

void AppendErrorResponse(std::string& out, const ErrorFields& e) { AppendFields(out, 'E', e); }
void AppendNoticeResponse(std::string& out, const ErrorFields& e) { AppendFields(out, 'N', e); }

void AppendAuthenticationOk(std::string& out) { AppendAuthentication(out, 0, {}); }
void AppendAuthenticationCleartext(std::string& out) { AppendAuthentication(out, 3, {}); }
void AppendAuthenticationMd5(std::string& out, const char salt[4]) {
  AppendAuthentication(out, 5, std::string_view(salt, 4));
}

void AppendAuthenticationSasl(std::string& out, const std::vector<std::string>& mechanisms) {
  size_t body = 4 + 1;
  for (const auto& m : mechanisms) body += CStringBytes(m);
  AppendHeader(out, 'R', body);
  AppendInt32(out, 10);
  for (const auto& m : mechanisms) AppendCString(out, m);
  out.push_back('\0');
}

void AppendAuthenticationSaslContinue(std::string& out, std::string_view data) {
  AppendAuthentication(out, 11, data);
}
void AppendAuthenticationSaslFinal(std::string& out, std::string_view data) {
  AppendAuthentication(out, 12, data);
}

void AppendParameterStatus(std::string& out, std::string_view name, std::string_view value) {
  AppendHeader(out, 'S', CStringBytes(name) + CStringBytes(value));
  AppendCString(out, name);
  AppendCString(out, value);
}

void AppendBackendKeyData(std::string& out, int32_t pid, int32_t key) {
  AppendHeader(out, 'K', 8);
  AppendInt32(out, pid);
  AppendInt32(out, key);
}

void AppendReadyForQuery(std::string& out, TxStatus status) {
  AppendHeader(out, 'Z', 1);
  out.push_back(static_cast<char>(status));
}

void AppendParseComplete(std::string& out) { AppendEmpty(out, '1'); }
void AppendBindComplete(std::string& out) { AppendEmpty(out, '2'); }
void AppendCloseComplete(std::string& out) { AppendEmpty(out, '3'); }
void AppendCommandComplete(std::string& out, std::string_view tag) {
  AppendOneCString(out, 'C', tag);
}
void AppendEmptyQueryResponse(std::string& out) { AppendEmpty(out, 'I'); }

void AppendNegotiateProtocolVersion(std::string& out, int32_t newest_minor,
                                    const std::vector<std::string>& unrecognized) {
  size_t body = 8;
  for (const auto& name : unrecognized) body += CStringBytes(name);
  AppendHeader(out, 'v', body);
  AppendInt32(out, newest_minor);
  AppendInt32(out, static_cast<int32_t>(unrecognized.size()));
  for (const auto& name : unrecognized) AppendCString(out, name);
}

void AppendRowDescription(std::string& out, const std::vector<std::string>& columns) {
  // Per column after the name: table oid, attnum, type oid, typlen, typmod, format.
  constexpr size_t kFixed = 4 + 2 + 4 + 2 + 4 + 2;
  size_t body = 2;
  for (const auto& c : columns) body += CStringBytes(c) + kFixed;
  AppendHeader(out, 'T', body);
  AppendInt16(out, static_cast<int16_t>(columns.size()));
  for (const auto& c : columns) {
    AppendCString(out, c);
    AppendInt32(out, 0);   // table oid
    AppendInt16(out, 0);   // column attnum
    AppendInt32(out, 25);  // type oid: text
    AppendInt16(out, -1);  // typlen: varlena
    AppendInt32(out, -1);  // typmod
    AppendInt16(out, 0);   // format: text
  }
}

void AppendDataRow(std::string& out, const std::vector<std::optional<std::string>>& cells) {
  size_t body = 2;
  for (const auto& c : cells) body += 4 + (c ? c->size() : 0);
  AppendHeader(out, 'D', body);
  AppendInt16(out, static_cast<int16_t>(cells.size()));
  for (const auto& c : cells) {
    if (!c) {
      AppendInt32(out, -1);
      continue;
    }
    AppendInt32(out, static_cast<int32_t>(c->size()));
    out.append(*c);
  }
}

// ---- Frontend messages ----

void AppendStartupMessage(std::string& out,
                          const std::vector<std::pair<std::string, std::string>>& params) {
  size_t len = 4 + 4 + 1;
  for (const auto& [name, value] : params) len += CStringBytes(name) + CStringBytes(value);
  out.reserve(out.size() + len);
  AppendInt32(out, static_cast<int32_t>(len));
  AppendInt32(out, kProtocol30);
  for (const auto& [name, value] : params) {
    AppendCString(out, name);
    AppendCString(out, value);
  }
  out.push_back('\0');
}

void AppendSslRequest(std::string& out) {
  AppendInt32(out, 8);
  AppendInt32(out, kSslRequestCode);
}

void AppendCancelRequest(std::string& out, int32_t pid, int32_t key) {
  AppendInt32(out, 16);
  AppendInt32(out, kCancelRequestCode);
  AppendInt32(out, pid);
  AppendInt32(out, key);
}

void AppendQuery(std::string& out, std::string_view sql) { AppendOneCString(out, 'Q', sql); }

void AppendParse(std::string& out, std::string_view name, std::string_view query,
                 const std::vector<int32_t>& param_types) {
  AppendHeader(out, 'P', CStringBytes(name) + CStringBytes(query) + 2 + 4 * param_types.size());
  AppendCString(out, name);
  AppendCString(out, query);
  AppendInt16(out, static_cast<int16_t>(param_types.size()));
  for (int32_t oid : param_types) AppendInt32(out, oid);
}

void AppendSync(std::string& out) { AppendEmpty(out, 'S'); }
void AppendTerminate(std::string& out) { AppendEmpty(out, 'X'); }

void AppendPasswordMessage(std::string& out, std::string_view password) {
  AppendOneCString(out, 'p', password);
}

void AppendSaslInitialResponse(std::string& out, std::string_view mechanism,
                               std::string_view data) {
  AppendHeader(out, 'p', CStringBytes(mechanism) + 4 + data.size());
  AppendCString(out, mechanism);
  AppendInt32(out, static_cast<int32_t>(data.size()));
  out.append(data);
}

void AppendSaslResponse(std::string& out, std::string_view data) { AppendMessage(out, 'p', data); }

}  // namespace tusk::protocol
