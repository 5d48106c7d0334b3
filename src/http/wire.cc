#include "http/wire.h"

#include <algorithm>
#include <boost/beast/http/status.hpp>
#include <charconv>
#include <ctime>
#include <random>

namespace gm::http::wire {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Status BadPath(std::string text) {
  return Status::Error(ErrorCategory::kInvalid, kBadPath, "invalid", std::move(text));
}

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

// The IMF-fixdate of the current second, cached per thread.
std::string_view HttpDate() {
  thread_local std::time_t cached_second = 0;
  thread_local char buffer[40];
  thread_local size_t length = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached_second || length == 0) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    length = std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_second = now;
  }
  return std::string_view(buffer, length);
}

void AppendNumber(uint64_t n, std::string& out) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

}  // namespace

void ToLower(std::string& s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

Result<Target> ParseTarget(std::string_view target) {
  std::string_view rest = target;
  if (rest == "*") return Target{"*", {}};
  if (StartsWithIgnoreCase(rest, "http://") || StartsWithIgnoreCase(rest, "https://")) {
    rest.remove_prefix(rest.find("//") + 2);
    size_t end = rest.find_first_of("/?");
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    if (rest.empty() || rest.front() == '?') {
      std::string query(rest.empty() ? std::string_view() : rest.substr(1));
      return Target{"/", std::move(query)};
    }
  }
  if (rest.empty() || rest.front() != '/') {
    return BadPath("the request target must be an absolute path");
  }
  Target t;
  size_t q = rest.find('?');
  if (q != std::string_view::npos) {
    t.query = std::string(rest.substr(q + 1));
    rest = rest.substr(0, q);
  }
  t.path.reserve(rest.size());
  for (size_t i = 0; i < rest.size(); ++i) {
    char c = rest[i];
    if (c != '%') {
      t.path.push_back(c);
      continue;
    }
    int hi = i + 2 < rest.size() ? HexValue(rest[i + 1]) : -1;
    int lo = i + 2 < rest.size() ? HexValue(rest[i + 2]) : -1;
    if (hi < 0 || lo < 0) return BadPath("invalid percent-encoding in the request path");
    char decoded = static_cast<char>(hi * 16 + lo);
    if (decoded == '\0') return BadPath("the request path contains an encoded NUL");
    t.path.push_back(decoded);
    i += 2;
  }
  return t;
}

bool IsSaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string NewRequestId() {
  thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t bits = rng();
    for (int i = 0; i < 16; ++i) {
      id[half * 16 + i] = kHex[bits & 0xf];
      bits >>= 4;
    }
  }
  return id;
}

bool IsValidHeader(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!IsTokenChar(c)) return false;
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

void AppendResponseHead(const Response& response, std::string_view request_id, bool keep_alive,
                        bool http10, std::string& out) {
  out.append("HTTP/1.1 ");
  AppendNumber(static_cast<uint64_t>(response.status), out);
  out.push_back(' ');
  std::string_view reason =
      boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(response.status));
  if (reason != "<unknown-status>") out.append(reason);
  out.append("\r\n");
  for (const auto& [name, value] : response.headers) {
    if (EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding") ||
        EqualsIgnoreCase(name, "connection") || EqualsIgnoreCase(name, "x-request-id") ||
        EqualsIgnoreCase(name, "date")) {
      continue;
    }
    out.append(name).append(": ").append(value).append("\r\n");
  }
  out.append("date: ").append(HttpDate()).append("\r\n");
  out.append("x-request-id: ").append(request_id).append("\r\n");
  if (!keep_alive) {
    out.append("connection: close\r\n");
  } else if (http10) {
    out.append("connection: keep-alive\r\n");
  }
  if (response.status != 204 && response.status != 304) {
    out.append("content-length: ");
    AppendNumber(response.body.size(), out);
    out.append("\r\n");
  }
  out.append("\r\n");
}

std::string LogPath(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  if (path.size() > 200) path = path.substr(0, 200);
  std::string out(path);
  size_t i = 0;
  while (i < out.size()) {
    if (out[i] < '0' || out[i] > '9') {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < out.size() && out[j] >= '0' && out[j] <= '9') ++j;
    if (j - i == 11) out.replace(i, 11, 11, '*');
    i = j;
  }
  return out;
}

}  // namespace gm::http::wire
