// DecodeStartup: the checks of PostgreSQL's ProcessStartupPacket
// (src/backend/postmaster/postmaster.c), with the same SQLSTATEs and wording.
#include "protocol/startup.h"

#include <cstring>

#include "protocol/wire.h"

namespace tusk::protocol {
namespace {

constexpr std::string_view kPqPrefix = "_pq_.";

StartupPacket Error(std::string_view sqlstate, std::string message) {
  StartupPacket p;
  p.kind = StartupKind::kError;
  p.sqlstate = sqlstate;
  p.message = std::move(message);
  return p;
}

StartupPacket BadLength() { return Error("08P01", "invalid length of startup packet"); }

// Length of the NUL-terminated string at `pos` within `packet`, or npos
// when no NUL follows before the end.
size_t CStringLength(std::string_view packet, size_t pos) {
  if (pos >= packet.size()) return std::string_view::npos;
  const void* nul = std::memchr(packet.data() + pos, '\0', packet.size() - pos);
  if (nul == nullptr) return std::string_view::npos;
  return static_cast<size_t>(static_cast<const char*>(nul) - (packet.data() + pos));
}

// Index of the last parameter called `name`, or -1.
ptrdiff_t FindParam(const std::vector<std::pair<std::string, std::string>>& params,
                    std::string_view name) {
  for (size_t i = params.size(); i-- > 0;) {
    if (params[i].first == name) return static_cast<ptrdiff_t>(i);
  }
  return -1;
}

// Parses the name/value pairs after the version word into `p`.
// False unless the list ends with the terminator as the packet's last byte.
bool ParseParams(std::string_view packet, StartupPacket& p) {
  size_t offset = 8;
  while (offset < packet.size()) {
    size_t name_len = CStringLength(packet, offset);
    if (name_len == 0) break;  // the terminator
    if (name_len == std::string_view::npos) return false;
    size_t value_offset = offset + name_len + 1;
    size_t value_len = CStringLength(packet, value_offset);
    if (value_len == std::string_view::npos) return false;
    std::string_view name = packet.substr(offset, name_len);
    std::string_view value = packet.substr(value_offset, value_len);
    if (name.starts_with(kPqPrefix)) {
      p.protocol_options.emplace_back(name);
    } else {
      p.params.emplace_back(name, value);
    }
    offset = value_offset + value_len + 1;
  }
  return offset + 1 == packet.size();
}

}  // namespace

std::string_view StartupPacket::Param(std::string_view name) const {
  ptrdiff_t i = FindParam(params, name);
  return i < 0 ? std::string_view() : std::string_view(params[static_cast<size_t>(i)].second);
}

StartupPacket DecodeStartup(std::string_view buf) {
  if (buf.size() < 4) return StartupPacket();
  int32_t len = LoadInt32(buf.data());
  if (len < 8 || static_cast<uint32_t>(len) > kMaxStartupPacketBytes) return BadLength();
  if (buf.size() < static_cast<size_t>(len)) return StartupPacket();
  std::string_view packet = buf.substr(0, static_cast<size_t>(len));
  int32_t code = LoadInt32(packet.data() + 4);

  StartupPacket p;
  p.size = static_cast<uint32_t>(len);
  switch (code) {
    case kCancelRequestCode:
      if (len != 16) return BadLength();
      p.kind = StartupKind::kCancel;
      p.cancel_pid = LoadInt32(packet.data() + 8);
      p.cancel_key = LoadInt32(packet.data() + 12);
      return p;
    case kSslRequestCode:
    case kGssEncRequestCode:
      if (len != 8) return BadLength();
      p.kind = code == kSslRequestCode ? StartupKind::kSslRequest : StartupKind::kGssEncRequest;
      return p;
    default:
      break;
  }

  auto version = static_cast<uint32_t>(code);
  if (version >> 16 != 3) {
    return Error("0A000", "unsupported frontend protocol " + std::to_string(version >> 16) + "." +
                              std::to_string(version & 0xFFFF) + ": server supports 3.0 to 3.0");
  }
  p.minor_version = static_cast<int32_t>(version & 0xFFFF);
  if (!ParseParams(packet, p)) {
    return Error("08P01", "invalid startup packet layout: expected terminator as last byte");
  }
  std::string_view user = p.Param("user");
  if (user.empty()) {
    return Error("28000", "no PostgreSQL user name specified in startup packet");
  }
  // As in PostgreSQL, an absent or empty database name means the user's name.
  ptrdiff_t db = FindParam(p.params, "database");
  if (db < 0) {
    p.params.emplace_back("database", std::string(user));
  } else if (p.params[static_cast<size_t>(db)].second.empty()) {
    p.params[static_cast<size_t>(db)].second = std::string(user);
  }
  p.kind = StartupKind::kStartup;
  return p;
}

StartupOptions ParseStartupOptions(std::string_view options) {
  // Split into arguments: whitespace separates, a backslash takes the next
  // character literally.
  std::vector<std::string> args;
  std::string cur;
  bool in_arg = false;
  for (size_t i = 0; i < options.size(); ++i) {
    char ch = options[i];
    if (ch == '\\' && i + 1 < options.size()) {
      cur += options[++i];
      in_arg = true;
    } else if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
      if (in_arg) args.push_back(std::move(cur));
      cur.clear();
      in_arg = false;
    } else {
      cur += ch;
      in_arg = true;
    }
  }
  if (in_arg) args.push_back(std::move(cur));

  StartupOptions out;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string setting;
    bool dashes = false;
    if (args[i] == "-c" && i + 1 < args.size()) {
      setting = args[++i];
    } else if (args[i].size() > 2 && args[i].compare(0, 2, "-c") == 0) {
      setting = args[i].substr(2);
    } else if (args[i].size() > 2 && args[i].compare(0, 2, "--") == 0) {
      setting = args[i].substr(2);
      dashes = true;
    } else {
      out.error = "invalid command-line argument for server process: " + args[i];
      return out;
    }
    size_t eq = setting.find('=');
    if (eq == std::string::npos || eq == 0) {
      out.error = "-c " + setting + " requires a value";
      return out;
    }
    std::string name = setting.substr(0, eq);
    if (dashes) {
      for (char& ch : name) {
        if (ch == '-') ch = '_';
      }
    }
    out.settings.emplace_back(std::move(name), setting.substr(eq + 1));
  }
  return out;
}

}  // namespace tusk::protocol
