// The token endpoint through the real server: a system registered with
// `grunnmur client add` authenticates with private_key_jwt, gets a token
// (DPoP-bound when it sends a proof) with at most its allowed scopes and its
// attestation, and uses it; bad assertions get OAuth errors.
#include <fstream>

#include "tests/integration/fixture.h"
#include "trust/jose.h"
#include "trust/tokens.h"

namespace gm::testing {
namespace {

class OAuthTest : public ServerTest {
 protected:
  static void SetUpTestSuite() {
    ServerTest::SetUpTestSuite();
    key_ = new trust::Jwk(trust::Jwk::Generate(trust::Alg::kES256, "ehr-key"));
    std::string jwks_file = dir_->path() + "/ehr-jwks.json";
    {
      json::Value jwks = json::Value::MakeObject();
      json::Value keys = json::Value::MakeArray();
      keys.push_back(key_->PublicJson());
      jwks.set("keys", keys);
      std::ofstream(jwks_file) << json::Write(jwks);
    }
    std::string cmd = std::string(GM_BINARY) + " client add --data " + dir_->path() +
                      " --id ehr-1 --name 'Test EHR' --jwks " + jwks_file +
                      " --scope 'system/Patient.rs system/Observation.crus' --orgnr 983658725"
                      " > /dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  static void TearDownTestSuite() {
    delete key_;
    ServerTest::TearDownTestSuite();
  }

  std::string Assertion(json::Value extra = json::Value::MakeObject(), const trust::Jwk* key = nullptr) {
    json::Value h = json::Value::MakeObject();
    h.set("typ", "client-authentication+jwt");
    json::Value c = json::Value::MakeObject();
    int64_t now = time(nullptr);
    c.set("iss", "ehr-1");
    c.set("sub", "ehr-1");
    c.set("aud", server().base_url() + "/token");
    c.set("iat", now);
    c.set("exp", now + 50);
    c.set("jti", "assertion-" + std::to_string(++n_) + "-" + std::to_string(now));
    for (const auto& [k, v] : extra.object()) c.set(k, v);
    return trust::SignJws(std::move(h), c, key ? *key : *key_);
  }

  HttpResponse Token(const std::string& assertion, const std::string& scope,
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
    std::string body =
        "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3A"
        "client-assertion-type%3Ajwt-bearer&client_assertion=" +
        assertion + (scope.empty() ? "" : "&scope=" + scope);
    headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    return HttpClient(server().port(), HttpClient::Auth::kNone).Request("POST", "/token", body, headers);
  }

  static trust::Jwk* key_;
  static inline int n_ = 0;  // jti counter, unique across the suite's tests
};
trust::Jwk* OAuthTest::key_ = nullptr;

TEST_F(OAuthTest, ClientCredentialsWithPrivateKeyJwt) {
  HttpResponse r = Token(Assertion(), "system%2FPatient.rs");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("cache-control"), "no-store");
  EXPECT_EQ(r.json().get_string("token_type"), "Bearer");
  EXPECT_EQ(r.json().get_string("scope"), "system/Patient.rs");
  std::string token(r.json().get_string("access_token"));
  auto claims = trust::DecodeJws(token)->payload;
  EXPECT_EQ(claims.get_string("client_id"), "ehr-1");
  EXPECT_EQ(claims.get_string(trust::kClaimOrgParent), "983658725");
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  EXPECT_EQ(c.Get("/Patient", {{"Authorization", "Bearer " + token}}).status, 200);
  EXPECT_EQ(c.Get("/Observation", {{"Authorization", "Bearer " + token}}).status, 403);
  // Discovery names the endpoint.
  EXPECT_EQ(c.Get("/.well-known/openid-configuration").json().get_string("token_endpoint"),
            server().base_url() + "/token");
}

TEST_F(OAuthTest, DpopProofBindsTheToken) {
  trust::Jwk dpop_key = trust::Jwk::Generate(trust::Alg::kES256, "");
  auto proof = [&](const std::string& method, const std::string& path, const std::string* token) {
    json::Value h = json::Value::MakeObject();
    h.set("typ", "dpop+jwt");
    h.set("jwk", dpop_key.PublicJson());
    json::Value c = json::Value::MakeObject();
    c.set("htm", method);
    c.set("htu", server().base_url() + path);
    c.set("iat", static_cast<int64_t>(time(nullptr)));
    c.set("jti", "dpop-" + std::to_string(++n_) + path);
    if (token) c.set("ath", trust::Base64UrlEncode(trust::Sha256(*token)));
    return trust::SignJws(std::move(h), c, dpop_key);
  };
  HttpResponse r = Token(Assertion(), "", {{"DPoP", proof("POST", "/token", nullptr)}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().get_string("token_type"), "DPoP");
  std::string token(r.json().get_string("access_token"));
  EXPECT_EQ(trust::DecodeJws(token)->payload.find("cnf")->get_string("jkt"), dpop_key.Thumbprint());
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  EXPECT_EQ(c.Get("/Patient", {{"Authorization", "DPoP " + token},
                               {"DPoP", proof("GET", "/Patient", &token)}})
                .status,
            200);
  EXPECT_EQ(c.Get("/Patient", {{"Authorization", "Bearer " + token}}).status, 401);
  // A proof for another URL at the token endpoint is refused.
  HttpResponse bad = Token(Assertion(), "", {{"DPoP", proof("POST", "/other", nullptr)}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json().get_string("error"), "invalid_dpop_proof");
}

TEST_F(OAuthTest, AttestationIsCopiedIntoTheToken) {
  json::Value extra = json::Value::MakeObject();
  extra.set("authorization_details", *json::Parse(R"([{"type":"nhn:tillitsrammeverk:parameters",
    "practitioner":{"hpr_nr":{"id":"9144889"},"authorization":{"code":"LE"},
      "legal_entity":{"id":"983658725"}},
    "care_relationship":{"purpose_of_use":{"code":"TREAT"}},
    "patients":[{"identifier":{"id":"13097248022"}}],"toa":1790000000}])"));
  HttpResponse r = Token(Assertion(extra), "system%2FObservation.rs");
  ASSERT_EQ(r.status, 200) << r.body;
  auto claims = trust::DecodeJws(std::string(r.json().get_string("access_token")))->payload;
  auto att = trust::ParseAttestation(*claims.find("authorization_details"));
  ASSERT_TRUE(att.ok() && att->has_value());
  EXPECT_EQ((*att)->purpose_of_use, "TREAT");
  EXPECT_EQ((*att)->practitioner_hpr, "9144889");
  // A malformed attestation (purpose outside TREAT/ETREAT/COC/BTG) gets no token.
  extra.find("authorization_details")->array()[0]["care_relationship"]["purpose_of_use"].set("code", "HMARKT");
  HttpResponse bad = Token(Assertion(extra), "");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json().get_string("error"), "invalid_authorization_details");
}

TEST_F(OAuthTest, BadRequestsGetOAuthErrors) {
  std::string once = Assertion();
  EXPECT_EQ(Token(once, "").status, 200);
  HttpResponse replay = Token(once, "");
  EXPECT_EQ(replay.status, 401);
  EXPECT_EQ(replay.json().get_string("error"), "invalid_client");
  json::Value wrong_aud = json::Value::MakeObject();
  wrong_aud.set("aud", "https://elsewhere.test/token");
  EXPECT_EQ(Token(Assertion(wrong_aud), "").json().get_string("error"), "invalid_client");
  json::Value long_exp = json::Value::MakeObject();
  long_exp.set("exp", static_cast<int64_t>(time(nullptr)) + 3600);
  EXPECT_EQ(Token(Assertion(long_exp), "").status, 401);
  trust::Jwk stranger = trust::Jwk::Generate(trust::Alg::kES256, "ehr-key");
  EXPECT_EQ(Token(Assertion(json::Value::MakeObject(), &stranger), "").status, 401);
  json::Value unknown = json::Value::MakeObject();
  unknown.set("iss", "nobody");
  unknown.set("sub", "nobody");
  EXPECT_EQ(Token(Assertion(unknown), "").status, 401);
  HttpResponse scope = Token(Assertion(), "system%2F*.cruds");
  EXPECT_EQ(scope.status, 400);
  EXPECT_EQ(scope.json().get_string("error"), "invalid_scope");
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  HttpResponse grant = c.Request("POST", "/token", "grant_type=password&username=a&password=b",
                                 {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(grant.status, 400);
  EXPECT_EQ(grant.json().get_string("error"), "unsupported_grant_type");
  EXPECT_EQ(c.Get("/token").status, 400);
  // None of it changed anything.
  EXPECT_EQ(c.Get("/healthz").status, 200);
}

}  // namespace
}  // namespace gm::testing
