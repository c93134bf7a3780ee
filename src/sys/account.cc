// OS account lookup/creation and file helpers (ownership, atomic writes).
#include "sys/account.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tusk::sys {
namespace fs = std::filesystem;

bool IsRoot() { return ::geteuid() == 0; }

namespace {
std::optional<RunAs> Lookup(const std::string& name) {
  struct passwd* pw = ::getpwnam(name.c_str());
  if (pw == nullptr) return std::nullopt;
  return RunAs{pw->pw_uid, pw->pw_gid, pw->pw_name, pw->pw_dir ? pw->pw_dir : "/"};
}
}  // namespace

std::string CurrentUserName() {
  struct passwd* pw = ::getpwuid(::geteuid());
  return pw ? pw->pw_name : std::to_string(::geteuid());
}

Result<RunAs> ServerAccount() {
  if (!IsRoot()) {
    struct passwd* pw = ::getpwuid(::geteuid());
    if (pw == nullptr) return Internal("cannot look up the current user");
    return RunAs{pw->pw_uid, pw->pw_gid, pw->pw_name, pw->pw_dir ? pw->pw_dir : "/"};
  }
  if (auto a = Lookup("postgres")) return *a;
  if (auto a = Lookup("tusk")) return *a;
  auto r = RunCommand({"useradd", "--system", "--user-group", "--home-dir", "/nonexistent",
                       "--no-create-home", "--shell", "/usr/sbin/nologin", "tusk"});
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) return Internal("useradd tusk failed: " + r->output);
  if (auto a = Lookup("tusk")) return *a;
  return Internal("created account tusk but cannot look it up");
}

Status MakeDirs(const std::string& path, unsigned mode, const RunAs* owner) {
  std::error_code ec;
  bool existed = fs::exists(path, ec);
  fs::create_directories(path, ec);
  if (ec) return Internal("cannot create " + path + ": " + ec.message());
  if (!existed) ::chmod(path.c_str(), mode);
  if (owner && IsRoot() && ::chown(path.c_str(), owner->uid, owner->gid) != 0) {
    return Internal("chown " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Status ChownRecursive(const std::string& path, const RunAs& owner) {
  if (!IsRoot()) return Status::Ok();
  std::error_code ec;
  if (::lchown(path.c_str(), owner.uid, owner.gid) != 0) {
    return Internal("chown " + path + ": " + std::strerror(errno));
  }
  if (!fs::is_directory(path, ec)) return Status::Ok();
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (::lchown(it->path().c_str(), owner.uid, owner.gid) != 0) {
      return Internal("chown " + it->path().string() + ": " + std::strerror(errno));
    }
  }
  if (ec) return Internal("walk " + path + ": " + ec.message());
  return Status::Ok();
}

Status WriteFileAtomic(const std::string& path, const std::string& content, unsigned mode,
                       const RunAs* owner) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Internal("cannot write " + tmp + ": " + std::strerror(errno));
  ::fchmod(fd, mode);
  if (owner && IsRoot()) (void)!::fchown(fd, owner->uid, owner->gid);
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Internal("write " + tmp + ": " + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Internal("rename to " + path + ": " + std::strerror(e));
  }
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    if (errno == ENOENT) return NotFound(path + ": no such file");
    return Internal(path + ": " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Status CheckTraversable(const std::string& path, const RunAs& account) {
  if (!IsRoot() || account.uid == 0) return Status::Ok();
  fs::path p = fs::absolute(path).parent_path();
  std::vector<fs::path> chain;
  for (; !p.empty() && p != p.root_path(); p = p.parent_path()) chain.push_back(p);
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    struct stat st;
    if (::stat(it->c_str(), &st) != 0) continue;  // not created yet
    bool ok = (st.st_uid == account.uid && (st.st_mode & S_IXUSR)) ||
              (st.st_gid == account.gid && (st.st_mode & S_IXGRP)) || (st.st_mode & S_IXOTH);
    if (!ok) {
      return FailedPrecondition("the server account " + account.name + " cannot enter " +
                                it->string() + " (mode " + ([&] {
                                  char b[8];
                                  std::snprintf(b, sizeof b, "%03o", st.st_mode & 0777);
                                  return std::string(b);
                                })() +
                                "); choose a data_dir it can reach or chmod o+x that directory");
    }
  }
  return Status::Ok();
}

}  // namespace tusk::sys
