// status / url / psql / tune / apply / init.
#include "cli/inspect.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "agent/agent.h"
#include "cli/context.h"
#include "cli/examples.h"
#include "cli/router_files.h"
#include "common/strings.h"
#include "postgres/server_files.h"
#include "postgres/tuning.h"
#include "provision/apply.h"
#include "sys/account.h"

namespace tusk::cli {
namespace fs = std::filesystem;

namespace {

std::string HumanDuration(int64_t s) {
  if (s < 0) return "-";
  char buf[64];
  if (s >= 86400)
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", (long long)s / 86400,
                  (long long)(s % 86400) / 3600);
  else if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)s / 3600, (long long)(s % 3600) / 60);
  else
    std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)s / 60, (long long)s % 60);
  return buf;
}

// Live facts from a running instance; fills `j`.
void QueryLive(const Context& ctx, const config::Instance& inst, nlohmann::json& j) {
  auto conn = postgres::PgConnection::Open(ctx.Admin(inst));
  if (!conn.ok()) {
    j["error"] = conn.status().message();
    return;
  }
  auto& c = **conn;
  auto v = c.Query(
      "SELECT current_setting('server_version') AS version,"
      " extract(epoch FROM now() - pg_postmaster_start_time())::bigint AS uptime,"
      " pg_backend_pid() AS me");
  if (v.ok()) {
    j["version"] = v->Get(0, "version");
    j["uptime_s"] = std::stoll(v->Get(0, "uptime"));
  }
  auto pending = c.Query("SELECT name FROM pg_settings WHERE pending_restart ORDER BY 1");
  j["restart_pending"] = nlohmann::json::array();
  if (pending.ok())
    for (auto& r : pending->rows) j["restart_pending"].push_back(r[0].value_or(""));
  auto dbs = c.Query(
      "SELECT d.datname, pg_database_size(d.oid) AS bytes,"
      " (SELECT count(*) FROM pg_stat_activity a WHERE a.datid = d.oid) AS connections"
      " FROM pg_database d WHERE NOT d.datistemplate ORDER BY 1");
  j["databases"] = nlohmann::json::array();
  if (dbs.ok()) {
    for (size_t r = 0; r < dbs->rows.size(); ++r) {
      j["databases"].push_back({{"name", dbs->Get(r, "datname")},
                                {"size_bytes", std::stoll(dbs->Get(r, "bytes"))},
                                {"connections", std::stoll(dbs->Get(r, "connections"))}});
    }
  }
  auto slow = c.Query(
      "SELECT pid, datname, usename, extract(epoch FROM now() - query_start)::numeric(12,1) AS s,"
      " left(query, 120) AS query FROM pg_stat_activity"
      " WHERE state <> 'idle' AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
      " AND query_start < now() - interval '5 seconds' ORDER BY query_start");
  j["long_queries"] = nlohmann::json::array();
  if (slow.ok()) {
    for (size_t r = 0; r < slow->rows.size(); ++r) {
      j["long_queries"].push_back({{"pid", std::stoll(slow->Get(r, "pid"))},
                                   {"database", slow->Get(r, "datname")},
                                   {"user", slow->Get(r, "usename")},
                                   {"seconds", std::stod(slow->Get(r, "s"))},
                                   {"query", slow->Get(r, "query")}});
    }
  }
}

// Instance to use for `database`, honouring an explicit --instance.
Result<const config::Instance*> InstanceFor(const Context& ctx, const TargetOptions& o) {
  if (!o.instance.empty()) return ctx.Find(o.instance);
  const config::Instance* found = nullptr;
  for (const auto& i : ctx.config.instances) {
    for (const auto& d : i.databases) {
      if (d.name != o.database) continue;
      if (found) {
        return InvalidArgument("database " + o.database + " exists on instances " + found->name +
                               " and " + i.name + "; pass --instance");
      }
      found = &i;
    }
  }
  if (!found) {
    if (ctx.config.instances.size() == 1) return &ctx.config.instances[0];
    return InvalidArgument("no instance declares database " + o.database + "; pass --instance");
  }
  return found;
}

Result<postgres::ConnInfo> TargetConn(const Context& ctx, const TargetOptions& o) {
  auto inst = InstanceFor(ctx, o);
  if (!inst.ok()) return inst.status();
  const std::optional<config::Router>& router = (*inst)->router;
  if (o.via_router && !router) {
    return InvalidArgument("instance " + (*inst)->name +
                           " has no router (add a `router:` section to it in " + ctx.config.source +
                           ")");
  }
  if (o.via_router && o.readonly && router->readonly_port == 0) {
    return InvalidArgument("the router of instance " + (*inst)->name +
                           " has no read-only port (set router.readonly_port)");
  }
  std::string role = o.role;
  if (role.empty()) {
    for (const auto& d : (*inst)->databases)
      if (d.name == o.database) role = d.owner;
    if (role.empty()) role = (*inst)->superuser;
  }
  auto pw = ctx.Passwords(**inst, false);
  if (!pw.ok()) return pw.status();
  if (!pw->count(role)) {
    return InvalidArgument("tusk knows no password for role " + role + " on instance " +
                           (*inst)->name);
  }
  postgres::ConnInfo ci;
  ci.host = Context::ClientHost(**inst);
  ci.port = (*inst)->port;
  ci.user = role;
  ci.password = pw->at(role);
  ci.dbname = o.database;
  if (o.via_router) {
    ci.host = Context::ClientHostFor(router->listen);
    ci.port = o.readonly ? router->readonly_port : router->port;
  }
  return ci;
}

// Router facts for `tusk status`: config, the agent's view of the process,
// and the router's own status file when it was written in the last 5 s.
nlohmann::json RouterStatus(const Context& ctx, const config::Instance& inst,
                            const Result<agent::AgentStatus>& agent_status, bool agent_running) {
  const config::Router& r = *inst.router;
  nlohmann::json j = {{"host", Context::ClientHostFor(r.listen)},
                      {"port", r.port},
                      {"readonly_port", r.readonly_port},
                      {"mode", r.mode == config::RouterMode::kSession ? "session" : "transaction"},
                      {"state", "stopped"},
                      {"running", false}};
  if (agent_running && agent_status.ok() && agent_status->routers.count(inst.name)) {
    const auto& s = agent_status->routers.at(inst.name);
    j["state"] = s.state;
    j["pid"] = s.pid;
    j["running"] = s.pid != 0 && (s.state == "running" || s.state == "starting");
    j["restarts"] = s.restarts;
    if (!s.reason.empty()) j["reason"] = s.reason;
  } else if (pid_t pid = agent::LiveRouterPid(ctx.layout, inst.name)) {
    j["state"] = "running (unsupervised)";
    j["pid"] = pid;
    j["running"] = true;
  }
  std::string file = ctx.layout.RouterStatusFile(inst.name);
  std::error_code ec;
  auto mtime = fs::last_write_time(file, ec);
  if (!ec && fs::file_time_type::clock::now() - mtime < std::chrono::seconds(5)) {
    auto text = sys::ReadFile(file);
    auto live = text.ok() ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
    if (live.is_object()) j["live"] = live;
  }
  return j;
}

// A number from a router status object, 0 when absent or not a number.
int64_t Num(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return 0;
  return j[key].get<int64_t>();
}

// Text lines for the "router" object RouterStatus() built.
void PrintRouter(const nlohmann::json& r) {
  std::cout << "  router: " << r["state"].get<std::string>();
  if (r.contains("pid") && r["pid"].get<int>() != 0) std::cout << ", pid " << r["pid"];
  std::cout << ", " << r["host"].get<std::string>() << ":" << r["port"];
  if (r["readonly_port"].get<int>() != 0) std::cout << ", read-only :" << r["readonly_port"];
  std::cout << ", " << r["mode"].get<std::string>() << " pooling";
  if (r.contains("restarts") && r["restarts"].get<int>() > 0)
    std::cout << ", " << r["restarts"] << " restarts";
  std::cout << "\n";
  if (r.contains("reason")) std::cout << "    reason: " << r["reason"].get<std::string>() << "\n";
  if (!r.contains("live")) return;
  const nlohmann::json& live = r["live"];
  std::cout << "    clients " << Num(live, "clients") << ", servers " << Num(live, "servers");
  if (live.contains("paused") && live["paused"].is_boolean() && live["paused"].get<bool>()) {
    std::cout << ", PAUSED";
  }
  std::cout << "\n";
  if (live.contains("pools") && live["pools"].is_array() && !live["pools"].empty()) {
    std::printf("    %-32s %8s %8s %8s %8s\n", "pool (database/role)", "active", "waiting",
                "servers", "idle");
    for (const auto& p : live["pools"]) {
      auto text = [&](const char* key) {
        return p.is_object() && p.contains(key) && p[key].is_string() ? p[key].get<std::string>()
                                                                      : std::string("?");
      };
      std::string name = text("database") + "/" + text("role");
      if (text("port") == "ro") name += " (read-only)";
      std::printf("    %-32s %8lld %8lld %8lld %8lld\n", name.c_str(),
                  (long long)Num(p, "clients_active"), (long long)Num(p, "clients_waiting"),
                  (long long)Num(p, "servers_active"), (long long)Num(p, "servers_idle"));
    }
  }
  if (live.contains("latency_us") && live["latency_us"].is_object()) {
    std::printf("    %-12s %10s %10s %10s %10s %10s\n", "latency (us)", "count", "p50", "p95",
                "p99", "p99.9");
    for (const char* kind : {"query", "transaction", "wait"}) {
      if (!live["latency_us"].contains(kind)) continue;
      const auto& l = live["latency_us"][kind];
      std::printf("    %-12s %10lld %10lld %10lld %10lld %10lld\n", kind,
                  (long long)Num(l, "count"), (long long)Num(l, "p50"), (long long)Num(l, "p95"),
                  (long long)Num(l, "p99"), (long long)Num(l, "p999"));
    }
  }
}

}  // namespace

int StatusCommand(const std::string& config_path, bool json) {
  auto ctx = LoadContext(config_path);
  if (!ctx.ok()) return Fail(ctx.status());
  auto agent_status = agent::ReadAgentStatus(ctx->layout);
  pid_t agent_pid = agent::LiveAgentPid(ctx->layout);
  nlohmann::json out = {{"agent", {{"running", agent_pid != 0}, {"pid", agent_pid}}}};
  out["instances"] = nlohmann::json::array();
  for (const auto& inst : ctx->config.instances) {
    nlohmann::json j = {{"name", inst.name},
                        {"port", inst.port},
                        {"host", Context::ClientHost(inst)},
                        {"data_dir", inst.data_dir}};
    std::string state = "stopped";
    if (agent_status.ok() && agent_status->instances.count(inst.name) && agent_pid != 0) {
      const auto& s = agent_status->instances.at(inst.name);
      state = s.state;
      j["pid"] = s.pid;
      j["restarts"] = s.restarts;
      if (!s.reason.empty()) j["reason"] = s.reason;
    }
    auto ci = ctx->Admin(inst);
    ci.connect_timeout_s = 2;
    bool accepting = postgres::Ping(ci) == postgres::PingStatus::kAccepting;
    if (accepting && state != "running") state = agent_pid ? state : "running (unsupervised)";
    j["state"] = state;
    j["accepting"] = accepting;
    if (accepting) QueryLive(*ctx, inst, j);
    if (inst.router) j["router"] = RouterStatus(*ctx, inst, agent_status, agent_pid != 0);
    out["instances"].push_back(j);
  }
  if (json) {
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << "agent: "
            << (agent_pid ? "running (pid " + std::to_string(agent_pid) + ")" : "not running")
            << "\n";
  for (const auto& j : out["instances"]) {
    std::cout << "\ninstance " << j["name"].get<std::string>() << ": "
              << j["state"].get<std::string>();
    if (j.contains("pid") && j["pid"].get<int>() != 0) std::cout << ", pid " << j["pid"];
    std::cout << ", " << j["host"].get<std::string>() << ":" << j["port"];
    if (j.contains("version")) std::cout << ", PostgreSQL " << j["version"].get<std::string>();
    if (j.contains("uptime_s")) std::cout << ", up " << HumanDuration(j["uptime_s"].get<int64_t>());
    if (j.contains("restarts") && j["restarts"].get<int>() > 0)
      std::cout << ", " << j["restarts"] << " restarts";
    std::cout << "\n";
    if (j.contains("reason")) std::cout << "  reason: " << j["reason"].get<std::string>() << "\n";
    if (j.contains("restart_pending") && !j["restart_pending"].empty()) {
      std::cout << "  restart pending:";
      for (const auto& p : j["restart_pending"]) std::cout << " " << p.get<std::string>();
      std::cout << "\n";
    }
    if (j.contains("databases")) {
      std::printf("  %-24s %12s %12s\n", "database", "size", "connections");
      for (const auto& d : j["databases"]) {
        std::printf("  %-24s %9.1f MB %12lld\n", d["name"].get<std::string>().c_str(),
                    d["size_bytes"].get<int64_t>() / 1048576.0,
                    (long long)d["connections"].get<int64_t>());
      }
    }
    if (j.contains("long_queries")) {
      for (const auto& q : j["long_queries"]) {
        std::cout << "  long query: pid " << q["pid"] << " on " << q["database"].get<std::string>()
                  << " for " << q["seconds"] << " s: " << q["query"].get<std::string>() << "\n";
      }
    }
    if (j.contains("error")) std::cout << "  error: " << j["error"].get<std::string>() << "\n";
    if (j.contains("router")) PrintRouter(j["router"]);
  }
  return kExitOk;
}

int Url(const TargetOptions& o) {
  auto ctx = LoadContext(o.config_path);
  if (!ctx.ok()) return Fail(ctx.status());
  auto ci = TargetConn(*ctx, o);
  if (!ci.ok()) return Fail(ci.status());
  std::cout << ci->ToUri(true) << "\n";
  return kExitOk;
}

int Psql(const TargetOptions& o, const std::vector<std::string>& args) {
  auto ctx = LoadContext(o.config_path);
  if (!ctx.ok()) return Fail(ctx.status());
  auto ci = TargetConn(*ctx, o);
  if (!ci.ok()) return Fail(ci.status());
  auto inst = InstanceFor(*ctx, o);
  std::string psql = (*inst)->postgres_bin + "/psql";
  if (!fs::exists(psql)) psql = "psql";
  ::setenv("PGPASSWORD", ci->password.c_str(), 1);
  ci->password.clear();
  std::vector<std::string> argv = {psql, ci->ToKeyValue()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargs;
  for (auto& a : argv) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  ::execvp(cargs[0], cargs.data());
  return Fail(Internal("cannot run " + psql));
}

int Tune(const std::string& config_path, const std::string& instance, bool explain) {
  auto ctx = LoadContext(config_path);
  if (!ctx.ok()) return Fail(ctx.status());
  auto which = ctx->Select(instance);
  if (!which.ok()) return Fail(which.status());
  for (const auto* i : *which) {
    auto t = postgres::Tune(postgres::TuningInputFor(*i));
    std::cout << "# instance " << i->name << ": memory " << FormatPgBytes(i->memory_bytes) << ", "
              << i->cpus << " cpus, " << (i->storage == config::Storage::kSsd ? "ssd" : "hdd")
              << ", max_connections " << i->max_connections << "\n";
    if (explain) {
      std::cout << postgres::ExplainTuning(t);
    } else {
      for (const auto& s : t.settings) std::cout << s.name << " = " << s.value << "\n";
      for (const auto& w : t.warnings) std::cout << "# warning: " << w << "\n";
    }
    std::cout << "\n";
  }
  return kExitOk;
}

int Apply(const std::string& config_path, bool dry_run, bool allow_drop) {
  auto ctx = LoadContext(config_path);
  if (!ctx.ok()) return Fail(ctx.status());
  int rc = kExitOk;
  bool reload_routers = false;
  for (const auto& inst : ctx->config.instances) {
    auto pw = ctx->Passwords(inst, !dry_run);
    if (!pw.ok()) return Fail(pw.status());
    provision::ApplyOptions opts;
    opts.dry_run = dry_run;
    opts.allow_drop = allow_drop;
    auto report = provision::ApplyInstance(inst, ctx->Admin(inst), *pw, opts, std::cout);
    for (const auto& w : report.warnings)
      std::cerr << "warning: " << inst.name << ": " << w << "\n";
    for (const auto& e : report.errors) std::cerr << "error: " << inst.name << ": " << e << "\n";
    if (!report.ok()) rc = kExitFailure;
    // A rotated password reaches the router too (it re-reads its secrets on SIGHUP).
    if (inst.router && !dry_run && fs::exists(ctx->layout.RouterSpecFile(inst.name))) {
      auto account = sys::ServerAccount();
      if (!account.ok()) return Fail(account.status());
      auto changed = WriteRouterSecrets(inst, ctx->layout, *pw, *account);
      if (!changed.ok()) return Fail(changed.status());
      if (*changed) reload_routers = true;
    }
  }
  if (pid_t agent = agent::LiveAgentPid(ctx->layout); reload_routers && agent != 0) {
    ::kill(agent, SIGHUP);  // passed on to every router
  }
  return rc;
}

int Init(const std::string& example, const std::string& dir, bool force) {
  const auto& files = ExampleFiles();
  std::string yaml_name = "examples/" + example + ".yaml";
  const ExampleFile* yaml = nullptr;
  for (const auto& f : files)
    if (f.path == yaml_name) yaml = &f;
  if (!yaml) return Fail(InvalidArgument("unknown example '" + example + "' (shared, split)"));
  std::string target = dir + "/tusk.yaml";
  if (fs::exists(target) && !force) {
    return Fail(InvalidArgument(target + " exists; pass --force to overwrite"));
  }
  // The example's SQL files go to sql/ beside tusk.yaml, as the example names them.
  std::vector<std::pair<std::string, const ExampleFile*>> writes = {{target, yaml}};
  for (const auto& f : files) {
    if (f.path.rfind("examples/sql/", 0) != 0) continue;
    std::string rel = f.path.substr(std::string("examples/").size());
    if (yaml->content.find(rel) == std::string::npos) continue;
    writes.emplace_back(dir + "/" + rel, &f);
  }
  for (const auto& [path, f] : writes) {
    if (path != target && fs::exists(path) && !force) {
      return Fail(InvalidArgument(path + " exists; pass --force to overwrite"));
    }
  }
  for (const auto& [path, f] : writes) {
    fs::create_directories(fs::path(path).parent_path());
    if (auto st = sys::WriteFileAtomic(path, f->content, 0644); !st.ok()) return Fail(st);
    std::cout << "wrote " << path << "\n";
  }
  std::cout << "next: tusk up -c " << target << "\n";
  return kExitOk;
}

}  // namespace tusk::cli
