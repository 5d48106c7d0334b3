// The short-lived state of the authorization-code flow for people
// (rest/oauth.cc): pushed authorization requests (RFC 9126), login sessions
// (the one-time value of the login form) and authorization codes (RFC 6749
// §4.1 with PKCE S256, RFC 7636). Everything lives in memory only: a restart
// ends flows in progress, which then start again; nothing here is a secret
// worth persisting.
//
// Every handle (request_uri, login value, code) is 256 random bits,
// base64url, and is taken exactly once: Take* removes it, so a second use —
// and any use after it expired — finds nothing. The store is bounded
// (kMaxEntries per kind); when full, expired entries are dropped first and
// then new flows are refused (fail closed) rather than old ones evicted.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.h"
#include "core/json.h"

namespace gm::trust {

// A pushed authorization request after its checks (client authenticated,
// redirect_uri registered, PKCE S256, scope allowed).
struct PushedRequest {
  std::string client_id;
  std::string redirect_uri;
  std::string scope;           // granted scopes (subset of the client's)
  std::string state;           // echoed to the client
  std::string nonce;           // echoed in the id_token
  std::string code_challenge;  // S256 only
  json::Value authorization_details;  // null or an array (trust framework)
  std::string dpop_jkt;  // RFC 9449 §10: the code may be redeemed only with this DPoP key
};

// What a code stands for: a person logged in for a pushed request.
struct CodeGrant {
  PushedRequest request;
  std::string pid;         // FNR/DNR of the person who logged in
  std::string hpr_number;  // clinicians only
  std::string name;        // display name from the registry ("" if none)
  bool clinician = false;
  std::string scope;       // scopes for this person (patient/… or user/…)
  int64_t auth_time = 0;   // Unix seconds
};

struct AuthCodeOptions {
  int64_t request_ttl_s = 90;  // request_uri (RFC 9126 suggests 5–600 s)
  int64_t login_ttl_s = 600;   // the login page's one-time value
  int64_t code_ttl_s = 60;     // authorization code (RFC 6749: at most 10 min)
  size_t max_entries = 100'000;
};

inline constexpr std::string_view kRequestUriPrefix = "urn:ietf:params:oauth:request_uri:";

class AuthCodeStore {
 public:
  explicit AuthCodeStore(const Clock& clock, AuthCodeOptions options = {})
      : clock_(clock), options_(options) {}

  // Stores a pushed request; returns its request_uri, or nullopt when full.
  std::optional<std::string> PushRequest(PushedRequest request);
  // The request behind request_uri, once; nullopt when unknown, used or expired.
  std::optional<PushedRequest> TakeRequest(std::string_view request_uri);

  // Starts a login for a request: returns the one-time value for the form
  // and (through browser_binding) a second random value for a cookie; the
  // form post must present both. nullopt when full.
  std::optional<std::string> StartLogin(PushedRequest request, std::string* browser_binding);
  // The request of a login value, once (also when the binding is wrong: the
  // value is spent either way). nullopt when unknown, used, expired or the
  // browser binding does not match.
  std::optional<PushedRequest> TakeLogin(std::string_view login_value,
                                         std::string_view browser_binding);

  // Issues a code for a completed login; nullopt when full.
  std::optional<std::string> IssueCode(CodeGrant grant);
  // The grant of a code, once; nullopt when unknown, used or expired.
  std::optional<CodeGrant> TakeCode(std::string_view code);

  const AuthCodeOptions& options() const { return options_; }

 private:
  template <typename T>
  struct Entry {
    T value;
    int64_t expires_at_s;
  };
  template <typename T>
  std::optional<std::string> Put(std::unordered_map<std::string, Entry<T>>& map, T value,
                                 int64_t ttl_s);
  template <typename T>
  std::optional<T> Take(std::unordered_map<std::string, Entry<T>>& map, std::string_view key);

  struct Login {
    PushedRequest request;
    std::string binding_hash;  // SHA-256 of the cookie value
  };

  const Clock& clock_;
  AuthCodeOptions options_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry<PushedRequest>> requests_;
  std::unordered_map<std::string, Entry<Login>> logins_;
  std::unordered_map<std::string, Entry<CodeGrant>> codes_;
};

// 256 random bits, base64url (no padding).
std::string RandomHandle();

// PKCE (RFC 7636 §4.1, §4.6): the verifier is 43–128 characters of
// [A-Za-z0-9-._~] and base64url(SHA-256(verifier)) equals the challenge.
bool PkceS256Matches(std::string_view verifier, std::string_view challenge);
// A challenge of the S256 form: exactly 43 base64url characters.
bool IsS256Challenge(std::string_view challenge);

// Constant-time comparison of two strings (lengths may differ).
bool SafeEquals(std::string_view a, std::string_view b);

}  // namespace gm::trust
