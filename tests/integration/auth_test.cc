// Authentication through the real server: every route that can reveal or
// change data needs a valid access token (default deny); scopes limit what a
// token may do; DPoP-bound tokens need a fresh proof; discovery is public.
#include "tests/integration/fixture.h"
#include "trust/jose.h"
#include "trust/tokens.h"

namespace gm::testing {
namespace {

class AuthTest : public ServerTest {
 protected:
  static HttpClient Anonymous() { return HttpClient(server().port(), HttpClient::Auth::kNone); }
};

// Every route shape of the FHIR API, with a method that would read or change data.
struct RouteCase {
  const char* method;
  const char* path;
  const char* body;
};
const RouteCase kRoutes[] = {
    {"POST", "/", R"({"resourceType":"Bundle","type":"transaction","entry":[]})"},
    {"GET", "/", nullptr},
    {"GET", "/?_type=Patient", nullptr},
    {"GET", "/_history", nullptr},
    {"POST", "/_search", ""},
    {"GET", "/Patient", nullptr},
    {"POST", "/Patient", R"({"resourceType":"Patient"})"},
    {"PUT", "/Patient?identifier=x", R"({"resourceType":"Patient"})"},
    {"DELETE", "/Patient?identifier=x", nullptr},
    {"POST", "/Patient/_search", ""},
    {"GET", "/Patient/_history", nullptr},
    {"POST", "/Patient/$validate", R"({"resourceType":"Patient"})"},
    {"GET", "/Patient/p1", nullptr},
    {"PUT", "/Patient/p1", R"({"resourceType":"Patient","id":"p1"})"},
    {"PATCH", "/Patient/p1", "[]"},
    {"DELETE", "/Patient/p1", nullptr},
    {"GET", "/Patient/p1/_history", nullptr},
    {"GET", "/Patient/p1/_history/1", nullptr},
    {"GET", "/Patient/p1/$everything", nullptr},
    {"POST", "/Patient/p1/$everything", ""},
    {"GET", "/Patient/p1/Observation", nullptr},
    {"GET", "/$export", nullptr},
};

TEST_F(AuthTest, EveryDataRouteNeedsATokenAndChangesNothingWithout) {
  ASSERT_EQ(client().Put("/Patient/p1", R"({"resourceType":"Patient","id":"p1","active":true})").status,
            201);
  int64_t before = SystemHistoryCount(client());
  HttpClient anon = Anonymous();
  int checked = 0;
  for (const auto& rc : kRoutes) {
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body = rc.body ? rc.body : "";
    if (rc.body) {
      headers.emplace_back("Content-Type", std::string(rc.method) == "PATCH"
                                               ? "application/json-patch+json"
                                           : body.empty() ? "application/x-www-form-urlencoded"
                                                          : "application/fhir+json");
    }
    HttpResponse r = anon.Request(rc.method, rc.path, body, headers);
    EXPECT_EQ(r.status, 401) << rc.method << " " << rc.path << ": " << r.body.substr(0, 300);
    EXPECT_EQ(IssueCode(r), "GM-AUTH-001") << rc.method << " " << rc.path;
    EXPECT_NE(r.header("www-authenticate").find("DPoP"), std::string::npos) << rc.path;
    EXPECT_EQ(r.body.find("p1\""), std::string::npos) << "data leaked: " << r.body;
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(std::size(kRoutes)));
  EXPECT_EQ(SystemHistoryCount(client()), before);
  EXPECT_EQ(client().Get("/Patient/p1").status, 200);  // with the token
}

TEST_F(AuthTest, PublicEndpointsNeedNoToken) {
  HttpClient anon = Anonymous();
  EXPECT_EQ(anon.Get("/metadata").status, 200);
  EXPECT_EQ(anon.Get("/healthz").status, 200);
  EXPECT_EQ(anon.Get("/readyz").status, 200);
  HttpResponse conf = anon.Get("/.well-known/openid-configuration");
  ASSERT_EQ(conf.status, 200) << conf.body;
  EXPECT_EQ(conf.json().get_string("jwks_uri"), server().base_url() + "/jwks");
  HttpResponse jwks = anon.Get("/jwks");
  ASSERT_EQ(jwks.status, 200);
  // The server's token is signed by a key it publishes.
  auto jws = trust::DecodeJws(server().token());
  ASSERT_TRUE(jws.ok());
  bool found = false;
  for (const auto& k : jwks.json().find("keys")->array()) {
    EXPECT_EQ(k.find("d"), nullptr) << "a private key was published";
    if (k.get_string("kid") == jws->header.get_string("kid")) {
      auto key = trust::Jwk::FromJson(k);
      ASSERT_TRUE(key.ok());
      EXPECT_TRUE(trust::VerifyJws(*jws, *key, {trust::Alg::kES256}).ok());
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(AuthTest, BadTokensAreRefused) {
  HttpClient anon = Anonymous();
  auto get = [&](const std::string& authorization) {
    return anon.Get("/Patient", {{"Authorization", authorization}});
  };
  HttpResponse garbage = get("Bearer not-a-token");
  EXPECT_EQ(garbage.status, 401);
  EXPECT_EQ(IssueCode(garbage), "GM-AUTH-002");
  EXPECT_NE(garbage.header("www-authenticate").find("invalid_token"), std::string::npos);
  EXPECT_EQ(IssueCode(get("Basic dXNlcjpwYXNz")), "GM-AUTH-001");
  // A token signed by another server's keys (another data directory).
  TempDir other_dir;
  ServerProcess other(other_dir.path());
  HttpResponse foreign = get("Bearer " + other.token());
  EXPECT_EQ(foreign.status, 401);
  EXPECT_EQ(IssueCode(foreign), "GM-AUTH-006");
  // The right token with one character of the signature changed.
  std::string t = server().token();
  t.back() = t.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(get("Bearer " + t).status, 401);
}

TEST_F(AuthTest, ScopesLimitWhatATokenMayDo) {
  std::string id = Create("Patient", R"({"resourceType":"Patient","active":true})");
  std::string read_patients = server().Token({"--scope", "system/Patient.rs"});
  ASSERT_FALSE(read_patients.empty());
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  std::vector<std::pair<std::string, std::string>> h = {{"Authorization", "Bearer " + read_patients}};
  EXPECT_EQ(c.Get("/Patient/" + id, h).status, 200);
  EXPECT_EQ(c.Get("/Patient?active=true", h).status, 200);
  HttpResponse create = c.Request("POST", "/Patient", R"({"resourceType":"Patient"})",
                                  {h[0], {"Content-Type", "application/fhir+json"}});
  EXPECT_EQ(create.status, 403) << create.body;
  EXPECT_EQ(IssueCode(create), "GM-AUTH-040");
  EXPECT_EQ(c.Get("/Observation", h).status, 403);
  EXPECT_EQ(c.Get("/Patient/" + id + "/$everything", h).status, 403);
  HttpResponse tx = c.Request("POST", "/", R"({"resourceType":"Bundle","type":"batch","entry":[]})",
                              {h[0], {"Content-Type", "application/fhir+json"}});
  EXPECT_EQ(tx.status, 403);
  // v1 scope forms are understood: system/Observation.read = rs.
  std::string v1 = server().Token({"--scope", "system/Observation.read"});
  EXPECT_EQ(c.Get("/Observation", {{"Authorization", "Bearer " + v1}}).status, 200);
  EXPECT_EQ(c.Get("/Patient", {{"Authorization", "Bearer " + v1}}).status, 403);
  // A clinician's search must name one patient (GM-AUTH-041).
  std::string clinician = server().Token({"--scope", "user/*.rs", "--as-hpr", "9144889"});
  HttpResponse user = c.Get("/Observation", {{"Authorization", "Bearer " + clinician}});
  EXPECT_EQ(user.status, 403);
  EXPECT_EQ(IssueCode(user), "GM-AUTH-041");
}

TEST_F(AuthTest, DpopBoundTokensNeedAFreshProofForThisRequest) {
  trust::Jwk key = trust::Jwk::Generate(trust::Alg::kES256, "");
  std::string token =
      server().Token({"--scope", "system/*.rs", "--dpop-jkt", key.Thumbprint()});
  ASSERT_FALSE(token.empty());
  int n = 0;
  auto proof = [&](const std::string& method, const std::string& path) {
    json::Value h = json::Value::MakeObject();
    h.set("typ", "dpop+jwt");
    h.set("jwk", key.PublicJson());
    json::Value c = json::Value::MakeObject();
    c.set("htm", method);
    c.set("htu", server().base_url() + path);
    c.set("iat", static_cast<int64_t>(time(nullptr)));
    c.set("jti", "test-proof-" + std::to_string(++n));
    c.set("ath", trust::Base64UrlEncode(trust::Sha256(token)));
    return trust::SignJws(std::move(h), c, key);
  };
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  std::string p1 = proof("GET", "/Patient");
  HttpResponse ok = c.Get("/Patient?_count=1", {{"Authorization", "DPoP " + token}, {"DPoP", p1}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  HttpResponse replay = c.Get("/Patient", {{"Authorization", "DPoP " + token}, {"DPoP", p1}});
  EXPECT_EQ(replay.status, 401);
  EXPECT_EQ(IssueCode(replay), "GM-AUTH-011");
  HttpResponse other_path =
      c.Get("/Observation", {{"Authorization", "DPoP " + token}, {"DPoP", proof("GET", "/Patient")}});
  EXPECT_EQ(IssueCode(other_path), "GM-AUTH-011");
  HttpResponse bearer = c.Get("/Patient", {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(bearer.status, 401);
  EXPECT_EQ(IssueCode(bearer), "GM-AUTH-010");
}

TEST_F(AuthTest, ConfidentialAddressesAreShownOnlyToThePerson) {
  // Strengt fortrolig adresse (Folkeregister kode 6): label V (docs/grunndata.md).
  ASSERT_EQ(client().Put("/Patient/secret", R"({"resourceType":"Patient","id":"secret",
      "meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"V"}]},
      "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Storgata 1, Tromsø</div>"},
      "identifier":[{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"13097248022"}],
      "name":[{"family":"Skjult"}],"address":[{"line":["Storgata 1"],"city":"Tromsø"}],
      "contact":[{"name":{"family":"Skjult"},"address":{"line":["Storgata 1"]}}]})").status,
            201);
  ASSERT_EQ(client().Put("/Patient/open", R"({"resourceType":"Patient","id":"open",
      "name":[{"family":"Åpen"}],"address":[{"city":"Bergen"}]})").status, 201);
  // A system token, or another person, does not see where the person lives.
  HttpResponse sys = client().Get("/Patient/secret");
  ASSERT_EQ(sys.status, 200);
  EXPECT_EQ(sys.body.find("Storgata"), std::string::npos) << sys.body;
  EXPECT_EQ(sys.body.find("Troms"), std::string::npos) << sys.body;
  EXPECT_NE(sys.body.find("REDACTED"), std::string::npos) << sys.body;
  EXPECT_NE(sys.body.find("Skjult"), std::string::npos);  // the rest is there
  HttpResponse search = client().Get("/Patient?family=Skjult&_pretty=true");
  EXPECT_EQ(search.body.find("Storgata"), std::string::npos) << search.body;
  std::string other = server().Token({"--scope", "patient/*.rs", "--as-pid", "21030550231"});
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  EXPECT_EQ(c.Get("/Patient/secret", {{"Authorization", "Bearer " + other}}).body.find("Storgata"),
            std::string::npos);
  // The person sees their own address.
  std::string self = server().Token({"--scope", "patient/*.rs", "--as-pid", "13097248022"});
  HttpResponse own = c.Get("/Patient/secret", {{"Authorization", "Bearer " + self}});
  ASSERT_EQ(own.status, 200);
  EXPECT_NE(own.body.find("Storgata"), std::string::npos) << own.body;
  EXPECT_EQ(own.body.find("REDACTED"), std::string::npos);
  // Unlabelled people keep their addresses.
  EXPECT_NE(client().Get("/Patient/open").body.find("Bergen"), std::string::npos);
  // Nor can the address be probed by searching: no address or full-text index
  // for a labelled person (the unlabelled one is found as usual).
  auto ids = [&](const std::string& url) {
    std::vector<std::string> out;
    const json::Value& b = client().Get(url).json();
    if (const json::Value* e = b.find("entry")) {
      for (const auto& x : e->array()) out.emplace_back(x.find("resource")->get_string("id"));
    }
    return out;
  };
  EXPECT_TRUE(ids("/Patient?address-city=Troms%C3%B8").empty());
  EXPECT_TRUE(ids("/Patient?address=Storgata").empty());
  EXPECT_TRUE(ids("/Patient?_content=Storgata").empty());
  EXPECT_TRUE(ids("/Patient?_text=Storgata").empty());
  EXPECT_EQ(ids("/Patient?address-city=Bergen"), std::vector<std::string>{"open"});
  EXPECT_EQ(ids("/Patient?family=Skjult"), std::vector<std::string>{"secret"});  // still findable by name
}

TEST_F(AuthTest, CitizensSeeOnlyTheirOwnCompartment) {
  // Two citizens, each with an Observation.
  ASSERT_EQ(client().Put("/Patient/kari", R"({"resourceType":"Patient","id":"kari",
      "identifier":[{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"15076500565"}]})").status, 201);
  ASSERT_EQ(client().Put("/Patient/ola", R"({"resourceType":"Patient","id":"ola",
      "identifier":[{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"31129956715"}]})").status, 201);
  for (const char* who : {"kari", "ola"}) {
    ASSERT_EQ(client().Put(std::string("/Observation/obs-") + who,
                           std::string(R"({"resourceType":"Observation","id":"obs-)") + who +
                               R"(","status":"final","code":{"text":"HbA1c"},"subject":{"reference":"Patient/)" +
                               who + R"("}})")
                  .status,
              201);
  }
  std::string kari = server().Token({"--scope", "patient/*.rs", "--as-pid", "15076500565"});
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  std::vector<std::pair<std::string, std::string>> h = {{"Authorization", "Bearer " + kari}};
  EXPECT_EQ(c.Get("/Patient/kari", h).status, 200);
  EXPECT_EQ(c.Get("/Observation/obs-kari", h).status, 200);
  // Someone else's data answers exactly as data that does not exist.
  HttpResponse other = c.Get("/Observation/obs-ola", h);
  HttpResponse missing = c.Get("/Observation/no-such-obs", h);
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(IssueCode(other), IssueCode(missing));
  std::string masked = other.body;
  masked.replace(masked.find("obs-ola"), 7, "no-such-obs");
  EXPECT_EQ(masked, missing.body);
  EXPECT_EQ(c.Get("/Patient/ola", h).status, 404);
  EXPECT_EQ(c.Get("/Patient/ola/$everything", h).status, 404);
  EXPECT_EQ(c.Get("/Patient/ola/Observation", h).status, 404);
  EXPECT_EQ(c.Get("/Observation/obs-ola/_history", h).status, 404);
  // Searches return only the person's own resources, also with _total.
  HttpResponse all = c.Get("/Observation?_total=accurate", h);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.json().find("total")->str(), "1") << all.body;
  EXPECT_NE(all.body.find("obs-kari"), std::string::npos);
  EXPECT_EQ(all.body.find("obs-ola"), std::string::npos);
  HttpResponse patients = c.Get("/Patient", h);
  EXPECT_EQ(patients.body.find("\"ola\""), std::string::npos) << patients.body;
  HttpResponse posted = c.Request("POST", "/Observation/_search", "code:text=HbA1c",
                                  {h[0], {"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(posted.status, 200);
  EXPECT_EQ(posted.body.find("obs-ola"), std::string::npos);
  EXPECT_EQ(c.Get("/Patient/kari/$everything", h).status, 200);
  // What would reach past the compartment is refused.
  EXPECT_EQ(IssueCode(c.Get("/Observation?_include=Observation:subject", h)), "GM-AUTH-043");
  EXPECT_EQ(IssueCode(c.Get("/Observation?subject:Patient.identifier=31129956715", h)), "GM-AUTH-043");
  EXPECT_EQ(IssueCode(c.Get("/Patient?_has:Observation:subject:code:text=HbA1c", h)), "GM-AUTH-043");
  // No writes, no system-wide routes.
  std::string rw = server().Token({"--scope", "patient/*.cruds", "--as-pid", "15076500565"});
  std::vector<std::pair<std::string, std::string>> hw = {{"Authorization", "Bearer " + rw},
                                                        {"Content-Type", "application/fhir+json"}};
  EXPECT_EQ(IssueCode(c.Request("POST", "/Observation", R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})", hw)),
            "GM-AUTH-042");
  EXPECT_EQ(IssueCode(c.Request("DELETE", "/Observation/obs-kari", "", hw)), "GM-AUTH-042");
  EXPECT_EQ(c.Get("/_history", {{"Authorization", "Bearer " + kari}}).status, 403);
  // A person without a record here gets nothing.
  std::string stranger = server().Token({"--scope", "patient/*.rs", "--as-pid", "21030550231"});
  EXPECT_EQ(c.Get("/Observation", {{"Authorization", "Bearer " + stranger}}).status, 403);
  std::string nobody = server().Token({"--scope", "patient/*.rs"});
  EXPECT_EQ(c.Get("/Observation", {{"Authorization", "Bearer " + nobody}}).status, 403);
}

}  // namespace
}  // namespace gm::testing
