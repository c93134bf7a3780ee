// Argument parsing (CLI11) and dispatch for every tusk command.
#include "cli/commands.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/inspect.h"
#include "cli/lifecycle.h"

namespace tusk::cli {

int Main(int argc, char** argv) {
  CLI::App app{"tusk: a self-hosted PostgreSQL platform from one declarative tusk.yaml"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tusk 0.1.0");
  std::string config_path;
  auto add_config = [&](CLI::App* sub) {
    sub->add_option("-c,--config", config_path,
                    "tusk.yaml to use (default: ./tusk.yaml, else the embedded default)");
  };

  UpOptions up;
  auto* up_cmd = app.add_subcommand("up", "create, start, tune and reconcile every instance");
  add_config(up_cmd);
  up_cmd->add_flag("--restart", up.restart, "restart instances whose parameters need it");
  up_cmd->add_option("--timeout", up.timeout_s, "seconds to wait for readiness")->default_val(90);

  auto* run_cmd = app.add_subcommand(
      "run", "prepare like `up`, then run the agent in the foreground (systemd)");
  add_config(run_cmd);

  std::string state_dir;
  auto* agent_cmd = app.add_subcommand("agent", "the supervising agent (started by `up`)");
  agent_cmd->add_option("--state-dir", state_dir, "state directory of the config")->required();

  std::string router_spec;
  auto* router_cmd = app.add_subcommand("router", "the router process (started by the agent)");
  router_cmd->group("");  // hidden: started by the agent, not by people
  router_cmd->add_option("--spec", router_spec, "router spec file")->required();

  std::string instance;
  auto* down_cmd =
      app.add_subcommand("down", "fast shutdown of one instance, or all and the agent");
  add_config(down_cmd);
  down_cmd->add_option("instance", instance, "instance name (default: all)");

  int restart_timeout = 90;
  auto* restart_cmd = app.add_subcommand("restart", "restart one or all instances");
  add_config(restart_cmd);
  restart_cmd->add_option("instance", instance, "instance name (default: all)");
  restart_cmd->add_option("--timeout", restart_timeout, "seconds to wait for readiness");

  bool json = false;
  auto* status_cmd = app.add_subcommand("status", "state, connections, sizes, long queries");
  add_config(status_cmd);
  status_cmd->add_flag("--json", json, "machine-readable output");

  auto* ready_cmd = app.add_subcommand(
      "ready", "exit 0 accepting, 1 rejecting, 2 no response, 3 no attempt (like pg_isready)");
  add_config(ready_cmd);
  ready_cmd->add_option("instance", instance, "instance name (default: all; worst code wins)");

  bool follow = false, router_log = false;
  int lines = 100;
  auto* logs_cmd = app.add_subcommand("logs", "print the server log of an instance");
  add_config(logs_cmd);
  logs_cmd->add_option("instance", instance, "instance name")->required();
  logs_cmd->add_flag("-f,--follow", follow, "keep printing new lines");
  logs_cmd->add_flag("--router", router_log, "the log of the instance's router instead");
  logs_cmd->add_option("-n,--lines", lines, "lines to print")->default_val(100);

  TargetOptions target;
  auto add_target = [&](CLI::App* sub) {
    add_config(sub);
    sub->add_option("database", target.database, "database name")->required();
    sub->add_option("--instance", target.instance, "instance (default: the one holding it)");
    sub->add_option("--role", target.role, "role (default: the database owner)");
    auto* via =
        sub->add_flag("--via-router", target.via_router, "connect through the instance's router");
    sub->add_flag("--readonly", target.readonly, "use the router's read-only port")->needs(via);
  };
  auto* url_cmd = app.add_subcommand("url", "print a libpq URI (with the password) for a database");
  add_target(url_cmd);
  std::vector<std::string> psql_args;
  auto* psql_cmd = app.add_subcommand("psql", "run psql on a database as its owner (or --role)");
  add_target(psql_cmd);
  psql_cmd->add_option("args", psql_args, "arguments passed to psql (after --)");

  bool explain = false;
  auto* tune_cmd = app.add_subcommand("tune", "print the derived PostgreSQL parameters");
  add_config(tune_cmd);
  tune_cmd->add_option("instance", instance, "instance name (default: all)");
  tune_cmd->add_flag("--explain", explain, "show each value's formula and inputs");

  bool dry_run = false, allow_drop = false;
  auto* apply_cmd =
      app.add_subcommand("apply", "reconcile databases, roles, grants with tusk.yaml");
  add_config(apply_cmd);
  apply_cmd->add_flag("--dry-run", dry_run, "print the plan, change nothing");
  apply_cmd->add_flag("--allow-drop", allow_drop, "drop objects marked state: absent");

  std::string example = "shared", dir = ".";
  bool force = false;
  auto* init_cmd = app.add_subcommand("init", "write a commented tusk.yaml");
  init_cmd->add_option("--example", example, "shared | split")
      ->check(CLI::IsMember({"shared", "split"}));
  init_cmd->add_option("--dir", dir, "directory to write into")->default_val(".");
  init_cmd->add_flag("--force", force, "overwrite existing files");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }

  if (*up_cmd) {
    up.config_path = config_path;
    return Up(up);
  }
  if (*run_cmd) return Run(config_path);
  if (*agent_cmd) return AgentMain(state_dir);
  if (*router_cmd) return RouterMain(router_spec);
  if (*down_cmd) return Down(config_path, instance);
  if (*restart_cmd) return Restart(config_path, instance, restart_timeout);
  if (*status_cmd) return StatusCommand(config_path, json);
  if (*ready_cmd) return Ready(config_path, instance);
  if (*logs_cmd) return Logs(config_path, instance, follow, lines, router_log);
  target.config_path = config_path;
  if (*url_cmd) return Url(target);
  if (*psql_cmd) return Psql(target, psql_args);
  if (*tune_cmd) return Tune(config_path, instance, explain);
  if (*apply_cmd) return Apply(config_path, dry_run, allow_drop);
  if (*init_cmd) return Init(example, dir, force);
  return kExitUsage;
}

}  // namespace tusk::cli
