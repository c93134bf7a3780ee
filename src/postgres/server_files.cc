// initdb and rendering of tusk.conf / pg_hba.conf / pg_ident.conf.
#include "postgres/server_files.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "common/strings.h"
#include "sys/account.h"

namespace tusk::postgres {
namespace fs = std::filesystem;

TuningInput TuningInputFor(const config::Instance& instance) {
  TuningInput in;
  in.memory_bytes = instance.memory_bytes;
  in.cpus = instance.cpus;
  in.storage = instance.storage;
  in.max_connections = instance.max_connections;
  in.profile = instance.profile;
  in.overrides = instance.parameters;
  return in;
}

namespace {

// GUC values that must be quoted in postgresql.conf: anything not a plain
// number/identifier-ish token.
std::string ConfValue(const std::string& v) {
  bool plain = !v.empty();
  for (char c : v) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) {
      plain = false;
    }
  }
  if (plain) return v;
  return QuoteLiteral(v);
}

}  // namespace

std::string RenderTuskConf(const config::Instance& instance, const TuningResult& tuning,
                           const std::string& socket_dir) {
  std::string s =
      "# Written by tusk from tusk.yaml (instance " + instance.name +
      "); every `tusk up` rewrites it.\n"
      "# Hand edits belong in postgresql.conf; values here win because this file is included "
      "last.\n\n";
  std::set<std::string> fixed = {"listen_addresses", "port", "unix_socket_directories",
                                 "password_encryption"};
  s += "listen_addresses = " + QuoteLiteral(instance.listen) + "\n";
  s += "port = " + std::to_string(instance.port) + "\n";
  s += "unix_socket_directories = " + QuoteLiteral(socket_dir) + "\n";
  s += "password_encryption = 'scram-sha-256'\n";
  s += "logging_collector = off\n";
  s += "log_line_prefix = '%m [%p] %q%u@%d '\n";
  s += "log_destination = 'stderr'\n";
  s += "\n# Tuning (tusk tune --explain " + instance.name + " shows the formulas)\n";
  for (const auto& setting : tuning.settings) {
    if (fixed.count(setting.name)) continue;
    s += setting.name + " = " + ConfValue(setting.value);
    if (setting.overridden) s += "  # explicit in tusk.yaml";
    s += "\n";
  }
  return s;
}

std::string RenderHba(const config::Instance& instance) {
  std::string s = "# Written by tusk from tusk.yaml (instance " + instance.name + ").\n";
  s += "# TYPE  DATABASE  USER  ADDRESS  METHOD\n";
  s += "# tusk control connection (local socket, mapped OS users only)\n";
  std::string control = "local all " + instance.superuser + " peer map=" + kIdentMap;
  s += control + "\n";
  for (const auto& r : instance.hba) {
    std::string line = r.type + " " + r.database + " " + r.user;
    if (!r.address.empty()) line += " " + r.address;
    line += " " + r.method;
    if (line == control) continue;
    s += line + "\n";
  }
  return s;
}

std::string RenderIdent(const config::Instance& instance, const std::string& server_account,
                        const std::string& invoker) {
  std::string s = "# Written by tusk: OS users allowed to connect as the superuser by peer.\n";
  s += std::string(kIdentMap) + " " + server_account + " " + instance.superuser + "\n";
  if (invoker != server_account) {
    s += std::string(kIdentMap) + " " + invoker + " " + instance.superuser + "\n";
  }
  return s;
}

bool DataDirEmpty(const std::string& data_dir) {
  std::error_code ec;
  if (!fs::exists(data_dir, ec)) return true;
  return fs::is_directory(data_dir, ec) && fs::is_empty(data_dir, ec);
}

Status InitDataDir(const config::Instance& instance, const sys::RunAs& account,
                   const std::string& superuser_password, const std::string& scratch_dir) {
  TUSK_RETURN_IF_ERROR(sys::CheckTraversable(instance.data_dir, account));
  TUSK_RETURN_IF_ERROR(sys::MakeDirs(instance.data_dir, 0700, &account));
  TUSK_RETURN_IF_ERROR(sys::MakeDirs(scratch_dir, 0700, &account));
  std::string pwfile = scratch_dir + "/initdb-pw." + std::to_string(::getpid());
  TUSK_RETURN_IF_ERROR(sys::WriteFileAtomic(pwfile, superuser_password + "\n", 0600, &account));
  std::vector<std::string> argv = {instance.postgres_bin + "/initdb",
                                   "-D",
                                   instance.data_dir,
                                   "-U",
                                   instance.superuser,
                                   "--pwfile=" + pwfile,
                                   "--encoding=UTF8",
                                   "--locale=C.UTF-8",
                                   "--data-checksums",
                                   "--auth=scram-sha-256"};
  sys::SpawnOptions opts;
  if (sys::IsRoot()) opts.run_as = account;
  opts.cwd = "/";
  auto r = sys::RunCommand(argv, opts);
  ::unlink(pwfile.c_str());
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return Internal("initdb for instance " + instance.name + " failed (exit " +
                    std::to_string(r->exit_code) + "):\n" + r->output);
  }
  return Status::Ok();
}

namespace {

// Writes `content` to `path` when it differs; returns whether it changed.
Result<bool> WriteIfChanged(const std::string& path, const std::string& content,
                            const sys::RunAs& account) {
  auto old = sys::ReadFile(path);
  if (old.ok() && *old == content) return false;
  TUSK_RETURN_IF_ERROR(sys::WriteFileAtomic(path, content, 0600, &account));
  return true;
}

}  // namespace

Result<bool> WriteServerFiles(const config::Instance& instance, const TuningResult& tuning,
                              const std::string& socket_dir, const sys::RunAs& account) {
  bool changed = false;
  const std::string& d = instance.data_dir;
  auto w = WriteIfChanged(d + "/tusk.conf", RenderTuskConf(instance, tuning, socket_dir), account);
  if (!w.ok()) return w.status();
  changed |= *w;
  w = WriteIfChanged(d + "/pg_hba.conf", RenderHba(instance), account);
  if (!w.ok()) return w.status();
  changed |= *w;
  w = WriteIfChanged(d + "/pg_ident.conf",
                     RenderIdent(instance, account.name, sys::CurrentUserName()), account);
  if (!w.ok()) return w.status();
  changed |= *w;

  const std::string conf = d + "/postgresql.conf";
  auto text = sys::ReadFile(conf);
  if (!text.ok()) return text.status();
  const std::string include = "include_if_exists = 'tusk.conf'";
  if (text->find(include) == std::string::npos) {
    std::string updated = *text;
    if (!updated.empty() && updated.back() != '\n') updated += "\n";
    updated +=
        "\n# Added by tusk: settings from tusk.yaml (keep this line last).\n" + include + "\n";
    TUSK_RETURN_IF_ERROR(sys::WriteFileAtomic(conf, updated, 0600, &account));
    changed = true;
  }
  return changed;
}

Result<int> ServerMajorVersion(const std::string& bin_dir) {
  auto r = sys::RunCommand({bin_dir + "/postgres", "--version"});
  if (!r.ok()) return r.status();
  // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
  auto pos = r->output.find(") ");
  if (r->exit_code != 0 || pos == std::string::npos) {
    return Internal("cannot read the version of " + bin_dir + "/postgres: " + r->output);
  }
  return std::atoi(r->output.c_str() + pos + 2);
}

int DataDirMajorVersion(const std::string& data_dir) {
  std::ifstream f(data_dir + "/PG_VERSION");
  int v = 0;
  f >> v;
  return v;
}

}  // namespace tusk::postgres
