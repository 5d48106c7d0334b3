// HTTP/1.1 wire helpers used by the server: request-target splitting and
// percent-decoding, request id handling, response head serialisation and the
// access-log form of a path. Pure functions without I/O, internal to gm_http
// (tests include this header directly).
//
// Thread-safety: all functions are safe to call concurrently.
#pragma once

#include <string>
#include <string_view>

#include "http/server.h"

namespace gm::http::wire {

// Stable codes of the errors the server detects itself; passed to the ErrorResponder.
inline constexpr const char* kMalformedRequest = "GM-HTTP-001";    // 400
inline constexpr const char* kBadPath = "GM-HTTP-002";             // 400
inline constexpr const char* kBodyTooLarge = "GM-HTTP-003";        // 413
inline constexpr const char* kHeaderTooLarge = "GM-HTTP-004";      // 431
inline constexpr const char* kRequestTimeout = "GM-HTTP-005";      // 408
inline constexpr const char* kHandlerFailed = "GM-HTTP-006";       // 500
inline constexpr const char* kBadResponse = "GM-HTTP-007";         // 500
inline constexpr const char* kTooManyConnections = "GM-HTTP-008";  // 503

struct Target {
  std::string path;   // percent-decoded
  std::string query;  // raw, without '?'
};

// Splits a request-target (origin form "/a/b?q", absolute form
// "http://host/a?q", or "*") and percent-decodes the path. Error (kInvalid,
// GM-HTTP-002) for another form, a '%' not followed by two hex digits, or a
// decoded NUL.
Result<Target> ParseTarget(std::string_view target);

// True when `id` may be used as a request id: 1 to 64 characters of [A-Za-z0-9._-].
bool IsSaneRequestId(std::string_view id);
// A new random request id (32 lower-case hex digits).
std::string NewRequestId();

// True when a header name is an RFC 9110 token and the value has no CR, LF or NUL.
bool IsValidHeader(std::string_view name, std::string_view value);

// Appends the status line and header block of a response (ending in the empty
// line) to `out`. Writes the handler's headers except those the server owns
// (content-length, transfer-encoding, connection, date, x-request-id), then
// date, x-request-id, connection (when not implied) and content-length
// (omitted for 204 and 304).
// REQUIRES: every header passed IsValidHeader; 200 <= status <= 599.
void AppendResponseHead(const Response& response, std::string_view request_id, bool keep_alive,
                        bool http10, std::string& out);

// The path of a request-target for access logs: no query string, at most 200
// bytes, and each run of exactly 11 digits (the shape of a fødselsnummer or
// D-nummer) replaced by '*'s.
std::string LogPath(std::string_view target);

// Lower-cases ASCII letters in place.
void ToLower(std::string& s);

}  // namespace gm::http::wire
