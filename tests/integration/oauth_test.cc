// The token endpoint through the real server: a system registered with
// `grunnmur client add` authenticates with private_key_jwt, gets a token
// (DPoP-bound when it sends a proof) with at most its allowed scopes and its
// attestation, and uses it; bad assertions get OAuth errors.
#include <fstream>
#include <iostream>

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

// ---- People: PAR + /authorize (test login) + authorization_code with PKCE ----

// A citizen (Patient with this FNR) and a clinician (Practitioner with FNR and
// HPR number) in the registry; an app registered with a redirect URI.
constexpr const char* kCitizenFnr = "15058012359";
constexpr const char* kClinicianFnr = "02117545612";
constexpr const char* kClinicianHpr = "9144889";
constexpr const char* kRedirect = "https://app.test/callback";
// PKCE pair; the challenge computed independently (Python hashlib).
constexpr const char* kVerifier = "dBjftJeZ4CVP-mJ92K9n8HshNf7y2sU6fJ5Y8gwN4mA";
constexpr const char* kChallenge = "wHuB0lTHK9P6FVaVqIQhGgo4j1Kvk6AYg2KsYCW2pEk";

std::string Form(const std::vector<std::pair<std::string, std::string>>& params) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += k + "=";
    for (unsigned char c : v) {
      if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
    }
  }
  return out;
}

std::string QueryValue(const std::string& url, const std::string& name) {
  size_t q = url.find('?');
  if (q == std::string::npos) return {};
  std::string query = url.substr(q + 1);
  size_t i = 0;
  while (i < query.size()) {
    size_t end = query.find('&', i);
    if (end == std::string::npos) end = query.size();
    std::string part = query.substr(i, end - i);
    if (part.rfind(name + "=", 0) == 0) {
      std::string raw = part.substr(name.size() + 1), out;
      for (size_t j = 0; j < raw.size(); ++j) {
        if (raw[j] == '%' && j + 2 < raw.size()) {
          out += static_cast<char>(std::stoi(raw.substr(j + 1, 2), nullptr, 16));
          j += 2;
        } else {
          out += raw[j];
        }
      }
      return out;
    }
    i = end + 1;
  }
  return {};
}

// The value of <input type="hidden" name="login" value="...">.
std::string HiddenLogin(const std::string& html) {
  const std::string marker = "name=\"login\" value=\"";
  size_t at = html.find(marker);
  if (at == std::string::npos) return {};
  at += marker.size();
  return html.substr(at, html.find('"', at) - at);
}

class PeopleFlowTest : public ServerTest {
 protected:
  static void SetUpTestSuite() {
    ServerTest::SetUpTestSuite();
    app_key_ = new trust::Jwk(trust::Jwk::Generate(trust::Alg::kES256, "app-key"));
    std::string jwks_file = dir_->path() + "/app-jwks.json";
    {
      json::Value jwks = json::Value::MakeObject();
      json::Value keys = json::Value::MakeArray();
      keys.push_back(app_key_->PublicJson());
      jwks.set("keys", keys);
      std::ofstream(jwks_file) << json::Write(jwks);
    }
    for (const std::string id : {"app-1", "app-2"}) {
      std::string cmd = std::string(GM_BINARY) + " client add --data " + dir_->path() + " --id " +
                        id + " --name '<b>Journal & Co</b>' --jwks " + jwks_file +
                        " --scope 'openid patient/*.rs user/*.rs' --orgnr 983658725"
                        " --redirect-uri " + kRedirect + " > /dev/null";
      ASSERT_EQ(std::system(cmd.c_str()), 0);
    }
    // A system client without the code grant.
    std::string cmd = std::string(GM_BINARY) + " client add --data " + dir_->path() +
                      " --id sys-1 --jwks " + jwks_file + " --scope 'system/Patient.rs' > /dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    HttpClient c(server().port());
    HttpResponse p = c.Post("/Patient", std::string(R"({"resourceType":"Patient","identifier":[
      {"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":")") + kCitizenFnr + R"("}],
      "name":[{"use":"official","family":"Nordmann","given":["Kari"]}]})");
    ASSERT_EQ(p.status, 201) << p.body;
    patient_id_ = new std::string(p.json().get_string("id"));
    HttpResponse pr = c.Post("/Practitioner", std::string(R"({"resourceType":"Practitioner",
      "identifier":[{"system":"urn:oid:2.16.578.1.12.4.1.4.4","value":")") + kClinicianHpr + R"("},
      {"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":")" + kClinicianFnr + R"("}],
      "name":[{"family":"Lege","given":["Lise"]}]})");
    ASSERT_EQ(pr.status, 201) << pr.body;
  }
  static void TearDownTestSuite() {
    delete app_key_;
    delete patient_id_;
    ServerTest::TearDownTestSuite();
  }

  std::string Assertion(const std::string& client = "app-1", const std::string& aud_path = "/par") {
    json::Value h = json::Value::MakeObject();
    h.set("typ", "client-authentication+jwt");
    json::Value c = json::Value::MakeObject();
    int64_t now = time(nullptr);
    c.set("iss", client);
    c.set("sub", client);
    c.set("aud", server().base_url() + aud_path);
    c.set("iat", now);
    c.set("exp", now + 50);
    c.set("jti", "people-" + std::to_string(++n_) + "-" + std::to_string(now));
    return trust::SignJws(std::move(h), c, *app_key_);
  }

  HttpResponse PostForm(const std::string& path, const std::string& body,
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
    headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    return HttpClient(server().port(), HttpClient::Auth::kNone).Request("POST", path, body, headers);
  }

  using Pairs = std::vector<std::pair<std::string, std::string>>;
  Pairs ParParams(const std::string& client = "app-1") {
    return {{"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
            {"client_assertion", Assertion(client)},
            {"client_id", client},
            {"response_type", "code"},
            {"redirect_uri", kRedirect},
            {"scope", "openid patient/Observation.rs patient/Patient.rs user/Patient.rs"},
            {"state", "st&ate=1"},
            {"nonce", "n-0S6_WzA2Mj"},
            {"code_challenge", kChallenge},
            {"code_challenge_method", "S256"}};
  }
  static Pairs Without(Pairs p, const std::string& name) {
    std::erase_if(p, [&](const auto& kv) { return kv.first == name; });
    return p;
  }
  static Pairs With(Pairs p, const std::string& name, const std::string& value) {
    p = Without(std::move(p), name);
    p.emplace_back(name, value);
    return p;
  }

  std::string Par(const Pairs& params) {
    HttpResponse r = PostForm("/par", Form(params));
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(r.json().get_string("request_uri"));
  }

  struct LoginForm {
    HttpResponse page;
    std::string login, cookie;
  };
  LoginForm OpenLogin(const std::string& request_uri, const std::string& client = "app-1") {
    LoginForm f;
    f.page = HttpClient(server().port(), HttpClient::Auth::kNone)
                 .Get("/authorize?client_id=" + client + "&request_uri=" + Form({{"x", request_uri}}).substr(2));
    f.login = HiddenLogin(f.page.body);
    std::string set_cookie = f.page.header("set-cookie");
    f.cookie = set_cookie.substr(0, set_cookie.find(';'));
    return f;
  }
  HttpResponse SubmitLogin(const LoginForm& f, const std::string& role, const std::string& pid,
                           const std::string& action = "login") {
    return PostForm("/authorize/login",
                    Form({{"login", f.login}, {"role", role}, {"pid", pid}, {"action", action}}),
                    {{"Cookie", f.cookie}});
  }
  // PAR → login page → login: the redirect (303 with code).
  HttpResponse LoginAs(const std::string& role, const std::string& pid,
                       const std::string& client = "app-1") {
    LoginForm f = OpenLogin(Par(ParParams(client)), client);
    EXPECT_EQ(f.page.status, 200) << f.page.body;
    return SubmitLogin(f, role, pid);
  }
  HttpResponse Redeem(const std::string& code, const std::string& verifier = kVerifier,
                      const std::string& redirect = kRedirect, const std::string& client = "app-1",
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
    return PostForm("/token",
                    Form({{"grant_type", "authorization_code"},
                          {"code", code},
                          {"redirect_uri", redirect},
                          {"code_verifier", verifier},
                          {"client_id", client},
                          {"client_assertion_type",
                           "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
                          {"client_assertion", Assertion(client, "/token")}}),
                    std::move(headers));
  }
  std::string DpopProof(const trust::Jwk& key, const std::string& method, const std::string& path,
                        const std::string* token) {
    json::Value h = json::Value::MakeObject();
    h.set("typ", "dpop+jwt");
    h.set("jwk", key.PublicJson());
    json::Value c = json::Value::MakeObject();
    c.set("htm", method);
    c.set("htu", server().base_url() + path);
    c.set("iat", static_cast<int64_t>(time(nullptr)));
    c.set("jti", "people-dpop-" + std::to_string(++n_));
    if (token) c.set("ath", trust::Base64UrlEncode(trust::Sha256(*token)));
    return trust::SignJws(std::move(h), c, key);
  }

  static trust::Jwk* app_key_;
  static std::string* patient_id_;
  static inline int n_ = 0;
};
trust::Jwk* PeopleFlowTest::app_key_ = nullptr;
std::string* PeopleFlowTest::patient_id_ = nullptr;

TEST_F(PeopleFlowTest, CitizenLogsInWithFnrAndGetsAPatientToken) {
  HttpResponse redirect = LoginAs("citizen", kCitizenFnr);
  ASSERT_EQ(redirect.status, 303) << redirect.body;
  std::string location = redirect.header("location");
  ASSERT_EQ(location.rfind(std::string(kRedirect) + "?code=", 0), 0u) << location;
  EXPECT_EQ(QueryValue(location, "state"), "st&ate=1");
  EXPECT_EQ(QueryValue(location, "iss"), "urn:grunnmur:issuer");  // RFC 9207
  EXPECT_EQ(location.find(kCitizenFnr), std::string::npos);

  trust::Jwk dpop = trust::Jwk::Generate(trust::Alg::kES256, "");
  HttpResponse t = Redeem(QueryValue(location, "code"), kVerifier, kRedirect, "app-1",
                          {{"DPoP", DpopProof(dpop, "POST", "/token", nullptr)}});
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(t.header("cache-control"), "no-store");
  EXPECT_EQ(t.json().get_string("token_type"), "DPoP");
  EXPECT_EQ(t.json().get_string("scope"), "patient/Observation.rs patient/Patient.rs openid");
  std::string token(t.json().get_string("access_token"));
  auto at = trust::DecodeJws(token);
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at->header.get_string("typ"), "at+jwt");
  EXPECT_EQ(at->payload.get_string(trust::kClaimPid), kCitizenFnr);
  EXPECT_EQ(at->payload.get_string(trust::kClaimSecurityLevel), "4");
  EXPECT_EQ(at->payload.find(trust::kClaimHpr), nullptr);
  EXPECT_EQ(at->payload.get_string(trust::kClaimOrgParent), "983658725");
  EXPECT_EQ(at->payload.get_string("client_id"), "app-1");
  EXPECT_EQ(at->payload.find("cnf")->get_string("jkt"), dpop.Thumbprint());
  EXPECT_EQ(std::string(at->payload.get_string("sub")).find(kCitizenFnr), std::string::npos);
  // The id_token (OIDC) for the app.
  auto id = trust::DecodeJws(std::string(t.json().get_string("id_token")));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->payload.get_string("aud"), "app-1");
  EXPECT_EQ(id->payload.get_string("iss"), "urn:grunnmur:issuer");
  EXPECT_EQ(id->payload.get_string("nonce"), "n-0S6_WzA2Mj");
  EXPECT_EQ(id->payload.get_string(trust::kClaimPid), kCitizenFnr);
  EXPECT_EQ(id->payload.get_string("sub"), at->payload.get_string("sub"));
  EXPECT_EQ(id->payload.get_string("name"), "Kari Nordmann");
  // The id_token is not an access token here (audience is the app).
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  EXPECT_EQ(c.Get("/Patient/" + *patient_id_,
                  {{"Authorization", "Bearer " + std::string(t.json().get_string("id_token"))}})
                .status,
            401);

  // The access token reads the citizen's own record (with its DPoP proof).
  EXPECT_EQ(c.Get("/Patient/" + *patient_id_,
                  {{"Authorization", "DPoP " + token},
                   {"DPoP", DpopProof(dpop, "GET", "/Patient/" + *patient_id_, &token)}})
                .status,
            200);
  // /userinfo: needs the proof too.
  EXPECT_EQ(c.Get("/userinfo", {{"Authorization", "DPoP " + token}}).status, 401);
  HttpResponse ui = c.Get("/userinfo", {{"Authorization", "DPoP " + token},
                                        {"DPoP", DpopProof(dpop, "GET", "/userinfo", &token)}});
  ASSERT_EQ(ui.status, 200) << ui.body;
  EXPECT_EQ(ui.json().get_string(trust::kClaimPid), kCitizenFnr);
  EXPECT_EQ(ui.json().get_string("family_name"), "Nordmann");
  EXPECT_EQ(ui.json().get_string("sub"), at->payload.get_string("sub"));
  EXPECT_EQ(ui.header("cache-control"), "no-store");

  // /introspect (client-authenticated).
  auto introspect = [&](const std::string& tok) {
    return PostForm("/introspect",
                    Form({{"token", tok},
                          {"client_assertion_type",
                           "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
                          {"client_assertion", Assertion("app-1", "/introspect")}}));
  };
  HttpResponse in = introspect(token);
  ASSERT_EQ(in.status, 200) << in.body;
  EXPECT_TRUE(in.json().find("active")->as_bool());
  EXPECT_EQ(in.json().get_string("token_type"), "DPoP");
  EXPECT_EQ(in.json().get_string(trust::kClaimPid), kCitizenFnr);
  EXPECT_EQ(in.json().get_string("client_id"), "app-1");
  for (const std::string bad :
       {std::string("not-a-token"), std::string(t.json().get_string("id_token")),
        token.substr(0, token.size() - 4) + "AAAA"}) {
    HttpResponse r = introspect(bad);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"active\":false}");
  }
  // Without client authentication: 401, and nothing about the token.
  HttpResponse anon = PostForm("/introspect", Form({{"token", token}}));
  EXPECT_EQ(anon.status, 401);
  EXPECT_EQ(anon.body.find(kCitizenFnr), std::string::npos);
}

TEST_F(PeopleFlowTest, ClinicianGetsTheHprNumberFromTheRegistry) {
  HttpResponse redirect = LoginAs("clinician", kClinicianFnr);
  ASSERT_EQ(redirect.status, 303) << redirect.body;
  HttpResponse t = Redeem(QueryValue(redirect.header("location"), "code"));
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(t.json().get_string("token_type"), "Bearer");
  EXPECT_EQ(t.json().get_string("scope"), "user/Patient.rs openid");  // no patient/ scopes
  std::string token(t.json().get_string("access_token"));
  auto at = trust::DecodeJws(token);
  EXPECT_EQ(at->payload.get_string(trust::kClaimHpr), kClinicianHpr);
  EXPECT_EQ(at->payload.get_string(trust::kClaimPid), kClinicianFnr);
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  HttpResponse ui = c.Get("/userinfo", {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(ui.status, 200) << ui.body;
  EXPECT_EQ(ui.json().get_string(trust::kClaimHpr), kClinicianHpr);
  EXPECT_EQ(ui.json().get_string("name"), "Lise Lege");
  // A citizen (no Practitioner) cannot log in as a clinician; the form comes back.
  LoginForm f = OpenLogin(Par(ParParams()));
  HttpResponse again = SubmitLogin(f, "clinician", kCitizenFnr);
  EXPECT_EQ(again.status, 400);
  EXPECT_NE(again.body.find("Login failed"), std::string::npos);
  EXPECT_EQ(again.header("location"), "");
}

TEST_F(PeopleFlowTest, LoginPageIsATestPageEscapedAndFramedSafely) {
  LoginForm f = OpenLogin(Par(ParParams()));
  ASSERT_EQ(f.page.status, 200);
  EXPECT_EQ(f.page.header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(f.page.header("cache-control"), "no-store");
  EXPECT_EQ(f.page.header("x-frame-options"), "DENY");
  EXPECT_NE(f.page.header("content-security-policy").find("frame-ancestors 'none'"),
            std::string::npos);
  EXPECT_NE(f.page.body.find("TEST LOGIN"), std::string::npos);
  EXPECT_EQ(f.page.body.find("<script"), std::string::npos);
  // The client's name is escaped.
  EXPECT_NE(f.page.body.find("&lt;b&gt;Journal &amp; Co&lt;/b&gt;"), std::string::npos);
  EXPECT_EQ(f.page.body.find("<b>Journal"), std::string::npos);
  EXPECT_EQ(f.login.size(), 43u);
  std::string set_cookie = f.page.header("set-cookie");
  EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(set_cookie.find("SameSite=Strict"), std::string::npos);

  // A wrong number: the form again, with a new one-time value; the old one is spent.
  HttpResponse wrong = SubmitLogin(f, "citizen", "15058012358");  // check digit off by one
  EXPECT_EQ(wrong.status, 400);
  EXPECT_NE(wrong.body.find("not a valid"), std::string::npos);
  std::string next = HiddenLogin(wrong.body);
  ASSERT_EQ(next.size(), 43u);
  EXPECT_NE(next, f.login);
  EXPECT_EQ(SubmitLogin(f, "citizen", kCitizenFnr).status, 400);  // spent
  LoginForm f2{wrong, next, wrong.header("set-cookie").substr(0, wrong.header("set-cookie").find(';'))};
  // A valid number of nobody in the registry.
  HttpResponse nobody = SubmitLogin(f2, "citizen", "24126532160");
  EXPECT_EQ(nobody.status, 400);
  EXPECT_NE(nobody.body.find("no citizen"), std::string::npos);
  LoginForm f3{nobody, HiddenLogin(nobody.body),
               nobody.header("set-cookie").substr(0, nobody.header("set-cookie").find(';'))};
  // Without the browser's cookie (a forged cross-site post): refused, and the value is spent.
  LoginForm forged = f3;
  forged.cookie = "gm_login=forged";
  EXPECT_EQ(SubmitLogin(forged, "citizen", kCitizenFnr).status, 400);
  EXPECT_EQ(SubmitLogin(f3, "citizen", kCitizenFnr).status, 400);
  // Cancel: back to the app with access_denied and the state.
  LoginForm f4 = OpenLogin(Par(ParParams()));
  HttpResponse cancel = SubmitLogin(f4, "citizen", "", "cancel");
  ASSERT_EQ(cancel.status, 303);
  EXPECT_EQ(QueryValue(cancel.header("location"), "error"), "access_denied");
  EXPECT_EQ(QueryValue(cancel.header("location"), "state"), "st&ate=1");
  EXPECT_EQ(QueryValue(cancel.header("location"), "code"), "");
}

// The authorization-code part of the token-mutation corpus (the rest is in
// token_mutation_test.cc; expired codes and request_uris, which need a
// moving clock, are in tests/trust/authcode_test.cc).
TEST_F(PeopleFlowTest, AuthCodeMutationsAreRefused) {
  int cases = 0;
  auto par_refused = [&](const Pairs& params, int status, const std::string& error) {
    ++cases;
    HttpResponse r = PostForm("/par", Form(params));
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.json().get_string("error"), error) << r.body;
    EXPECT_EQ(r.json().find("request_uri"), nullptr);
  };
  par_refused(With(ParParams(), "code_challenge_method", "plain"), 400, "invalid_request");
  par_refused(Without(ParParams(), "code_challenge"), 400, "invalid_request");
  par_refused(Without(ParParams(), "code_challenge_method"), 400, "invalid_request");  // = plain
  par_refused(With(ParParams(), "code_challenge", "too-short"), 400, "invalid_request");
  par_refused(With(ParParams(), "redirect_uri", "https://evil.test/callback"), 400,
              "invalid_request");
  par_refused(With(ParParams(), "redirect_uri", std::string(kRedirect) + "/more"), 400,
              "invalid_request");
  par_refused(Without(ParParams(), "redirect_uri"), 400, "invalid_request");
  par_refused(Without(Without(ParParams(), "client_assertion"), "client_assertion_type"), 401,
              "invalid_client");
  par_refused(With(ParParams(), "scope", "openid system/Patient.rs"), 400, "invalid_scope");
  par_refused(With(ParParams(), "scope", "user/*.cruds"), 400, "invalid_scope");
  par_refused(With(ParParams(), "response_type", "token"), 400, "unsupported_response_type");
  par_refused(With(ParParams(), "request_uri", "urn:ietf:params:oauth:request_uri:x"), 400,
              "invalid_request");
  {
    Pairs sys = ParParams("sys-1");
    par_refused(sys, 400, "unauthorized_client");
  }
  // /authorize: PAR required, request_uri single use and bound to its client.
  auto page_refused = [&](const std::string& target) {
    ++cases;
    HttpResponse r = HttpClient(server().port(), HttpClient::Auth::kNone).Get(target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(HiddenLogin(r.body), "");
    EXPECT_EQ(r.header("location"), "");
  };
  page_refused("/authorize?client_id=app-1&response_type=code&redirect_uri=" +
               Form({{"x", kRedirect}}).substr(2) + "&code_challenge=" + kChallenge +
               "&code_challenge_method=S256");
  std::string uri = Par(ParParams());
  LoginForm first = OpenLogin(uri);
  EXPECT_EQ(first.page.status, 200);
  page_refused("/authorize?client_id=app-1&request_uri=" + Form({{"x", uri}}).substr(2));  // reuse
  page_refused("/authorize?client_id=app-2&request_uri=" +
               Form({{"x", Par(ParParams())}}).substr(2));  // another client's request
  page_refused("/authorize?client_id=app-1&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Anope");
  // The login form's one-time value: used once.
  ASSERT_EQ(SubmitLogin(first, "citizen", kCitizenFnr).status, 303);
  ++cases;
  EXPECT_EQ(SubmitLogin(first, "citizen", kCitizenFnr).status, 400);

  // /token: the code is bound to client, redirect_uri and verifier, and single use.
  auto grant_refused = [&](const HttpResponse& r, const std::string& code) {
    ++cases;
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.json().get_string("error"), "invalid_grant");
    EXPECT_EQ(r.json().find("access_token"), nullptr);
    EXPECT_EQ(r.body.find(code), std::string::npos);
    EXPECT_EQ(r.body.find(kCitizenFnr), std::string::npos);
  };
  auto code = [&] {
    return QueryValue(LoginAs("citizen", kCitizenFnr).header("location"), "code");
  };
  std::string c1 = code();
  grant_refused(Redeem(c1, std::string(kVerifier).substr(0, 42) + "x"), c1);  // wrong verifier
  grant_refused(Redeem(c1), c1);  // the failed attempt spent the code
  std::string c2 = code();
  grant_refused(Redeem(c2, kChallenge), c2);  // the challenge itself ("plain")
  std::string c3 = code();
  grant_refused(Redeem(c3, ""), c3);  // no verifier
  std::string c4 = code();
  grant_refused(Redeem(c4, kVerifier, std::string(kRedirect) + "/other"), c4);  // redirect_uri
  std::string c5 = code();
  grant_refused(Redeem(c5, kVerifier, kRedirect, "app-2"), c5);  // another client
  std::string c6 = code();
  ASSERT_EQ(Redeem(c6).status, 200);
  grant_refused(Redeem(c6), c6);  // reuse
  grant_refused(Redeem("made-up-code"), "made-up-code");
  {
    ++cases;  // a client without the code grant
    HttpResponse r = Redeem(code(), kVerifier, kRedirect, "sys-1");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.json().get_string("error"), "unauthorized_client");
  }
  {
    ++cases;  // a code grant without client authentication
    std::string c7 = code();
    HttpResponse r = PostForm("/token", Form({{"grant_type", "authorization_code"},
                                              {"code", c7},
                                              {"redirect_uri", kRedirect},
                                              {"code_verifier", kVerifier},
                                              {"client_id", "app-1"}}));
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.json().get_string("error"), "invalid_client");
  }
  std::cout << "[ corpus   ] authorization-code mutations: " << cases << " cases, all refused\n";
  EXPECT_EQ(cases, 28);  // the size of this part of the corpus, as reported
  // Nothing above disturbed a correct flow.
  EXPECT_EQ(Redeem(code()).status, 200);
}

// A signed request object (RFC 9101) pushed to /par: only its parameters
// count, and its trust-framework attestation reaches the token.
TEST_F(PeopleFlowTest, RequestObjectCarriesTheAttestation) {
  auto object = [&](json::Value extra, const trust::Jwk& key) {
    json::Value h = json::Value::MakeObject();
    h.set("typ", "oauth-authz-req+jwt");
    int64_t now = time(nullptr);
    json::Value c = json::Value::MakeObject();
    c.set("iss", "app-1");
    c.set("aud", server().base_url());
    c.set("exp", now + 60);
    c.set("jti", "ro-" + std::to_string(++n_) + "-" + std::to_string(now));
    c.set("client_id", "app-1");
    c.set("response_type", "code");
    c.set("redirect_uri", kRedirect);
    c.set("scope", "openid user/Patient.rs");
    c.set("state", "from-the-object");
    c.set("code_challenge", kChallenge);
    c.set("code_challenge_method", "S256");
    c.set("authorization_details", *json::Parse(R"([{"type":"nhn:tillitsrammeverk:parameters",
      "practitioner":{"hpr_nr":{"id":"9144889"},"authorization":{"code":"LE"},
        "legal_entity":{"id":"983658725"}},
      "care_relationship":{"purpose_of_use":{"code":"TREAT"}},
      "patients":[{"identifier":{"id":"15058012359"}}],"toa":1790000000}])"));
    for (const auto& [k, v] : extra.object()) c.set(k, v);
    return trust::SignJws(std::move(h), c, key);
  };
  auto push = [&](const std::string& ro) {
    return PostForm("/par",
                    Form({{"client_assertion_type",
                           "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
                          {"client_assertion", Assertion()},
                          {"client_id", "app-1"},
                          {"request", ro},
                          // Outside the object: ignored.
                          {"redirect_uri", "https://evil.test/cb"},
                          {"state", "from-the-form"}}));
  };
  std::string ro = object(json::Value::MakeObject(), *app_key_);
  HttpResponse pushed = push(ro);
  ASSERT_EQ(pushed.status, 201) << pushed.body;
  LoginForm f = OpenLogin(std::string(pushed.json().get_string("request_uri")));
  ASSERT_EQ(f.page.status, 200);
  HttpResponse redirect = SubmitLogin(f, "clinician", kClinicianFnr);
  ASSERT_EQ(redirect.status, 303);
  std::string location = redirect.header("location");
  EXPECT_EQ(location.rfind(std::string(kRedirect) + "?", 0), 0u);
  EXPECT_EQ(QueryValue(location, "state"), "from-the-object");
  HttpResponse t = Redeem(QueryValue(location, "code"));
  ASSERT_EQ(t.status, 200) << t.body;
  auto claims = trust::DecodeJws(std::string(t.json().get_string("access_token")))->payload;
  ASSERT_NE(claims.find("authorization_details"), nullptr);
  auto att = trust::ParseAttestation(*claims.find("authorization_details"));
  ASSERT_TRUE(att.ok() && att->has_value());
  EXPECT_EQ((*att)->purpose_of_use, "TREAT");
  EXPECT_EQ(claims.get_string(trust::kClaimHpr), kClinicianHpr);

  // Refused: the same object again (jti), a stranger's signature, another
  // audience, an unregistered redirect URI inside the object.
  auto refused = [&](const HttpResponse& r) {
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.json().find("request_uri"), nullptr);
  };
  refused(push(ro));
  trust::Jwk stranger = trust::Jwk::Generate(trust::Alg::kES256, "app-key");
  refused(push(object(json::Value::MakeObject(), stranger)));
  json::Value other_aud = json::Value::MakeObject();
  other_aud.set("aud", "https://another-as.test");
  refused(push(object(other_aud, *app_key_)));
  json::Value evil_redirect = json::Value::MakeObject();
  evil_redirect.set("redirect_uri", "https://evil.test/cb");
  refused(push(object(evil_redirect, *app_key_)));
}

// RFC 9449 §10: a code bound to a DPoP key at /par (dpop_jkt, or a proof
// sent with the push) is redeemed only with a proof by that key.
TEST_F(PeopleFlowTest, CodeBoundToADpopKey) {
  trust::Jwk mine = trust::Jwk::Generate(trust::Alg::kES256, "");
  trust::Jwk other = trust::Jwk::Generate(trust::Alg::kES256, "");
  auto code_bound_by_param = [&] {
    LoginForm f = OpenLogin(Par(With(ParParams(), "dpop_jkt", mine.Thumbprint())));
    return QueryValue(SubmitLogin(f, "citizen", kCitizenFnr).header("location"), "code");
  };
  auto proof = [&](const trust::Jwk& k, const std::string& path) {
    return DpopProof(k, "POST", path, nullptr);
  };
  std::string c1 = code_bound_by_param();
  HttpResponse none = Redeem(c1);  // no proof
  EXPECT_EQ(none.status, 400);
  EXPECT_EQ(none.json().get_string("error"), "invalid_grant");
  std::string c2 = code_bound_by_param();
  HttpResponse wrong = Redeem(c2, kVerifier, kRedirect, "app-1", {{"DPoP", proof(other, "/token")}});
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(wrong.json().get_string("error"), "invalid_grant");
  std::string c3 = code_bound_by_param();
  HttpResponse right = Redeem(c3, kVerifier, kRedirect, "app-1", {{"DPoP", proof(mine, "/token")}});
  ASSERT_EQ(right.status, 200) << right.body;
  EXPECT_EQ(trust::DecodeJws(std::string(right.json().get_string("access_token")))
                ->payload.find("cnf")
                ->get_string("jkt"),
            mine.Thumbprint());
  // Bound by a proof sent with the push.
  HttpResponse pushed = PostForm("/par", Form(ParParams()), {{"DPoP", proof(mine, "/par")}});
  ASSERT_EQ(pushed.status, 201) << pushed.body;
  LoginForm f = OpenLogin(std::string(pushed.json().get_string("request_uri")));
  std::string c4 = QueryValue(SubmitLogin(f, "citizen", kCitizenFnr).header("location"), "code");
  EXPECT_EQ(Redeem(c4, kVerifier, kRedirect, "app-1", {{"DPoP", proof(other, "/token")}}).status,
            400);
  // A proof and a dpop_jkt of different keys at /par: refused.
  HttpResponse mismatch = PostForm("/par", Form(With(ParParams(), "dpop_jkt", other.Thumbprint())),
                                   {{"DPoP", proof(mine, "/par")}});
  EXPECT_EQ(mismatch.status, 400);
  EXPECT_EQ(mismatch.json().get_string("error"), "invalid_dpop_proof");
}

TEST_F(PeopleFlowTest, DiscoveryNamesTheEndpoints) {
  HttpResponse d = HttpClient(server().port(), HttpClient::Auth::kNone)
                       .Get("/.well-known/openid-configuration");
  ASSERT_EQ(d.status, 200);
  const json::Value& j = d.json();
  std::string base = server().base_url();
  EXPECT_EQ(j.get_string("authorization_endpoint"), base + "/authorize");
  EXPECT_EQ(j.get_string("pushed_authorization_request_endpoint"), base + "/par");
  EXPECT_EQ(j.get_string("introspection_endpoint"), base + "/introspect");
  EXPECT_EQ(j.get_string("userinfo_endpoint"), base + "/userinfo");
  EXPECT_TRUE(j.find("require_pushed_authorization_requests")->as_bool());
  ASSERT_NE(j.find("code_challenge_methods_supported"), nullptr);
  EXPECT_EQ(json::Write(*j.find("code_challenge_methods_supported")), "[\"S256\"]");
  EXPECT_EQ(json::Write(*j.find("grant_types_supported")),
            "[\"client_credentials\",\"authorization_code\"]");
}

}  // namespace
}  // namespace gm::testing
