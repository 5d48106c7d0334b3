// Access tokens and DPoP: what is accepted, and a mutation corpus of what
// must be refused (RFC 8725, RFC 9068, RFC 9449, NHN's API rules).
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <filesystem>

#include "trust/jose.h"
#include "trust/scopes.h"
#include "trust/tokens.h"

namespace gm::trust {
namespace {

constexpr int64_t kNow = 1'790'000'000;  // seconds
constexpr const char* kIssuer = "https://grunnmur.test";
constexpr const char* kAudience = "grunnmur";
constexpr const char* kUrl = "https://grunnmur.test/Patient/123";

// ---- JOSE ----------------------------------------------------------------

TEST(Base64Url, Rfc4648VectorsWithoutPadding) {
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},          {"f", "Zg"},         {"fo", "Zm8"},       {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : cases) {
    EXPECT_EQ(Base64UrlEncode(plain), encoded);
    EXPECT_EQ(Base64UrlDecode(encoded), std::string(plain));
  }
  EXPECT_EQ(Base64UrlEncode(std::string("\xfb\xff", 2)), "-_8");  // URL alphabet
  EXPECT_FALSE(Base64UrlDecode("Zg=="));  // padding refused
  EXPECT_FALSE(Base64UrlDecode("Zm9v+g"));  // standard alphabet refused
  EXPECT_FALSE(Base64UrlDecode("Z"));       // impossible length
  EXPECT_FALSE(Base64UrlDecode("Zh"));      // non-zero leftover bits
}

TEST(Jwk, SignVerifyAndRoundTripsForBothAlgorithms) {
  for (Alg alg : {Alg::kES256, Alg::kRS256}) {
    Jwk key = Jwk::Generate(alg, "k1");
    std::string sig = key.Sign("header.payload");
    ASSERT_FALSE(sig.empty());
    if (alg == Alg::kES256) EXPECT_EQ(sig.size(), 64u);  // r‖s, not DER
    EXPECT_TRUE(key.Verify("header.payload", sig));
    EXPECT_FALSE(key.Verify("header.payloaD", sig));
    // The public JWK and the PEM forms describe the same key.
    auto pub = Jwk::FromJson(key.PublicJson());
    ASSERT_TRUE(pub.ok()) << pub.status().message();
    EXPECT_FALSE(pub->is_private());
    EXPECT_TRUE(pub->Verify("header.payload", sig));
    EXPECT_EQ(pub->Thumbprint(), key.Thumbprint());
    auto pem = Jwk::FromPem(key.PrivatePem(), "k1");
    ASSERT_TRUE(pem.ok());
    EXPECT_TRUE(pem->is_private());
    EXPECT_EQ(pem->Thumbprint(), key.Thumbprint());
    auto pub_pem = Jwk::FromPem(key.PublicPem(), "k1");
    ASSERT_TRUE(pub_pem.ok());
    EXPECT_FALSE(pub_pem->is_private());
    // A public key cannot sign.
    EXPECT_TRUE(pub->Sign("x").empty());
    EXPECT_NE(Jwk::Generate(alg, "k2").Thumbprint(), key.Thumbprint());
  }
}

TEST(Jwk, ThumbprintIgnoresOptionalMembers) {
  Jwk key = Jwk::Generate(Alg::kES256, "a");
  json::Value j = key.PublicJson();
  j.set("kid", "something-else");
  j.erase("alg");
  j.erase("use");
  auto again = Jwk::FromJson(j);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->Thumbprint(), key.Thumbprint());
  EXPECT_EQ(key.Thumbprint().size(), 43u);  // base64url of 32 bytes
}

TEST(Jwk, RefusesUnsupportedKeys) {
  auto oct = json::Parse(R"({"kty":"oct","k":"c2VjcmV0"})");
  EXPECT_EQ(Jwk::FromJson(*oct).status().code(), "GM-JOSE-006");
  json::Value p384 = Jwk::Generate(Alg::kES256, "x").PublicJson();
  p384.set("crv", "P-384");
  EXPECT_EQ(Jwk::FromJson(p384).status().code(), "GM-JOSE-006");
  json::Value bad_point = Jwk::Generate(Alg::kES256, "x").PublicJson();
  bad_point.set("x", Base64UrlEncode(std::string(32, '\x01')));  // not on the curve
  EXPECT_FALSE(Jwk::FromJson(bad_point).ok());
  EXPECT_FALSE(Jwk::FromPem("-----BEGIN NOTHING-----", "x").ok());
}

TEST(Jws, VerifyChecksAlgAgainstAllowListAndKey) {
  Jwk es = Jwk::Generate(Alg::kES256, "es");
  Jwk rs = Jwk::Generate(Alg::kRS256, "rs");
  auto payload = json::Parse(R"({"a":1})");
  auto jws = DecodeJws(SignJws(json::Value::MakeObject(), *payload, es));
  ASSERT_TRUE(jws.ok());
  EXPECT_EQ(jws->header.get_string("kid"), "es");
  EXPECT_TRUE(VerifyJws(*jws, es, {Alg::kES256}).ok());
  EXPECT_EQ(VerifyJws(*jws, es, {Alg::kRS256}).code(), "GM-JOSE-003");
  EXPECT_EQ(VerifyJws(*jws, rs, {Alg::kES256, Alg::kRS256}).code(), "GM-JOSE-007");
  EXPECT_EQ(DecodeJws("a.b").status().code(), "GM-JOSE-001");
  EXPECT_EQ(DecodeJws("a.b.c.d").status().code(), "GM-JOSE-001");
  EXPECT_EQ(DecodeJws("e30.!!.x").status().code(), "GM-JOSE-005");
  EXPECT_EQ(DecodeJws(Base64UrlEncode("[1]") + ".e30.AA").status().code(), "GM-JOSE-002");
}

// ---- Scopes --------------------------------------------------------------

TEST(Scopes, SmartV2AndV1Forms) {
  ScopeSet s = ScopeSet::Parse(
      "openid patient/Observation.rs user/*.cruds system/MedicationRequest.crus "
      "patient/Condition.read launch/patient user/Bad.xyz patient/Encounter.sr nonsense/x.r");
  EXPECT_TRUE(s.Allows("Observation", kRead, {ScopeContext::kPatient}));
  EXPECT_TRUE(s.Allows("Observation", kSearch, {ScopeContext::kPatient}));
  EXPECT_FALSE(s.Allows("Observation", kCreate, {ScopeContext::kPatient}));
  EXPECT_TRUE(s.Allows("Anything", kDelete, {ScopeContext::kUser}));
  EXPECT_FALSE(s.Allows("Anything", kDelete, {ScopeContext::kSystem}));
  EXPECT_TRUE(s.Allows("MedicationRequest", kUpdate, {ScopeContext::kSystem}));
  EXPECT_FALSE(s.Allows("MedicationRequest", kDelete, {ScopeContext::kSystem}));
  EXPECT_TRUE(s.Allows("Condition", kSearch, {ScopeContext::kPatient}));  // v1 .read = rs
  EXPECT_FALSE(s.Allows("Condition", kUpdate, {ScopeContext::kPatient}));
  EXPECT_FALSE(s.Allows("Encounter", kRead, {ScopeContext::kPatient}));  // "sr": out of order
  EXPECT_TRUE(s.Has("openid"));
  EXPECT_TRUE(s.Has("launch/patient"));
  EXPECT_EQ(s.resources().size(), 4u);
  EXPECT_EQ(ToString(*ParseResourceScope("patient/Condition.write")), "patient/Condition.cud");
  EXPECT_EQ(ToString(*ParseResourceScope("system/*.*")), "system/*.cruds");
  EXPECT_FALSE(ParseResourceScope("patient/Observation.rs?category=laboratory"));
  EXPECT_FALSE(ParseResourceScope("patient/observation.rs"));
  EXPECT_FALSE(ParseResourceScope("patient/Observation."));
}

// ---- Tokens --------------------------------------------------------------

class TokenTest : public ::testing::Test {
 protected:
  TokenTest()
      : clock_(kNow * 1'000'000),
        keys_(KeyRing::InMemory()),
        issuer_(keys_, kIssuer, kAudience, clock_),
        verifier_(Options(), clock_) {}

  VerifierOptions Options() {
    VerifierOptions o;
    o.issuers.push_back(TrustedIssuer{kIssuer, keys_, {}, 3600});
    o.audience = kAudience;
    return o;
  }

  IssueRequest Request() {
    IssueRequest r;
    r.client_id = "ehr-1";
    r.scope = "user/*.rs openid";
    r.pid = "13097248022";
    r.hpr_number = "9144889";
    r.orgnr_parent = "983658725";
    return r;
  }

  // Claims of a token the issuer would make, for mutation.
  json::Value Claims() {
    auto jws = DecodeJws(issuer_.Issue(Request()));
    return jws->payload;
  }
  json::Value Header() {
    auto h = json::Value::MakeObject();
    h.set("typ", "at+jwt");
    return h;
  }
  std::string Sign(json::Value header, const json::Value& claims) {
    return SignJws(std::move(header), claims, keys_->Current());
  }

  Result<Principal> Check(const std::string& token, std::string_view scheme = "Bearer ",
                          std::string dpop = {}, std::string_view method = "GET",
                          std::string_view url = kUrl) {
    std::string h = std::string(scheme) + token;
    return verifier_.Verify(RequestAuth{h, dpop, method, url});
  }

  std::string Proof(const Jwk& key, std::string_view method, std::string_view url,
                    std::optional<std::string> token, int64_t iat = kNow,
                    std::string jti = {}) {
    json::Value h = json::Value::MakeObject();
    h.set("typ", "dpop+jwt");
    h.set("jwk", key.PublicJson());
    json::Value c = json::Value::MakeObject();
    c.set("htm", std::string(method));
    c.set("htu", std::string(url));
    c.set("iat", iat);
    c.set("jti", jti.empty() ? "proof-jti-" + std::to_string(++proofs_) : jti);
    if (token) c.set("ath", Base64UrlEncode(Sha256(*token)));
    return SignJws(std::move(h), c, key);
  }

  ManualClock clock_;
  std::shared_ptr<KeyRing> keys_;
  TokenIssuer issuer_;
  TokenVerifier verifier_;
  int proofs_ = 0;
};

TEST_F(TokenTest, IssuedBearerTokenIsAcceptedWithItsClaims) {
  IssueRequest r = Request();
  r.security_level = 4;
  r.orgnr_child = "974589095";
  auto p = Check(issuer_.Issue(r));
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->issuer, kIssuer);
  EXPECT_EQ(p->client_id, "ehr-1");
  EXPECT_EQ(p->subject, "ehr-1");
  EXPECT_EQ(p->pid, "13097248022");
  EXPECT_EQ(p->hpr_number, "9144889");
  EXPECT_EQ(p->orgnr_parent, "983658725");
  EXPECT_EQ(p->orgnr_child, "974589095");
  EXPECT_EQ(p->security_level, 4);
  EXPECT_TRUE(p->scopes.Allows("Observation", kRead, {ScopeContext::kUser}));
  EXPECT_FALSE(p->scopes.Allows("Observation", kCreate));
  EXPECT_EQ(p->expires_at - p->issued_at, 300);
  EXPECT_TRUE(p->dpop_jkt.empty());
  EXPECT_FALSE(p->jti.empty());
  auto header = DecodeJws(issuer_.Issue(r))->header;
  EXPECT_EQ(header.get_string("typ"), "at+jwt");
  EXPECT_EQ(header.get_string("alg"), "ES256");
}

TEST_F(TokenTest, AttestationIsCarriedAndParsed) {
  IssueRequest r = Request();
  auto details = json::Parse(R"([{"type":"nhn:tillitsrammeverk:parameters",
    "practitioner":{"identifier":{"id":"13097248022"},"hpr_nr":{"id":"9144889"},
      "authorization":{"code":"LE"},"legal_entity":{"id":"983658725"},
      "point_of_care":{"id":"974589095"},"department":{"id":"4001031"}},
    "care_relation":{"healthcare_service":{"code":"S03"},
      "purpose_of_use":{"code":"TREAT","system":"urn:oid:2.16.840.1.113883.1.11.20448"},
      "decision_ref":{"id":"ref-1","user_selected":false}},
    "patients":[{"identifier":{"id":"05073500186"}}],"toa":1789999900}])");
  r.authorization_details = *details;
  auto p = Check(issuer_.Issue(r));
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_TRUE(p->attestation.has_value());
  EXPECT_EQ(p->attestation->purpose_of_use, "TREAT");
  EXPECT_EQ(p->attestation->authorization, "LE");
  EXPECT_EQ(p->attestation->practitioner_hpr, "9144889");
  EXPECT_EQ(p->attestation->department, "4001031");
  EXPECT_EQ(p->attestation->patients, std::vector<std::string>{"05073500186"});
  EXPECT_EQ(p->attestation->toa, 1789999900);
  EXPECT_EQ(p->attestation->decision_ref, "ref-1");
  // A purpose outside TREAT/ETREAT/COC/BTG is refused.
  (*r.authorization_details.array()[0].find("care_relation"))["purpose_of_use"].set("code", "HRESCH");
  EXPECT_EQ(Check(issuer_.Issue(r)).status().code(), "GM-AUTH-020");
}

// The corpus: each mutation of a good token, and the code that refuses it.
TEST_F(TokenTest, MutationCorpusIsRefused) {
  struct Case {
    std::string name;
    std::string token;
    std::string code;
  };
  std::vector<Case> corpus;
  auto with_claim = [&](std::string name, std::string_view claim, json::Value v, std::string code) {
    json::Value c = Claims();
    c.set(claim, std::move(v));
    corpus.push_back({std::move(name), Sign(Header(), c), std::move(code)});
  };
  auto without_claim = [&](std::string name, std::string_view claim, std::string code) {
    json::Value c = Claims();
    c.erase(claim);
    corpus.push_back({std::move(name), Sign(Header(), c), std::move(code)});
  };
  // alg none: no signature at all.
  {
    json::Value h = Header();
    h.set("alg", "none");
    h.set("kid", keys_->Current().kid());
    corpus.push_back({"alg none",
                      Base64UrlEncode(json::Write(h)) + "." + Base64UrlEncode(json::Write(Claims())) + ".",
                      "GM-AUTH-006"});
  }
  // HS256 "signed" with the public key as the HMAC secret (key confusion).
  {
    json::Value h = Header();
    h.set("alg", "HS256");
    h.set("kid", keys_->Current().kid());
    std::string input =
        Base64UrlEncode(json::Write(h)) + "." + Base64UrlEncode(json::Write(Claims()));
    std::string secret = keys_->Current().PublicPem();
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    corpus.push_back({"HS256 with the public key",
                      input + "." + Base64UrlEncode(std::string(reinterpret_cast<char*>(mac), len)),
                      "GM-AUTH-006"});
  }
  with_claim("wrong aud", "aud", "someone-else", "GM-AUTH-007");
  without_claim("missing aud", "aud", "GM-AUTH-007");
  with_claim("two audiences", "aud", json::Array{kAudience, "other"}, "GM-AUTH-007");
  with_claim("wrong iss", "iss", "https://evil.test", "GM-AUTH-005");
  with_claim("iss with a trailing slash", "iss", std::string(kIssuer) + "/", "GM-AUTH-005");
  without_claim("missing iss", "iss", "GM-AUTH-005");
  with_claim("expired", "exp", kNow - 6, "GM-AUTH-008");
  without_claim("missing exp", "exp", "GM-AUTH-008");
  with_claim("nbf in the future", "nbf", kNow + 60, "GM-AUTH-009");
  with_claim("iat in the future", "iat", kNow + 60, "GM-AUTH-009");
  with_claim("iat not a time", "iat", json::Value::Number("-1e300"), "GM-AUTH-009");
  with_claim("nbf not a time", "nbf", "yesterday", "GM-AUTH-009");
  with_claim("exp beyond any time", "exp", json::Value::Number("1e999"), "GM-AUTH-008");
  {
    json::Value c = Claims();
    c.set("exp", kNow + 7200);
    corpus.push_back({"lifetime over the issuer's maximum", Sign(Header(), c), "GM-AUTH-013"});
  }
  for (const char* typ : {"JOSE", "dpop+jwt", ""}) {
    json::Value h = Header();
    if (*typ) h.set("typ", typ); else h.erase("typ");
    corpus.push_back({std::string("typ '") + typ + "'", Sign(h, Claims()), "GM-AUTH-003"});
  }
  {
    json::Value h = Header();
    h.set("kid", "no-such-key");
    corpus.push_back({"unknown kid", Sign(h, Claims()), "GM-AUTH-006"});
  }
  {
    // Signed by a key of the right type that the issuer does not have.
    Jwk stranger = Jwk::Generate(Alg::kES256, keys_->Current().kid());
    corpus.push_back({"foreign key with a known kid", SignJws(Header(), Claims(), stranger),
                      "GM-AUTH-006"});
  }
  for (const char* member : {"jku", "x5u"}) {
    json::Value h = Header();
    h.set(member, "https://evil.test/keys");
    corpus.push_back({std::string("header ") + member, Sign(h, Claims()), "GM-AUTH-004"});
  }
  {
    Jwk attacker = Jwk::Generate(Alg::kES256, "");
    json::Value h = Header();
    h.set("jwk", attacker.PublicJson());
    corpus.push_back({"header jwk (embedded key)", SignJws(h, Claims(), attacker), "GM-AUTH-004"});
  }
  {
    std::string good = issuer_.Issue(Request());
    size_t dot = good.find('.');
    json::Value c = Claims();
    c.set("scope", "system/*.cruds");
    corpus.push_back({"payload changed after signing",
                      good.substr(0, dot + 1) + Base64UrlEncode(json::Write(c)) +
                          good.substr(good.rfind('.')),
                      "GM-AUTH-006"});
    corpus.push_back({"signature stripped", good.substr(0, good.rfind('.') + 1), "GM-AUTH-006"});
  }
  corpus.push_back({"not a JWT", "abc.def", "GM-AUTH-002"});
  corpus.push_back({"garbage", "%%%.%%%.%%%", "GM-AUTH-002"});

  for (const auto& c : corpus) {
    auto r = Check(c.token);
    EXPECT_FALSE(r.ok()) << c.name << " was accepted";
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), c.code) << c.name << ": " << r.status().message();
      EXPECT_EQ(r.status().category(), ErrorCategory::kUnauthorized) << c.name;
    }
  }
  EXPECT_GE(corpus.size(), 25u);
  // Leeway: expired 4 s ago still passes (≤ 5 s), as does nbf 4 s ahead.
  json::Value c = Claims();
  c.set("exp", kNow - 4);
  c.set("iat", kNow - 200);
  c.set("nbf", kNow - 200);
  EXPECT_TRUE(Check(Sign(Header(), c)).ok());
  // No or a foreign Authorization scheme.
  EXPECT_EQ(verifier_.Verify(RequestAuth{"", "", "GET", kUrl}).status().code(), "GM-AUTH-001");
  EXPECT_EQ(verifier_.Verify(RequestAuth{"Basic dXNlcjpwYXNz", "", "GET", kUrl}).status().code(),
            "GM-AUTH-001");
}

TEST_F(TokenTest, DpopBoundTokenNeedsAMatchingFreshProof) {
  Jwk client_key = Jwk::Generate(Alg::kES256, "");
  IssueRequest r = Request();
  r.cnf_jkt = client_key.Thumbprint();
  std::string token = issuer_.Issue(r);

  auto ok = Check(token, "DPoP ", Proof(client_key, "GET", kUrl, token));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->dpop_jkt, client_key.Thumbprint());
  // htu is compared without query, scheme/host case-insensitively, default port dropped.
  EXPECT_TRUE(Check(token, "DPoP ", Proof(client_key, "GET", "HTTPS://Grunnmur.test:443/Patient/123", token),
                    "GET", "https://grunnmur.test/Patient/123?_format=json")
                  .ok());

  struct Case {
    std::string name;
    std::string scheme;
    std::string proof;
    std::string code;
  };
  std::string replayed = Proof(client_key, "GET", kUrl, token, kNow, "replay-me-123");
  EXPECT_TRUE(Check(token, "DPoP ", replayed).ok());
  Jwk other = Jwk::Generate(Alg::kES256, "");
  std::vector<Case> corpus = {
      {"bound token as Bearer", "Bearer ", Proof(client_key, "GET", kUrl, token), "GM-AUTH-010"},
      {"no proof", "DPoP ", "", "GM-AUTH-010"},
      {"replayed proof", "DPoP ", replayed, "GM-AUTH-011"},
      {"wrong htm", "DPoP ", Proof(client_key, "POST", kUrl, token), "GM-AUTH-011"},
      {"wrong htu", "DPoP ", Proof(client_key, "GET", "https://grunnmur.test/Patient/124", token),
       "GM-AUTH-011"},
      {"other host in htu", "DPoP ", Proof(client_key, "GET", "https://evil.test/Patient/123", token),
       "GM-AUTH-011"},
      {"no ath", "DPoP ", Proof(client_key, "GET", kUrl, std::nullopt), "GM-AUTH-011"},
      {"ath of another token", "DPoP ", Proof(client_key, "GET", kUrl, std::string("x")),
       "GM-AUTH-011"},
      {"stale iat", "DPoP ", Proof(client_key, "GET", kUrl, token, kNow - 120), "GM-AUTH-011"},
      {"iat in the future", "DPoP ", Proof(client_key, "GET", kUrl, token, kNow + 30),
       "GM-AUTH-011"},
      {"proof by another key", "DPoP ", Proof(other, "GET", kUrl, token), "GM-AUTH-012"},
      {"short jti", "DPoP ", Proof(client_key, "GET", kUrl, token, kNow, "x"), "GM-AUTH-011"},
  };
  {
    // A proof whose header carries the private key.
    json::Value h = json::Value::MakeObject();
    h.set("typ", "dpop+jwt");
    json::Value priv = client_key.PublicJson();
    priv.set("d", Base64UrlEncode(std::string(32, '\x05')));
    h.set("jwk", priv);
    json::Value c = json::Value::MakeObject();
    c.set("htm", "GET");
    c.set("htu", kUrl);
    c.set("iat", kNow);
    c.set("jti", "private-key-proof");
    c.set("ath", Base64UrlEncode(Sha256(token)));
    corpus.push_back({"private jwk in proof", "DPoP ", SignJws(h, c, client_key), "GM-AUTH-011"});
    json::Value typ = json::Value::MakeObject();
    typ.set("typ", "jwt");
    typ.set("jwk", client_key.PublicJson());
    c.set("jti", "wrong-typ-proof");
    corpus.push_back({"proof typ jwt", "DPoP ", SignJws(typ, c, client_key), "GM-AUTH-011"});
  }
  for (const auto& c : corpus) {
    auto res = Check(token, c.scheme, c.proof);
    EXPECT_FALSE(res.ok()) << c.name << " was accepted";
    if (!res.ok()) EXPECT_EQ(res.status().code(), c.code) << c.name << ": " << res.status().message();
  }
  // An unbound token presented under the DPoP scheme is refused too.
  EXPECT_EQ(Check(issuer_.Issue(Request()), "DPoP ", Proof(client_key, "GET", kUrl, token))
                .status()
                .code(),
            "GM-AUTH-010");
}

TEST_F(TokenTest, KeyRotationKeepsTokensInFlightValidUntilRetired) {
  std::string old_token = issuer_.Issue(Request());
  std::string old_kid = keys_->Current().kid();
  ASSERT_TRUE(keys_->Rotate(2).ok());
  EXPECT_NE(keys_->Current().kid(), old_kid);
  EXPECT_EQ(keys_->PublicJwks().find("keys")->size(), 2u);
  EXPECT_TRUE(Check(old_token).ok());
  EXPECT_EQ(DecodeJws(issuer_.Issue(Request()))->header.get_string("kid"), keys_->Current().kid());
  ASSERT_TRUE(keys_->Rotate(2).ok());
  EXPECT_TRUE(Check(old_token).ok());
  ASSERT_TRUE(keys_->Rotate(2).ok());  // the first key is retired now
  EXPECT_EQ(Check(old_token).status().code(), "GM-AUTH-006");
  EXPECT_EQ(keys_->PublicJwks().find("keys")->size(), 3u);
}

TEST(KeyRingFiles, PersistAcrossOpensWithPrivateMode) {
  std::string dir = ::testing::TempDir() + "/gm-keys-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  auto a = KeyRing::Open(dir);
  ASSERT_TRUE(a.ok()) << a.status().message();
  std::string kid = (*a)->Current().kid();
  auto b = KeyRing::Open(dir);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->Current().kid(), kid);
  EXPECT_EQ((*b)->Current().Thumbprint(), (*a)->Current().Thumbprint());
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    auto perms = std::filesystem::status(e.path()).permissions();
    EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
              std::filesystem::perms::none)
        << e.path();
  }
  ASSERT_TRUE((*b)->Rotate().ok());
  auto c = KeyRing::Open(dir);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->Current().kid(), (*b)->Current().kid());
  EXPECT_TRUE((*c)->Find(kid).has_value());
  std::filesystem::remove_all(dir);
}

TEST(ReplayCacheTest, RemembersUntilExpiryAndFailsClosedWhenFull) {
  ReplayCache cache(2);
  EXPECT_TRUE(cache.FirstUse("a", 100, 50));
  EXPECT_FALSE(cache.FirstUse("a", 100, 60));
  EXPECT_TRUE(cache.FirstUse("a", 200, 101));  // expired: may be used again
  EXPECT_TRUE(cache.FirstUse("b", 200, 101));
  EXPECT_FALSE(cache.FirstUse("c", 200, 101));  // full of live entries: refused
  EXPECT_TRUE(cache.FirstUse("c", 300, 201));   // the others expired
}

}  // namespace
}  // namespace gm::trust
