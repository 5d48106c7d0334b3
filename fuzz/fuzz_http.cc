// HTTP request handling: the raw bytes go over a loopback TCP connection to an
// in-process gm::http::Server (Beast parsing, limits, target decoding, keep-
// alive, pipelining, error responses), whose handler echoes what it parsed.
// The server has no seam below the socket, so the socket is the seam; the
// client half-closes after sending so every input ends promptly.
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gm::fuzz::Http(data, size);
}
