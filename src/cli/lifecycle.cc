// up / run / agent / down / restart / ready / logs.
#include "cli/lifecycle.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "agent/agent.h"
#include "agent/probe.h"
#include "agent/spec.h"
#include "cli/router_files.h"
#include "common/strings.h"
#include "postgres/server_files.h"
#include "postgres/tuning.h"
#include "provision/apply.h"
#include "router/router.h"
#include "sys/account.h"
#include "sys/process.h"

namespace tusk::cli {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// How long `up` waits for each router to accept connections.
constexpr int kRouterWaitSeconds = 10;

void Touch(const std::string& path) { std::ofstream(path, std::ios::app); }

bool PostmasterAlive(const config::Instance& i) {
  std::ifstream f(i.data_dir + "/postmaster.pid");
  pid_t pid = 0;
  return (f >> pid) && sys::ProcessAlive(pid);
}

// pgpass lines for every role with a password; escapes ':' and '\'.
std::string PgpassLines(const config::Instance& i, const std::map<std::string, std::string>& pw) {
  auto esc = [](const std::string& s) {
    std::string o;
    for (char c : s) {
      if (c == ':' || c == '\\') o += '\\';
      o += c;
    }
    return o;
  };
  std::string out;
  for (const auto& [role, password] : pw) {
    out += esc(Context::ClientHost(i)) + ":" + std::to_string(i.port) + ":*:" + esc(role) + ":" +
           esc(password) + "\n";
  }
  return out;
}

// What Prepare() found: instances whose files changed while their server was
// running (they need a reload), and each instance's resolved role passwords.
struct Prepared {
  std::vector<const config::Instance*> reload;
  std::map<std::string, std::map<std::string, std::string>> passwords;
};

// Everything `up` and `run` do before the agent runs: directories, initdb,
// server files, router files, spec.json, pgpass.
Result<Prepared> Prepare(const Context& ctx) {
  auto account = sys::ServerAccount();
  if (!account.ok()) return account.status();
  const auto& L = ctx.layout;
  TUSK_RETURN_IF_ERROR(sys::MakeDirs(L.state_dir, 0755));
  TUSK_RETURN_IF_ERROR(sys::MakeDirs(L.agent_dir, 0755));
  TUSK_RETURN_IF_ERROR(sys::MakeDirs(L.secrets_dir, 0700));
  TUSK_RETURN_IF_ERROR(sys::MakeDirs(L.run_dir, 0755, &*account));
  TUSK_RETURN_IF_ERROR(sys::CheckTraversable(L.run_dir + "/x", *account));

  agent::AgentSpec spec;
  Prepared prepared;
  std::string pgpass;
  for (const auto& inst : ctx.config.instances) {
    auto major = postgres::ServerMajorVersion(inst.postgres_bin);
    if (!major.ok()) return major.status().Prefixed("instance " + inst.name);
    int data_major = postgres::DataDirMajorVersion(inst.data_dir);
    if (data_major != 0 && data_major != *major) {
      return FailedPrecondition("instance " + inst.name + ": data directory " + inst.data_dir +
                                " is PostgreSQL " + std::to_string(data_major) + " but " +
                                inst.postgres_bin + " is " + std::to_string(*major) +
                                "; upgrade with pg_upgrade or dump/restore");
    }
    auto pw = ctx.Passwords(inst, true);
    if (!pw.ok()) return pw.status().Prefixed("instance " + inst.name);
    bool was_running = PostmasterAlive(inst);
    if (postgres::DataDirEmpty(inst.data_dir)) {
      std::cout << "initdb: instance " << inst.name << " in " << inst.data_dir << "\n";
      TUSK_RETURN_IF_ERROR(postgres::InitDataDir(inst, *account, pw->at(inst.superuser), L.run_dir)
                               .Prefixed("instance " + inst.name));
    } else if (data_major == 0) {
      return FailedPrecondition("instance " + inst.name + ": " + inst.data_dir +
                                " is not empty and is not a PostgreSQL data directory");
    }
    auto tuning = postgres::Tune(postgres::TuningInputFor(inst));
    for (const auto& w : tuning.warnings)
      std::cerr << "warning: " << inst.name << ": " << w << "\n";
    auto changed = postgres::WriteServerFiles(inst, tuning, L.run_dir, *account);
    if (!changed.ok()) return changed.status().Prefixed("instance " + inst.name);
    if (*changed && was_running) prepared.reload.push_back(&inst);
    pgpass += PgpassLines(inst, *pw);
    prepared.passwords[inst.name] = *pw;

    agent::InstanceSpec is;
    is.name = inst.name;
    is.data_dir = inst.data_dir;
    is.postgres_bin = inst.postgres_bin;
    is.port = inst.port;
    is.socket_dir = L.run_dir;
    is.log_file = L.LogFile(inst.name);
    is.run_as = *account;
    spec.instances.push_back(is);
    if (inst.router) {
      TUSK_RETURN_IF_ERROR(
          WriteRouterFiles(inst, L, *pw, *account).Prefixed("instance " + inst.name + ": router"));
      spec.routers.push_back(RouterProcessFor(inst, L, *account));
    } else {
      RemoveRouterFiles(inst.name, L);
    }
    ::unlink(L.StopMarker(inst.name).c_str());
  }
  TUSK_RETURN_IF_ERROR(sys::WriteFileAtomic(L.secrets_dir + "/pgpass", pgpass, 0600));
  TUSK_RETURN_IF_ERROR(sys::WriteFileAtomic(L.AgentSpecFile(), agent::SpecToJson(spec), 0644));
  return prepared;
}

// Starts the agent in the background, or tells a running one to reload.
Status EnsureAgent(const Context& ctx) {
  if (pid_t pid = agent::LiveAgentPid(ctx.layout)) {
    ::kill(pid, SIGHUP);
    return Status::Ok();
  }
  sys::SpawnOptions opts;
  opts.new_session = true;
  opts.output_path = ctx.layout.AgentLogFile();
  opts.cwd = "/";
  auto pid =
      sys::Spawn({sys::SelfExecutable(), "agent", "--state-dir", ctx.layout.state_dir}, opts);
  if (!pid.ok()) return pid.status();
  // The agent writes its pid file at once; wait for it so a second command sees it.
  for (int i = 0; i < 500 && agent::LiveAgentPid(ctx.layout) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (agent::LiveAgentPid(ctx.layout) == 0) {
    return Internal("the agent did not start; see " + ctx.layout.AgentLogFile());
  }
  return Status::Ok();
}

// Tail of a log file (for error messages).
std::string Tail(const std::string& path, size_t lines) {
  auto text = sys::ReadFile(path);
  if (!text.ok()) return "";
  std::vector<std::string> all;
  std::string line;
  std::istringstream in(*text);
  while (std::getline(in, line)) all.push_back(line);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    out += "    " + all[i] + "\n";
  }
  return out;
}

// Waits until `inst` accepts connections, or the agent reports it failed.
Status WaitReady(const Context& ctx, const config::Instance& inst, int timeout_s) {
  auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  auto ci = ctx.Admin(inst);
  ci.connect_timeout_s = 2;
  while (Clock::now() < deadline) {
    if (postgres::Ping(ci) == postgres::PingStatus::kAccepting) return Status::Ok();
    auto st = agent::ReadAgentStatus(ctx.layout);
    if (st.ok() && st->instances.count(inst.name) && st->instances[inst.name].state == "failed") {
      return Internal("instance " + inst.name + " failed: " + st->instances[inst.name].reason +
                      "\n  last lines of " + ctx.layout.LogFile(inst.name) + ":\n" +
                      Tail(ctx.layout.LogFile(inst.name), 10));
    }
    if (agent::LiveAgentPid(ctx.layout) == 0) {
      return Internal("the agent is not running; see " + ctx.layout.AgentLogFile());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Unavailable("instance " + inst.name + " not ready after " + std::to_string(timeout_s) +
                     " s; last lines of " + ctx.layout.LogFile(inst.name) + ":\n" +
                     Tail(ctx.layout.LogFile(inst.name), 10));
}

// Waits until the router of `inst` accepts TCP connections on its port. An
// error says why it does not: the agent's reason for its last exit, or the
// timeout, with the last lines of the router's log.
Status WaitRouter(const Context& ctx, const config::Instance& inst, int timeout_s) {
  const auto& L = ctx.layout;
  auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  auto with_log = [&](const std::string& why) {
    std::string tail = Tail(L.RouterLogFile(inst.name), 10);
    if (tail.empty()) return why;
    return why + "\n  last lines of " + L.RouterLogFile(inst.name) + ":\n" + tail;
  };
  // A restart the agent has not carried out yet: the old process may still answer.
  while (fs::exists(L.RouterRestartMarker(inst.name)) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string host = Context::ClientHostFor(inst.router->listen);
  while (Clock::now() < deadline) {
    if (agent::TcpAccepting(host, inst.router->port, 200)) return Status::Ok();
    auto st = agent::ReadAgentStatus(L);
    if (st.ok() && st->routers.count(inst.name)) {
      const auto& r = st->routers.at(inst.name);
      bool exited = r.state == "failed" || (r.state == "backoff" && !r.reason.empty());
      if (exited) return Unavailable(with_log(r.reason));
    }
    if (agent::LiveAgentPid(L) == 0) {
      return Internal("the agent is not running; see " + L.AgentLogFile());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Unavailable(with_log("not accepting connections on " + host + ":" +
                              std::to_string(inst.router->port) + " after " +
                              std::to_string(timeout_s) + " s"));
}

// Names of parameters changed in the files that need a restart (pg_settings.pending_restart).
Result<std::vector<std::string>> PendingRestart(const Context& ctx, const config::Instance& inst) {
  auto conn = postgres::PgConnection::Open(ctx.Admin(inst));
  if (!conn.ok()) return conn.status();
  auto r = (*conn)->Query("SELECT name FROM pg_settings WHERE pending_restart ORDER BY name");
  if (!r.ok()) return r.status();
  std::vector<std::string> out;
  for (const auto& row : r->rows) out.push_back(row[0].value_or(""));
  return out;
}

}  // namespace

Status RestartInstances(const Context& ctx, const std::vector<const config::Instance*>& which,
                        int timeout_s) {
  pid_t agent_pid = agent::LiveAgentPid(ctx.layout);
  if (agent_pid == 0) return FailedPrecondition("the agent is not running; run `tusk up` first");
  std::map<std::string, pid_t> old;
  for (const auto* i : which) {
    std::ifstream f(i->data_dir + "/postmaster.pid");
    pid_t pid = 0;
    f >> pid;
    old[i->name] = pid;
    Touch(ctx.layout.RestartMarker(i->name));
  }
  ::kill(agent_pid, SIGHUP);
  for (const auto* i : which) {
    auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
    while (fs::exists(ctx.layout.RestartMarker(i->name)) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    TUSK_RETURN_IF_ERROR(WaitReady(ctx, *i, timeout_s));
    std::cout << "restarted " << i->name << "\n";
  }
  return Status::Ok();
}

int Up(const UpOptions& options) {
  auto ctx = LoadContext(options.config_path);
  if (!ctx.ok()) return Fail(ctx.status());
  auto prepared = Prepare(*ctx);
  if (!prepared.ok()) return Fail(prepared.status());
  if (auto st = EnsureAgent(*ctx); !st.ok()) return Fail(st);

  int rc = kExitOk;
  std::vector<const config::Instance*> need_restart;
  for (const auto& inst : ctx->config.instances) {
    if (auto st = WaitReady(*ctx, inst, options.timeout_s); !st.ok()) {
      std::cerr << "tusk: " << st.message() << "\n";
      rc = kExitFailure;
      continue;
    }
    bool reloaded = false;
    for (const auto* r : prepared->reload) reloaded |= r == &inst;
    if (reloaded) {
      auto conn = postgres::PgConnection::Open(ctx->Admin(inst));
      if (conn.ok()) (void)(*conn)->Exec("SELECT pg_reload_conf()");
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      std::cout << "reloaded " << inst.name << "\n";
    }
    auto pending = PendingRestart(*ctx, inst);
    if (pending.ok() && !pending->empty()) {
      if (options.restart) {
        need_restart.push_back(&inst);
      } else {
        std::cout << "restart pending on " << inst.name << ": " << Join(*pending, ", ")
                  << " (run `tusk restart " << inst.name << "` or `tusk up --restart`)\n";
      }
    }
  }
  if (!need_restart.empty()) {
    if (auto st = RestartInstances(*ctx, need_restart, options.timeout_s); !st.ok()) {
      std::cerr << "tusk: " << st.message() << "\n";
      rc = kExitFailure;
    }
  }
  if (rc != kExitOk) return rc;

  for (const auto& inst : ctx->config.instances) {
    auto report = provision::ApplyInstance(inst, ctx->Admin(inst),
                                           prepared->passwords.at(inst.name), {}, std::cout);
    for (const auto& w : report.warnings)
      std::cerr << "warning: " << inst.name << ": " << w << "\n";
    for (const auto& e : report.errors) std::cerr << "error: " << inst.name << ": " << e << "\n";
    if (!report.ok()) rc = kExitFailure;
  }

  // A router that does not come up is a warning, not a failure of `up`: the
  // instance itself is up and reachable directly, and the agent keeps
  // restarting the router with backoff; `tusk status` shows its state.
  std::set<std::string> routers_up;
  for (const auto& inst : ctx->config.instances) {
    if (!inst.router) continue;
    if (auto st = WaitRouter(*ctx, inst, kRouterWaitSeconds); !st.ok()) {
      std::cerr << "warning: router for " << inst.name << " is not running: " << st.message()
                << "\n";
    } else {
      routers_up.insert(inst.name);
    }
  }

  std::cout << "\n";
  for (const auto& inst : ctx->config.instances) {
    std::cout << "instance " << inst.name << " ready on " << Context::ClientHost(inst) << ":"
              << inst.port << "\n";
    if (routers_up.count(inst.name)) {
      const config::Router& r = *inst.router;
      std::cout << "  router on " << Context::ClientHostFor(r.listen) << ":" << r.port;
      if (r.readonly_port != 0) std::cout << ", read-only port " << r.readonly_port;
      std::cout << " (URIs: tusk url DATABASE --via-router)\n";
    }
    for (const auto& db : inst.databases) {
      if (db.state == config::ObjectState::kAbsent) continue;
      postgres::ConnInfo ci;
      ci.host = Context::ClientHost(inst);
      ci.port = inst.port;
      ci.user = db.owner;
      ci.dbname = db.name;
      std::cout << "  " << ci.ToUri(false) << "?passfile=" << ctx->layout.secrets_dir
                << "/pgpass\n";
    }
  }
  return rc;
}

int Run(const std::string& config_path) {
  auto ctx = LoadContext(config_path);
  if (!ctx.ok()) return Fail(ctx.status());
  auto prepared = Prepare(*ctx);
  if (!prepared.ok()) return Fail(prepared.status());
  return agent::RunAgent(ctx->layout);
}

int AgentMain(const std::string& state_dir) {
  config::Config c;
  c.state_dir = fs::absolute(state_dir).lexically_normal().string();
  return agent::RunAgent(postgres::Layout::For(c));
}

namespace {

// Stops a router left without its agent (the agent was killed): SIGTERM,
// SIGKILL after 5 s. Returns false when it is still there.
bool StopOrphanRouter(const Context& ctx, const std::string& instance) {
  pid_t pid = agent::LiveRouterPid(ctx.layout, instance);
  if (pid == 0) return true;
  // LiveRouterPid, not kill(0): without the agent nobody may reap it, and a
  // zombie is stopped too.
  auto alive = [&] { return agent::LiveRouterPid(ctx.layout, instance) == pid; };
  ::kill(pid, SIGTERM);
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (alive() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (alive()) ::kill(pid, SIGKILL);
  for (int i = 0; i < 40 && alive(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (alive()) return false;
  std::cout << "stopped router " << instance << "\n";
  return true;
}

}  // namespace

int Down(const std::string& config_path, const std::string& instance) {
  auto ctx = LoadContext(config_path);
  if (!ctx.ok()) return Fail(ctx.status());
  auto which = ctx->Select(instance);
  if (!which.ok()) return Fail(which.status());
  pid_t agent_pid = agent::LiveAgentPid(ctx->layout);
  if (instance.empty()) {
    if (agent_pid != 0) ::kill(agent_pid, SIGTERM);
  } else {
    Touch(ctx->layout.StopMarker(instance));
    if (agent_pid != 0) ::kill(agent_pid, SIGHUP);
  }
  auto deadline = Clock::now() + std::chrono::seconds(120);
  for (const auto* i : *which) {
    // The agent stops the router before the postmaster; without one, do it here.
    while (agent::LiveRouterPid(ctx->layout, i->name) != 0 && Clock::now() < deadline) {
      if (agent::LiveAgentPid(ctx->layout) == 0) {
        if (!StopOrphanRouter(*ctx, i->name)) {
          return Fail(Internal("the router of instance " + i->name + " did not stop"));
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    while (PostmasterAlive(*i) && Clock::now() < deadline) {
      if (agent::LiveAgentPid(ctx->layout) == 0) {
        // No agent (it died or never ran): stop the server ourselves.
        sys::SpawnOptions opts;
        if (sys::IsRoot()) {
          auto acct = sys::ServerAccount();
          if (acct.ok()) opts.run_as = *acct;
        }
        opts.cwd = "/";
        (void)sys::RunCommand(
            {i->postgres_bin + "/pg_ctl", "stop", "-D", i->data_dir, "-m", "fast", "-w"}, opts);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (PostmasterAlive(*i)) return Fail(Internal("instance " + i->name + " did not stop"));
    std::cout << "stopped " << i->name << "\n";
  }
  if (instance.empty()) {
    while (agent::LiveAgentPid(ctx->layout) != 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return kExitOk;
}

int Restart(const std::string& config_path, const std::string& instance, int timeout_s) {
  auto ctx = LoadContext(config_path);
  if (!ctx.ok()) return Fail(ctx.status());
  auto which = ctx->Select(instance);
  if (!which.ok()) return Fail(which.status());
  if (auto st = RestartInstances(*ctx, *which, timeout_s); !st.ok()) return Fail(st);
  return kExitOk;
}

int Ready(const std::string& config_path, const std::string& instance) {
  auto ctx = LoadContext(config_path);
  if (!ctx.ok()) {
    std::cerr << "tusk: " << ctx.status().message() << "\n";
    return 3;
  }
  auto which = ctx->Select(instance);
  if (!which.ok()) {
    std::cerr << "tusk: " << which.status().message() << "\n";
    return 3;
  }
  int worst = 0;
  for (const auto* i : *which) {
    auto ci = ctx->Admin(*i);
    ci.connect_timeout_s = 3;
    auto st = postgres::Ping(ci);
    static const char* kWords[] = {"accepting connections", "rejecting connections", "no response",
                                   "no attempt"};
    int code = static_cast<int>(st);
    std::cout << i->name << " (" << Context::ClientHost(*i) << ":" << i->port
              << "): " << kWords[code] << "\n";
    worst = std::max(worst, code);
  }
  return worst;
}

int Logs(const std::string& config_path, const std::string& instance, bool follow, int lines,
         bool router) {
  auto ctx = LoadContext(config_path);
  if (!ctx.ok()) return Fail(ctx.status());
  auto inst = ctx->Find(instance);
  if (!inst.ok()) return Fail(inst.status());
  std::string file = router ? ctx->layout.RouterLogFile(instance) : ctx->layout.LogFile(instance);
  if (!fs::exists(file)) return Fail(NotFound("no log yet at " + file));
  std::vector<std::string> argv = {"tail", "-n", std::to_string(lines)};
  if (follow) argv.push_back("-F");
  argv.push_back(file);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  ::execvp("tail", args.data());
  return Fail(Internal("cannot run tail"));
}

int RouterMain(const std::string& spec_path) { return router::RunRouter(spec_path); }

}  // namespace tusk::cli
