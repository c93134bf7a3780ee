// Real host facts for the config loader: memory, CPUs, disks, PostgreSQL installs.
#include "sys/host_environment.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace tusk::sys {
namespace fs = std::filesystem;

std::optional<std::string> HostEnvironment::GetEnv(const std::string& name) const {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

uint64_t HostEnvironment::MemoryBytes() const {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || size <= 0) return 1ull << 30;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(size);
}

int HostEnvironment::Cpus() const {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

bool HostEnvironment::IsRotational(const std::string& path) const {
  fs::path p = path;
  std::error_code ec;
  while (!p.empty() && !fs::exists(p, ec)) p = p.parent_path();
  struct stat st;
  if (p.empty() || ::stat(p.c_str(), &st) != 0) return false;
  // /sys/dev/block/MAJ:MIN/queue/rotational, or the parent device's for a partition.
  std::string dev =
      "/sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
  for (const char* rel : {"/queue/rotational", "/../queue/rotational"}) {
    std::ifstream f(dev + rel);
    int v = 0;
    if (f >> v) return v == 1;
  }
  return false;  // unknown (overlay, tmpfs, virtio without queue info): assume SSD
}

std::vector<std::string> HostEnvironment::PostgresBinDirs() const {
  std::vector<std::pair<int, std::string>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    fs::path bin = e.path() / "bin";
    if (fs::exists(bin / "postgres", ec) && fs::exists(bin / "initdb", ec)) {
      found.emplace_back(std::atoi(name.c_str()), bin.string());
    }
  }
  std::sort(found.begin(), found.end(), [](auto& a, auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

bool HostEnvironment::FileReadable(const std::string& path) const {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && ::access(path.c_str(), R_OK) == 0;
}

bool HostEnvironment::PortFree(const std::string& address, int port) const {
  return TcpPortFree(address, port);
}

std::string HostEnvironment::Cwd() const {
  std::error_code ec;
  return fs::current_path(ec).string();
}

bool TcpPortFree(const std::string& address, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  std::string a = (address.empty() || address == "*" || address == "0.0.0.0") ? "0.0.0.0" : address;
  if (a == "localhost") a = "127.0.0.1";
  if (::inet_pton(AF_INET, a.c_str(), &sa.sin_addr) != 1) sa.sin_addr.s_addr = htonl(INADDR_ANY);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  ::close(fd);
  return ok;
}

}  // namespace tusk::sys
