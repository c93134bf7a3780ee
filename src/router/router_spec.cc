// JSON (de)serialization of the router's spec and its secrets file.
//
// Parsing is strict: unknown keys, wrong types and out-of-range values are
// errors naming the key ("router spec: standbys[1].port: must be between 1
// and 65535"), because the spec is written by `tusk up` and anything else in
// it is a bug or a hand edit gone wrong. Internally a problem is thrown as a
// SpecError and caught at the API boundary; nothing escapes.
#include "router/router_spec.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <utility>

#include "router/busy_poll.h"

namespace tusk::router {
namespace {

using json = nlohmann::json;

/// Larger files are refused unread (a spec or secrets file is a few kB).
constexpr size_t kMaxFileBytes = 16 << 20;
constexpr int64_t kMinMessageBytes = 16 << 10;
constexpr int64_t kMaxMessageBytes = 1 << 30;
constexpr int64_t kIntMax = std::numeric_limits<int>::max();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

/// Thrown inside this file only; `message` is the complete error text.
struct SpecError {
  std::string message;
};

[[noreturn]] void Bad(const std::string& key, const std::string& why) {
  throw SpecError{"router spec: " + key + ": " + why};
}

/// The members of one JSON object, with the unknown-key check done up front.
class Object {
 public:
  Object(const json& j, std::string path, std::initializer_list<const char*> allowed)
      : j_(j), path_(std::move(path)) {
    if (!j.is_object()) Bad(path_.empty() ? "(top level)" : path_, "expected an object");
    std::set<std::string> known(allowed.begin(), allowed.end());
    for (const auto& [key, value] : j.items()) {
      if (!known.count(key)) Bad(Key(key), "unknown key");
    }
  }

  std::string Key(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  const json* Find(const char* key) const {
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }
  const json& Required(const char* key) const {
    const json* v = Find(key);
    if (!v) Bad(Key(key), "missing (required)");
    return *v;
  }

  int64_t Integer(const char* key, int64_t min, int64_t max, int64_t fallback) const {
    const json* v = Find(key);
    return v ? IntegerValue(*v, Key(key), min, max) : fallback;
  }
  std::string String(const char* key, const std::string& fallback, bool non_empty) const {
    const json* v = Find(key);
    if (!v) return fallback;
    return StringValue(*v, Key(key), non_empty);
  }
  bool Boolean(const char* key, bool fallback) const {
    const json* v = Find(key);
    if (!v) return fallback;
    if (!v->is_boolean()) Bad(Key(key), "expected true or false");
    return v->get<bool>();
  }
  /// The index in `names` of the string under `key`, or `fallback`.
  size_t Enum(const char* key, const std::vector<std::string>& names, size_t fallback) const {
    const json* v = Find(key);
    if (!v) return fallback;
    std::string s = StringValue(*v, Key(key), false);
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == s) return i;
    }
    std::string expected;
    for (const auto& n : names) expected += (expected.empty() ? "" : ", ") + n;
    Bad(Key(key), "must be one of " + expected + ", got \"" + s.substr(0, 40) + "\"");
  }

  static int64_t IntegerValue(const json& v, const std::string& key, int64_t min, int64_t max) {
    if (!v.is_number_integer()) Bad(key, "expected an integer");
    bool too_big = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(kInt64Max);
    int64_t n = too_big ? kInt64Max : v.get<int64_t>();
    if (!too_big && n >= min && n <= max) return n;
    if (max == kInt64Max || max == kIntMax) Bad(key, "must be >= " + std::to_string(min));
    Bad(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  static std::string StringValue(const json& v, const std::string& key, bool non_empty) {
    if (!v.is_string()) Bad(key, "expected a string");
    std::string s = v.get<std::string>();
    if (non_empty && s.empty()) Bad(key, "must not be empty");
    return s;
  }

 private:
  const json& j_;
  std::string path_;
};

Backend ParseBackend(const json& j, const std::string& path) {
  Object o(j, path, {"host", "port"});
  Backend b;
  b.host = Object::StringValue(o.Required("host"), o.Key("host"), true);
  b.port = static_cast<int>(Object::IntegerValue(o.Required("port"), o.Key("port"), 1, 65535));
  return b;
}

// Enum names by enumerator value; the static_asserts pin the order.
const std::vector<std::string> kModes = {"session", "transaction"};
const std::vector<std::string> kAuths = {"scram-sha-256", "md5", "plain"};
const std::vector<std::string> kTlsModes = {"disable", "allow", "require"};
const std::vector<std::string> kSchedPolicies = {"normal", "batch"};
static_assert(static_cast<int>(PoolMode::kTransaction) == 1);
static_assert(static_cast<int>(ClientAuth::kPlain) == 2);
static_assert(static_cast<int>(TlsMode::kRequire) == 2);
static_assert(static_cast<int>(sys::SchedPolicy::kBatch) == 1);

RouterSpec Parse(const json& doc) {
  Object o(doc, "",
           {"instance",
            "listen",
            "port",
            "readonly_port",
            "mode",
            "workers",
            "pool_size",
            "max_client_connections",
            "pool_wait_timeout_ms",
            "idle_client_timeout_ms",
            "idle_transaction_timeout_ms",
            "query_timeout_ms",
            "server_lifetime_ms",
            "server_idle_timeout_ms",
            "connect_timeout_ms",
            "pipeline_depth",
            "pipeline_busy_limit_ms",
            "concurrency_limit",
            "busy_poll_us",
            "sched_policy",
            "max_message_bytes",
            "client_auth",
            "admin_roles",
            "tls_mode",
            "tls_cert_file",
            "tls_key_file",
            "server_tls",
            "metrics_port",
            "metrics_listen",
            "primary",
            "standbys",
            "secrets_file",
            "auth_user",
            "auth_database",
            "auth_query",
            "status_file",
            "pid_file"});
  RouterSpec s;
  s.instance = Object::StringValue(o.Required("instance"), "instance", true);
  s.listen = o.String("listen", s.listen, true);
  s.port = static_cast<int>(Object::IntegerValue(o.Required("port"), "port", 1, 65535));
  s.readonly_port = static_cast<int>(o.Integer("readonly_port", 0, 65535, 0));
  if (s.readonly_port == s.port) Bad("readonly_port", "must differ from port");
  s.mode = static_cast<PoolMode>(o.Enum("mode", kModes, static_cast<size_t>(s.mode)));
  s.workers = static_cast<int>(o.Integer("workers", 0, 1024, s.workers));
  s.pool_size = static_cast<int>(o.Integer("pool_size", 1, kIntMax, s.pool_size));
  s.max_client_connections =
      static_cast<int>(o.Integer("max_client_connections", 1, kIntMax, s.max_client_connections));
  const std::pair<const char*, int64_t*> durations[] = {
      {"pool_wait_timeout_ms", &s.pool_wait_timeout_ms},
      {"idle_client_timeout_ms", &s.idle_client_timeout_ms},
      {"idle_transaction_timeout_ms", &s.idle_transaction_timeout_ms},
      {"query_timeout_ms", &s.query_timeout_ms},
      {"server_lifetime_ms", &s.server_lifetime_ms},
      {"server_idle_timeout_ms", &s.server_idle_timeout_ms},
  };
  for (const auto& [key, field] : durations) *field = o.Integer(key, 0, kInt64Max, *field);
  s.connect_timeout_ms = o.Integer("connect_timeout_ms", 1, kInt64Max, s.connect_timeout_ms);
  s.pipeline_depth = static_cast<int>(o.Integer("pipeline_depth", 0, 64, s.pipeline_depth));
  s.pipeline_busy_limit_ms =
      o.Integer("pipeline_busy_limit_ms", 1, kInt64Max, s.pipeline_busy_limit_ms);
  s.concurrency_limit =
      static_cast<int>(o.Integer("concurrency_limit", -1, kIntMax, s.concurrency_limit));
  s.busy_poll_us = static_cast<int>(o.Integer("busy_poll_us", 0, kMaxBusyPollUs, s.busy_poll_us));
  s.sched_policy = static_cast<sys::SchedPolicy>(
      o.Enum("sched_policy", kSchedPolicies, static_cast<size_t>(s.sched_policy)));
  if (s.pipeline_depth > 0 && s.mode != PoolMode::kTransaction) {
    Bad("pipeline_depth", "needs mode transaction");
  }
  s.max_message_bytes = static_cast<uint32_t>(
      o.Integer("max_message_bytes", kMinMessageBytes, kMaxMessageBytes, s.max_message_bytes));
  s.client_auth =
      static_cast<ClientAuth>(o.Enum("client_auth", kAuths, static_cast<size_t>(s.client_auth)));
  if (const json* roles = o.Find("admin_roles")) {
    if (!roles->is_array()) Bad("admin_roles", "expected an array");
    for (size_t i = 0; i < roles->size(); ++i) {
      s.admin_roles.push_back(
          Object::StringValue((*roles)[i], "admin_roles[" + std::to_string(i) + "]", true));
    }
  }
  s.tls_mode = static_cast<TlsMode>(o.Enum("tls_mode", kTlsModes, static_cast<size_t>(s.tls_mode)));
  bool tls = s.tls_mode != TlsMode::kDisable;
  s.tls_cert_file = o.String("tls_cert_file", "", false);
  s.tls_key_file = o.String("tls_key_file", "", false);
  if (tls && s.tls_cert_file.empty()) Bad("tls_cert_file", "required unless tls_mode is disable");
  if (tls && s.tls_key_file.empty()) Bad("tls_key_file", "required unless tls_mode is disable");
  s.server_tls = o.Boolean("server_tls", s.server_tls);
  s.metrics_port = static_cast<int>(o.Integer("metrics_port", 0, 65535, 0));
  s.metrics_listen = o.String("metrics_listen", s.metrics_listen, true);
  s.primary = ParseBackend(o.Required("primary"), "primary");
  if (const json* list = o.Find("standbys")) {
    if (!list->is_array()) Bad("standbys", "expected an array");
    for (size_t i = 0; i < list->size(); ++i) {
      s.standbys.push_back(ParseBackend((*list)[i], "standbys[" + std::to_string(i) + "]"));
    }
  }
  s.secrets_file = Object::StringValue(o.Required("secrets_file"), "secrets_file", true);
  s.auth_user = o.String("auth_user", "", false);
  s.auth_database = o.String("auth_database", "", false);
  s.auth_query = o.String("auth_query", "", false);
  for (const auto& [key, value] :
       {std::pair{"auth_database", &s.auth_database}, std::pair{"auth_query", &s.auth_query}}) {
    if (!s.auth_user.empty() && value->empty()) Bad(key, "required when auth_user is set");
    if (s.auth_user.empty() && !value->empty()) Bad(key, "set without auth_user");
  }
  s.status_file = o.String("status_file", "", false);
  s.pid_file = o.String("pid_file", "", false);
  return s;
}

/// The whole file, refusing absurd sizes. kNotFound when it does not exist.
Result<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string why = path + ": cannot read: " + std::strerror(err);
    return err == ENOENT ? NotFound(why) : Internal(why);
  }
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxFileBytes) return Internal(path + ": too large");
  }
  if (in.bad()) return Internal(path + ": cannot read: " + std::strerror(errno));
  return text;
}

}  // namespace

int RouterSpec::ConcurrencyLimit() const {
  if (concurrency_limit != kConcurrencyLimitAuto) return concurrency_limit;
  static const int cpus = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return 4 * cpus;
}

Result<RouterSpec> ParseRouterSpec(const std::string& json_text) {
  json doc = json::parse(json_text, nullptr, false);
  if (doc.is_discarded()) return InvalidArgument("router spec: not valid JSON");
  try {
    return Parse(doc);
  } catch (const SpecError& e) {
    return InvalidArgument(e.message);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("router spec: ") + e.what());
  }
}

Result<RouterSpec> LoadRouterSpec(const std::string& path) {
  Result<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  Result<RouterSpec> spec = ParseRouterSpec(*text);
  if (!spec.ok()) return spec.status().Prefixed(path);
  return spec;
}

std::string RenderRouterSpec(const RouterSpec& s) {
  auto backend = [](const Backend& b) {
    return nlohmann::ordered_json{{"host", b.host}, {"port", b.port}};
  };
  nlohmann::ordered_json standbys = nlohmann::ordered_json::array();
  for (const Backend& b : s.standbys) standbys.push_back(backend(b));
  nlohmann::ordered_json doc = {
      {"instance", s.instance},
      {"listen", s.listen},
      {"port", s.port},
      {"readonly_port", s.readonly_port},
      {"mode", kModes[static_cast<size_t>(s.mode)]},
      {"workers", s.workers},
      {"pool_size", s.pool_size},
      {"max_client_connections", s.max_client_connections},
      {"pool_wait_timeout_ms", s.pool_wait_timeout_ms},
      {"idle_client_timeout_ms", s.idle_client_timeout_ms},
      {"idle_transaction_timeout_ms", s.idle_transaction_timeout_ms},
      {"query_timeout_ms", s.query_timeout_ms},
      {"server_lifetime_ms", s.server_lifetime_ms},
      {"server_idle_timeout_ms", s.server_idle_timeout_ms},
      {"connect_timeout_ms", s.connect_timeout_ms},
      {"pipeline_depth", s.pipeline_depth},
      {"pipeline_busy_limit_ms", s.pipeline_busy_limit_ms},
      {"concurrency_limit", s.concurrency_limit},
      {"busy_poll_us", s.busy_poll_us},
      {"sched_policy", kSchedPolicies[static_cast<size_t>(s.sched_policy)]},
      {"max_message_bytes", s.max_message_bytes},
      {"client_auth", kAuths[static_cast<size_t>(s.client_auth)]},
      {"admin_roles", s.admin_roles},
      {"tls_mode", kTlsModes[static_cast<size_t>(s.tls_mode)]},
      {"tls_cert_file", s.tls_cert_file},
      {"tls_key_file", s.tls_key_file},
      {"server_tls", s.server_tls},
      {"metrics_port", s.metrics_port},
      {"metrics_listen", s.metrics_listen},
      {"primary", backend(s.primary)},
      {"standbys", standbys},
      {"secrets_file", s.secrets_file},
      {"auth_user", s.auth_user},
      {"auth_database", s.auth_database},
      {"auth_query", s.auth_query},
      {"status_file", s.status_file},
      {"pid_file", s.pid_file},
  };
  return doc.dump(2) + "\n";
}

Result<std::vector<std::pair<std::string, std::string>>> LoadRouterSecrets(
    const std::string& path) {
  Result<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return Internal(text.status().message());
  json doc = json::parse(*text, nullptr, false);
  Status bad =
      Internal(path + ": not a router secrets file (expected {\"roles\": {name: password}})");
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("roles") ||
      !doc["roles"].is_object()) {
    return bad;
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, password] : doc["roles"].items()) {
    if (!password.is_string()) return bad;  // never echo the value: it may be a password
    out.emplace_back(name, password.get<std::string>());
  }
  return out;
}

}  // namespace tusk::router
