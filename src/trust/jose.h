// JOSE for the trust layer: JSON Web Keys (RFC 7517), JWS compact
// serialization (RFC 7515) with ES256 and RS256 (RFC 7518), JWK thumbprints
// (RFC 7638). OpenSSL 3 does the cryptography; this file does the encodings.
//
// Only asymmetric algorithms exist here: there is no "none" and no HMAC, so a
// token can never be "signed" with a public key used as a shared secret
// (RFC 8725 §2.1, §3.1). A verifier states which algorithms it accepts, and a
// key is used only with the algorithm of its type (EC P-256 ↔ ES256,
// RSA ≥ 2048 bits ↔ RS256).
//
// Errors are kUnauthorized with codes GM-JOSE-001… and texts that say what is
// wrong with the token's form, never its content:
//   001 not three base64url parts        002 header or payload not a JSON object
//   003 alg missing or not allowed       004 signature does not verify
//   005 bad base64url                    006 JWK malformed or unsupported
//   007 key type does not fit alg        008 no key for the token (kid)
//
// Thread-safety: Jwk is immutable after construction and may be shared.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace gm::trust {

std::string Base64UrlEncode(std::string_view bytes);
// Strict: the URL-safe alphabet without padding (padding is refused).
std::optional<std::string> Base64UrlDecode(std::string_view text);

std::string Sha256(std::string_view bytes);  // the raw 32-byte digest

enum class Alg { kES256, kRS256 };
std::string_view AlgName(Alg alg);
std::optional<Alg> AlgFromName(std::string_view name);

// A public or private key: EC P-256 or RSA.
class Jwk {
 public:
  // A new private key. kES256: P-256; kRS256: RSA 2048.
  static Jwk Generate(Alg alg, std::string kid);
  // From a JWK JSON object (public, or private with "d"). RSA keys under 2048
  // bits, other curves and symmetric keys ("oct") are refused (GM-JOSE-006).
  static Result<Jwk> FromJson(const json::Value& jwk);
  // PKCS#8 / SubjectPublicKeyInfo PEM (what the data directory holds).
  static Result<Jwk> FromPem(std::string_view pem, std::string kid);

  Alg alg() const { return alg_; }
  const std::string& kid() const { return kid_; }
  bool is_private() const { return private_; }

  // The public JWK: kty, crv/x/y or n/e, kid, alg, use=sig.
  json::Value PublicJson() const;
  std::string PrivatePem() const;  // empty for a public key
  std::string PublicPem() const;
  // RFC 7638 thumbprint, base64url of SHA-256 over the required members.
  std::string Thumbprint() const;

  // Signs header.payload; the key must be private.
  std::string Sign(std::string_view signing_input) const;
  bool Verify(std::string_view signing_input, std::string_view signature) const;

 private:
  Jwk(std::shared_ptr<EVP_PKEY> key, Alg alg, std::string kid, bool is_private)
      : key_(std::move(key)), alg_(alg), kid_(std::move(kid)), private_(is_private) {}
  std::shared_ptr<EVP_PKEY> key_;
  Alg alg_;
  std::string kid_;
  bool private_;
};

struct Jws {
  json::Value header;
  json::Value payload;
  std::string signing_input;  // base64url(header) "." base64url(payload)
  std::string signature;      // raw bytes
};

// Compact JWS: header gets "alg" and "kid" from the key (other members as given).
std::string SignJws(json::Value header, const json::Value& payload, const Jwk& key);

// Splits and decodes without checking the signature (to read kid/typ/jwk first).
Result<Jws> DecodeJws(std::string_view compact);

// Checks `jws` with `key`: the header's alg must be in `allowed` and fit the key.
Status VerifyJws(const Jws& jws, const Jwk& key, const std::vector<Alg>& allowed);

}  // namespace gm::trust
