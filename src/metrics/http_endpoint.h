// HttpEndpoint: a tiny HTTP/1.1 server for Prometheus scrapes, on its own
// thread.
//
// GET /metrics calls `render` and answers 200 with its text as
// "text/plain; version=0.0.4"; GET / answers a short text pointing there.
// Other paths get 404, other methods 405, request heads over 8 KiB or
// malformed 400. Every response carries Connection: close. One connection is
// served at a time; a client gets 2 s to send its request head (poll) and
// 2 s to take the response, else it is dropped without an answer.
//
// Thread-safety: Start, port and Stop are called from the owning thread;
// `render` runs on the endpoint's thread, one call at a time, so it must be
// safe against the threads that update the metrics it reads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"

namespace tusk::metrics {

/// Serves GET /metrics from a background thread until Stop.
class HttpEndpoint {
 public:
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  /// Binds listen_address:port and starts serving. listen_address is a
  /// numeric IPv4/IPv6 address or a host name ("" = all addresses); port 0
  /// picks an ephemeral port (see port()). Errors: kInvalidArgument for a port
  /// outside 0..65535; kInternal with the OS error text when the address does
  /// not resolve or cannot be bound (e.g. "Address already in use").
  static Result<std::unique_ptr<HttpEndpoint>> Start(const std::string& listen_address, int port,
                                                     std::function<std::string()> render);

  /// The bound TCP port (the ephemeral one when Start was given 0).
  int port() const { return port_; }

  /// Stops serving: wakes the thread (abandoning a connection in progress,
  /// but waiting for a running `render`), joins it and closes the listening
  /// socket. Idempotent. REQUIRES: not called from `render`.
  void Stop();

  /// Calls Stop.
  ~HttpEndpoint();

 private:
  HttpEndpoint(int listen_fd, int wake_read_fd, int wake_write_fd, int port,
               std::function<std::string()> render);

  void Run();                                    // the thread: accept and serve until woken
  void Serve(int client);                        // one connection: read, answer, close politely
  std::string Respond(const std::string& head);  // the full response to a request head

  int listen_fd_;
  int wake_read_fd_;  // readable once Stop wrote to wake_write_fd_
  int wake_write_fd_;
  int port_;
  std::function<std::string()> render_;
  std::thread thread_;
};

}  // namespace tusk::metrics
