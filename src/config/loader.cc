// Implementation of loader.h: tusk.yaml -> config::Config.
//
// The YAML tree is walked by a Loader that knows the schema. Every scalar goes
// through SubstituteEnv before it is converted, so "${PORT:-5433}" works for
// integers too. The first problem found aborts loading: internally it is
// thrown as a LoadError carrying the finished message and caught at the API
// boundary, together with any yaml-cpp exception, so nothing escapes.
#include "config/loader.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "common/strings.h"
#include "config/env_substitution.h"
#include "config/router_auth.h"
#include "config/values.h"

namespace tusk::config {
namespace {

constexpr const char* kEmbeddedSource = "<embedded default>";
constexpr const char* kNoPostgres =
    "no PostgreSQL server found under /usr/lib/postgresql; install postgresql-15";
/// Refuse absurd inputs early (a tusk.yaml is a few kB).
constexpr size_t kMaxConfigBytes = 4u << 20;
/// Below this a tuning budget makes no sense.
constexpr uint64_t kMinMemoryBytes = 1u << 20;

/// Thrown inside this file only; `message` is the complete error text.
struct LoadError {
  std::string message;
};

std::string Shorten(std::string_view s) {
  constexpr size_t kMax = 60;
  if (s.size() <= kMax) return std::string(s);
  return std::string(s.substr(0, kMax)) + "...";
}

std::string Quoted(std::string_view s) { return "\"" + Shorten(s) + "\""; }

/// The error for a config that names the router auth role itself.
std::string ReservedAuthRole() {
  return "role name " + Quoted(kRouterAuthRole) +
         " is reserved for the router's auth query (managed by tusk)";
}

/// "a list", "a map", "nothing" or the quoted scalar: for "expected X, got Y".
std::string Describe(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  return Quoted(n.Scalar());
}

bool Present(const YAML::Node& n) { return n.IsDefined() && !n.IsNull(); }

std::string Child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

SourceLocation Loc(const YAML::Node& n) {
  YAML::Mark m = n.Mark();
  return SourceLocation{std::max(m.line, 0) + 1, std::max(m.column, 0) + 1};
}

std::string Upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

bool HasSpace(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c == ' '; });
}

bool IsLoopback(const std::string& addr) {
  return addr == "localhost" || addr == "::1" || addr.rfind("127.", 0) == 0;
}

bool LooksLikeIpv4(const std::string& addr) {
  return !addr.empty() && std::all_of(addr.begin(), addr.end(),
                                      [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

/// A YAML map's values by key, after the unknown and duplicate key checks.
class Fields {
 public:
  void Set(std::string key, YAML::Node key_node, YAML::Node value) {
    keys_.emplace(key, key_node);
    values_.emplace(std::move(key), value);
  }
  /// The value, or a null node when the key is absent.
  const YAML::Node Get(const std::string& key) const {
    auto it = values_.find(key);
    return it == values_.end() ? YAML::Node() : it->second;
  }
  /// True when the key is given with a non-null value.
  bool Has(const std::string& key) const { return Present(Get(key)); }
  /// True when the key is written at all, even with no value (`router:`).
  bool Contains(const std::string& key) const { return values_.count(key) > 0; }
  /// Where to point an error about the key's value: the value, or the key when
  /// the value is empty (yaml-cpp marks an empty value at the next line).
  const YAML::Node At(const std::string& key) const {
    return Has(key) || !keys_.count(key) ? Get(key) : keys_.at(key);
  }

 private:
  std::map<std::string, YAML::Node> keys_;
  std::map<std::string, YAML::Node> values_;
};

/// A member_of entry, checked once all roles of the instance are known.
struct MembershipRef {
  YAML::Node node;
  std::string path;
  std::string role;
  std::string target;
};

/// The nodes an instance's errors found after parsing point at.
struct InstanceNodes {
  YAML::Node self, name, port, data_dir;
};

class Loader {
 public:
  Loader(std::string source, std::string base_dir, const Environment& env)
      : source_(std::move(source)), base_dir_(std::move(base_dir)), env_(env) {}

  Config Load(const YAML::Node& root);

 private:
  [[noreturn]] void Fail(const YAML::Node& at, const std::string& path,
                         const std::string& why) const {
    SourceLocation loc = Loc(at);
    throw LoadError{source_ + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.column) +
                    ": " + (path.empty() ? std::string("(top level)") : path) + ": " + why};
  }

  Fields Map(const YAML::Node& n, const std::string& path,
             std::initializer_list<std::string_view> allowed) const;
  std::string String(const YAML::Node& n, const std::string& path) const;
  std::string NonEmpty(const YAML::Node& n, const std::string& path) const;
  int Integer(const YAML::Node& n, const std::string& path, int64_t min, int64_t max) const;
  bool Boolean(const YAML::Node& n, const std::string& path) const;
  int64_t Duration(const YAML::Node& n, const std::string& path) const;
  uint64_t Bytes(const YAML::Node& n, const std::string& path, uint64_t min, uint64_t max) const;
  /// The value of `names` equal to the scalar: its index in `names`.
  size_t OneOf(const YAML::Node& n, const std::string& path,
               const std::vector<std::string>& names) const;
  std::string Path(const YAML::Node& n, const std::string& path) const;
  std::string ObjectName(const YAML::Node& n, const std::string& path, const char* what) const;
  std::string EnvVarName(const YAML::Node& n, const std::string& path) const;
  ObjectState State(const YAML::Node& n, const std::string& path) const;
  void RequireList(const YAML::Node& n, const std::string& path) const;
  std::vector<std::string> SqlFiles(const YAML::Node& n, const std::string& path) const;
  YAML::Node Required(const Fields& f, const YAML::Node& parent, const std::string& path,
                      const std::string& key) const;
  /// The map under `key`, which is written (f.Contains); fails at the key when it is empty.
  YAML::Node Section(const Fields& f, const std::string& path, const std::string& key) const;

  Instance ParseInstance(const YAML::Node& n, const std::string& path, size_t count,
                         const Config& cfg);
  std::string Listen(const YAML::Node& n, const std::string& path) const;
  void Parameters(const YAML::Node& n, const std::string& path, Instance& inst) const;
  void Superuser(const YAML::Node& n, const std::string& path, Instance& inst) const;
  Database ParseDatabase(const YAML::Node& n, const std::string& path) const;
  Extension ParseExtension(const YAML::Node& n, const std::string& path) const;
  Role ParseRole(const YAML::Node& n, const std::string& path, const Instance& inst,
                 std::vector<MembershipRef>& refs) const;
  Grant ParseGrant(const YAML::Node& n, const std::string& path, const Instance& inst) const;
  std::vector<std::string> Privileges(const YAML::Node& n, const std::string& path,
                                      const std::set<std::string>& allowed, bool tables) const;
  HbaRule ParseHba(const YAML::Node& n, const std::string& path) const;
  Router ParseRouter(const YAML::Node& n, const std::string& path, const Instance& inst);
  void RouterTls(const YAML::Node& n, const std::string& path, Router& router) const;
  std::vector<std::string> AdminRoles(const YAML::Node& n, const std::string& path,
                                      const Instance& inst) const;
  std::vector<RouterBackend> Standbys(const YAML::Node& n, const std::string& path) const;
  /// Records that `port` (at `n`) is used by `owner`; fails when something has it already.
  void ClaimPort(int port, const YAML::Node& n, const std::string& path, const std::string& owner);
  void CheckReferences(const Instance& inst, const std::vector<MembershipRef>& refs) const;
  void CheckAgainstEarlier(const Instance& inst, const InstanceNodes& nodes,
                           const std::string& path, const Config& cfg);

  std::string source_;
  std::string base_dir_;
  const Environment& env_;
  // Indexes into the instance being parsed: name -> position in databases / roles.
  std::map<std::string, size_t> database_index_;
  std::map<std::string, size_t> role_index_;
  // Earlier instances (positions in Config::instances) by name and data_dir.
  std::map<std::string, size_t> instance_by_name_;
  // Every TCP port claimed so far (instances, routers) -> who uses it.
  std::map<int, std::string> port_owner_;
  std::map<std::string, size_t> instance_by_data_dir_;
};

Fields Loader::Map(const YAML::Node& n, const std::string& path,
                   std::initializer_list<std::string_view> allowed) const {
  if (!n.IsMap()) Fail(n, path, "expected a map, got " + Describe(n));
  Fields fields;
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar()) Fail(key, path, "expected a plain key, got " + Describe(key));
    const std::string& k = key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      std::vector<std::string> names(allowed.begin(), allowed.end());
      Fail(key, Child(path, k), "unknown key (expected one of: " + Join(names, ", ") + ")");
    }
    if (!seen.insert(k).second) Fail(key, Child(path, k), "duplicate key");
    fields.Set(k, key, it->second);
  }
  return fields;
}

std::string Loader::String(const YAML::Node& n, const std::string& path) const {
  if (!n.IsScalar()) Fail(n, path, "expected a string, got " + Describe(n));
  Result<std::string> r = SubstituteEnv(n.Scalar(), env_);
  if (!r.ok()) Fail(n, path, r.status().message());
  return std::move(r).value();
}

std::string Loader::NonEmpty(const YAML::Node& n, const std::string& path) const {
  std::string s = String(n, path);
  if (s.empty()) Fail(n, path, "must not be empty");
  if (HasControlChars(s)) Fail(n, path, "must not contain control characters");
  return s;
}

int Loader::Integer(const YAML::Node& n, const std::string& path, int64_t min, int64_t max) const {
  if (!n.IsScalar()) Fail(n, path, "expected an integer, got " + Describe(n));
  std::string s = String(n, path);
  std::optional<int64_t> v = ParseInteger(s);
  if (!v) Fail(n, path, "expected an integer, got " + Quoted(s));
  if (*v < min || *v > max) {
    Fail(n, path,
         "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + s);
  }
  return static_cast<int>(*v);
}

bool Loader::Boolean(const YAML::Node& n, const std::string& path) const {
  if (!n.IsScalar()) Fail(n, path, "expected true or false, got " + Describe(n));
  std::string s = String(n, path);
  std::optional<bool> v = ParseBoolean(s);
  if (!v) Fail(n, path, "expected true or false, got " + Quoted(s));
  return *v;
}

int64_t Loader::Duration(const YAML::Node& n, const std::string& path) const {
  std::string s = String(n, path);
  std::optional<int64_t> ms = ParseDurationMs(s);
  if (!ms) {
    Fail(n, path,
         "invalid duration " + Quoted(s) + " (use e.g. 500ms, 30s, 10m, 1h or milliseconds)");
  }
  return *ms;
}

uint64_t Loader::Bytes(const YAML::Node& n, const std::string& path, uint64_t min,
                       uint64_t max) const {
  std::string s = String(n, path);
  std::optional<uint64_t> bytes = ParseBytes(s);
  if (!bytes) {
    Fail(n, path, "invalid size " + Quoted(s) + " (use e.g. 512MB, 2GiB or a number of bytes)");
  }
  if (*bytes < min) Fail(n, path, "must be at least " + FormatPgBytes(min));
  if (*bytes > max) Fail(n, path, "must be at most " + FormatPgBytes(max));
  return *bytes;
}

size_t Loader::OneOf(const YAML::Node& n, const std::string& path,
                     const std::vector<std::string>& names) const {
  std::string s = String(n, path);
  auto it = std::find(names.begin(), names.end(), s);
  if (it != names.end()) return static_cast<size_t>(it - names.begin());
  std::string expected =
      names.size() == 2 ? names[0] + " or " + names[1] : "one of " + Join(names, ", ");
  Fail(n, path, "must be " + expected + ", got " + Quoted(s));
}

std::string Loader::Path(const YAML::Node& n, const std::string& path) const {
  return ResolvePath(base_dir_, NonEmpty(n, path));
}

std::string Loader::ObjectName(const YAML::Node& n, const std::string& path,
                               const char* what) const {
  std::string s = String(n, path);
  if (!IsValidObjectName(s)) {
    Fail(n, path,
         "invalid " + std::string(what) + " name " + Quoted(s) +
             " (use letters, digits, _ $ -, starting with a letter or _, at most 63 bytes, "
             "not starting with pg_)");
  }
  return s;
}

std::string Loader::EnvVarName(const YAML::Node& n, const std::string& path) const {
  std::string s = String(n, path);
  if (!IsValidEnvName(s)) Fail(n, path, "invalid environment variable name " + Quoted(s));
  if (!env_.GetEnv(s)) Fail(n, path, "environment variable " + s + " is not set");
  return s;
}

ObjectState Loader::State(const YAML::Node& n, const std::string& path) const {
  return OneOf(n, path, {"present", "absent"}) == 0 ? ObjectState::kPresent : ObjectState::kAbsent;
}

void Loader::RequireList(const YAML::Node& n, const std::string& path) const {
  if (!n.IsSequence()) Fail(n, path, "expected a list, got " + Describe(n));
}

std::vector<std::string> Loader::SqlFiles(const YAML::Node& n, const std::string& path) const {
  std::vector<std::pair<YAML::Node, std::string>> items;
  if (n.IsScalar()) {
    items.emplace_back(n, path);
  } else if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i) items.emplace_back(n[i], Index(path, i));
  } else {
    Fail(n, path, "expected a file name or a list of file names, got " + Describe(n));
  }
  std::vector<std::string> files;
  for (const auto& [node, p] : items) {
    std::string file = Path(node, p);
    if (!env_.FileReadable(file)) Fail(node, p, "cannot read SQL file " + file);
    files.push_back(file);
  }
  return files;
}

YAML::Node Loader::Required(const Fields& f, const YAML::Node& parent, const std::string& path,
                            const std::string& key) const {
  const YAML::Node n = f.Get(key);
  if (!Present(n)) Fail(parent, Child(path, key), "missing (required)");
  return n;
}

YAML::Node Loader::Section(const Fields& f, const std::string& path, const std::string& key) const {
  if (!f.Has(key)) Fail(f.At(key), Child(path, key), "expected a map, got nothing");
  return f.Get(key);
}

Config Loader::Load(const YAML::Node& root) {
  Config cfg;
  cfg.source = source_;
  cfg.base_dir = base_dir_;
  if (!Present(root)) Fail(root, "instances", "missing: the file must list at least one instance");
  Fields top = Map(root, "", {"instances", "state_dir"});
  cfg.state_dir = top.Has("state_dir") ? Path(top.Get("state_dir"), "state_dir")
                                       : ResolvePath(base_dir_, "tusk-data");
  const YAML::Node list = Required(top, root, "", "instances");
  RequireList(list, "instances");
  if (list.size() == 0) Fail(list, "instances", "must list at least one instance");
  for (size_t i = 0; i < list.size(); ++i) {
    cfg.instances.push_back(ParseInstance(list[i], Index("instances", i), list.size(), cfg));
  }
  return cfg;
}

Instance Loader::ParseInstance(const YAML::Node& n, const std::string& path, size_t count,
                               const Config& cfg) {
  Fields f = Map(n, path,
                 {"name", "port", "listen", "data_dir", "postgres_bin", "profile", "memory", "cpus",
                  "storage", "max_connections", "parameters", "databases", "roles", "hba",
                  "superuser", "lock_timeout", "router"});
  Instance inst;
  inst.location = Loc(n);
  InstanceNodes nodes{n, f.Get("name"), f.Get("port"), f.Get("data_dir")};
  database_index_.clear();
  role_index_.clear();

  const YAML::Node name = Required(f, n, path, "name");
  inst.name = String(name, Child(path, "name"));
  if (!IsValidInstanceName(inst.name)) {
    Fail(name, Child(path, "name"),
         "invalid instance name " + Quoted(inst.name) +
             " (use [a-z][a-z0-9_-]*, at most 40 characters)");
  }
  if (f.Has("port")) inst.port = Integer(f.Get("port"), Child(path, "port"), 1, 65535);
  if (f.Has("listen")) inst.listen = Listen(f.Get("listen"), Child(path, "listen"));
  inst.data_dir = f.Has("data_dir") ? Path(f.Get("data_dir"), Child(path, "data_dir"))
                                    : ResolvePath(cfg.state_dir, inst.name);
  if (f.Has("postgres_bin")) {
    inst.postgres_bin = Path(f.Get("postgres_bin"), Child(path, "postgres_bin"));
  } else {
    std::vector<std::string> bins = env_.PostgresBinDirs();
    if (bins.empty()) Fail(n, Child(path, "postgres_bin"), kNoPostgres);
    inst.postgres_bin = bins.front();
  }
  if (f.Has("profile")) {
    static const Profile kProfiles[] = {Profile::kOltp, Profile::kOlap, Profile::kTiny};
    inst.profile =
        kProfiles[OneOf(f.Get("profile"), Child(path, "profile"), {"oltp", "olap", "tiny"})];
  }
  if (f.Has("memory")) {
    inst.memory_bytes = Bytes(f.Get("memory"), Child(path, "memory"), kMinMemoryBytes, UINT64_MAX);
  } else {
    inst.memory_bytes = std::max<uint64_t>(env_.MemoryBytes() / count, 1);
  }
  inst.cpus = f.Has("cpus") ? Integer(f.Get("cpus"), Child(path, "cpus"), 1, 4096)
                            : std::max(env_.Cpus(), 1);
  if (f.Has("storage")) {
    inst.storage = OneOf(f.Get("storage"), Child(path, "storage"), {"ssd", "hdd"}) == 0
                       ? Storage::kSsd
                       : Storage::kHdd;
  } else {
    inst.storage = env_.IsRotational(inst.data_dir) ? Storage::kHdd : Storage::kSsd;
  }
  if (f.Has("max_connections")) {
    inst.max_connections =
        Integer(f.Get("max_connections"), Child(path, "max_connections"), 1, 262143);
  }
  if (f.Has("parameters")) Parameters(f.Get("parameters"), Child(path, "parameters"), inst);
  if (f.Has("lock_timeout")) {
    inst.lock_timeout_ms =
        static_cast<int>(Duration(f.Get("lock_timeout"), Child(path, "lock_timeout")));
  }
  if (f.Has("superuser")) Superuser(f.Get("superuser"), Child(path, "superuser"), inst);

  if (f.Has("databases")) {
    const YAML::Node dbs = f.Get("databases");
    std::string dpath = Child(path, "databases");
    RequireList(dbs, dpath);
    for (size_t i = 0; i < dbs.size(); ++i) {
      Database db = ParseDatabase(dbs[i], Index(dpath, i));
      if (!database_index_.emplace(db.name, inst.databases.size()).second) {
        Fail(dbs[i], Index(dpath, i) + ".name", "duplicate database name " + Quoted(db.name));
      }
      inst.databases.push_back(std::move(db));
    }
  }

  std::vector<MembershipRef> refs;
  if (f.Has("roles")) {
    const YAML::Node roles = f.Get("roles");
    std::string rpath = Child(path, "roles");
    RequireList(roles, rpath);
    for (size_t i = 0; i < roles.size(); ++i) {
      Role role = ParseRole(roles[i], Index(rpath, i), inst, refs);
      std::string npath = Index(rpath, i) + ".name";
      if (role.name == kRouterAuthRole) {
        Fail(roles[i]["name"], npath, ReservedAuthRole());
      }
      if (role.name == inst.superuser) {
        Fail(roles[i], npath,
             "role " + Quoted(role.name) +
                 " is the instance superuser; configure it under `superuser`");
      }
      if (!role_index_.emplace(role.name, inst.roles.size()).second) {
        Fail(roles[i], npath, "duplicate role name " + Quoted(role.name));
      }
      inst.roles.push_back(std::move(role));
    }
  }

  // Owners: declared roles, the superuser, or implicit login roles.
  if (f.Has("databases")) {
    const YAML::Node dbs = f.Get("databases");
    for (size_t i = 0; i < inst.databases.size(); ++i) {
      const Database& db = inst.databases[i];
      if (db.state == ObjectState::kAbsent || db.owner == inst.superuser) continue;
      if (db.owner == kRouterAuthRole) {
        const YAML::Node owner = dbs[i]["owner"];
        Fail(Present(owner) ? owner : dbs[i], Index(Child(path, "databases"), i) + ".owner",
             ReservedAuthRole());
      }
      if (auto it = role_index_.find(db.owner); it != role_index_.end()) {
        if (inst.roles[it->second].state == ObjectState::kAbsent) {
          const YAML::Node owner = dbs[i]["owner"];
          Fail(Present(owner) ? owner : dbs[i], Index(Child(path, "databases"), i) + ".owner",
               "owner role " + Quoted(db.owner) + " is declared absent");
        }
        continue;
      }
      role_index_.emplace(db.owner, inst.roles.size());
      Role owner;
      owner.name = db.owner;
      owner.login = true;
      owner.password_source = PasswordSource::kGenerated;
      owner.implicit = true;
      owner.location = db.location;
      inst.roles.push_back(std::move(owner));
    }
  }
  CheckReferences(inst, refs);

  if (f.Has("hba")) {
    const YAML::Node hba = f.Get("hba");
    std::string hpath = Child(path, "hba");
    RequireList(hba, hpath);
    if (hba.size() == 0) {
      Fail(hba, hpath, "must list at least one rule (omit `hba` for the defaults)");
    }
    for (size_t i = 0; i < hba.size(); ++i) inst.hba.push_back(ParseHba(hba[i], Index(hpath, i)));
  } else {
    inst.hba = DefaultHbaRules(inst.superuser, inst.listen);
  }

  CheckAgainstEarlier(inst, nodes, path, cfg);
  // After the instance's own port is claimed, so the router's ports are checked against it.
  if (f.Contains("router")) {
    inst.router = ParseRouter(Section(f, path, "router"), Child(path, "router"), inst);
    if (inst.router->auth_query) {
      // The role the router runs its auth query as: login only, no inherited
      // privileges, password generated like an implicit owner's.
      Role auth;
      auth.name = kRouterAuthRole;
      auth.login = true;
      auth.inherit = false;
      auth.password_source = PasswordSource::kGenerated;
      auth.implicit = true;
      auth.location = inst.router->location;
      inst.roles.push_back(std::move(auth));
    }
  }
  return inst;
}

std::string Loader::Listen(const YAML::Node& n, const std::string& path) const {
  std::string s = String(n, path);
  std::vector<std::string> parts = SplitTrimmed(s, ',');
  if (parts.empty()) Fail(n, path, "must name at least one address (e.g. 127.0.0.1 or *)");
  for (const std::string& p : parts) {
    if (HasSpace(p) || HasControlChars(p)) Fail(n, path, "invalid address " + Quoted(p));
  }
  return Join(parts, ",");
}

void Loader::Parameters(const YAML::Node& n, const std::string& path, Instance& inst) const {
  static const std::map<std::string, std::string> kManaged = {
      {"port", "use the instance key `port`"},
      {"listen_addresses", "use the instance key `listen`"},
      {"max_connections", "use the instance key `max_connections`"},
      {"data_directory", "use the instance key `data_dir`"},
      {"hba_file", "managed by tusk; use the instance key `hba`"},
      {"ident_file", "managed by tusk"},
      {"config_file", "managed by tusk"},
  };
  if (!n.IsMap()) Fail(n, path, "expected a map, got " + Describe(n));
  for (auto it = n.begin(); it != n.end(); ++it) {
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar()) Fail(key, path, "expected a parameter name, got " + Describe(key));
    const std::string& name = key.Scalar();
    std::string p = Child(path, name);
    if (!IsValidGucName(name)) {
      Fail(key, p, "invalid parameter name " + Quoted(name) + " (use [a-z_][a-z0-9_.]*)");
    }
    if (auto m = kManaged.find(name); m != kManaged.end()) Fail(key, p, m->second);
    if (inst.parameters.count(name)) Fail(key, p, "duplicate key");
    if (!value.IsScalar()) Fail(value, p, "expected a scalar value, got " + Describe(value));
    std::string v = String(value, p);
    if (HasControlChars(v)) Fail(value, p, "must not contain control characters");
    inst.parameters[name] = v;
  }
}

void Loader::Superuser(const YAML::Node& n, const std::string& path, Instance& inst) const {
  Fields f = Map(n, path, {"name", "password_env"});
  if (f.Has("name")) inst.superuser = ObjectName(f.Get("name"), Child(path, "name"), "role");
  if (inst.superuser == kRouterAuthRole) {
    Fail(f.Get("name"), Child(path, "name"), ReservedAuthRole());
  }
  if (f.Has("password_env")) {
    inst.superuser_password_env = EnvVarName(f.Get("password_env"), Child(path, "password_env"));
    inst.superuser_password_source = PasswordSource::kEnv;
  }
}

Database Loader::ParseDatabase(const YAML::Node& n, const std::string& path) const {
  Fields f = Map(n, path,
                 {"name", "owner", "extensions", "schemas", "init", "ensure", "encoding", "locale",
                  "connection_limit", "state"});
  Database db;
  db.location = Loc(n);
  db.name = ObjectName(Required(f, n, path, "name"), Child(path, "name"), "database");
  db.owner = f.Has("owner") ? ObjectName(f.Get("owner"), Child(path, "owner"), "role") : db.name;
  if (f.Has("extensions")) {
    const YAML::Node exts = f.Get("extensions");
    std::string epath = Child(path, "extensions");
    RequireList(exts, epath);
    for (size_t i = 0; i < exts.size(); ++i) {
      Extension e = ParseExtension(exts[i], Index(epath, i));
      for (const Extension& other : db.extensions) {
        if (other.name == e.name) {
          Fail(exts[i], Index(epath, i), "duplicate extension " + Quoted(e.name));
        }
      }
      db.extensions.push_back(std::move(e));
    }
  }
  if (f.Has("schemas")) {
    const YAML::Node schemas = f.Get("schemas");
    std::string spath = Child(path, "schemas");
    RequireList(schemas, spath);
    for (size_t i = 0; i < schemas.size(); ++i) {
      std::string s = ObjectName(schemas[i], Index(spath, i), "schema");
      if (std::find(db.schemas.begin(), db.schemas.end(), s) != db.schemas.end()) {
        Fail(schemas[i], Index(spath, i), "duplicate schema " + Quoted(s));
      }
      db.schemas.push_back(s);
    }
  }
  if (f.Has("init")) db.init = SqlFiles(f.Get("init"), Child(path, "init"));
  if (f.Has("ensure")) db.ensure = SqlFiles(f.Get("ensure"), Child(path, "ensure"));
  if (f.Has("encoding")) {
    const YAML::Node e = f.Get("encoding");
    db.encoding = String(e, Child(path, "encoding"));
    bool ok =
        !db.encoding.empty() && std::all_of(db.encoding.begin(), db.encoding.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
        });
    if (!ok) Fail(e, Child(path, "encoding"), "invalid encoding " + Quoted(db.encoding));
  }
  if (f.Has("locale")) {
    const YAML::Node l = f.Get("locale");
    db.locale = String(l, Child(path, "locale"));
    bool ok = !db.locale.empty() && std::all_of(db.locale.begin(), db.locale.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
             c == '@';
    });
    if (!ok) Fail(l, Child(path, "locale"), "invalid locale " + Quoted(db.locale));
  }
  if (f.Has("connection_limit")) {
    db.connection_limit =
        Integer(f.Get("connection_limit"), Child(path, "connection_limit"), -1, 262143);
  }
  if (f.Has("state")) db.state = State(f.Get("state"), Child(path, "state"));
  return db;
}

Extension Loader::ParseExtension(const YAML::Node& n, const std::string& path) const {
  Extension e;
  if (!n.IsMap() && !n.IsScalar()) {
    Fail(n, path,
         "expected an extension name or a map {name, schema, version}, got " + Describe(n));
  }
  std::string name_path = path;
  const Fields f = n.IsMap() ? Map(n, path, {"name", "schema", "version"}) : Fields();
  if (n.IsMap()) {
    Required(f, n, path, "name");
    name_path = Child(path, "name");
    if (f.Has("schema")) e.schema = ObjectName(f.Get("schema"), Child(path, "schema"), "schema");
    if (f.Has("version")) {
      const YAML::Node v = f.Get("version");
      e.version = String(v, Child(path, "version"));
      bool ok = !e.version.empty() && std::all_of(e.version.begin(), e.version.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      });
      if (!ok) Fail(v, Child(path, "version"), "invalid version " + Quoted(e.version));
    }
  }
  const YAML::Node name_node = n.IsMap() ? f.Get("name") : n;
  e.name = String(name_node, name_path);
  if (!IsValidExtensionName(e.name)) {
    Fail(name_node, name_path, "invalid extension name " + Quoted(e.name));
  }
  return e;
}

Role Loader::ParseRole(const YAML::Node& n, const std::string& path, const Instance& inst,
                       std::vector<MembershipRef>& refs) const {
  Fields f = Map(n, path,
                 {"name", "login", "password_env", "password_file", "superuser", "createdb",
                  "createrole", "replication", "member_of", "connection_limit", "grants", "state"});
  Role role;
  role.location = Loc(n);
  role.name = ObjectName(Required(f, n, path, "name"), Child(path, "name"), "role");
  if (f.Has("login")) role.login = Boolean(f.Get("login"), Child(path, "login"));
  if (f.Has("password_env") && f.Has("password_file")) {
    Fail(f.Get("password_file"), Child(path, "password_file"),
         "give at most one of password_env and password_file");
  }
  if (f.Has("password_env")) {
    role.password_env = EnvVarName(f.Get("password_env"), Child(path, "password_env"));
    role.password_source = PasswordSource::kEnv;
  } else if (f.Has("password_file")) {
    const YAML::Node pf = f.Get("password_file");
    role.password_file = Path(pf, Child(path, "password_file"));
    if (!env_.FileReadable(role.password_file)) {
      Fail(pf, Child(path, "password_file"), "cannot read password file " + role.password_file);
    }
    role.password_source = PasswordSource::kFile;
  } else {
    role.password_source = role.login ? PasswordSource::kGenerated : PasswordSource::kNone;
  }
  if (f.Has("superuser")) role.superuser = Boolean(f.Get("superuser"), Child(path, "superuser"));
  if (f.Has("createdb")) role.createdb = Boolean(f.Get("createdb"), Child(path, "createdb"));
  if (f.Has("createrole")) {
    role.createrole = Boolean(f.Get("createrole"), Child(path, "createrole"));
  }
  if (f.Has("replication")) {
    role.replication = Boolean(f.Get("replication"), Child(path, "replication"));
  }
  if (f.Has("member_of")) {
    const YAML::Node m = f.Get("member_of");
    std::string mpath = Child(path, "member_of");
    RequireList(m, mpath);
    for (size_t i = 0; i < m.size(); ++i) {
      std::string target = ObjectName(m[i], Index(mpath, i), "role");
      if (target == role.name) Fail(m[i], Index(mpath, i), "a role cannot be a member of itself");
      if (std::find(role.member_of.begin(), role.member_of.end(), target) != role.member_of.end()) {
        Fail(m[i], Index(mpath, i), "duplicate role " + Quoted(target));
      }
      role.member_of.push_back(target);
      refs.push_back(MembershipRef{m[i], Index(mpath, i), role.name, target});
    }
  }
  if (f.Has("connection_limit")) {
    role.connection_limit =
        Integer(f.Get("connection_limit"), Child(path, "connection_limit"), -1, 262143);
  }
  if (f.Has("grants")) {
    const YAML::Node g = f.Get("grants");
    std::string gpath = Child(path, "grants");
    RequireList(g, gpath);
    for (size_t i = 0; i < g.size(); ++i)
      role.grants.push_back(ParseGrant(g[i], Index(gpath, i), inst));
  }
  if (f.Has("state")) role.state = State(f.Get("state"), Child(path, "state"));
  return role;
}

Grant Loader::ParseGrant(const YAML::Node& n, const std::string& path, const Instance& inst) const {
  static const std::set<std::string> kDatabasePrivileges = {"CONNECT", "CREATE", "TEMP"};
  static const std::set<std::string> kTablePrivileges = {
      "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "ALL"};
  Fields f = Map(n, path, {"database", "schema", "privileges", "tables", "usage"});
  Grant g;
  const YAML::Node dbnode = Required(f, n, path, "database");
  g.database = ObjectName(dbnode, Child(path, "database"), "database");
  auto db = database_index_.find(g.database);
  if (db == database_index_.end()) {
    Fail(dbnode, Child(path, "database"),
         "database " + Quoted(g.database) + " is not declared on instance " + Quoted(inst.name));
  }
  if (inst.databases[db->second].state == ObjectState::kAbsent) {
    Fail(dbnode, Child(path, "database"), "database " + Quoted(g.database) + " is declared absent");
  }
  int shapes = f.Has("privileges") + f.Has("tables") + f.Has("usage");
  if (shapes != 1) {
    Fail(n, path,
         "give exactly one of privileges (on the database), tables or usage (on a schema)");
  }
  if (f.Has("privileges")) {
    if (f.Has("schema")) {
      Fail(f.Get("schema"), Child(path, "schema"),
           "database privileges take no schema (use tables or usage for a schema)");
    }
    g.kind = Grant::Kind::kDatabase;
    g.privileges =
        Privileges(f.Get("privileges"), Child(path, "privileges"), kDatabasePrivileges, false);
    return g;
  }
  const YAML::Node schema = Required(f, n, path, "schema");
  g.schema = ObjectName(schema, Child(path, "schema"), "schema");
  if (f.Has("tables")) {
    g.kind = Grant::Kind::kTables;
    g.privileges = Privileges(f.Get("tables"), Child(path, "tables"), kTablePrivileges, true);
    return g;
  }
  g.kind = Grant::Kind::kUsage;
  if (!Boolean(f.Get("usage"), Child(path, "usage"))) {
    Fail(f.Get("usage"), Child(path, "usage"), "must be true (omit the grant instead)");
  }
  g.privileges = {"USAGE"};
  return g;
}

std::vector<std::string> Loader::Privileges(const YAML::Node& n, const std::string& path,
                                            const std::set<std::string>& allowed,
                                            bool tables) const {
  RequireList(n, path);
  if (n.size() == 0) Fail(n, path, "must list at least one privilege");
  std::vector<std::string> out;
  for (size_t i = 0; i < n.size(); ++i) {
    std::string p = Upper(String(n[i], Index(path, i)));
    if (p == "TEMPORARY") p = "TEMP";
    if (!allowed.count(p)) {
      std::vector<std::string> names(allowed.begin(), allowed.end());
      Fail(n[i], Index(path, i),
           "unknown privilege " + Quoted(p) + " (expected one of: " + Join(names, ", ") + ")");
    }
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  if (tables && std::find(out.begin(), out.end(), "ALL") != out.end()) return {"ALL"};
  return out;
}

HbaRule Loader::ParseHba(const YAML::Node& n, const std::string& path) const {
  static const std::set<std::string> kTypes = {"local", "host", "hostssl", "hostnossl"};
  static const std::set<std::string> kMethods = {"trust",    "reject", "scram-sha-256", "md5",
                                                 "password", "peer",   "ident",         "cert"};
  Fields f = Map(n, path, {"type", "database", "user", "address", "method"});
  HbaRule rule;
  const YAML::Node type = Required(f, n, path, "type");
  rule.type = String(type, Child(path, "type"));
  if (!kTypes.count(rule.type)) {
    Fail(type, Child(path, "type"),
         "must be one of local, host, hostssl, hostnossl, got " + Quoted(rule.type));
  }
  auto word = [&](const char* key) {
    if (!f.Has(key)) return std::string("all");
    std::string s = NonEmpty(f.Get(key), Child(path, key));
    if (HasSpace(s)) Fail(f.Get(key), Child(path, key), "must not contain spaces");
    return s;
  };
  rule.database = word("database");
  rule.user = word("user");
  if (rule.type == "local") {
    if (f.Has("address")) {
      Fail(f.Get("address"), Child(path, "address"), "local rules take no address");
    }
  } else {
    const YAML::Node a = Required(f, n, path, "address");
    rule.address = NonEmpty(a, Child(path, "address"));
    if (HasSpace(rule.address)) Fail(a, Child(path, "address"), "must not contain spaces");
  }
  const YAML::Node method = Required(f, n, path, "method");
  std::string m = NonEmpty(method, Child(path, "method"));
  std::vector<std::string> words = SplitTrimmed(m, ' ');
  if (words.empty() || !kMethods.count(words[0])) {
    Fail(method, Child(path, "method"),
         "must be one of trust, reject, scram-sha-256, md5, password, peer, ident, cert, got " +
             Quoted(m));
  }
  for (size_t i = 1; i < words.size(); ++i) {
    if (words[i].find('=') == std::string::npos) {
      Fail(method, Child(path, "method"),
           "options after the method must look like name=value, got " + Quoted(words[i]));
    }
  }
  rule.method = Join(words, " ");
  return rule;
}

Router Loader::ParseRouter(const YAML::Node& n, const std::string& path, const Instance& inst) {
  Fields f = Map(n, path,
                 {"port",
                  "readonly_port",
                  "listen",
                  "mode",
                  "pool_size",
                  "max_client_connections",
                  "workers",
                  "pool_wait_timeout",
                  "idle_client_timeout",
                  "idle_transaction_timeout",
                  "query_timeout",
                  "server_lifetime",
                  "server_idle_timeout",
                  "connect_timeout",
                  "pipeline_depth",
                  "pipeline_busy_limit",
                  "concurrency_limit",
                  "busy_poll_us",
                  "sched_policy",
                  "client_auth",
                  "admin_roles",
                  "tls",
                  "server_tls",
                  "metrics_port",
                  "standbys",
                  "max_message_bytes",
                  "auth_query"});
  Router r;
  r.location = Loc(n);
  std::string owner = "instance " + Quoted(inst.name);
  const YAML::Node port = Required(f, n, path, "port");
  r.port = Integer(port, Child(path, "port"), 1, 65535);
  ClaimPort(r.port, port, Child(path, "port"), owner + " (router.port)");
  // Optional ports: 0 or absent = off.
  const std::pair<const char*, int*> optional_ports[] = {{"readonly_port", &r.readonly_port},
                                                         {"metrics_port", &r.metrics_port}};
  for (const auto& [key, field] : optional_ports) {
    if (!f.Has(key)) continue;
    *field = Integer(f.Get(key), Child(path, key), 0, 65535);
    if (*field != 0) {
      ClaimPort(*field, f.Get(key), Child(path, key), owner + " (router." + key + ")");
    }
  }
  r.listen = f.Has("listen") ? Listen(f.Get("listen"), Child(path, "listen")) : inst.listen;
  if (f.Has("mode")) {
    r.mode = OneOf(f.Get("mode"), Child(path, "mode"), {"session", "transaction"}) == 0
                 ? RouterMode::kSession
                 : RouterMode::kTransaction;
  }
  const std::tuple<const char*, int*, int, int> counts[] = {
      {"pool_size", &r.pool_size, 1, 262143},
      {"max_client_connections", &r.max_client_connections, 1, 1000000},
      {"workers", &r.workers, 0, 1024},
      {"pipeline_depth", &r.pipeline_depth, 0, 64},
      {"busy_poll_us", &r.busy_poll_us, 0, 10000},
  };
  for (const auto& [key, field, min, max] : counts) {
    if (f.Has(key)) *field = Integer(f.Get(key), Child(path, key), min, max);
  }
  const std::pair<const char*, int64_t*> durations[] = {
      {"pool_wait_timeout", &r.pool_wait_timeout_ms},
      {"idle_client_timeout", &r.idle_client_timeout_ms},
      {"idle_transaction_timeout", &r.idle_transaction_timeout_ms},
      {"query_timeout", &r.query_timeout_ms},
      {"server_lifetime", &r.server_lifetime_ms},
      {"server_idle_timeout", &r.server_idle_timeout_ms},
      {"connect_timeout", &r.connect_timeout_ms},
      {"pipeline_busy_limit", &r.pipeline_busy_limit_ms},
  };
  for (const auto& [key, field] : durations) {
    if (f.Has(key)) *field = Duration(f.Get(key), Child(path, key));
  }
  // No "off" for these: a connection attempt or a server connection must
  // end some time, and a queued request must not wait behind a query of
  // any length.
  for (const auto& [key, ms] : {std::pair{"connect_timeout", r.connect_timeout_ms},
                                std::pair{"server_lifetime", r.server_lifetime_ms},
                                std::pair{"pipeline_busy_limit", r.pipeline_busy_limit_ms}}) {
    if (f.Has(key) && ms == 0) Fail(f.Get(key), Child(path, key), "must be more than 0");
  }
  if (f.Has("concurrency_limit")) {
    const YAML::Node v = f.Get("concurrency_limit");
    const std::string p = Child(path, "concurrency_limit");
    if (v.IsScalar() && v.Scalar() == "auto") {
      r.concurrency_limit = Router::kConcurrencyLimitAuto;
    } else if (v.IsScalar() && ParseInteger(v.Scalar())) {
      r.concurrency_limit = Integer(v, p, 0, 262143);
    } else {
      Fail(v, p, "expected auto or an integer (0 = off), got " + Describe(v));
    }
  }
  if (r.pipeline_depth > 0 && r.mode == RouterMode::kSession) {
    Fail(f.Get("pipeline_depth"), Child(path, "pipeline_depth"),
         "needs mode: transaction (a session holds its server connection)");
  }
  if (f.Has("sched_policy")) {
    r.sched_policy =
        OneOf(f.Get("sched_policy"), Child(path, "sched_policy"), {"normal", "batch"}) == 0
            ? RouterSchedPolicy::kNormal
            : RouterSchedPolicy::kBatch;
  }
  if (f.Has("client_auth")) {
    static const RouterClientAuth kAuth[] = {RouterClientAuth::kScramSha256, RouterClientAuth::kMd5,
                                             RouterClientAuth::kPlain};
    r.client_auth = kAuth[OneOf(f.Get("client_auth"), Child(path, "client_auth"),
                                {"scram-sha-256", "md5", "plain"})];
  }
  r.admin_roles = f.Contains("admin_roles")
                      ? AdminRoles(f.Get("admin_roles"), Child(path, "admin_roles"), inst)
                      : std::vector<std::string>{inst.superuser};
  if (f.Contains("tls")) RouterTls(Section(f, path, "tls"), Child(path, "tls"), r);
  if (f.Has("server_tls")) r.server_tls = Boolean(f.Get("server_tls"), Child(path, "server_tls"));
  if (f.Has("standbys")) r.standbys = Standbys(f.Get("standbys"), Child(path, "standbys"));
  if (f.Has("max_message_bytes")) {
    // PostgreSQL's own startup packet may be 10000 bytes; its largest message is 1GB.
    r.max_message_bytes =
        Bytes(f.Get("max_message_bytes"), Child(path, "max_message_bytes"), 16u << 10, 1u << 30);
  }
  if (f.Has("auth_query")) r.auth_query = Boolean(f.Get("auth_query"), Child(path, "auth_query"));
  return r;
}

void Loader::RouterTls(const YAML::Node& n, const std::string& path, Router& router) const {
  Fields f = Map(n, path, {"mode", "cert_file", "key_file"});
  if (f.Has("mode")) {
    static const RouterTlsMode kModes[] = {RouterTlsMode::kDisable, RouterTlsMode::kAllow,
                                           RouterTlsMode::kRequire};
    router.tls_mode =
        kModes[OneOf(f.Get("mode"), Child(path, "mode"), {"disable", "allow", "require"})];
  }
  if (f.Has("cert_file") != f.Has("key_file")) {
    const char* given = f.Has("cert_file") ? "cert_file" : "key_file";
    Fail(f.Get(given), Child(path, given),
         "give both cert_file and key_file, or neither (tusk then generates a self-signed "
         "certificate)");
  }
  const std::pair<const char*, std::string*> files[] = {{"cert_file", &router.tls_cert_file},
                                                        {"key_file", &router.tls_key_file}};
  for (const auto& [key, field] : files) {
    if (!f.Has(key)) continue;
    *field = Path(f.Get(key), Child(path, key));
    if (!env_.FileReadable(*field)) Fail(f.Get(key), Child(path, key), "cannot read " + *field);
  }
}

std::vector<std::string> Loader::AdminRoles(const YAML::Node& n, const std::string& path,
                                            const Instance& inst) const {
  RequireList(n, path);
  std::vector<std::string> out;
  for (size_t i = 0; i < n.size(); ++i) {
    std::string name = ObjectName(n[i], Index(path, i), "role");
    if (std::find(out.begin(), out.end(), name) != out.end()) {
      Fail(n[i], Index(path, i), "duplicate role " + Quoted(name));
    }
    if (name != inst.superuser) {
      auto it = role_index_.find(name);
      if (it == role_index_.end()) {
        Fail(n[i], Index(path, i),
             "role " + Quoted(name) + " is not declared on instance " + Quoted(inst.name));
      }
      const Role& role = inst.roles[it->second];
      if (role.state == ObjectState::kAbsent) {
        Fail(n[i], Index(path, i), "role " + Quoted(name) + " is declared absent");
      }
      if (!role.login) Fail(n[i], Index(path, i), "role " + Quoted(name) + " cannot log in");
    }
    out.push_back(name);
  }
  return out;
}

std::vector<RouterBackend> Loader::Standbys(const YAML::Node& n, const std::string& path) const {
  RequireList(n, path);
  std::vector<RouterBackend> out;
  for (size_t i = 0; i < n.size(); ++i) {
    std::string p = Index(path, i);
    Fields f = Map(n[i], p, {"host", "port"});
    RouterBackend b;
    const YAML::Node host = Required(f, n[i], p, "host");
    b.host = NonEmpty(host, Child(p, "host"));
    if (HasSpace(b.host) || b.host.find(',') != std::string::npos) {
      Fail(host, Child(p, "host"), "must be one host name or address");
    }
    if (f.Has("port")) b.port = Integer(f.Get("port"), Child(p, "port"), 1, 65535);
    for (const RouterBackend& other : out) {
      if (other.host == b.host && other.port == b.port) {
        Fail(n[i], p, "duplicate standby " + b.host + ":" + std::to_string(b.port));
      }
    }
    out.push_back(std::move(b));
  }
  return out;
}

void Loader::ClaimPort(int port, const YAML::Node& n, const std::string& path,
                       const std::string& owner) {
  auto [it, inserted] = port_owner_.emplace(port, owner);
  if (!inserted) {
    Fail(n, path, "port " + std::to_string(port) + " is already used by " + it->second);
  }
}

void Loader::CheckReferences(const Instance& inst, const std::vector<MembershipRef>& refs) const {
  for (const MembershipRef& ref : refs) {
    auto target = role_index_.find(ref.target);
    if (target == role_index_.end()) {
      Fail(ref.node, ref.path,
           "role " + Quoted(ref.target) + " is not declared on instance " + Quoted(inst.name));
    }
    const Role& self = inst.roles[role_index_.at(ref.role)];
    if (inst.roles[target->second].state == ObjectState::kAbsent &&
        self.state == ObjectState::kPresent) {
      Fail(ref.node, ref.path, "role " + Quoted(ref.target) + " is declared absent");
    }
  }
  // Membership cycles: iterative depth-first search over member_of edges,
  // roles in declaration order; an edge back to a role on the stack closes a cycle.
  std::map<std::string, std::vector<const MembershipRef*>> edges;
  for (const MembershipRef& ref : refs) edges[ref.role].push_back(&ref);
  enum class Mark { kNew, kOnStack, kDone };
  std::map<std::string, Mark> mark;
  for (const Role& start : inst.roles) {
    if (mark[start.name] != Mark::kNew) continue;
    // Stack of (role, index of the next edge to follow).
    std::vector<std::pair<std::string, size_t>> stack = {{start.name, 0}};
    mark[start.name] = Mark::kOnStack;
    while (!stack.empty()) {
      auto& [role, next] = stack.back();
      const std::vector<const MembershipRef*>& out = edges[role];
      if (next == out.size()) {
        mark[role] = Mark::kDone;
        stack.pop_back();
        continue;
      }
      const MembershipRef* edge = out[next++];
      Mark& m = mark[edge->target];
      if (m == Mark::kOnStack) {
        std::vector<std::string> chain;
        bool in_cycle = false;
        for (const auto& frame : stack) {
          in_cycle = in_cycle || frame.first == edge->target;
          if (in_cycle) chain.push_back(frame.first);
        }
        chain.push_back(edge->target);
        Fail(edge->node, edge->path, "role membership cycle: " + Join(chain, " -> "));
      }
      if (m == Mark::kNew) {
        m = Mark::kOnStack;
        stack.emplace_back(edge->target, 0);
      }
    }
  }
}

void Loader::CheckAgainstEarlier(const Instance& inst, const InstanceNodes& nodes,
                                 const std::string& path, const Config& cfg) {
  auto at = [&](const YAML::Node& n) { return Present(n) ? n : nodes.self; };
  if (PathsOverlap(inst.data_dir, cfg.state_dir) && inst.data_dir.size() <= cfg.state_dir.size()) {
    Fail(at(nodes.data_dir), Child(path, "data_dir"),
         inst.data_dir + " contains the state_dir " + cfg.state_dir);
  }
  if (auto it = instance_by_name_.find(inst.name); it != instance_by_name_.end()) {
    Fail(at(nodes.name), Child(path, "name"), "duplicate instance name " + Quoted(inst.name));
  }
  ClaimPort(inst.port, at(nodes.port), Child(path, "port"), "instance " + Quoted(inst.name));
  // Overlap: an earlier data_dir equal to this one or one of its ancestors,
  // or lying below it (the first key after "<dir>/" in sorted order).
  const std::string& dir = inst.data_dir;
  std::optional<size_t> clash;
  for (size_t i = 0; i <= dir.size() && !clash; ++i) {
    if (i < dir.size() && dir[i] != '/') continue;
    std::string prefix = i == 0 ? "/" : dir.substr(0, i);
    if (auto it = instance_by_data_dir_.find(prefix); it != instance_by_data_dir_.end()) {
      clash = it->second;
    }
  }
  if (!clash) {
    std::string below = dir == "/" ? "/" : dir + "/";
    auto it = instance_by_data_dir_.lower_bound(below);
    if (it != instance_by_data_dir_.end() && it->first.compare(0, below.size(), below) == 0) {
      clash = it->second;
    }
  }
  if (clash) {
    const Instance& other = cfg.instances[*clash];
    Fail(at(nodes.data_dir), Child(path, "data_dir"),
         inst.data_dir + " overlaps the data_dir of instance " + Quoted(other.name) + " (" +
             other.data_dir + ")");
  }
  size_t position = cfg.instances.size();
  instance_by_name_.emplace(inst.name, position);
  instance_by_data_dir_.emplace(inst.data_dir, position);
}

/// Adds implicit owner roles for `inst` built outside YAML (EmbeddedDefault).
void AddImplicitOwners(Instance& inst) {
  for (const Database& db : inst.databases) {
    if (db.state == ObjectState::kAbsent || db.owner == inst.superuser) continue;
    bool known = std::any_of(inst.roles.begin(), inst.roles.end(),
                             [&](const Role& r) { return r.name == db.owner; });
    if (known) continue;
    Role r;
    r.name = db.owner;
    r.implicit = true;
    inst.roles.push_back(std::move(r));
  }
}

Result<Config> BuildEmbeddedDefault(const std::string& base_dir, std::optional<int> existing_port,
                                    const Environment& env) {
  auto error = [](const std::string& what) {
    return InvalidArgument(std::string(kEmbeddedSource) + ": " + what);
  };
  Config cfg;
  cfg.source = kEmbeddedSource;
  cfg.base_dir = ResolvePath(env.Cwd(), base_dir.empty() ? "." : base_dir);
  cfg.state_dir = ResolvePath(cfg.base_dir, "tusk-data");

  Instance inst;
  inst.name = "main";
  inst.listen = "127.0.0.1";
  inst.data_dir = ResolvePath(cfg.state_dir, inst.name);
  std::vector<std::string> bins = env.PostgresBinDirs();
  if (bins.empty()) return error(kNoPostgres);
  inst.postgres_bin = bins.front();
  if (existing_port) {
    if (*existing_port < 1 || *existing_port > 65535) {
      return error("existing port " + std::to_string(*existing_port) + " is out of range");
    }
    inst.port = *existing_port;
  } else {
    int port = 5432;
    while (port <= 65535 && !env.PortFree("127.0.0.1", port)) ++port;
    if (port > 65535) return error("no free TCP port at or above 5432 on 127.0.0.1");
    inst.port = port;
  }
  inst.memory_bytes = std::max<uint64_t>(env.MemoryBytes(), 1);
  inst.cpus = std::max(env.Cpus(), 1);
  inst.storage = env.IsRotational(inst.data_dir) ? Storage::kHdd : Storage::kSsd;

  if (std::optional<std::string> user = env.GetEnv("POSTGRES_USER"); user && !user->empty()) {
    if (!IsValidObjectName(*user))
      return error("POSTGRES_USER: invalid role name " + Quoted(*user));
    inst.superuser = *user;
  }
  if (env.GetEnv("POSTGRES_PASSWORD")) {
    inst.superuser_password_source = PasswordSource::kEnv;
    inst.superuser_password_env = "POSTGRES_PASSWORD";
  }

  std::vector<std::string> names;
  if (std::optional<std::string> multi = env.GetEnv("POSTGRES_MULTIPLE_DATABASES")) {
    for (const std::string& name : SplitTrimmed(*multi, ',')) {
      if (!IsValidObjectName(name)) {
        return error("POSTGRES_MULTIPLE_DATABASES: invalid database name " + Quoted(name));
      }
      if (name == "postgres") continue;  // always exists
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  if (std::optional<std::string> db = env.GetEnv("POSTGRES_DB")) {
    std::string name = Trim(*db);
    if (!name.empty() && name != "postgres") {
      if (!IsValidObjectName(name))
        return error("POSTGRES_DB: invalid database name " + Quoted(name));
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  if (names.empty()) names.push_back("app");
  for (const std::string& name : names) {
    Database db;
    db.name = name;
    db.owner = name;
    inst.databases.push_back(std::move(db));
  }
  AddImplicitOwners(inst);
  inst.hba = DefaultHbaRules(inst.superuser, inst.listen);
  cfg.instances.push_back(std::move(inst));
  return cfg;
}

}  // namespace

std::vector<HbaRule> DefaultHbaRules(const std::string& superuser, const std::string& listen) {
  std::vector<HbaRule> rules = {
      {"local", "all", superuser, "", "peer map=tusk"},
      {"host", "all", "all", "127.0.0.1/32", "scram-sha-256"},
      {"host", "all", "all", "::1/128", "scram-sha-256"},
  };
  auto add = [&](const std::string& address) {
    for (const HbaRule& r : rules) {
      if (r.address == address) return;
    }
    rules.push_back({"host", "all", "all", address, "scram-sha-256"});
  };
  for (const std::string& addr : SplitTrimmed(listen, ',')) {
    if (IsLoopback(addr)) continue;
    if (addr == "*" || addr == "0.0.0.0" || addr == "::") {
      add("0.0.0.0/0");
      add("::/0");
    } else if (addr.find(':') != std::string::npos) {
      add(addr + "/128");
    } else if (LooksLikeIpv4(addr)) {
      add(addr + "/32");
    } else {
      add(addr);  // a host name: pg_hba.conf resolves it
    }
  }
  return rules;
}

Result<Config> LoadConfigText(std::string_view text, const std::string& source,
                              const std::string& base_dir, const Environment& env) {
  try {
    std::string base = ResolvePath(env.Cwd(), base_dir.empty() ? "." : base_dir);
    if (text.size() > kMaxConfigBytes) {
      return InvalidArgument(source + ": file too large (" + std::to_string(text.size()) +
                             " bytes; the limit is 4MiB)");
    }
    YAML::Node root;
    try {
      root.reset(YAML::Load(std::string(text)));
    } catch (const YAML::Exception& e) {
      return InvalidArgument(source + ":" + std::to_string(std::max(e.mark.line, 0) + 1) + ":" +
                             std::to_string(std::max(e.mark.column, 0) + 1) + ": yaml: " + e.msg);
    }
    Loader loader(source, base, env);
    return loader.Load(root);
  } catch (const LoadError& e) {
    return InvalidArgument(e.message);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(source + ":" + std::to_string(std::max(e.mark.line, 0) + 1) + ":" +
                           std::to_string(std::max(e.mark.column, 0) + 1) + ": yaml: " + e.msg);
  } catch (const std::exception& e) {
    return InvalidArgument(source + ": " + e.what());
  } catch (...) {
    return InvalidArgument(source + ": unexpected error while loading");
  }
}

Result<Config> LoadConfigFile(const std::string& path, const Environment& env) {
  std::string abs;
  try {
    abs = ResolvePath(env.Cwd(), path);
  } catch (const std::exception& e) {
    return InvalidArgument(path + ": " + e.what());
  }
  int fd = ::open(abs.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return InvalidArgument(path + ": cannot read: " + std::strerror(errno));
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return InvalidArgument(path + ": cannot read: " + std::strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxConfigBytes) break;  // LoadConfigText reports it
  }
  ::close(fd);
  std::string base = abs.substr(0, abs.find_last_of('/'));
  if (base.empty()) base = "/";
  return LoadConfigText(text, path, base, env);
}

Result<Config> EmbeddedDefault(const std::string& base_dir, std::optional<int> existing_port,
                               const Environment& env) {
  try {
    return BuildEmbeddedDefault(base_dir, existing_port, env);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string(kEmbeddedSource) + ": " + e.what());
  }
}

}  // namespace tusk::config
