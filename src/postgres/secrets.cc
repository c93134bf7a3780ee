// Password resolution and the per-instance secrets file.
#include "postgres/secrets.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "sys/account.h"

namespace tusk::postgres {

std::string GeneratePassword() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) std::abort();  // no entropy: refuse to continue
  unsigned char b64[64];
  int n = EVP_EncodeBlock(b64, raw, sizeof raw);
  std::string s(reinterpret_cast<char*>(b64), static_cast<size_t>(n));
  std::string out;
  for (char c : s) {
    if (c == '=') continue;
    out += c == '+' ? '-' : c == '/' ? '_' : c;
  }
  return out;
}

Result<std::map<std::string, std::string>> ResolvePasswords(const config::Instance& instance,
                                                            const std::string& secrets_file,
                                                            const config::Environment& env,
                                                            bool create) {
  nlohmann::json doc = {{"roles", nlohmann::json::object()}};
  auto text = sys::ReadFile(secrets_file);
  if (text.ok()) {
    doc = nlohmann::json::parse(*text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("roles") ||
        !doc["roles"].is_object()) {
      return Internal(secrets_file + ": not a tusk secrets file (expected {\"roles\": {...}})");
    }
  } else if (text.status().code() != Code::kNotFound) {
    return text.status();
  }
  bool dirty = false;
  std::map<std::string, std::string> out;
  auto generated = [&](const std::string& role) -> bool {
    auto& roles = doc["roles"];
    if (roles.contains(role) && roles[role].is_string()) {
      out[role] = roles[role].get<std::string>();
      return true;
    }
    if (!create) return false;
    out[role] = GeneratePassword();
    roles[role] = out[role];
    dirty = true;
    return true;
  };
  auto from_env = [&](const std::string& role, const std::string& var) -> Status {
    auto v = env.GetEnv(var);
    if (!v || v->empty()) {
      return InvalidArgument("role " + role + ": password_env " + var + " is not set");
    }
    out[role] = *v;
    return Status::Ok();
  };

  if (instance.superuser_password_source == config::PasswordSource::kEnv) {
    TUSK_RETURN_IF_ERROR(from_env(instance.superuser, instance.superuser_password_env));
  } else {
    generated(instance.superuser);
  }
  for (const auto& role : instance.roles) {
    if (role.state == config::ObjectState::kAbsent || role.name == instance.superuser) continue;
    switch (role.password_source) {
      case config::PasswordSource::kNone:
        break;
      case config::PasswordSource::kGenerated:
        generated(role.name);
        break;
      case config::PasswordSource::kEnv:
        TUSK_RETURN_IF_ERROR(from_env(role.name, role.password_env));
        break;
      case config::PasswordSource::kFile: {
        auto content = sys::ReadFile(role.password_file);
        if (!content.ok()) {
          return InvalidArgument("role " + role.name + ": password_file " + role.password_file +
                                 ": " + content.status().message());
        }
        std::string first = content->substr(0, content->find('\n'));
        if (!first.empty() && first.back() == '\r') first.pop_back();
        if (first.empty()) {
          return InvalidArgument("role " + role.name + ": password_file " + role.password_file +
                                 " is empty");
        }
        out[role.name] = first;
        break;
      }
    }
  }
  if (dirty) {
    std::string dir = std::filesystem::path(secrets_file).parent_path().string();
    TUSK_RETURN_IF_ERROR(sys::MakeDirs(dir, 0700));
    TUSK_RETURN_IF_ERROR(sys::WriteFileAtomic(secrets_file, doc.dump(2) + "\n", 0600));
  }
  return out;
}

}  // namespace tusk::postgres
