// The token-mutation corpus against the real server: access tokens, DPoP
// proofs and client assertions, each mutated one way from a valid original
// (which is shown to work first). Every mutation must be refused with the
// right status and an answer that reveals nothing (no claims, no token).
// The authorization-code cases are in oauth_test.cc
// (PeopleFlowTest.AuthCodeMutationsAreRefused), expiry of codes and
// request_uris in tests/trust/authcode_test.cc.
//
// Also here: key rotation with overlapping keys (`grunnmur keys rotate`), and
// an external issuer configured with --trusted-issuer/--trusted-jwks.
#include <openssl/hmac.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tests/integration/fixture.h"
#include "trust/jose.h"
#include "trust/tokens.h"

namespace gm::testing {
namespace {

constexpr const char* kIssuer = "urn:grunnmur:issuer";
constexpr const char* kMarker = "subject-marker-7d1f";  // must never appear in an answer

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The server's current signing key, read from its data directory.
trust::Jwk ServerKey(const std::string& data) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(data + "/keys")) {
    if (e.path().extension() == ".pem") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw std::runtime_error("no server key");
  auto key = trust::Jwk::FromPem(ReadFile(files.back().string()), files.back().stem().string());
  if (!key.ok()) throw std::runtime_error("unreadable server key");
  return *key;
}

json::Value Claims(const std::string& scope = "system/*.cruds") {
  int64_t now = time(nullptr);
  json::Value c = json::Value::MakeObject();
  c.set("iss", kIssuer);
  c.set("sub", kMarker);
  c.set("aud", "grunnmur");
  c.set("client_id", "mutation-test");
  c.set("scope", scope);
  c.set("iat", now);
  c.set("nbf", now);
  c.set("exp", now + 300);
  c.set("jti", "jti-" + std::to_string(now) + "-" + std::to_string(rand()));
  return c;
}

json::Value AtHeader() {
  json::Value h = json::Value::MakeObject();
  h.set("typ", "at+jwt");
  return h;
}

// A JWS assembled by hand (for algorithms grunnmur cannot sign with).
std::string Unsigned(const json::Value& header, const json::Value& payload) {
  return trust::Base64UrlEncode(json::Write(header)) + "." +
         trust::Base64UrlEncode(json::Write(payload));
}

std::string Hs256(const json::Value& header, const json::Value& payload, const std::string& secret) {
  std::string input = Unsigned(header, payload);
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + trust::Base64UrlEncode(std::string(reinterpret_cast<char*>(mac), len));
}

class TokenMutationTest : public ServerTest {
 protected:
  static void SetUpTestSuite() {
    ServerTest::SetUpTestSuite();
    key_ = new trust::Jwk(ServerKey(dir_->path()));
    client_key_ = new trust::Jwk(trust::Jwk::Generate(trust::Alg::kES256, "ehr-m-key"));
    std::string jwks_file = dir_->path() + "/ehr-m.json";
    json::Value jwks = json::Value::MakeObject();
    json::Value keys = json::Value::MakeArray();
    keys.push_back(client_key_->PublicJson());
    jwks.set("keys", keys);
    std::ofstream(jwks_file) << json::Write(jwks);
    std::string cmd = std::string(GM_BINARY) + " client add --data " + dir_->path() +
                      " --id ehr-m --jwks " + jwks_file + " --scope 'system/Patient.rs' > /dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  static void TearDownTestSuite() {
    delete key_;
    delete client_key_;
    ServerTest::TearDownTestSuite();
  }

  HttpResponse GetPatients(std::vector<std::pair<std::string, std::string>> headers) {
    return HttpClient(server().port(), HttpClient::Auth::kNone).Get("/Patient", std::move(headers));
  }
  // A refused access: 401, a challenge, and nothing from the token in the answer.
  void ExpectRefused(const HttpResponse& r, const std::string& token, const std::string& what) {
    ++cases_;
    EXPECT_EQ(r.status, 401) << what << ": " << r.body;
    EXPECT_NE(r.header("www-authenticate"), "") << what;
    EXPECT_EQ(r.body.find(kMarker), std::string::npos) << what;
    if (token.size() > 20) {
      EXPECT_EQ(r.body.find(token.substr(0, 20)), std::string::npos) << what;
    }
    EXPECT_EQ(r.body.find("\"entry\""), std::string::npos) << what;
  }
  void ExpectTokenRefused(const std::string& token, const std::string& what) {
    ExpectRefused(GetPatients({{"Authorization", "Bearer " + token}}), token, what);
  }

  std::string Proof(const trust::Jwk& key, json::Value claims) {
    json::Value h = json::Value::MakeObject();
    h.set("typ", "dpop+jwt");
    h.set("jwk", key.PublicJson());
    return trust::SignJws(std::move(h), claims, key);
  }
  json::Value ProofClaims(const std::string& method, const std::string& path,
                          const std::string* token) {
    json::Value c = json::Value::MakeObject();
    c.set("htm", method);
    c.set("htu", server().base_url() + path);
    c.set("iat", static_cast<int64_t>(time(nullptr)));
    c.set("jti", "proof-" + std::to_string(++n_) + "-" + std::to_string(time(nullptr)));
    if (token) c.set("ath", trust::Base64UrlEncode(trust::Sha256(*token)));
    return c;
  }

  json::Value AssertionClaims() {
    int64_t now = time(nullptr);
    json::Value c = json::Value::MakeObject();
    c.set("iss", "ehr-m");
    c.set("sub", "ehr-m");
    c.set("aud", server().base_url() + "/token");
    c.set("iat", now);
    c.set("exp", now + 50);
    c.set("jti", "assert-" + std::to_string(++n_) + "-" + std::to_string(now));
    return c;
  }
  std::string Assertion(const json::Value& claims, const std::string& typ = "client-authentication+jwt",
                        const trust::Jwk* key = nullptr) {
    json::Value h = json::Value::MakeObject();
    h.set("typ", typ);
    return trust::SignJws(std::move(h), claims, key ? *key : *client_key_);
  }
  HttpResponse TokenRequest(const std::string& assertion) {
    return HttpClient(server().port(), HttpClient::Auth::kNone)
        .Request("POST", "/token",
                 "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth"
                 "%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" + assertion,
                 {{"Content-Type", "application/x-www-form-urlencoded"}});
  }
  void ExpectClientRefused(const std::string& assertion, const std::string& what) {
    ++cases_;
    HttpResponse r = TokenRequest(assertion);
    EXPECT_EQ(r.status, 401) << what << ": " << r.body;
    EXPECT_EQ(r.json().get_string("error"), "invalid_client") << what;
    EXPECT_EQ(r.json().find("access_token"), nullptr) << what;
  }

  static trust::Jwk* key_;
  static trust::Jwk* client_key_;
  static inline int n_ = 0;
  static inline int cases_ = 0;
};
trust::Jwk* TokenMutationTest::key_ = nullptr;
trust::Jwk* TokenMutationTest::client_key_ = nullptr;

TEST_F(TokenMutationTest, AccessTokenMutationsAreRefused) {
  cases_ = 0;
  // The unmutated original works (so each refusal below is the mutation's doing).
  std::string good = trust::SignJws(AtHeader(), Claims(), *key_);
  ASSERT_EQ(GetPatients({{"Authorization", "Bearer " + good}}).status, 200);

  // alg none, with and without a trailing signature part.
  json::Value none = AtHeader();
  none.set("alg", "none");
  ExpectTokenRefused(Unsigned(none, Claims()) + ".", "alg none");
  ExpectTokenRefused(Unsigned(none, Claims()), "alg none, two parts");
  // HS256 with the server's public key as the HMAC secret (PEM and JWK forms).
  json::Value hs = AtHeader();
  hs.set("alg", "HS256");
  hs.set("kid", key_->kid());
  ExpectTokenRefused(Hs256(hs, Claims(), key_->PublicPem()), "HS256 keyed with the public PEM");
  ExpectTokenRefused(Hs256(hs, Claims(), json::Write(key_->PublicJson())),
                     "HS256 keyed with the public JWK");
  // Claims.
  auto mutate = [&](const std::string& name, json::Value value) {
    json::Value c = Claims();
    if (value.is_null()) {
      c.erase(name);
    } else {
      c.set(name, std::move(value));
    }
    return trust::SignJws(AtHeader(), c, *key_);
  };
  ExpectTokenRefused(mutate("aud", "https://another-api.test"), "wrong aud");
  ExpectTokenRefused(mutate("aud", json::Value()), "missing aud");
  {
    json::Value two = json::Value::MakeArray();
    two.push_back("grunnmur");
    two.push_back("other");
    ExpectTokenRefused(mutate("aud", two), "two audiences");
  }
  ExpectTokenRefused(mutate("iss", "https://evil.test"), "wrong iss");
  ExpectTokenRefused(mutate("iss", "urn:grunnmur:issuer/"), "iss differing by a slash");
  ExpectTokenRefused(mutate("iss", json::Value()), "missing iss");
  int64_t now = time(nullptr);
  {
    json::Value c = Claims();
    c.set("iat", now - 700);
    c.set("nbf", now - 700);
    c.set("exp", now - 60);
    ExpectTokenRefused(trust::SignJws(AtHeader(), c, *key_), "expired");
  }
  ExpectTokenRefused(mutate("exp", json::Value()), "missing exp");
  ExpectTokenRefused(mutate("nbf", now + 120), "nbf in the future");
  ExpectTokenRefused(mutate("iat", now + 120), "iat in the future");
  {
    json::Value c = Claims();
    c.set("exp", now + 30 * 24 * 3600);
    ExpectTokenRefused(trust::SignJws(AtHeader(), c, *key_), "lifetime beyond the maximum");
  }
  // Header.
  auto header = [&](const std::string& name, json::Value value) {
    json::Value h = AtHeader();
    if (value.is_null()) {
      h.erase(name);
    } else {
      h.set(name, std::move(value));
    }
    return trust::SignJws(std::move(h), Claims(), *key_);
  };
  ExpectTokenRefused(header("typ", "dpop+jwt"), "wrong typ");
  ExpectTokenRefused(header("typ", "client-authentication+jwt"), "typ of a client assertion");
  ExpectTokenRefused(header("typ", json::Value()), "missing typ");
  ExpectTokenRefused(header("jku", "https://evil.test/jwks.json"), "jku header");
  ExpectTokenRefused(header("x5u", "https://evil.test/cert.pem"), "x5u header");
  {
    // A key of the attacker's, embedded in the header and used to sign.
    trust::Jwk evil = trust::Jwk::Generate(trust::Alg::kES256, key_->kid());
    json::Value h = AtHeader();
    h.set("jwk", evil.PublicJson());
    ExpectTokenRefused(trust::SignJws(std::move(h), Claims(), evil), "embedded jwk header");
    ExpectTokenRefused(trust::SignJws(AtHeader(), Claims(), evil), "right kid, wrong key");
    trust::Jwk unknown = trust::Jwk::Generate(trust::Alg::kES256, "unknown-kid");
    ExpectTokenRefused(trust::SignJws(AtHeader(), Claims(), unknown), "unknown kid");
  }
  {
    // Payload changed after signing.
    std::string t = trust::SignJws(AtHeader(), Claims("system/Patient.r"), *key_);
    size_t a = t.find('.'), b = t.rfind('.');
    std::string forged = t.substr(0, a + 1) +
                         trust::Base64UrlEncode(json::Write(Claims("system/*.cruds"))) +
                         t.substr(b);
    ExpectTokenRefused(forged, "payload swapped under a valid signature");
  }
  ExpectTokenRefused("", "empty token");
  ExpectRefused(GetPatients({}), "", "no Authorization header");
  ExpectRefused(GetPatients({{"Authorization", "Basic dXNlcjpwYXNz"}}), "", "Basic scheme");
  std::cout << "[ corpus   ] access-token mutations: " << cases_ << " cases, all refused\n";
  EXPECT_EQ(cases_, 27);  // the size of this part of the corpus, as reported
}

TEST_F(TokenMutationTest, DpopMutationsAreRefused) {
  cases_ = 0;
  trust::Jwk dpop = trust::Jwk::Generate(trust::Alg::kES256, "");
  json::Value bound_claims = Claims();
  json::Value cnf = json::Value::MakeObject();
  cnf.set("jkt", dpop.Thumbprint());
  bound_claims.set("cnf", cnf);
  std::string token = trust::SignJws(AtHeader(), bound_claims, *key_);
  auto call = [&](const std::string& scheme, const std::string& proof) {
    std::vector<std::pair<std::string, std::string>> h = {{"Authorization", scheme + " " + token}};
    if (!proof.empty()) h.emplace_back("DPoP", proof);
    return GetPatients(h);
  };
  // The original works.
  std::string once = Proof(dpop, ProofClaims("GET", "/Patient", &token));
  ASSERT_EQ(call("DPoP", once).status, 200);

  ExpectRefused(call("DPoP", once), token, "replayed proof");
  ExpectRefused(call("Bearer", ""), token, "bound token as Bearer");
  ExpectRefused(call("Bearer", Proof(dpop, ProofClaims("GET", "/Patient", &token))), token,
                "bound token as Bearer, with a proof");
  ExpectRefused(call("DPoP", ""), token, "proof missing");
  ExpectRefused(call("DPoP", Proof(dpop, ProofClaims("POST", "/Patient", &token))), token,
                "wrong htm");
  ExpectRefused(call("DPoP", Proof(dpop, ProofClaims("GET", "/Observation", &token))), token,
                "wrong htu");
  {
    json::Value c = ProofClaims("GET", "/Patient", &token);
    c.set("htu", "https://elsewhere.test/Patient");
    ExpectRefused(call("DPoP", Proof(dpop, c)), token, "htu on another host");
  }
  {
    std::string other = "another-token";
    ExpectRefused(call("DPoP", Proof(dpop, ProofClaims("GET", "/Patient", &other))), token,
                  "wrong ath");
  }
  ExpectRefused(call("DPoP", Proof(dpop, ProofClaims("GET", "/Patient", nullptr))), token,
                "missing ath");
  {
    json::Value c = ProofClaims("GET", "/Patient", &token);
    c.set("iat", static_cast<int64_t>(time(nullptr)) - 600);
    ExpectRefused(call("DPoP", Proof(dpop, c)), token, "stale iat");
    c.set("iat", static_cast<int64_t>(time(nullptr)) + 600);
    c.set("jti", "future-" + std::to_string(++n_));
    ExpectRefused(call("DPoP", Proof(dpop, c)), token, "iat in the future");
  }
  {
    json::Value c = ProofClaims("GET", "/Patient", &token);
    c.erase("jti");
    ExpectRefused(call("DPoP", Proof(dpop, c)), token, "missing jti");
  }
  {
    trust::Jwk other = trust::Jwk::Generate(trust::Alg::kES256, "");
    ExpectRefused(call("DPoP", Proof(other, ProofClaims("GET", "/Patient", &token))), token,
                  "proof by another key (cnf.jkt mismatch)");
  }
  {
    json::Value h = json::Value::MakeObject();
    h.set("typ", "JWT");
    h.set("jwk", dpop.PublicJson());
    ExpectRefused(call("DPoP", trust::SignJws(std::move(h), ProofClaims("GET", "/Patient", &token),
                                              dpop)),
                  token, "proof typ not dpop+jwt");
  }
  {
    // The DPoP scheme with a token that is not bound.
    std::string plain = trust::SignJws(AtHeader(), Claims(), *key_);
    ExpectRefused(GetPatients({{"Authorization", "DPoP " + plain},
                               {"DPoP", Proof(dpop, ProofClaims("GET", "/Patient", &plain))}}),
                  plain, "DPoP scheme, unbound token");
  }
  std::cout << "[ corpus   ] DPoP mutations: " << cases_ << " cases, all refused\n";
  EXPECT_EQ(cases_, 15);  // the size of this part of the corpus, as reported
}

TEST_F(TokenMutationTest, ClientAssertionMutationsAreRefused) {
  cases_ = 0;
  std::string once = Assertion(AssertionClaims());
  ASSERT_EQ(TokenRequest(once).status, 200);
  ExpectClientRefused(once, "assertion reuse");
  auto with = [&](const std::string& name, json::Value value) {
    json::Value c = AssertionClaims();
    if (value.is_null()) {
      c.erase(name);
    } else {
      c.set(name, std::move(value));
    }
    return Assertion(c);
  };
  int64_t now = time(nullptr);
  ExpectClientRefused(with("aud", "https://another-as.test/token"), "wrong aud");
  ExpectClientRefused(with("aud", json::Value()), "missing aud");
  ExpectClientRefused(with("exp", now + 3600), "exp too far ahead");
  ExpectClientRefused(with("exp", now - 60), "expired");
  ExpectClientRefused(with("exp", json::Value()), "missing exp");
  ExpectClientRefused(with("iat", now + 120), "iat in the future");
  ExpectClientRefused(with("jti", json::Value()), "missing jti");
  ExpectClientRefused(with("sub", "someone-else"), "iss != sub");
  ExpectClientRefused(with("iss", "unregistered"), "unregistered client");
  ExpectClientRefused(Assertion(AssertionClaims(), "JWT"), "wrong typ");
  {
    trust::Jwk stranger = trust::Jwk::Generate(trust::Alg::kES256, "ehr-m-key");
    ExpectClientRefused(Assertion(AssertionClaims(), "client-authentication+jwt", &stranger),
                        "signed by an unregistered key");
  }
  {
    json::Value h = json::Value::MakeObject();
    h.set("typ", "client-authentication+jwt");
    h.set("alg", "none");
    ExpectClientRefused(Unsigned(h, AssertionClaims()) + ".", "alg none");
  }
  {
    json::Value h = json::Value::MakeObject();
    h.set("typ", "client-authentication+jwt");
    h.set("jku", "https://evil.test/jwks");
    ExpectClientRefused(trust::SignJws(std::move(h), AssertionClaims(), *client_key_),
                        "jku header");
  }
  std::cout << "[ corpus   ] client-assertion mutations: " << cases_ << " cases, all refused\n";
  EXPECT_EQ(cases_, 14);  // the size of this part of the corpus, as reported
}

// ---- Key rotation with overlapping keys ------------------------------------

std::string RunCmd(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {};
  std::string out;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (pclose(p) != 0) return "FAILED";
  return out;
}

std::vector<std::string> Kids(uint16_t port) {
  HttpResponse r = HttpClient(port, HttpClient::Auth::kNone).Get("/jwks");
  std::vector<std::string> kids;
  if (const json::Value* keys = r.json().find("keys")) {
    for (const auto& k : keys->array()) kids.emplace_back(k.get_string("kid"));
  }
  return kids;
}

TEST(KeyRotation, PreviousKeyStaysPublishedAndVerifiesUntilRetired) {
  TempDir dir;
  std::string t1, kid1;
  {
    ServerProcess s(dir.path());
    t1 = s.token();
    kid1 = std::string(trust::DecodeJws(t1)->header.get_string("kid"));
    ASSERT_EQ(Kids(s.port()), std::vector<std::string>{kid1});
  }
  std::string out = RunCmd(std::string(GM_BINARY) + " keys rotate --activate-after 0 --data " + dir.path());
  ASSERT_NE(out, "FAILED");
  EXPECT_NE(out.find("(current: signs)"), std::string::npos) << out;
  EXPECT_NE(out.find(kid1 + " ES256  (previous: verifies)"), std::string::npos) << out;
  std::string kid2;
  {
    ServerProcess s(dir.path());
    std::vector<std::string> kids = Kids(s.port());
    ASSERT_EQ(kids.size(), 2u);
    kid2 = kids[0];
    EXPECT_NE(kid2, kid1);
    EXPECT_EQ(kids[1], kid1);  // current first, then the previous one
    HttpClient c(s.port(), HttpClient::Auth::kNone);
    // A token signed by the previous key still verifies …
    EXPECT_EQ(c.Get("/Patient", {{"Authorization", "Bearer " + t1}}).status, 200);
    // … and new tokens are signed by the new key.
    std::string t2 = s.Token({"--scope", "system/*.rs"});
    EXPECT_EQ(trust::DecodeJws(t2)->header.get_string("kid"), kid2);
    EXPECT_EQ(c.Get("/Patient", {{"Authorization", "Bearer " + t2}}).status, 200);
    // So do tokens the token endpoint issues (own issuer, same ring).
    EXPECT_EQ(trust::DecodeJws(s.token())->header.get_string("kid"), kid2);
  }
  // Two more rotations keeping one previous key: the first key is retired.
  ASSERT_NE(RunCmd(std::string(GM_BINARY) + " keys rotate --activate-after 0 --keep 1 --data " + dir.path()), "FAILED");
  ASSERT_NE(RunCmd(std::string(GM_BINARY) + " keys rotate --activate-after 0 --keep 1 --data " + dir.path()), "FAILED");
  std::string list = RunCmd(std::string(GM_BINARY) + " keys list --data " + dir.path());
  EXPECT_EQ(list.find(kid1), std::string::npos) << list;
  EXPECT_EQ(list.find(kid2), std::string::npos) << list;
  {
    ServerProcess s(dir.path());
    EXPECT_EQ(Kids(s.port()).size(), 2u);
    HttpResponse r = HttpClient(s.port(), HttpClient::Auth::kNone)
                         .Get("/Patient", {{"Authorization", "Bearer " + t1}});
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(IssueCode(r), "GM-AUTH-006");
  }
  EXPECT_EQ(RunCmd(std::string(GM_BINARY) + " keys rotate --keep 0 --data " + dir.path() +
                " 2>/dev/null"),
            "FAILED");
}

// ---- An external issuer (the real HelseID, Keycloak) -------------------------

TEST(ExternalIssuer, TokensSignedByAKeyOnlyInTheConfiguredJwksAreAccepted) {
  TempDir dir;
  const std::string ext = "https://helseid-sts.test";
  trust::Jwk ext_key = trust::Jwk::Generate(trust::Alg::kRS256, "helseid-2026");
  std::string jwks_file = dir.path() + "/helseid-jwks.json";
  {
    json::Value jwks = json::Value::MakeObject();
    json::Value keys = json::Value::MakeArray();
    keys.push_back(ext_key.PublicJson());
    jwks.set("keys", keys);
    std::ofstream(jwks_file) << json::Write(jwks);
  }
  ServerProcess s(dir.path() + "/data", {"--trusted-issuer", ext, "--trusted-jwks", jwks_file});
  auto token = [&](const std::string& iss, const trust::Jwk& key, json::Value header) {
    json::Value c = Claims("system/Patient.rs");
    c.set("iss", iss);
    c.set("exp", static_cast<int64_t>(time(nullptr)) + 120);
    return trust::SignJws(std::move(header), c, key);
  };
  HttpClient c(s.port(), HttpClient::Auth::kNone);
  auto get = [&](const std::string& t) {
    return c.Get("/Patient", {{"Authorization", "Bearer " + t}});
  };
  EXPECT_EQ(get(token(ext, ext_key, AtHeader())).status, 200);
  json::Value jwt_typ = json::Value::MakeObject();
  jwt_typ.set("typ", "JWT");  // NHN's API rules accept typ JWT too
  EXPECT_EQ(get(token(ext, ext_key, jwt_typ)).status, 200);
  // Refused: keys named by the token, another key with the same kid, the
  // external key claiming to be grunnmur's own issuer, a scope not granted.
  json::Value jku = AtHeader();
  jku.set("jku", "https://helseid-sts.test/.well-known/openid-configuration/jwks");
  EXPECT_EQ(get(token(ext, ext_key, jku)).status, 401);
  json::Value x5u = AtHeader();
  x5u.set("x5u", "https://helseid-sts.test/cert.pem");
  EXPECT_EQ(get(token(ext, ext_key, x5u)).status, 401);
  trust::Jwk impostor = trust::Jwk::Generate(trust::Alg::kRS256, "helseid-2026");
  EXPECT_EQ(get(token(ext, impostor, AtHeader())).status, 401);
  EXPECT_EQ(get(token(kIssuer, ext_key, AtHeader())).status, 401);
  EXPECT_EQ(get(token(ext + "/", ext_key, AtHeader())).status, 401);
  EXPECT_EQ(c.Get("/Observation", {{"Authorization", "Bearer " + token(ext, ext_key, AtHeader())}})
                .status,
            403);
  // The server's own tokens still work next to the external issuer.
  EXPECT_EQ(c.Get("/Patient", {{"Authorization", "Bearer " + s.token()}}).status, 200);
  // A JWKS file with a private key, or an unpaired flag, stops the server.
  std::string private_file = dir.path() + "/private.json";
  {
    json::Value jwks = json::Value::MakeObject();
    json::Value keys = json::Value::MakeArray();
    json::Value k = ext_key.PublicJson();
    k.set("d", "c2VjcmV0");
    keys.push_back(k);
    jwks.set("keys", keys);
    std::ofstream(private_file) << json::Write(jwks);
  }
  std::string serve = "timeout 20 " + std::string(GM_BINARY) + " serve --listen 127.0.0.1:0 --data " +
                      dir.path() + "/data2 --log-level off";
  EXPECT_EQ(WEXITSTATUS(std::system((serve + " --trusted-issuer " + ext + " --trusted-jwks " +
                                     private_file + " > /dev/null").c_str())),
            1);
  EXPECT_EQ(WEXITSTATUS(std::system((serve + " --trusted-issuer " + ext + " > /dev/null").c_str())),
            1);
}

}  // namespace
}  // namespace gm::testing

namespace gm::testing {
namespace {

// --trusted-audience: an external issuer's tokens name that issuer's audience
// for this API (HelseID names the API's own resource), not grunnmur's.
TEST(ExternalIssuer, TokensNameTheAudienceConfiguredForTheirIssuer) {
  TempDir dir;
  const std::string ext = "https://helseid-sts.test";
  const std::string ext_aud = "nhn:grunnmur-api";
  trust::Jwk ext_key = trust::Jwk::Generate(trust::Alg::kES256, "helseid-aud");
  std::string jwks_file = dir.path() + "/jwks.json";
  {
    json::Value jwks = json::Value::MakeObject();
    json::Value keys = json::Value::MakeArray();
    keys.push_back(ext_key.PublicJson());
    jwks.set("keys", keys);
    std::ofstream(jwks_file) << json::Write(jwks);
  }
  ServerProcess s(dir.path() + "/data", {"--trusted-issuer", ext, "--trusted-jwks", jwks_file,
                                         "--trusted-audience", ext_aud});
  auto token = [&](const std::string& aud) {
    json::Value c = Claims("system/Patient.rs");
    c.set("iss", ext);
    c.set("aud", aud);
    c.set("exp", static_cast<int64_t>(time(nullptr)) + 120);
    return trust::SignJws(AtHeader(), c, ext_key);
  };
  HttpClient c(s.port(), HttpClient::Auth::kNone);
  EXPECT_EQ(c.Get("/Patient", {{"Authorization", "Bearer " + token(ext_aud)}}).status, 200);
  HttpResponse wrong = c.Get("/Patient", {{"Authorization", "Bearer " + token(std::string(Claims("system/Patient.rs").get_string("aud")))}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(IssueCode(wrong), "GM-AUTH-007");
  // grunnmur's own tokens keep grunnmur's audience.
  EXPECT_EQ(c.Get("/Patient", {{"Authorization", "Bearer " + s.token()}}).status, 200);
}

}  // namespace
}  // namespace gm::testing
