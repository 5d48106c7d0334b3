// HTTP/1.1 server on Boost.Beast/Asio.
//
// The server owns sockets, parsing, limits, timeouts, keep-alive, metrics of
// every request and graceful shutdown. It knows nothing of FHIR: each complete
// request is handed to a Handler, which runs on a worker thread pool (it may
// block, e.g. waiting for a durable write) and returns the Response.
//
// Requests the server refuses itself (oversized body or headers, malformed
// HTTP, timeouts) are answered through the ErrorResponder, so that the one
// place which formats errors (rest/outcome.cc) also formats these. Their
// stable codes are GM-HTTP-001 to GM-HTTP-008, listed in http/wire.h; their
// Response.interaction is "rejected" in metrics.
//
// Thread-safety: Start/Stop/Wait from one controlling thread; the Handler is
// called concurrently from worker threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace gm::http {

using Headers = std::vector<std::pair<std::string, std::string>>;  // names in lower case

struct Request {
  std::string method;  // "GET", "POST", ...; a HEAD request arrives as "GET" (the server
                       // then sends the response's headers without its body)
  std::string target;  // as received: "/Patient/1?_format=json"
  std::string path;    // percent-decoded path: "/Patient/1"
  std::string query;   // raw query string without '?', not decoded
  Headers headers;
  std::string body;
  std::string remote;  // peer address, for logs
  std::string request_id;  // X-Request-Id if given (sanitised), else generated

  // First value of a header (name in any case), empty if absent.
  std::string_view Header(std::string_view name) const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // A short label for metrics ("read", "search-type", "transaction", ...).
  std::string interaction = "other";

  void SetHeader(std::string_view name, std::string value);
};

using Handler = std::function<Response(Request&)>;
// Builds the response for an error the server detects itself (status, stable code, text).
using ErrorResponder = std::function<Response(int status, const std::string& code,
                                              const std::string& text)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: pick a free port
  size_t io_threads = 2;
  size_t worker_threads = 64;
  size_t max_body_bytes = 32u << 20;   // larger: 413
  size_t max_header_bytes = 64u << 10; // larger: 431
  std::chrono::milliseconds read_timeout{30000};  // whole request must arrive within this
  std::chrono::milliseconds idle_timeout{60000};  // keep-alive connection idle limit; also
                                                  // the longest a response write may stall
  size_t max_connections = 10000;
  // One info-level spdlog line per request (method, path without query, status, bytes,
  // duration, request id) on the default logger. Off: no per-request formatting at all.
  bool log_requests = true;
};

// Prometheus-style metrics that the server records for every request.
// Thread-safe: Record locks only a per-thread shard (uncontended), the gauges
// are atomics, Render merges the shards.
class Metrics {
 public:
  Metrics();
  ~Metrics();
  void Record(std::string_view interaction, int status, double seconds);
  // Prometheus text exposition of everything recorded, plus `extra` lines appended.
  std::string Render(std::string_view extra = {}) const;
  // The gauges the server keeps current: requests in flight, open connections.
  void AddInFlight(int64_t delta);
  void AddOpenConnections(int64_t delta);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Server {
 public:
  Server(ServerOptions options, Handler handler, ErrorResponder errors);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving on background threads. Error if the address cannot be bound.
  Status Start();
  // The bound port (useful when options.port was 0). Valid after Start.
  uint16_t port() const;
  // Graceful stop: stop accepting, let in-flight requests finish (up to `grace`),
  // then close every connection. Safe to call from a signal-handling thread.
  // Idle keep-alive connections are closed at once; requests already being
  // received or handled are answered with "connection: close". A Handler still
  // running after `grace` cannot be interrupted: Stop waits for it to return
  // (its response is dropped). Later calls wait for the first to complete.
  // REQUIRES: not called from a Handler (it would wait for itself).
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(10000));
  // Blocks until Stop has completed (returns at once if the server was never started).
  void Wait();

  Metrics& metrics();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gm::http
