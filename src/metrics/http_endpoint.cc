#include "metrics/http_endpoint.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>

#include "metrics/http_request.h"

namespace tusk::metrics {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxHead = 8 * 1024;                     // larger request heads get 400
constexpr auto kReadTimeout = std::chrono::seconds(2);    // to receive the request head
constexpr auto kWriteTimeout = std::chrono::seconds(2);   // to take the whole response
constexpr auto kLinger = std::chrono::milliseconds(250);  // draining after the response
constexpr size_t kMaxDrain = 64 * 1024;

std::string Response(int code, std::string_view reason, std::string_view content_type,
                     std::string_view body, std::string_view extra_headers = {}) {
  std::string r = "HTTP/1.1 " + std::to_string(code) + " ";
  r += reason;
  r += "\r\nContent-Type: ";
  r += content_type;
  r += "\r\nContent-Length: " + std::to_string(body.size());
  r += "\r\nConnection: close\r\n";
  r += extra_headers;
  r += "\r\n";
  r += body;
  return r;
}

constexpr std::string_view kPlainText = "text/plain; charset=utf-8";

std::string BadRequest() { return Response(400, "Bad Request", kPlainText, "bad request\n"); }

enum class Wait { kReady, kTimeout, kStopped, kError };

// Waits until `fd` has `events` (or an error/hangup to report), the wake fd
// becomes readable (Stop), or `deadline` passes.
Wait WaitFor(int fd, short events, int wake_fd, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Wait::kTimeout;
    pollfd p[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    int r = ::poll(p, 2, static_cast<int>(left.count()));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Wait::kError;
    }
    if (p[1].revents != 0) return Wait::kStopped;
    if (p[0].revents != 0) return Wait::kReady;
  }
}

// Sends all of `data` before `deadline`; false when the client is gone or slow.
bool SendAll(int fd, std::string_view data, int wake_fd, Clock::time_point deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (WaitFor(fd, POLLOUT, wake_fd, deadline) != Wait::kReady) return false;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(const std::string& listen_address,
                                                          int port,
                                                          std::function<std::string()> render) {
  if (port < 0 || port > 65535) {
    return InvalidArgument("metrics port " + std::to_string(port) + " is outside 0..65535");
  }
  std::string where = listen_address + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* addrs = nullptr;
  std::string service = std::to_string(port);
  int gai = ::getaddrinfo(listen_address.empty() ? nullptr : listen_address.c_str(),
                          service.c_str(), &hints, &addrs);
  if (gai != 0) return Internal("resolve " + where + ": " + ::gai_strerror(gai));

  int fd = -1;
  int err = 0;
  for (addrinfo* a = addrs; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // rebind past TIME_WAIT
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 16) != 0) {
      err = errno;
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(addrs);
  if (fd < 0) return Internal("listen on " + where + ": " + std::strerror(err));

  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    err = errno;
    ::close(fd);
    return Internal("getsockname " + where + ": " + std::strerror(err));
  }
  int bound_port = bound.ss_family == AF_INET6
                       ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                       : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  int wake[2];
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    err = errno;
    ::close(fd);
    return Internal("pipe: " + std::string(std::strerror(err)));
  }
  std::unique_ptr<HttpEndpoint> endpoint(
      new HttpEndpoint(fd, wake[0], wake[1], bound_port, std::move(render)));
  endpoint->thread_ = std::thread([e = endpoint.get()] { e->Run(); });
  return endpoint;
}

HttpEndpoint::HttpEndpoint(int listen_fd, int wake_read_fd, int wake_write_fd, int port,
                           std::function<std::string()> render)
    : listen_fd_(listen_fd),
      wake_read_fd_(wake_read_fd),
      wake_write_fd_(wake_write_fd),
      port_(port),
      render_(std::move(render)) {}

HttpEndpoint::~HttpEndpoint() { Stop(); }

void HttpEndpoint::Stop() {
  if (thread_.joinable()) {
    char byte = 1;
    while (::write(wake_write_fd_, &byte, 1) < 0 && errno == EINTR) {
    }
    thread_.join();
  }
  for (int* fd : {&listen_fd_, &wake_read_fd_, &wake_write_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

void HttpEndpoint::Run() {
  for (;;) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_read_fd_, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno != EINTR) ::poll(nullptr, 0, 100);  // unexpected; do not spin
      continue;
    }
    if (p[1].revents != 0) return;
    if (p[0].revents == 0) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) {
      // EMFILE and friends leave the connection queued: back off instead of spinning.
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
        ::poll(nullptr, 0, 100);
      }
      continue;
    }
    Serve(client);
    ::close(client);
  }
}

void HttpEndpoint::Serve(int client) {
  auto deadline = Clock::now() + kReadTimeout;
  std::string data;
  std::string response;
  char buf[4096];
  for (;;) {
    size_t head = HttpHeadLength(data);
    if (head > kMaxHead || (head == 0 && data.size() > kMaxHead)) {
      response = BadRequest();
      break;
    }
    if (head != 0) {
      response = Respond(data.substr(0, head));
      break;
    }
    if (WaitFor(client, POLLIN, wake_read_fd_, deadline) != Wait::kReady) return;
    ssize_t n = ::recv(client, buf, sizeof(buf), 0);
    if (n == 0) return;  // the client left before finishing its request
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return;
    }
    data.append(buf, static_cast<size_t>(n));
  }
  if (!SendAll(client, response, wake_read_fd_, Clock::now() + kWriteTimeout)) return;
  // Closing with unread input (a body, a second request) would send a RST
  // that can destroy the response in the client's buffer: half-close and
  // drain briefly first. A client that reads to EOF and closes ends this at once.
  ::shutdown(client, SHUT_WR);
  auto linger_end = Clock::now() + kLinger;
  size_t drained = 0;
  while (drained < kMaxDrain &&
         WaitFor(client, POLLIN, wake_read_fd_, linger_end) == Wait::kReady) {
    ssize_t n = ::recv(client, buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      break;
    }
    drained += static_cast<size_t>(n);
  }
}

std::string HttpEndpoint::Respond(const std::string& head) {
  Result<HttpRequest> req = ParseHttpRequest(head);
  if (!req.ok()) return BadRequest();
  if (req->method != "GET") {
    return Response(405, "Method Not Allowed", kPlainText, "only GET is supported\n",
                    "Allow: GET\r\n");
  }
  if (req->path == "/metrics") {
    std::string body = render_ ? render_() : std::string();
    return Response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
  }
  if (req->path == "/") {
    return Response(200, "OK", kPlainText, "tusk router: metrics at /metrics\n");
  }
  return Response(404, "Not Found", kPlainText, "not found; try /metrics\n");
}

}  // namespace tusk::metrics
