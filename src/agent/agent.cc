// The agent's event loop: spawn, reap, ping, restart, publish.
#include "agent/agent.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "agent/probe.h"
#include "agent/spec.h"
#include "agent/supervision.h"
#include "postgres/connection.h"
#include "sys/account.h"
#include "sys/process.h"

namespace tusk::agent {
namespace fs = std::filesystem;
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
int64_t UnixNow() { return static_cast<int64_t>(::time(nullptr)); }

void Log(const std::string& msg) {
  char buf[32];
  time_t t = ::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  std::fprintf(stderr, "%s tusk-agent: %s\n", buf, msg.c_str());
  std::fflush(stderr);
}

std::string DescribeExit(int ws) {
  if (WIFEXITED(ws)) return "exited with status " + std::to_string(WEXITSTATUS(ws));
  if (WIFSIGNALED(ws)) return "killed by signal " + std::to_string(WTERMSIG(ws));
  return "stopped";
}

// pid from <data_dir>/postmaster.pid when that process is alive.
pid_t LivePostmaster(const std::string& data_dir) {
  std::ifstream f(data_dir + "/postmaster.pid");
  pid_t pid = 0;
  if (!(f >> pid)) return 0;
  return sys::ProcessAlive(pid) ? pid : 0;
}

// A router gets this long after SIGTERM before SIGKILL.
constexpr int64_t kRouterStopGraceMs = 5000;

// The first pid in `path` when that process is alive and its command line
// contains every one of `words` (guards against a reused pid).
pid_t LivePidFromFile(const std::string& path, const std::vector<std::string>& words) {
  std::ifstream f(path);
  pid_t pid = 0;
  if (!(f >> pid) || pid <= 0 || !sys::ProcessAlive(pid)) return 0;
  std::ifstream cmd("/proc/" + std::to_string(pid) + "/cmdline");
  std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
  for (const std::string& w : words) {
    if (cmdline.find(w) == std::string::npos) return 0;
  }
  return pid;
}

// True when `pid` has exited but was not reaped yet (an agent killed hard
// whose parent never waits for it): kill(pid, 0) still succeeds for it.
bool IsZombie(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');  // the command name may itself contain ") "
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

// One supervised process: policy state and the process we know of.
struct Process {
  Supervision sup;
  pid_t pid = 0;
  bool adopted = false;  // started by an earlier agent: not our child, polled with kill(0)
  int64_t started_unix = 0;
  int64_t stop_sent_ms = 0;
  bool kill_sent = false;
  bool restart_requested = false;
  bool in_spec = false;  // listed in the spec as last read

  // `p` was just started (by us, or by an earlier agent when `adopt`).
  void Track(pid_t p, bool adopt) {
    pid = p;
    adopted = adopt;
    stop_sent_ms = 0;
    kill_sent = false;
    started_unix = UnixNow();
    sup.OnStarted(NowMs());
  }
  void Adopt(pid_t live) { Track(live, true); }
  nlohmann::json ToJson() const {
    return {{"state", ToString(sup.state())},
            {"pid", pid},
            {"started_at", started_unix},
            {"restarts", sup.restarts()},
            {"reason", sup.reason()}};
  }
};

// A postmaster.
struct Server : Process {
  InstanceSpec spec;
};

// A router in front of an instance.
struct RouterProcess : Process {
  RouterProcessSpec spec;
  bool hup_pending = false;  // a reload arrived while it was still starting
};

class Agent {
 public:
  explicit Agent(const postgres::Layout& layout) : layout_(layout) {}

  int Run() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGHUP, SIGTERM, SIGINT, SIGCHLD}) sigaddset(&set, s);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    if (pid_t other = LiveAgentPid(layout_); other != 0 && other != ::getpid()) {
      Log("another agent (pid " + std::to_string(other) + ") runs for " + layout_.state_dir);
      return 1;
    }
    if (auto st =
            sys::WriteFileAtomic(layout_.AgentPidFile(), std::to_string(::getpid()) + "\n", 0644);
        !st.ok()) {
      Log(st.message());
      return 1;
    }
    Log("started for " + layout_.state_dir);
    Reload();
    bool shutting_down = false;
    int64_t shutdown_started = 0;
    // Act at once on start and after every signal; otherwise wake every 200 ms
    // (while a server is starting, every 20 ms, so readiness is seen early).
    Tick();
    Publish();
    while (true) {
      bool starting = false;
      for (auto& [name, s] : servers_) starting |= s.sup.state() == ServerState::kStarting;
      timespec timeout{0, (starting ? 20 : 200) * 1000 * 1000};
      int sig = ::sigtimedwait(&set, nullptr, &timeout);
      if (sig == SIGHUP && !shutting_down) {
        Log("SIGHUP: reloading spec");
        Reload();
        ForwardReload();
      } else if (sig == SIGTERM || sig == SIGINT) {
        if (!shutting_down) Log("shutting down: stopping every router and server");
        shutting_down = true;
        shutdown_started = NowMs();
        // Tick() stops each postmaster only once its router is gone.
        for (auto& [name, r] : routers_) r.sup.RequestStop();
        for (auto& [name, s] : servers_) s.sup.RequestStop();
      }
      Reap();
      Tick();
      Publish();
      if (shutting_down) {
        bool any = false;
        for (auto& [name, s] : servers_) any |= s.pid != 0;
        for (auto& [name, r] : routers_) any |= r.pid != 0;
        if (!any || NowMs() - shutdown_started > 120000) break;
      }
    }
    ::unlink(layout_.AgentPidFile().c_str());
    Publish();
    Log("stopped");
    return 0;
  }

 private:
  void Reload() {
    auto text = sys::ReadFile(layout_.AgentSpecFile());
    if (!text.ok()) {
      Log("no spec: " + text.status().message());
      return;
    }
    auto spec = SpecFromJson(*text);
    if (!spec.ok()) {
      Log(spec.status().message());
      return;
    }
    for (auto& [name, s] : servers_) s.in_spec = false;
    for (const auto& i : spec->instances) {
      auto [it, inserted] = servers_.try_emplace(i.name);
      Server& s = it->second;
      s.spec = i;
      s.in_spec = true;
      if (inserted) {
        if (pid_t live = LivePostmaster(i.data_dir)) {
          s.sup.RequestStart(NowMs());
          s.Adopt(live);
          Log(i.name + ": adopted running postmaster pid " + std::to_string(live));
        }
      }
    }
    for (auto& [name, r] : routers_) r.in_spec = false;
    for (const auto& spec_router : spec->routers) {
      auto [it, inserted] = routers_.try_emplace(spec_router.instance);
      RouterProcess& r = it->second;
      r.spec = spec_router;
      r.in_spec = true;
      if (!inserted) continue;
      // A router left running by an earlier agent (killed hard) keeps its port: adopt it.
      if (pid_t live = LivePidFromFile(r.spec.pid_file, {"router", r.spec.spec_file})) {
        r.sup.RequestStart(NowMs());
        r.Adopt(live);
        Log(r.spec.instance + ": adopted running router pid " + std::to_string(live));
      }
    }
    ApplyMarkers();
  }

  // Passes a SIGHUP on to every router, so it re-reads its spec and secrets.
  // A router still starting may not handle SIGHUP yet (the default action
  // kills it): it gets the signal once it accepts connections.
  void ForwardReload() {
    for (auto& [name, r] : routers_) {
      if (r.pid == 0 || r.restart_requested || !r.sup.wanted()) continue;
      if (r.sup.state() == ServerState::kRunning) {
        ::kill(r.pid, SIGHUP);
      } else {
        r.hup_pending = true;
      }
    }
  }

  void ApplyMarkers() {
    std::error_code ec;
    for (auto& [name, s] : servers_) {
      if (fs::exists(layout_.StopMarker(name), ec) || !s.in_spec) {  // or removed from the spec
        s.sup.RequestStop();
      } else {
        s.sup.RequestStart(NowMs());
      }
      ApplyRestartMarker(s, layout_.RestartMarker(name), name, SIGINT);  // fast shutdown
    }
    // A router runs while its instance is in the spec and not marked
    // stopped, and its own spec file exists (`up` removes it with `router:`).
    for (auto& [name, r] : routers_) {
      auto s = servers_.find(name);
      bool wanted = r.in_spec && s != servers_.end() && s->second.in_spec &&
                    !fs::exists(layout_.StopMarker(name), ec) && fs::exists(r.spec.spec_file, ec);
      if (wanted) {
        r.sup.RequestStart(NowMs());
        ApplyRestartMarker(r, layout_.RouterRestartMarker(name), name + " router", SIGTERM);
      } else {
        r.sup.RequestStop();
        ::unlink(layout_.RouterRestartMarker(name).c_str());  // stopping anyway
      }
    }
  }

  // Honours a restart marker: stop the process with `sig`; OnGone starts it again.
  void ApplyRestartMarker(Process& p, const std::string& marker, const std::string& what, int sig) {
    std::error_code ec;
    if (!fs::exists(marker, ec)) return;
    if (p.pid == 0) {
      ::unlink(marker.c_str());  // nothing running: nothing to restart
    } else if (!p.restart_requested) {
      Log(what + ": restart requested");
      p.restart_requested = true;
      SendStop(p, sig);
    }
  }

  void SendStop(Process& p, int sig) {
    if (p.pid == 0) return;
    ::kill(p.pid, sig);
    p.stop_sent_ms = NowMs();
  }

  // The process of `p` is gone: update the policy, restart at once when a
  // restart was requested (removing `restart_marker`).
  void OnGone(Process& p, const std::string& what, const std::string& restart_marker,
              const std::string& why) {
    Log(what + " pid " + std::to_string(p.pid) + " " + why);
    p.pid = 0;
    p.adopted = false;
    p.started_unix = 0;
    p.stop_sent_ms = 0;
    p.kill_sent = false;
    if (p.restart_requested) {
      p.restart_requested = false;
      ::unlink(restart_marker.c_str());
      p.sup.RequestStop();
      p.sup.OnExited(NowMs(), why);
      p.sup.RequestStart(NowMs());
      return;
    }
    p.sup.OnExited(NowMs(), why);
    if (p.sup.state() == ServerState::kFailed) Log(what + ": " + p.sup.reason());
  }
  void OnGone(Server& s, const std::string& why) {
    OnGone(s, s.spec.name + ": postmaster", layout_.RestartMarker(s.spec.name), why);
  }
  void OnGone(RouterProcess& r, const std::string& why) {
    ::unlink(r.spec.pid_file.c_str());  // stale once its process is gone
    OnGone(r, r.spec.instance + ": router", layout_.RouterRestartMarker(r.spec.instance), why);
  }

  void Reap() {
    int ws;
    pid_t pid;
    while ((pid = ::waitpid(-1, &ws, WNOHANG)) > 0) {
      for (auto& [name, s] : servers_) {
        if (s.pid == pid && !s.adopted) OnGone(s, DescribeExit(ws));
      }
      for (auto& [name, r] : routers_) {
        if (r.pid == pid && !r.adopted) OnGone(r, DescribeExit(ws));
      }
    }
    // Adopted processes are not our children: poll them (a zombie is gone too).
    auto gone = [](const Process& p) {
      return p.adopted && p.pid != 0 && (!sys::ProcessAlive(p.pid) || IsZombie(p.pid));
    };
    for (auto& [name, s] : servers_) {
      if (gone(s)) OnGone(s, "exited");
    }
    for (auto& [name, r] : routers_) {
      if (gone(r)) OnGone(r, "exited");
    }
  }

  void Tick() {
    int64_t now = NowMs();
    TickRouters(now);
    for (auto& [name, s] : servers_) {
      switch (s.sup.Next(now)) {
        case Action::kStart:
          Start(s);
          break;
        case Action::kStop:
          // Routers go first: a postmaster is stopped once its router is gone.
          if (auto r = routers_.find(name); r != routers_.end() && r->second.pid != 0) break;
          if (s.pid != 0 && s.stop_sent_ms == 0) SendStop(s, SIGINT);  // fast shutdown
          if (s.pid != 0 && now - s.stop_sent_ms > 60000) ::kill(s.pid, SIGQUIT);
          if (s.pid == 0) s.sup.OnExited(now, "stopped");
          break;
        case Action::kNone:
          break;
      }
      if (s.sup.state() == ServerState::kStarting && s.pid != 0) {
        postgres::ConnInfo ci;
        ci.host = s.spec.socket_dir;
        ci.port = s.spec.port;
        ci.connect_timeout_s = 1;
        if (postgres::Ping(ci) == postgres::PingStatus::kAccepting) {
          s.sup.OnReady();
          Log(name + ": ready (pid " + std::to_string(s.pid) + ")");
        }
      }
    }
  }

  void TickRouters(int64_t now) {
    for (auto& [name, r] : routers_) {
      switch (r.sup.Next(now)) {
        case Action::kStart: {
          // Only in front of a postmaster that accepts connections.
          auto s = servers_.find(name);
          if (s != servers_.end() && s->second.sup.state() == ServerState::kRunning) StartRouter(r);
          break;
        }
        case Action::kStop:
          if (r.pid != 0 && r.stop_sent_ms == 0) SendStop(r, SIGTERM);
          if (r.pid == 0) r.sup.OnExited(now, "stopped");
          break;
        case Action::kNone:
          break;
      }
      // Stopping (or restarting) and still there after the grace period.
      if (r.pid != 0 && r.stop_sent_ms != 0 && !r.kill_sent &&
          now - r.stop_sent_ms > kRouterStopGraceMs) {
        Log(name + ": router pid " + std::to_string(r.pid) + " ignored SIGTERM; SIGKILL");
        ::kill(r.pid, SIGKILL);
        r.kill_sent = true;
      }
      if (r.sup.state() == ServerState::kStarting && r.pid != 0 &&
          TcpAccepting(r.spec.host, r.spec.port, 100)) {
        r.sup.OnReady();
        Log(name + ": router ready on port " + std::to_string(r.spec.port) + " (pid " +
            std::to_string(r.pid) + ")");
        if (r.hup_pending) ::kill(r.pid, SIGHUP);
        r.hup_pending = false;
      }
    }
  }

  // Spawns `argv` for `p`; `what` names it in the log ("main: router").
  void Launch(Process& p, const std::string& what, const std::vector<std::string>& argv,
              const sys::SpawnOptions& opts) {
    auto pid = sys::Spawn(argv, opts);
    if (!pid.ok()) {
      Log(what + ": " + pid.status().message());
      p.sup.OnStartFailed(NowMs(), pid.status().message());
      return;
    }
    p.Track(*pid, false);
    Log(what + " started, pid " + std::to_string(p.pid));
  }

  void StartRouter(RouterProcess& r) {
    sys::SpawnOptions opts;
    opts.cwd = "/";
    // A network-facing process parsing untrusted bytes never runs as root.
    if (sys::IsRoot() && r.spec.run_as.uid != 0) opts.run_as = r.spec.run_as;
    opts.output_path = r.spec.log_file;
    r.hup_pending = false;
    Launch(r, r.spec.instance + ": router",
           {sys::SelfExecutable(), "router", "--spec", r.spec.spec_file}, opts);
  }

  void Start(Server& s) {
    const InstanceSpec& i = s.spec;
    if (pid_t live = LivePostmaster(i.data_dir)) {
      // Someone (an operator's pg_ctl, an earlier agent) already runs it.
      s.Adopt(live);
      return;
    }
    sys::RunAs* owner = sys::IsRoot() ? &s.spec.run_as : nullptr;
    if (auto st = sys::MakeDirs(i.socket_dir, 0755, owner); !st.ok()) {
      s.sup.OnStartFailed(NowMs(), st.message());
      return;
    }
    sys::SpawnOptions opts;
    if (sys::IsRoot()) opts.run_as = i.run_as;
    opts.cwd = i.data_dir;
    opts.output_path = i.log_file;
    Launch(s, i.name + ": postmaster", {i.postgres_bin + "/postgres", "-D", i.data_dir}, opts);
  }

  void Publish() {
    nlohmann::json doc = {{"agent_pid", ::getpid()}, {"updated_at", UnixNow()}};
    doc["instances"] = nlohmann::json::object();
    for (auto& [name, s] : servers_) doc["instances"][name] = s.ToJson();
    doc["routers"] = nlohmann::json::object();
    for (auto& [name, r] : routers_) {
      if (r.in_spec || r.pid != 0) doc["routers"][name] = r.ToJson();
    }
    std::string text = doc.dump(2) + "\n";
    // Rewrite when anything but the timestamp changed, or every 5 s.
    doc["updated_at"] = 0;
    std::string key = doc.dump();
    if (key == last_published_ && UnixNow() - last_publish_time_ < 5) return;
    last_published_ = key;
    last_publish_time_ = UnixNow();
    sys::WriteFileAtomic(layout_.AgentStatusFile(), text, 0644);
  }

  postgres::Layout layout_;
  std::map<std::string, Server> servers_;
  std::map<std::string, RouterProcess> routers_;  // by instance name
  std::string last_published_;
  int64_t last_publish_time_ = 0;
};

}  // namespace

int RunAgent(const postgres::Layout& layout) {
  if (auto st = sys::MakeDirs(layout.agent_dir, 0755); !st.ok()) {
    Log(st.message());
    return 1;
  }
  return Agent(layout).Run();
}

Result<AgentStatus> ReadAgentStatus(const postgres::Layout& layout) {
  auto text = sys::ReadFile(layout.AgentStatusFile());
  if (!text.ok()) return text.status();
  auto doc = nlohmann::json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Internal("status.json is not JSON");
  AgentStatus st;
  st.agent_pid = doc.value("agent_pid", 0);
  st.updated_at = doc.value("updated_at", int64_t{0});
  auto read = [&](const char* key, std::map<std::string, InstanceStatus>& out) {
    if (!doc.contains(key) || !doc[key].is_object()) return;
    for (auto& [name, j] : doc[key].items()) {
      if (!j.is_object()) continue;
      InstanceStatus i;
      i.state = j.value("state", "");
      i.pid = j.value("pid", 0);
      i.started_at = j.value("started_at", int64_t{0});
      i.restarts = j.value("restarts", 0);
      i.reason = j.value("reason", "");
      out[name] = i;
    }
  };
  try {
    read("instances", st.instances);
    read("routers", st.routers);
  } catch (const nlohmann::json::exception& e) {
    return Internal(std::string("status.json: ") + e.what());
  }
  return st;
}

pid_t LiveRouterPid(const postgres::Layout& layout, const std::string& instance) {
  return LivePidFromFile(layout.RouterPidFile(instance),
                         {"router", layout.RouterSpecFile(instance)});
}

pid_t LiveAgentPid(const postgres::Layout& layout) {
  std::ifstream f(layout.AgentPidFile());
  pid_t pid = 0;
  if (!(f >> pid)) return 0;
  if (!sys::ProcessAlive(pid) || IsZombie(pid)) return 0;
  // Guard against pid reuse: the process must be a tusk binary.
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).filename().string();
  if (!ec && exe.rfind("tusk", 0) != 0) return 0;
  return pid;
}

}  // namespace tusk::agent
