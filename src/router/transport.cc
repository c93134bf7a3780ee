// Transport: plain and TLS reads/writes on non-blocking sockets.
#include "router/transport.h"

#include <openssl/err.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace tusk::router {
namespace {

constexpr size_t kReadChunk = 16 * 1024;

// recv/send straight through syscall(2): glibc's wrappers are cancellation
// points and, in a multi-threaded process, switch asynchronous cancellation
// on and off around every call (about 2 % of the router's CPU). The router
// never cancels threads, and its sockets are non-blocking.
ssize_t RawRecv(int fd, void* buf, size_t len) {
  return syscall(SYS_recvfrom, fd, buf, len, 0, nullptr, nullptr);
}
ssize_t RawSend(int fd, const void* buf, size_t len) {
  return syscall(SYS_sendto, fd, buf, len, MSG_NOSIGNAL, nullptr, 0);
}

std::string OpenSslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "TLS connection failed" : out;
}

}  // namespace

IoStatus Transport::ReadInto(Buffer& buf, size_t max_bytes, bool* drained) {
  *drained = false;
  // Reads go to a per-thread scratch area and only what arrived is appended,
  // so an idle connection's buffer stays as small as its largest message.
  thread_local char scratch[kReadChunk];
  size_t total = 0;
  for (;;) {
    ssize_t n;
    if (ssl_ != nullptr) {
      n = SSL_read(ssl_, scratch, static_cast<int>(kReadChunk));
      if (n <= 0) {
        int err = SSL_get_error(ssl_, static_cast<int>(n));
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
          *drained = true;
          return total > 0 ? IoStatus::kOk : IoStatus::kWouldBlock;
        }
        if (err == SSL_ERROR_ZERO_RETURN) return IoStatus::kClosed;
        tls_error_ = OpenSslErrors();
        return err == SSL_ERROR_SYSCALL && total == 0 ? IoStatus::kClosed : IoStatus::kError;
      }
    } else {
      n = RawRecv(fd_, scratch, kReadChunk);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          *drained = true;
          return total > 0 ? IoStatus::kOk : IoStatus::kWouldBlock;
        }
        return IoStatus::kError;
      }
      if (n == 0) return IoStatus::kClosed;
    }
    buf.Append(std::string_view(scratch, static_cast<size_t>(n)));
    total += static_cast<size_t>(n);
    // A short plain read drained the socket (edge-triggered is satisfied);
    // TLS may hold more decrypted records, so it reads until WANT_READ.
    if (ssl_ == nullptr && static_cast<size_t>(n) < kReadChunk) {
      *drained = true;
      return IoStatus::kOk;
    }
    if (max_bytes != 0 && total >= max_bytes) return IoStatus::kOk;
  }
}

IoStatus Transport::WriteFrom(Buffer& buf) {
  while (!buf.empty()) {
    std::string_view v = buf.view();
    ssize_t n;
    if (ssl_ != nullptr) {
      n = SSL_write(ssl_, v.data(), static_cast<int>(std::min<size_t>(v.size(), 1 << 30)));
      if (n <= 0) {
        int err = SSL_get_error(ssl_, static_cast<int>(n));
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return IoStatus::kWouldBlock;
        tls_error_ = OpenSslErrors();
        return IoStatus::kError;
      }
    } else {
      n = RawSend(fd_, v.data(), v.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return IoStatus::kWouldBlock;
        return IoStatus::kError;
      }
    }
    buf.Consume(static_cast<size_t>(n));
  }
  // The buffer keeps its capacity for the next message; connections release
  // it when idle (ReleaseIdleBuffers, each tick).
  return IoStatus::kOk;
}

bool Transport::StartTlsServer(SSL_CTX* ctx) {
  ssl_ = SSL_new(ctx);
  if (ssl_ == nullptr) return false;
  SSL_set_fd(ssl_, fd_);
  SSL_set_accept_state(ssl_);
  return true;
}

bool Transport::StartTlsClient(SSL_CTX* ctx) {
  ssl_ = SSL_new(ctx);
  if (ssl_ == nullptr) return false;
  SSL_set_fd(ssl_, fd_);
  SSL_set_connect_state(ssl_);
  return true;
}

TlsHandshake Transport::ContinueHandshake() {
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) return TlsHandshake::kDone;
  int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return TlsHandshake::kInProgress;
  tls_error_ = OpenSslErrors();
  return TlsHandshake::kFailed;
}

void Transport::Close() {
  if (ssl_ != nullptr) {
    SSL_shutdown(ssl_);
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

}  // namespace tusk::router
