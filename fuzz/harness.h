// The fuzz harnesses, one function per target (fuzz_<name>.cc wraps each for
// libFuzzer); tests/reliability/fuzz_regression_test.cc replays saved inputs
// through the same functions. Each returns 0, or aborts when its oracle fails.
#pragma once

#include <arpa/inet.h>
#include <cstdint>
#include <cstdlib>
#include <netinet/in.h>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <unistd.h>

#include "core/json.h"
#include "fhir/json_patch.h"
#include "fhir/model.h"
#include "fhir/validator.h"
#include "fhirpath/fhirpath.h"
#include "http/server.h"
#include "labs/svarrapport.h"
#include "labs/xml.h"
#include "patch/fhirpath_patch.h"
#include "rest/request.h"
#include "search/query.h"
#include "trust/jose.h"
#include "trust/scopes.h"
#include "trust/tokens.h"

namespace gm::fuzz {

// FHIR JSON parser and validator. Oracle: parse -> write -> parse gives an
// equal document, and writing that again gives the same bytes; the validator
// must not crash on whatever parses.
inline int Json(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = gm::json::Parse(text);
  if (!doc.ok()) return 0;
  const std::string written = gm::json::Write(*doc);
  auto again = gm::json::Parse(written);
  if (!again.ok() || !gm::fhir::JsonEqual(*doc, *again) || gm::json::Write(*again) != written) {
    std::abort();  // round trip broken
  }
  if (doc->is_object()) (void)gm::fhir::Validate(*doc);
  return 0;
}

// FHIRPath parser, and evaluation of what compiles on a fixed Patient with the
// engine's work limits (so runaway expressions end in GM-FP-030, not a hang).
namespace fuzz_fhirpath_detail {
inline const gm::json::Value& Patient() {
  static const gm::json::Value* p = new gm::json::Value(*gm::json::Parse(R"({
    "resourceType":"Patient","id":"p1","meta":{"versionId":"2","lastUpdated":"2024-05-01T10:20:30.123Z"},
    "identifier":[{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"01010112345"}],
    "active":true,"name":[{"use":"official","family":"Sørgård","given":["Kari","Anne"]}],
    "telecom":[{"system":"phone","value":"+47 12345678"}],"gender":"female",
    "birthDate":"1970-01-01","deceasedBoolean":false,
    "address":[{"line":["Storgata 1"],"city":"Oslo","postalCode":"0150","country":"NO"}],
    "contact":[{"name":{"family":"Nordmann"},"telecom":[{"system":"email","value":"a@b.no"}]}],
    "extension":[{"url":"urn:x","valueQuantity":{"value":1.50,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"}}]})"));
  return *p;
}
}  // namespace fuzz_fhirpath_detail

inline int FhirPath(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto expr = gm::fhirpath::Expression::Compile(text);
  if (!expr.ok()) return 0;
  gm::fhirpath::EvalOptions options;
  options.max_steps = 100000;
  options.max_items = 10000;
  options.max_string_bytes = 1 << 20;
  (void)expr->Evaluate(fuzz_fhirpath_detail::Patient(), options);
  return 0;
}

// Search URL / form parsing: the raw query string (rest::ParseForm) and the
// search parameters (search::ParseSearch) for a resource type chosen by the
// first byte (or system level).
inline int Search(const uint8_t* data, size_t size) {
  static const char* kTypes[] = {"", "Patient", "Observation", "Encounter", "Condition",
                                 "MedicationRequest", "Practitioner", "Organization"};
  if (size == 0) return 0;
  const char* type = kTypes[data[0] % (sizeof kTypes / sizeof *kTypes)];
  std::string_view raw(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto params = gm::rest::ParseForm(raw);
  if (!params.ok()) return 0;
  const gm::fhir::Model& model = gm::fhir::Model::R4();
  (void)gm::search::ParseSearch(model, type, *params);
  (void)gm::search::ParseSearch(model, type, *params, {.strict = true});
  return 0;
}

// HTTP request handling: the raw bytes go over a loopback TCP connection to an
// in-process gm::http::Server (Beast parsing, limits, target decoding, keep-
// alive, pipelining, error responses), whose handler echoes what it parsed.
// The server has no seam below the socket, so the socket is the seam; the
// client half-closes after sending so every input ends promptly.
namespace fuzz_http_detail {

inline gm::http::Server* StartServer() {
  gm::http::ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.io_threads = 1;
  options.worker_threads = 2;
  options.max_body_bytes = 64 << 10;
  options.max_header_bytes = 16 << 10;
  options.read_timeout = std::chrono::milliseconds(2000);
  options.idle_timeout = std::chrono::milliseconds(2000);
  options.log_requests = false;
  auto* server = new gm::http::Server(
      options,
      [](gm::http::Request& req) {
        gm::http::Response r;
        r.status = 200;
        r.body = req.method + " " + req.path + "?" + req.query + " " +
                 std::to_string(req.headers.size()) + " " + std::to_string(req.body.size());
        r.SetHeader("Content-Type", "text/plain");
        return r;
      },
      [](int status, const std::string& code, const std::string& text) {
        gm::http::Response r;
        r.status = status;
        r.body = code + ": " + text;
        return r;
      });
  if (!server->Start().ok()) std::abort();
  return server;
}

}  // namespace fuzz_http_detail

inline int Http(const uint8_t* data, size_t size) {
  static gm::http::Server* server = fuzz_http_detail::StartServer();
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(server->port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // A connect can fail transiently at tens of thousands of connections a
  // minute (ephemeral ports, a full accept backlog on a loaded machine); only
  // a server that stays unreachable is a finding.
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) break;
    ::close(fd);
    fd = -1;
    if (attempt == 200) std::abort();  // still unreachable after 200 tries
    ::usleep(10000);
  }
  // Close with a reset, so client ports do not pile up in TIME_WAIT.
  linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  size_t sent = 0;
  while (sent < size) {
    ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server closed on a refused request
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  char buf[16384];
  while (::recv(fd, buf, sizeof buf, 0) > 0) {
  }
  ::close(fd);
  return 0;
}

// JSON Patch (RFC 6902) application to a fixed resource. Oracle: a patch that
// applies leaves a document that writes and parses back equal; one that fails
// leaves the document unchanged.
inline int JsonPatch(const uint8_t* data, size_t size) {
  static const gm::json::Value* base = new gm::json::Value(*gm::json::Parse(
      R"({"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Nordmann","given":["Kari","Ola"]}],
          "identifier":[{"system":"urn:x","value":"1"}],"a~b":{"c/d":[1,2,{"e":null}]}})"));
  auto patch = gm::json::Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!patch.ok()) return 0;
  gm::json::Value doc = *base;
  gm::Status st = gm::fhir::ApplyJsonPatch(*patch, doc);
  if (!st.ok()) {
    if (!gm::fhir::JsonEqual(doc, *base)) std::abort();  // a failed patch changed the document
    return 0;
  }
  auto again = gm::json::Parse(gm::json::Write(doc), {.max_depth = 100000});
  if (!again.ok() || !gm::fhir::JsonEqual(*again, doc)) std::abort();
  return 0;
}

// FHIRPath Patch (a Parameters resource) applied to a fixed Patient. Oracle: a
// failed patch leaves the resource unchanged (the documented atomicity).
inline int FhirPathPatch(const uint8_t* data, size_t size) {
  static const gm::json::Value* base = new gm::json::Value(*gm::json::Parse(
      R"({"resourceType":"Patient","id":"p1","active":true,
          "name":[{"use":"official","family":"Nordmann","given":["Kari","Ola"]}],
          "identifier":[{"system":"urn:x","value":"1"}],"birthDate":"1970-01-01",
          "contact":[{"name":{"family":"A"}},{"name":{"family":"B"}}]})"));
  auto params = gm::json::Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!params.ok()) return 0;
  gm::json::Value doc = *base;
  gm::patch::FhirPathPatchOptions options;
  options.max_steps = 100000;
  gm::Status st = gm::patch::ApplyFhirPathPatch(*params, doc, options);
  if (!st.ok() && !gm::fhir::JsonEqual(doc, *base)) std::abort();
  return 0;
}

// JWT / JWS / DPoP (src/trust/). The first byte picks what the rest is:
//   0: "Authorization value\nDPoP value" for TokenVerifier::Verify;
//   1: a JWT payload (JSON), signed here with the trusted issuer's key and
//      then verified, so the claim checks (iss, aud, exp, cnf, scopes,
//      attestation ...) see arbitrary claims behind a valid signature;
//   2: a JWT header (JSON) + the fixed payload, signed and verified;
//   3: a JWK (JSON) for Jwk::FromJson; 4: a SMART scope string.
namespace fuzz_jwt_detail {
struct World {
  gm::SystemClock clock;
  std::shared_ptr<gm::trust::KeyRing> keys = gm::trust::KeyRing::InMemory();
  std::unique_ptr<gm::trust::TokenVerifier> verifier;
  World() {
    gm::trust::VerifierOptions options;
    options.issuers.push_back(gm::trust::TrustedIssuer{.issuer = "https://grunnmur.test",
                                                       .own_keys = keys});
    options.audience = "grunnmur";
    verifier = std::make_unique<gm::trust::TokenVerifier>(options, clock);
  }
};
inline World& TheWorld() {
  static World* w = new World();
  return *w;
}
}  // namespace fuzz_jwt_detail

inline int Jwt(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto& w = fuzz_jwt_detail::TheWorld();
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      const size_t nl = rest.find('\n');
      gm::trust::RequestAuth req;
      req.authorization = rest.substr(0, nl);
      req.dpop = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      req.method = "GET";
      req.url = "http://127.0.0.1:8080/Patient";
      (void)w.verifier->Verify(req);
      (void)gm::trust::DecodeJws(req.authorization);
      break;
    }
    case 1:
    case 2: {
      auto doc = gm::json::Parse(rest);
      if (!doc.ok()) return 0;
      const int64_t now = w.clock.NowUs() / 1000000;
      gm::json::Value payload = gm::json::Value::MakeObject();
      payload.set("iss", "https://grunnmur.test");
      payload.set("aud", "grunnmur");
      payload.set("iat", now);
      payload.set("exp", now + 60);
      payload.set("scope", "system/*.cruds");
      gm::json::Value header = gm::json::Value::MakeObject();
      header.set("typ", "at+jwt");
      if (data[0] % 5 == 1) {
        payload = *doc;
      } else if (doc->is_object()) {
        header = *doc;
      }
      const std::string token = gm::trust::SignJws(header, payload, w.keys->Current());
      const std::string auth = "Bearer " + token;
      gm::trust::RequestAuth req;
      req.authorization = auth;
      req.method = "POST";
      req.url = "http://127.0.0.1:8080/";
      (void)w.verifier->Verify(req);
      break;
    }
    case 3: {
      auto doc = gm::json::Parse(rest);
      if (doc.ok()) (void)gm::trust::Jwk::FromJson(*doc);
      break;
    }
    default:
      (void)gm::trust::ParseResourceScope(rest);
      break;
  }
  return 0;
}

// Svarrapport XML (libxml2, the embedded XSDs, the NILAR mapping). Oracle:
// a message that parses either maps or is refused with a clear error, and a
// mapped transaction Bundle writes and parses back to the same bytes.
inline int Svarrapport(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = gm::labs::ParseSvarrapport(text);
  if (!doc.ok()) return 0;
  auto bundle = gm::labs::MapToBundle(*doc);
  if (!bundle.ok()) return 0;
  const std::string written = gm::json::Write(*bundle);
  auto again = gm::json::Parse(written);
  if (!again.ok() || gm::json::Write(*again) != written) std::abort();
  return 0;
}

}  // namespace gm::fuzz
