// Registered clients (EHRs, pharmacy and lab systems) and their
// authentication with private_key_jwt (RFC 7523, HelseID's rules).
//
// A client is registered by an operator (`grunnmur client add`) with its
// public JWKS, the scopes it may ask for and its organisation numbers; the
// registry is a directory of JSON files (<data>/clients/<client_id>.json,
// written atomically, mode 0600), read on each token request so a new client
// needs no restart. Only public keys are stored; grunnmur never sees a
// client's private key.
//
// Client assertion checks (every failure: kUnauthorized GM-AUTH-05x, answered
// as OAuth "invalid_client"):
//   050 not a JWS / header typ is not client-authentication+jwt
//   051 iss and sub missing, different, or not a registered client
//   052 no key of the client verifies it (alg ES256/RS256 only)
//   053 aud is not this token endpoint or issuer
//   054 exp missing, passed, or more than 60 s after iat; iat/nbf in the future
//   055 jti missing or already used (replay)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "core/status.h"
#include "trust/jose.h"
#include "trust/tokens.h"

namespace gm::trust {

struct Client {
  std::string client_id;
  std::string name;
  std::vector<Jwk> keys;
  std::string allowed_scope;  // space-separated scopes the client may be given
  std::string orgnr_parent, orgnr_child;
  // The authorization-code flow (people): exact redirect URIs and the grant
  // types the client may use ("client_credentials", "authorization_code").
  // Registrations without grant types may use client_credentials only.
  std::vector<std::string> redirect_uris;
  std::vector<std::string> grant_types;
  bool Allows(std::string_view grant_type) const;
  bool HasRedirectUri(std::string_view uri) const;  // exact string match
};

// A redirect URI a client may register: absolute https, or http only to a
// loopback host (127.0.0.1, [::1], localhost; RFC 8252 §7.3); no fragment.
bool IsAcceptableRedirectUri(std::string_view uri);

class ClientRegistry {
 public:
  explicit ClientRegistry(std::string dir) : dir_(std::move(dir)) {}
  // Registers or replaces a client. jwks: {"keys":[public JWKs]}.
  Status Put(const std::string& client_id, const std::string& name, const json::Value& jwks,
             const std::string& allowed_scope, const std::string& orgnr_parent,
             const std::string& orgnr_child) const;
  // The same with the authorization-code settings (each redirect URI must be
  // IsAcceptableRedirectUri; grant types among the two supported; empty grant
  // types: client_credentials, plus authorization_code when redirect URIs are
  // given). Errors GM-AUTH-065 (redirect URI), GM-AUTH-066 (grant type).
  Status Put(const std::string& client_id, const std::string& name, const json::Value& jwks,
             const std::string& allowed_scope, const std::string& orgnr_parent,
             const std::string& orgnr_child, const std::vector<std::string>& redirect_uris,
             std::vector<std::string> grant_types) const;
  Result<std::optional<Client>> Find(const std::string& client_id) const;

 private:
  std::string dir_;
};

struct AssertionCheck {
  std::vector<std::string> audiences;  // accepted "aud" values
  int64_t max_lifetime_s = 60;
  int64_t leeway_s = 5;
};

// Verifies a client assertion; returns the client and the assertion's claims.
struct AuthenticatedClient {
  Client client;
  json::Value claims;
};
Result<AuthenticatedClient> VerifyClientAssertion(std::string_view assertion,
                                                  const ClientRegistry& registry,
                                                  const AssertionCheck& check, const Clock& clock,
                                                  ReplayGuard& replay);

// The requested scopes that the client may have (requested ∩ allowed, by
// exact scope or by a wildcard allowed scope covering it); empty request:
// all allowed. nullopt when some requested scope is not allowed.
std::optional<std::string> GrantScopes(std::string_view requested, std::string_view allowed);

}  // namespace gm::trust
