// Access tokens: issued by grunnmur's own authorization server, or by a
// configured external issuer (the real HelseID, Keycloak), and checked on
// every request by one TokenVerifier.
//
// Issued tokens are JWTs (RFC 9068): header typ "at+jwt", ES256 (or RS256),
// claims iss, sub, aud (exactly one), client_id, scope, iat, nbf, exp, jti,
// cnf.jkt when DPoP-bound (RFC 9449), and the HelseID claims:
//   helseid://claims/identity/pid                 the person's FNR/DNR
//   helseid://claims/identity/security_level      "3" or "4"
//   helseid://claims/hpr/hpr_number               HPR number of the clinician
//   helseid://claims/client/claims/orgnr_parent   the client's legal entity
//   helseid://claims/client/claims/orgnr_child    its sub-unit
//   authorization_details                         incl. the trust-framework
//                                                 attestation (see Attestation)
//
// Verification (RFC 8725 and NHN's API rules), in this order; the first
// failure is the answer (kUnauthorized; texts say which rule failed, never
// anything about data):
//   GM-AUTH-001 no Authorization header, or not "Bearer"/"DPoP" + token
//   GM-AUTH-002 not a JWS (GM-JOSE-001/002/005 folded in)
//   GM-AUTH-003 typ not at+jwt / application/at+jwt / JWT
//   GM-AUTH-004 header carries jku, x5u, jwk or x5c (keys are never taken from a token)
//   GM-AUTH-005 issuer not trusted (exact match)
//   GM-AUTH-006 kid unknown to that issuer, or signature/alg fails
//   GM-AUTH-007 audience is not exactly ours (one audience only)
//   GM-AUTH-008 expired (exp + leeway < now), or exp missing
//   GM-AUTH-009 not yet valid (nbf or iat - leeway > now)
//   GM-AUTH-010 DPoP-bound token used as Bearer, or DPoP proof missing
//   GM-AUTH-011 DPoP proof invalid (typ, alg, jwk, htm, htu, iat window, ath, jti replay)
//   GM-AUTH-012 DPoP key does not match cnf.jkt
//   GM-AUTH-013 token lifetime longer than the issuer's maximum
//   GM-AUTH-014 token revoked or its jti already seen as revoked
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "core/status.h"
#include "trust/jose.h"
#include "trust/scopes.h"

namespace gm::trust {

inline constexpr std::string_view kClaimPid = "helseid://claims/identity/pid";
inline constexpr std::string_view kClaimSecurityLevel = "helseid://claims/identity/security_level";
inline constexpr std::string_view kClaimHpr = "helseid://claims/hpr/hpr_number";
inline constexpr std::string_view kClaimOrgParent = "helseid://claims/client/claims/orgnr_parent";
inline constexpr std::string_view kClaimOrgChild = "helseid://claims/client/claims/orgnr_child";
inline constexpr std::string_view kAttestationType = "nhn:tillitsrammeverk:parameters";

// The trust-framework attestation (Tillitsrammeverk), as the EHR sent it.
// Both spellings of the care relation key are read ("care_relation",
// "care_relationship").
struct Attestation {
  json::Value raw;  // the authorization_details object
  std::string practitioner_id;        // practitioner.identifier (FNR/DNR) — never logged
  std::string practitioner_hpr;       // practitioner.hpr_nr
  std::string authorization;          // practitioner.authorization (kodeverk 9060, e.g. LE)
  std::string legal_entity;           // orgnr
  std::string point_of_care;          // orgnr
  std::string department;             // RESH
  std::string purpose_of_use;         // TREAT | ETREAT | COC | BTG
  std::string healthcare_service;
  std::string decision_ref;           // decision_ref.id
  std::vector<std::string> patients;  // patients[].identifier (FNR/DNR)
  int64_t toa = 0;                    // time of attestation, Unix seconds
};

// Reads the attestation out of an authorization_details array (or single
// object); nullopt when there is none. Malformed ones are an error
// (kUnauthorized, GM-AUTH-020).
Result<std::optional<Attestation>> ParseAttestation(const json::Value& authorization_details);

// Who is calling, as established by a verified token.
struct Principal {
  std::string issuer;
  std::string subject;
  std::string client_id;
  std::string jti;
  std::string pid;         // person's FNR/DNR (citizens, clinicians)
  std::string hpr_number;  // clinicians
  std::string orgnr_parent, orgnr_child;
  int security_level = 0;
  ScopeSet scopes;
  std::optional<Attestation> attestation;
  std::string dpop_jkt;  // thumbprint of the bound key ("" for Bearer tokens)
  int64_t issued_at = 0, expires_at = 0;
};

// Signing keys of grunnmur's own issuer: the current key signs, older ones
// stay published (JWKS) and accepted until retired, so rotation never breaks
// tokens in flight. Persisted as PEM files in a directory (mode 0600).
// Thread-safe.
//
// Several nodes share one key directory (mounted, or copied whole). A ring
// opened on a directory re-reads it when its files change, checked at most
// every kKeyReloadIntervalS seconds (on use): keys added by another node's
// rotation are published and verify from then on; retired ones are dropped.
// A rotated key may carry an activation time (sidecar "<kid>.activation",
// Unix seconds, written before the key file): it is published and verifies
// at once but signs only from that time on, so with an activation delay
// longer than the reload interval no node signs with a key another node
// cannot verify yet. Keys found without a sidecar when the ring opens are
// active (keys made before sidecars existed); a key file that appears while
// running without its sidecar (copied in by hand, or before its sidecar)
// signs only kDefaultActivationDelayS after this node saw it.
class KeyRing {
 public:
  static constexpr int64_t kKeyReloadIntervalS = 2;
  static constexpr int64_t kDefaultActivationDelayS = 10;

  // Loads <dir>/*.pem (kid = file stem, newest active = current); creates one
  // key (active at once) if none. clock: nullptr = the system clock.
  static Result<std::shared_ptr<KeyRing>> Open(const std::string& dir, Alg alg = Alg::kES256,
                                               const Clock* clock = nullptr);
  // A ring that lives in memory only (tests).
  static std::shared_ptr<KeyRing> InMemory(Alg alg = Alg::kES256);

  // The newest key whose activation time has come (the oldest key if none has).
  Jwk Current() const;
  std::optional<Jwk> Find(std::string_view kid) const;
  json::Value PublicJwks() const;  // {"keys":[...]} current first, then the others newest first
  // The activation time of a key (Unix seconds; 0 = active from the start).
  std::optional<int64_t> ActivationOf(std::string_view kid) const;
  // Makes a new key, current from activate_after_s seconds from now (until
  // then it is published and verifies); keeps at most `keep` keys older than
  // the current one (the current key and pending ones are never retired).
  Status Rotate(size_t keep = 2, int64_t activate_after_s = 0);

 private:
  struct Entry {
    Jwk key;
    int64_t activate_s = 0;
  };
  KeyRing(std::string dir, Alg alg, const Clock* clock)
      : dir_(std::move(dir)), alg_(alg), clock_(clock) {}
  int64_t NowS() const;
  size_t CurrentIndexLocked(int64_t now_s) const;
  void MaybeReloadLocked() const;
  std::string dir_;  // "" in memory
  Alg alg_;
  const Clock* clock_;  // never null
  mutable std::mutex mu_;
  mutable std::vector<Entry> keys_;  // kid order (oldest first)
  mutable int64_t last_scan_s_ = 0;
};

// Remembers jti values (DPoP proofs, client assertions) until they expire, so
// each is accepted once. Implementations: ReplayCache (this process: one node
// or SQLite) and trust/postgres/pg_replay.h (shared by every node on one
// PostgreSQL database).
class ReplayGuard {
 public:
  virtual ~ReplayGuard() = default;
  // True when `jti` was not seen before (and records it until expires_at_s).
  // False when it was — or when that cannot be decided (fail closed).
  virtual bool FirstUse(std::string_view jti, int64_t expires_at_s, int64_t now_s) = 0;
};

// The in-process ReplayGuard. Thread-safe; bounded: when full, expired entries
// are dropped first, and if still full the check fails closed (the value is
// treated as seen).
class ReplayCache final : public ReplayGuard {
 public:
  explicit ReplayCache(size_t capacity = 1'000'000) : capacity_(capacity) {}
  bool FirstUse(std::string_view jti, int64_t expires_at_s, int64_t now_s) override;

 private:
  size_t capacity_;
  std::mutex mu_;
  std::unordered_map<std::string, int64_t> seen_;
};

struct IssueRequest {
  std::string subject;
  std::string client_id;
  std::string scope;
  std::string pid, hpr_number, orgnr_parent, orgnr_child;
  int security_level = 0;
  json::Value authorization_details;  // array or null
  std::string cnf_jkt;                // DPoP binding ("" = Bearer)
  int64_t ttl_seconds = 300;
};

class TokenIssuer {
 public:
  TokenIssuer(std::shared_ptr<KeyRing> keys, std::string issuer, std::string audience,
              const Clock& clock)
      : keys_(std::move(keys)), issuer_(std::move(issuer)), audience_(std::move(audience)),
        clock_(clock) {}
  std::string Issue(const IssueRequest& request) const;
  const std::string& issuer() const { return issuer_; }
  const std::string& audience() const { return audience_; }

 private:
  std::shared_ptr<KeyRing> keys_;
  std::string issuer_, audience_;
  const Clock& clock_;
};

// One issuer whose tokens are accepted: its exact "iss", the keys (never
// fetched from URLs in tokens), and its longest allowed token lifetime.
struct TrustedIssuer {
  std::string issuer;
  std::shared_ptr<KeyRing> own_keys;  // grunnmur's own issuer
  std::vector<Jwk> keys;              // an external issuer's configured JWKS
  int64_t max_lifetime_s = 3600;
  std::string audience;               // "" = VerifierOptions::audience
};

struct VerifierOptions {
  std::vector<TrustedIssuer> issuers;
  std::string audience;          // exactly this, e.g. "grunnmur" or the base URL
  int64_t leeway_s = 5;
  int64_t dpop_max_age_s = 60;   // proof iat within [now - age, now + leeway]
  std::vector<Alg> algs = {Alg::kES256, Alg::kRS256};
  // DPoP proof jti replay check; nullptr = a ReplayCache of this verifier.
  std::shared_ptr<ReplayGuard> dpop_replay;
};

// What the verifier needs of an HTTP request.
struct RequestAuth {
  std::string_view authorization;  // Authorization header
  std::string_view dpop;           // DPoP header
  std::string_view method;         // "GET"
  std::string_view url;            // absolute request URL (query and fragment ignored)
};

class TokenVerifier {
 public:
  TokenVerifier(VerifierOptions options, const Clock& clock)
      : options_(std::move(options)), clock_(clock) {}
  Result<Principal> Verify(const RequestAuth& request) const;

  // Checks a DPoP proof (RFC 9449 §4.3) for method/url and, when
  // access_token is given, its ath; returns the key's thumbprint.
  // Errors: GM-AUTH-011.
  Result<std::string> VerifyDpopProof(std::string_view proof, std::string_view method,
                                      std::string_view url,
                                      std::optional<std::string_view> access_token) const;

 private:
  VerifierOptions options_;
  const Clock& clock_;
  mutable ReplayCache dpop_jtis_;
  // Tokens whose signature already verified (the exact token text → its exp):
  // the signature check is most of a request's authentication cost and a
  // client sends the same token many times. Everything else (keys still
  // trusted, audience, times, DPoP proof) is checked on every request.
  static constexpr size_t kMaxVerifiedTokens = 4096;
  mutable std::mutex verified_mu_;
  mutable std::unordered_map<std::string, int64_t> verified_;
};

// "https://host:port/path?query#frag" → "https://host:port/path" with scheme
// and host lower-cased and default ports dropped (RFC 9449 §4.3 point 9).
std::string NormalizeHtu(std::string_view url);

}  // namespace gm::trust
