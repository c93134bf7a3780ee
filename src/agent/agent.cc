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

// One supervised server: spec, policy state, and the process we know of.
struct Server {
  InstanceSpec spec;
  Supervision sup;
  pid_t pid = 0;
  bool adopted = false;  // started by an earlier agent: not our child, polled with kill(0)
  int64_t started_unix = 0;
  int64_t stop_sent_ms = 0;
  bool restart_requested = false;
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
      if (sig == SIGHUP) {
        Log("SIGHUP: reloading spec");
        Reload();
      } else if (sig == SIGTERM || sig == SIGINT) {
        if (!shutting_down) Log("shutting down: stopping every server");
        shutting_down = true;
        shutdown_started = NowMs();
        for (auto& [name, s] : servers_) s.sup.RequestStop();
      }
      Reap();
      Tick();
      Publish();
      if (shutting_down) {
        bool any = false;
        for (auto& [name, s] : servers_) any |= s.pid != 0;
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
    std::map<std::string, bool> seen;
    for (const auto& i : spec->instances) {
      seen[i.name] = true;
      auto [it, inserted] = servers_.try_emplace(i.name);
      Server& s = it->second;
      s.spec = i;
      if (inserted) {
        if (pid_t live = LivePostmaster(i.data_dir)) {
          s.pid = live;
          s.adopted = true;
          s.sup.RequestStart(NowMs());
          s.sup.OnStarted(NowMs());
          s.started_unix = UnixNow();
          Log(i.name + ": adopted running postmaster pid " + std::to_string(live));
        }
      }
    }
    for (auto& [name, s] : servers_) {
      if (!seen.count(name)) s.sup.RequestStop();  // removed from the spec
    }
    ApplyMarkers();
  }

  void ApplyMarkers() {
    std::error_code ec;
    for (auto& [name, s] : servers_) {
      bool in_spec = !s.spec.name.empty();
      if (fs::exists(layout_.StopMarker(name), ec) || !in_spec) {
        s.sup.RequestStop();
      } else {
        s.sup.RequestStart(NowMs());
      }
      if (!fs::exists(layout_.RestartMarker(name), ec)) continue;
      if (s.pid == 0) {
        ::unlink(layout_.RestartMarker(name).c_str());  // nothing running: nothing to restart
      } else if (!s.restart_requested) {
        Log(name + ": restart requested");
        s.restart_requested = true;
        SendStop(s);
      }
    }
  }

  void SendStop(Server& s) {
    if (s.pid == 0) return;
    ::kill(s.pid, SIGINT);  // fast shutdown
    s.stop_sent_ms = NowMs();
  }

  void OnGone(Server& s, const std::string& why) {
    Log(s.spec.name + ": postmaster pid " + std::to_string(s.pid) + " " + why);
    s.pid = 0;
    s.adopted = false;
    s.started_unix = 0;
    if (s.restart_requested) {
      s.restart_requested = false;
      ::unlink(layout_.RestartMarker(s.spec.name).c_str());
      s.sup.RequestStop();
      s.sup.OnExited(NowMs(), why);
      s.sup.RequestStart(NowMs());
      return;
    }
    s.sup.OnExited(NowMs(), why);
    if (s.sup.state() == ServerState::kFailed) Log(s.spec.name + ": " + s.sup.reason());
  }

  void Reap() {
    int ws;
    pid_t pid;
    while ((pid = ::waitpid(-1, &ws, WNOHANG)) > 0) {
      for (auto& [name, s] : servers_) {
        if (s.pid == pid && !s.adopted) OnGone(s, DescribeExit(ws));
      }
    }
    for (auto& [name, s] : servers_) {
      if (s.adopted && s.pid != 0 && !sys::ProcessAlive(s.pid)) OnGone(s, "exited");
    }
  }

  void Tick() {
    int64_t now = NowMs();
    for (auto& [name, s] : servers_) {
      switch (s.sup.Next(now)) {
        case Action::kStart:
          Start(s);
          break;
        case Action::kStop:
          if (s.pid != 0 && s.stop_sent_ms == 0) SendStop(s);
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

  void Start(Server& s) {
    const InstanceSpec& i = s.spec;
    if (pid_t live = LivePostmaster(i.data_dir)) {
      // Someone (an operator's pg_ctl, an earlier agent) already runs it.
      s.pid = live;
      s.adopted = true;
      s.sup.OnStarted(NowMs());
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
    auto pid = sys::Spawn({i.postgres_bin + "/postgres", "-D", i.data_dir}, opts);
    if (!pid.ok()) {
      Log(i.name + ": " + pid.status().message());
      s.sup.OnStartFailed(NowMs(), pid.status().message());
      return;
    }
    s.pid = *pid;
    s.adopted = false;
    s.stop_sent_ms = 0;
    s.started_unix = UnixNow();
    s.sup.OnStarted(NowMs());
    Log(i.name + ": started postmaster pid " + std::to_string(s.pid));
  }

  void Publish() {
    nlohmann::json doc = {{"agent_pid", ::getpid()}, {"updated_at", UnixNow()}};
    doc["instances"] = nlohmann::json::object();
    for (auto& [name, s] : servers_) {
      doc["instances"][name] = {{"state", ToString(s.sup.state())},
                                {"pid", s.pid},
                                {"started_at", s.started_unix},
                                {"restarts", s.sup.restarts()},
                                {"reason", s.sup.reason()}};
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
  if (doc.contains("instances") && doc["instances"].is_object()) {
    for (auto& [name, j] : doc["instances"].items()) {
      InstanceStatus i;
      i.state = j.value("state", "");
      i.pid = j.value("pid", 0);
      i.started_at = j.value("started_at", int64_t{0});
      i.restarts = j.value("restarts", 0);
      i.reason = j.value("reason", "");
      st.instances[name] = i;
    }
  }
  return st;
}

pid_t LiveAgentPid(const postgres::Layout& layout) {
  std::ifstream f(layout.AgentPidFile());
  pid_t pid = 0;
  if (!(f >> pid)) return 0;
  if (!sys::ProcessAlive(pid)) return 0;
  // Guard against pid reuse: the process must be a tusk binary.
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).filename().string();
  if (!ec && exe.rfind("tusk", 0) != 0) return 0;
  return pid;
}

}  // namespace tusk::agent
