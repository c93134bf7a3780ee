// Transport: a non-blocking socket, optionally wrapped in TLS (OpenSSL).
//
// ReadInto/WriteFrom move bytes between the socket and a Buffer and report
// whether the peer is gone. With TLS, a read may need the socket writable
// and vice versa; callers simply retry both directions on any event
// (edge-triggered loops do that anyway). Not synchronized (one owner thread).
#pragma once

#include <openssl/ssl.h>

#include <string>

#include "router/buffer.h"

namespace tusk::router {

/// Result of one I/O attempt.
enum class IoStatus {
  kOk,          ///< some bytes moved (or nothing to do)
  kWouldBlock,  ///< nothing moved; wait for the next event
  kClosed,      ///< orderly EOF from the peer
  kError,       ///< reset, TLS failure, ...
};

/// Where a TLS handshake stands.
enum class TlsHandshake { kDone, kInProgress, kFailed };

class Transport {
 public:
  explicit Transport(int fd = -1) : fd_(fd) {}
  ~Transport() { Close(); }
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  int fd() const { return fd_; }
  /// Takes ownership of `fd`. REQUIRES: no fd held.
  void Adopt(int fd) { fd_ = fd; }
  bool tls() const { return ssl_ != nullptr; }

  /// Reads up to `max_bytes` (0 = until drained) into `buf`. `*drained` is
  /// set when the socket has nothing more right now (a short read or
  /// EAGAIN), so an edge-triggered caller need not try again until the next
  /// event.
  IoStatus ReadInto(Buffer& buf, size_t max_bytes, bool* drained);
  /// Writes as much of `buf` as the socket takes, consuming what was written.
  IoStatus WriteFrom(Buffer& buf);

  /// Starts TLS as the server side (after answering 'S' to SSLRequest).
  /// REQUIRES: no TLS yet. Returns false when SSL_new fails.
  bool StartTlsServer(SSL_CTX* ctx);
  /// Starts TLS as the client side towards a server that answered 'S'.
  bool StartTlsClient(SSL_CTX* ctx);
  /// Advances the handshake.
  TlsHandshake ContinueHandshake();
  /// The OpenSSL error text of the last TLS failure.
  std::string last_tls_error() const { return tls_error_; }

  /// Shuts TLS down (best effort) and closes the socket.
  void Close();

 private:
  int fd_;
  SSL* ssl_ = nullptr;
  std::string tls_error_;
};

}  // namespace tusk::router
