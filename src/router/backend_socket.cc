// ConnectBackend and SendCancel: opening a socket to a PostgreSQL server
// (TCP or unix).
#include "router/backend_socket.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "protocol/wire.h"

namespace tusk::router {

int ConnectBackend(const Backend& b, bool blocking, std::string* error) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family;
  if (!b.host.empty() && b.host[0] == '/') {
    auto* un = reinterpret_cast<sockaddr_un*>(&addr);
    std::string path = b.host + "/.s.PGSQL." + std::to_string(b.port);
    if (path.size() >= sizeof un->sun_path) {
      *error = "socket path too long: " + path;
      return -1;
    }
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, path.c_str(), path.size() + 1);
    len = sizeof(sockaddr_un);
    family = AF_UNIX;
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&addr);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    std::string host = b.host.empty() || b.host == "localhost" ? "127.0.0.1" : b.host;
    if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) == 1) {
      in4->sin_family = AF_INET;
      in4->sin_port = htons(static_cast<uint16_t>(b.port));
      len = sizeof(sockaddr_in);
      family = AF_INET;
    } else if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(static_cast<uint16_t>(b.port));
      len = sizeof(sockaddr_in6);
      family = AF_INET6;
    } else {
      addrinfo hints{};
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* res = nullptr;
      if (getaddrinfo(host.c_str(), std::to_string(b.port).c_str(), &hints, &res) != 0 ||
          res == nullptr) {
        *error = "could not resolve host \"" + host + "\"";
        return -1;
      }
      std::memcpy(&addr, res->ai_addr, res->ai_addrlen);
      len = res->ai_addrlen;
      family = res->ai_family;
      freeaddrinfo(res);
    }
  }
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK), 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  if (family != AF_UNIX) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS) {
    *error = std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

void SendCancel(Backend b, int32_t pid, int32_t key) {
  std::thread([b, pid, key] {
    std::string error;
    int fd = ConnectBackend(b, /*blocking=*/true, &error);
    if (fd < 0) return;
    std::string packet;
    protocol::AppendCancelRequest(packet, pid, key);
    if (send(fd, packet.data(), packet.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(packet.size())) {
      char c;
      ssize_t r = recv(fd, &c, 1, 0);  // the server closes once it has the request
      (void)r;
    }
    close(fd);
  }).detach();
}

}  // namespace tusk::router
