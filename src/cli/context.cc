// Config loading and instance addressing shared by the commands.
#include "cli/context.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>

#include "config/loader.h"
#include "postgres/secrets.h"

namespace tusk::cli {
namespace fs = std::filesystem;

Result<const config::Instance*> Context::Find(const std::string& name) const {
  std::string names;
  for (const auto& i : config.instances) {
    if (i.name == name) return &i;
    names += (names.empty() ? "" : ", ") + i.name;
  }
  return InvalidArgument("no instance named '" + name + "' (instances: " + names + ")");
}

Result<std::vector<const config::Instance*>> Context::Select(const std::string& name) const {
  std::vector<const config::Instance*> out;
  if (name.empty()) {
    for (const auto& i : config.instances) out.push_back(&i);
    return out;
  }
  auto one = Find(name);
  if (!one.ok()) return one.status();
  out.push_back(*one);
  return out;
}

postgres::ConnInfo Context::Admin(const config::Instance& instance,
                                  const std::string& dbname) const {
  postgres::ConnInfo ci;
  ci.host = layout.run_dir;
  ci.port = instance.port;
  ci.user = instance.superuser;
  ci.dbname = dbname;
  return ci;
}

std::string Context::ClientHost(const config::Instance& instance) {
  return ClientHostFor(instance.listen);
}

std::string Context::ClientHostFor(const std::string& listen) {
  std::string first = listen.substr(0, listen.find(','));
  while (!first.empty() && first.back() == ' ') first.pop_back();
  while (!first.empty() && first.front() == ' ') first.erase(0, 1);
  if (first.empty() || first == "*" || first == "0.0.0.0") return "127.0.0.1";
  if (first == "::") return "::1";
  return first;
}

Result<std::map<std::string, std::string>> Context::Passwords(const config::Instance& instance,
                                                              bool create) const {
  return postgres::ResolvePasswords(instance, layout.SecretsFile(instance.name), env, create);
}

namespace {

std::optional<int> ExistingPort(const std::string& data_dir) {
  std::ifstream f(data_dir + "/tusk.conf");
  std::string line;
  static const std::regex kPort(R"(^\s*port\s*=\s*(\d+))");
  std::smatch m;
  while (std::getline(f, line)) {
    if (std::regex_search(line, m, kPort)) return std::stoi(m[1]);
  }
  return std::nullopt;
}

}  // namespace

Result<Context> LoadContext(const std::string& config_path) {
  Context ctx;
  Result<config::Config> cfg = Internal("unset");
  std::error_code ec;
  if (!config_path.empty()) {
    cfg = config::LoadConfigFile(config_path, ctx.env);
  } else if (fs::exists("tusk.yaml", ec)) {
    cfg = config::LoadConfigFile("tusk.yaml", ctx.env);
  } else {
    std::string base = ctx.env.Cwd();
    cfg = config::EmbeddedDefault(base, ExistingPort(base + "/tusk-data/main"), ctx.env);
  }
  if (!cfg.ok()) return cfg.status();
  ctx.config = std::move(cfg).value();
  ctx.layout = postgres::Layout::For(ctx.config);
  return ctx;
}

int Fail(const Status& status) {
  std::cerr << "tusk: " << status.message() << "\n";
  return status.code() == Code::kInvalidArgument ? kExitUsage : kExitFailure;
}

}  // namespace tusk::cli
