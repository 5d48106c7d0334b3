#include "trust/jose.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <array>
#include <cstdlib>

namespace gm::trust {

namespace {

Status JoseError(const char* code, std::string text) {
  return Status::Error(ErrorCategory::kUnauthorized, code, "security", std::move(text));
}

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

std::shared_ptr<EVP_PKEY> Own(EVP_PKEY* k) { return std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free); }

// Big-endian bytes of a BIGNUM parameter of a key, left-padded to `width` (0: minimal).
std::string BnParam(EVP_PKEY* key, const char* name, int width) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) return {};
  BnPtr owned(bn);
  int n = width > 0 ? width : BN_num_bytes(bn);
  std::string out(static_cast<size_t>(n), '\0');
  if (BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), n) != n) return {};
  return out;
}

BnPtr ToBn(std::string_view bytes) {
  return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                         static_cast<int>(bytes.size()), nullptr));
}

std::optional<Alg> AlgOfKey(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) != 1) {
      return std::nullopt;
    }
    std::string_view g(group, len);
    if (g == "prime256v1" || g == "P-256") return Alg::kES256;
    return std::nullopt;
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    if (EVP_PKEY_get_bits(key) < 2048) return std::nullopt;
    return Alg::kRS256;
  }
  return std::nullopt;
}

bool HasPrivate(EVP_PKEY* key) {
  BIGNUM* bn = nullptr;
  const char* name = EVP_PKEY_is_a(key, "EC") ? OSSL_PKEY_PARAM_PRIV_KEY : OSSL_PKEY_PARAM_RSA_D;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) return false;
  BN_free(bn);
  return true;
}

Result<std::string> Member(const json::Value& jwk, const char* name) {
  const json::Value* v = jwk.find(name);
  if (v == nullptr || !v->is_string()) {
    return JoseError("GM-JOSE-006", std::string("JWK member '") + name + "' is missing");
  }
  auto bytes = Base64UrlDecode(v->str());
  if (!bytes || bytes->empty()) {
    return JoseError("GM-JOSE-006", std::string("JWK member '") + name + "' is not base64url");
  }
  return *bytes;
}

Result<std::shared_ptr<EVP_PKEY>> FromParams(const char* type, OSSL_PARAM_BLD* bld,
                                             bool is_private) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  bool ok = params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &key, is_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                              params) == 1;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  if (!ok || key == nullptr) return JoseError("GM-JOSE-006", "the JWK is not a usable key");
  return Own(key);
}

// ES256 signatures are r‖s (32 bytes each); OpenSSL speaks DER.
std::string DerToRaw(std::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (sig == nullptr) return {};
  std::string raw(64, '\0');
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  BN_bn2binpad(r, reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return raw;
}

std::string RawToDer(std::string_view raw) {
  if (raw.size() != 64) return {};
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return {};
  }
  unsigned char* der = nullptr;
  int n = i2d_ECDSA_SIG(sig, &der);
  std::string out;
  if (n > 0) out.assign(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out = n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
  BIO_free(bio);
  return out;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero (canonical encoding).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string Sha256(std::string_view bytes) {
  std::string out(32, '\0');
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), reinterpret_cast<unsigned char*>(out.data()), &n,
             EVP_sha256(), nullptr);
  return out;
}

std::string_view AlgName(Alg alg) { return alg == Alg::kES256 ? "ES256" : "RS256"; }

std::optional<Alg> AlgFromName(std::string_view name) {
  if (name == "ES256") return Alg::kES256;
  if (name == "RS256") return Alg::kRS256;
  return std::nullopt;
}

Jwk Jwk::Generate(Alg alg, std::string kid) {
  EVP_PKEY* key = alg == Alg::kES256 ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
  if (key == nullptr) std::abort();  // only when OpenSSL cannot allocate
  return Jwk(Own(key), alg, std::move(kid), true);
}

Result<Jwk> Jwk::FromJson(const json::Value& jwk) {
  if (!jwk.is_object()) return JoseError("GM-JOSE-006", "a JWK must be a JSON object");
  std::string_view kty = jwk.get_string("kty");
  std::string kid(jwk.get_string("kid"));
  const bool is_private = jwk.find("d") != nullptr;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  struct Free {
    OSSL_PARAM_BLD* b;
    ~Free() { OSSL_PARAM_BLD_free(b); }
  } free_bld{bld};
  std::vector<BnPtr> keep;  // BIGNUMs must outlive OSSL_PARAM_BLD_to_param
  if (kty == "EC") {
    if (jwk.get_string("crv") != "P-256") {
      return JoseError("GM-JOSE-006", "only EC keys on curve P-256 are supported");
    }
    GM_ASSIGN_OR_RETURN(std::string x, Member(jwk, "x"));
    GM_ASSIGN_OR_RETURN(std::string y, Member(jwk, "y"));
    if (x.size() != 32 || y.size() != 32) {
      return JoseError("GM-JOSE-006", "P-256 coordinates must be 32 bytes");
    }
    std::string point = std::string("\x04", 1) + x + y;
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    if (is_private) {
      GM_ASSIGN_OR_RETURN(std::string d, Member(jwk, "d"));
      keep.push_back(ToBn(d));
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, keep.back().get());
    }
    GM_ASSIGN_OR_RETURN(auto key, FromParams("EC", bld, is_private));
    return Jwk(std::move(key), Alg::kES256, std::move(kid), is_private);
  }
  if (kty == "RSA") {
    GM_ASSIGN_OR_RETURN(std::string n, Member(jwk, "n"));
    GM_ASSIGN_OR_RETURN(std::string e, Member(jwk, "e"));
    if (n.size() < 256) return JoseError("GM-JOSE-006", "RSA keys must have at least 2048 bits");
    keep.push_back(ToBn(n));
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, keep.back().get());
    keep.push_back(ToBn(e));
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, keep.back().get());
    if (is_private) {
      // Private RSA JWKs carry the CRT parameters too; all are needed.
      static constexpr std::array<std::pair<const char*, const char*>, 6> kPriv = {{
          {"d", OSSL_PKEY_PARAM_RSA_D},
          {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
          {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},
          {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
          {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2},
          {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
      }};
      for (const auto& [member, param] : kPriv) {
        GM_ASSIGN_OR_RETURN(std::string v, Member(jwk, member));
        keep.push_back(ToBn(v));
        OSSL_PARAM_BLD_push_BN(bld, param, keep.back().get());
      }
    }
    GM_ASSIGN_OR_RETURN(auto key, FromParams("RSA", bld, is_private));
    return Jwk(std::move(key), Alg::kRS256, std::move(kid), is_private);
  }
  return JoseError("GM-JOSE-006", "only EC (P-256) and RSA keys are supported");
}

Result<Jwk> Jwk::FromPem(std::string_view pem, std::string kid) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  bool is_private = key != nullptr;
  if (key == nullptr) {
    BIO_free(bio);
    bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  }
  BIO_free(bio);
  if (key == nullptr) return JoseError("GM-JOSE-006", "not a PEM key");
  auto owned = Own(key);
  auto alg = AlgOfKey(key);
  if (!alg) return JoseError("GM-JOSE-006", "only P-256 and RSA ≥ 2048 keys are supported");
  return Jwk(std::move(owned), *alg, std::move(kid), is_private && HasPrivate(key));
}

json::Value Jwk::PublicJson() const {
  json::Value j = json::Value::MakeObject();
  if (alg_ == Alg::kES256) {
    j.set("kty", "EC");
    j.set("crv", "P-256");
    j.set("x", Base64UrlEncode(BnParam(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32)));
    j.set("y", Base64UrlEncode(BnParam(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32)));
  } else {
    j.set("kty", "RSA");
    j.set("n", Base64UrlEncode(BnParam(key_.get(), OSSL_PKEY_PARAM_RSA_N, 0)));
    j.set("e", Base64UrlEncode(BnParam(key_.get(), OSSL_PKEY_PARAM_RSA_E, 0)));
  }
  if (!kid_.empty()) j.set("kid", kid_);
  j.set("alg", std::string(AlgName(alg_)));
  j.set("use", "sig");
  return j;
}

std::string Jwk::PrivatePem() const {
  if (!private_) return {};
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return BioString(bio);
}

std::string Jwk::PublicPem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key_.get());
  return BioString(bio);
}

std::string Jwk::Thumbprint() const {
  // RFC 7638 §3.2: the required members only, lexicographic order, no spaces.
  json::Value pub = PublicJson();
  std::string canonical;
  if (alg_ == Alg::kES256) {
    canonical = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"" + std::string(pub.get_string("x")) +
                "\",\"y\":\"" + std::string(pub.get_string("y")) + "\"}";
  } else {
    canonical = "{\"e\":\"" + std::string(pub.get_string("e")) + "\",\"kty\":\"RSA\",\"n\":\"" +
                std::string(pub.get_string("n")) + "\"}";
  }
  return Base64UrlEncode(Sha256(canonical));
}

std::string Jwk::Sign(std::string_view signing_input) const {
  if (!private_) return {};
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  std::string sig;
  size_t len = 0;
  if (md && EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key_.get()) == 1 &&
      EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) == 1) {
    sig.resize(len);
    if (EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) == 1) {
      sig.resize(len);
    } else {
      sig.clear();
    }
  }
  EVP_MD_CTX_free(md);
  if (alg_ == Alg::kES256 && !sig.empty()) sig = DerToRaw(sig);
  return sig;
}

bool Jwk::Verify(std::string_view signing_input, std::string_view signature) const {
  std::string der;
  if (alg_ == Alg::kES256) {
    der = RawToDer(signature);
    if (der.empty()) return false;
    signature = der;
  }
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  bool ok = md && EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key_.get()) == 1 &&
            EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(),
                             reinterpret_cast<const unsigned char*>(signing_input.data()),
                             signing_input.size()) == 1;
  EVP_MD_CTX_free(md);
  return ok;
}

std::string SignJws(json::Value header, const json::Value& payload, const Jwk& key) {
  header.set("alg", std::string(AlgName(key.alg())));
  if (!key.kid().empty() && header.find("kid") == nullptr && header.find("jwk") == nullptr) {
    header.set("kid", key.kid());
  }
  std::string input = Base64UrlEncode(json::Write(header)) + "." +
                      Base64UrlEncode(json::Write(payload));
  return input + "." + Base64UrlEncode(key.Sign(input));
}

Result<Jws> DecodeJws(std::string_view compact) {
  size_t a = compact.find('.');
  size_t b = a == std::string_view::npos ? a : compact.find('.', a + 1);
  if (a == std::string_view::npos || b == std::string_view::npos ||
      compact.find('.', b + 1) != std::string_view::npos || a == 0 || b == a + 1) {
    return JoseError("GM-JOSE-001", "the token is not a compact JWS (three base64url parts)");
  }
  auto header = Base64UrlDecode(compact.substr(0, a));
  auto payload = Base64UrlDecode(compact.substr(a + 1, b - a - 1));
  auto signature = Base64UrlDecode(compact.substr(b + 1));
  if (!header || !payload || !signature) {
    return JoseError("GM-JOSE-005", "the token is not valid base64url");
  }
  Jws jws;
  auto h = json::Parse(*header, json::ParseOptions{.max_depth = 16});
  auto p = json::Parse(*payload, json::ParseOptions{.max_depth = 32});
  if (!h.ok() || !p.ok() || !h->is_object() || !p->is_object()) {
    return JoseError("GM-JOSE-002", "the token's header and payload must be JSON objects");
  }
  jws.header = std::move(*h);
  jws.payload = std::move(*p);
  jws.signing_input = std::string(compact.substr(0, b));
  jws.signature = std::move(*signature);
  return jws;
}

Status VerifyJws(const Jws& jws, const Jwk& key, const std::vector<Alg>& allowed) {
  const json::Value* alg_member = jws.header.find("alg");
  std::optional<Alg> alg =
      alg_member && alg_member->is_string() ? AlgFromName(alg_member->str()) : std::nullopt;
  bool is_allowed = false;
  for (Alg a : allowed) is_allowed = is_allowed || (alg && *alg == a);
  if (!is_allowed) return JoseError("GM-JOSE-003", "the token's alg is missing or not allowed");
  if (*alg != key.alg()) return JoseError("GM-JOSE-007", "the token's alg does not fit the key");
  if (!key.Verify(jws.signing_input, jws.signature)) {
    return JoseError("GM-JOSE-004", "the token's signature does not verify");
  }
  return Status::Ok();
}

}  // namespace gm::trust
