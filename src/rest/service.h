// The FHIR REST front door: http::Request → route → handler → http::Response.
// Stateless apart from the Context it is given; Handle is called concurrently
// from the HTTP server's worker threads.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "http/server.h"
#include "rest/context.h"

namespace gm::rest {

class Service {
 public:
  // metrics_text renders /metrics (the HTTP server's counters plus store figures).
  Service(Context ctx, std::function<std::string()> metrics_text);

  // `trusted`: a request made by the server itself on the operator's behalf
  // (e.g. loading the demo population at start-up) skips the token check;
  // requests from the network never are.
  http::Response Handle(http::Request& req, bool trusted = false);
  // Replaces the options (e.g. the base URL once the port is bound). Call
  // before requests arrive.
  void SetOptions(const Options& options) { ctx_.options = options; }
  // Until MarkReady, every request gets 503 (the options may still change).
  void MarkReady() { ready_.store(true, std::memory_order_release); }
  // After this, /readyz answers 503 so load balancers drain this node.
  void SetDraining() { draining_.store(true); }

 private:
  Context ctx_;
  std::function<std::string()> metrics_text_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> draining_{false};
};

}  // namespace gm::rest
