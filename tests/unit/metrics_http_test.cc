// HttpEndpoint over real loopback sockets: 200 with the rendered body on
// GET /metrics, 404, 405, 400 for malformed and oversized heads, slow
// clients dropped after the read timeout, bind errors, and Stop joining and
// closing the port. Also the pure request-head parser.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>

#include "metrics/http_endpoint.h"
#include "metrics/http_request.h"

namespace tusk::metrics {
namespace {

// Connects to 127.0.0.1:port; -1 on failure.
int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads until EOF or 5 s pass.
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Sends `request` on a fresh connection and returns the whole response.
std::string Exchange(int port, const std::string& request) {
  int fd = Connect(port);
  if (fd < 0) return "connect failed";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response = ReadAll(fd);
  ::close(fd);
  return response;
}

std::string StatusLine(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

std::string Body(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

class HttpEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = HttpEndpoint::Start("127.0.0.1", 0, [this] {
      ++renders_;
      return std::string("tusk_up 1\n");
    });
    ASSERT_TRUE(started.ok()) << started.status().message();
    endpoint_ = std::move(started).value();
    ASSERT_GT(endpoint_->port(), 0);
  }

  std::atomic<int> renders_{0};
  std::unique_ptr<HttpEndpoint> endpoint_;
};

TEST_F(HttpEndpointTest, GetMetricsReturnsRenderedBody) {
  std::string r = Exchange(endpoint_->port(), "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 200 OK");
  EXPECT_NE(r.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("\r\nContent-Length: 10\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\nConnection: close\r\n"), std::string::npos) << r;
  EXPECT_EQ(Body(r), "tusk_up 1\n");
  EXPECT_EQ(renders_.load(), 1);

  // Again (one connection at a time, but many in a row), with a query string
  // and HTTP/1.0 and bare LF line ends.
  r = Exchange(endpoint_->port(), "GET /metrics?x=1 HTTP/1.0\n\n");
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 200 OK");
  EXPECT_EQ(Body(r), "tusk_up 1\n");
  EXPECT_EQ(renders_.load(), 2);
}

TEST_F(HttpEndpointTest, RootAnswersShortText) {
  std::string r = Exchange(endpoint_->port(), "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 200 OK");
  EXPECT_NE(Body(r).find("/metrics"), std::string::npos) << r;
  EXPECT_EQ(renders_.load(), 0);
}

TEST_F(HttpEndpointTest, UnknownPathIs404) {
  std::string r = Exchange(endpoint_->port(), "GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(renders_.load(), 0);
}

TEST_F(HttpEndpointTest, PostIs405EvenWithABody) {
  std::string r =
      Exchange(endpoint_->port(), "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 405 Method Not Allowed");
  EXPECT_NE(r.find("\r\nAllow: GET\r\n"), std::string::npos) << r;
  EXPECT_EQ(renders_.load(), 0);
}

TEST_F(HttpEndpointTest, LingersAfterResponseSoALateBodyIsNotReset) {
  int fd = Connect(endpoint_->port());
  ASSERT_GE(fd, 0);
  std::string head = "POST /metrics HTTP/1.1\r\nContent-Length: 8\r\n\r\n";
  ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  EXPECT_EQ(StatusLine(ReadAll(fd)), "HTTP/1.1 405 Method Not Allowed");  // up to EOF
  // The endpoint half-closed and is still draining: a late body is read, not
  // answered with a reset (which would make the second send fail).
  EXPECT_EQ(::send(fd, "body", 4, MSG_NOSIGNAL), 4);
  ::usleep(20 * 1000);
  EXPECT_EQ(::send(fd, "more", 4, MSG_NOSIGNAL), 4) << std::strerror(errno);
  ::close(fd);
}

TEST_F(HttpEndpointTest, MalformedAndOversizedAre400) {
  EXPECT_EQ(StatusLine(Exchange(endpoint_->port(), "GARBAGE\r\n\r\n")), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(StatusLine(Exchange(endpoint_->port(), "GET /metrics HTTP/2.0\r\n\r\n")),
            "HTTP/1.1 400 Bad Request");
  std::string huge = "GET /metrics HTTP/1.1\r\nX-Fill: " + std::string(9000, 'a') + "\r\n\r\n";
  EXPECT_EQ(StatusLine(Exchange(endpoint_->port(), huge)), "HTTP/1.1 400 Bad Request");
  // A head that never ends, beyond 8 KiB.
  EXPECT_EQ(StatusLine(Exchange(endpoint_->port(), std::string(10000, 'G'))),
            "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(renders_.load(), 0);
}

TEST_F(HttpEndpointTest, SilentClientIsDroppedAfterReadTimeout) {
  int idle = Connect(endpoint_->port());
  ASSERT_GE(idle, 0);
  auto start = std::chrono::steady_clock::now();
  // Served only after the idle client's 2 s are up.
  std::string r = Exchange(endpoint_->port(), "GET /metrics HTTP/1.1\r\n\r\n");
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(StatusLine(r), "HTTP/1.1 200 OK");
  EXPECT_GE(waited, std::chrono::milliseconds(1500));
  EXPECT_EQ(ReadAll(idle), "");  // closed without an answer
  ::close(idle);
}

TEST_F(HttpEndpointTest, StopJoinsAndClosesThePort) {
  int port = endpoint_->port();
  int idle = Connect(port);  // a connection in progress must not block Stop
  ASSERT_GE(idle, 0);
  ::send(idle, "GET /met", 8, MSG_NOSIGNAL);
  ::usleep(200 * 1000);  // the endpoint is now waiting for the rest of the head
  auto start = std::chrono::steady_clock::now();
  endpoint_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));
  EXPECT_EQ(Connect(port), -1);
  endpoint_->Stop();  // idempotent
  endpoint_.reset();  // destructor after Stop
  ::close(idle);
}

TEST(HttpEndpointStartTest, PortInUseIsInternalError) {
  auto first = HttpEndpoint::Start("127.0.0.1", 0, [] { return std::string(); });
  ASSERT_TRUE(first.ok()) << first.status().message();
  auto second = HttpEndpoint::Start("127.0.0.1", (*first)->port(), [] { return std::string(); });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kInternal);
  EXPECT_NE(second.status().message().find("Address already in use"), std::string::npos)
      << second.status().message();
}

TEST(HttpEndpointStartTest, BadAddressAndPortAreErrors) {
  auto bad_addr = HttpEndpoint::Start("300.1.1.1", 0, [] { return std::string(); });
  ASSERT_FALSE(bad_addr.ok());
  EXPECT_EQ(bad_addr.status().code(), Code::kInternal);
  auto bad_port = HttpEndpoint::Start("127.0.0.1", 70000, [] { return std::string(); });
  ASSERT_FALSE(bad_port.ok());
  EXPECT_EQ(bad_port.status().code(), Code::kInvalidArgument);
}

TEST(HttpRequestTest, HeadLength) {
  EXPECT_EQ(HttpHeadLength(""), 0u);
  EXPECT_EQ(HttpHeadLength("GET / HTTP/1.1\r\nHost: a\r\n"), 0u);
  EXPECT_EQ(HttpHeadLength("GET / HTTP/1.1\r\nHost: a\r\n\r\nbody"), 27u);
  EXPECT_EQ(HttpHeadLength("GET / HTTP/1.1\n\nbody"), 16u);
}

TEST(HttpRequestTest, ParsesRequestLine) {
  auto r = ParseHttpRequest("GET /metrics?name[]=x HTTP/1.1\r\nHost: a:9\r\nAccept: */*\r\n\r\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->path, "/metrics");
}

TEST(HttpRequestTest, RejectsMalformedHeads) {
  for (const char* head : {
           "\r\n",
           "GET\r\n\r\n",
           "GET /metrics\r\n\r\n",
           "GET  /metrics HTTP/1.1\r\n\r\n",
           "GET /metrics HTTP/1.1 extra\r\n\r\n",
           "GET metrics HTTP/1.1\r\n\r\n",
           "GET /metrics HTTP/2\r\n\r\n",
           "G(T /metrics HTTP/1.1\r\n\r\n",
           "GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
           "GET /metrics HTTP/1.1\r\nHost : a\r\n\r\n",
           "GET /metrics HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
       }) {
    auto r = ParseHttpRequest(head);
    EXPECT_FALSE(r.ok()) << head;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << head;
  }
}

}  // namespace
}  // namespace tusk::metrics
