// Profile validation and Norwegian identifiers through the real server:
// started with --profiles on the no-basis 2.2.2 package
// (../shared/norway/no-basis-2.2.2), every no-basis example is accepted
// except two that are not valid (a placeholder FNR; an id with a space and
// an orgnr "test"); broken copies are refused with
// the profile's reasons; profiles stored through the API are enforced, also
// after a restart; $validate?profile= validates against a named profile.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/integration/fixture.h"

namespace gm::testing {
namespace {

const std::string kNoBasis = std::string(GM_SHARED_DIR) + "/norway/no-basis-2.2.2";
const std::string kPatientProfile = "http://hl7.no/fhir/StructureDefinition/no-basis-Patient";

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json::Value Example(const std::string& name) {
  auto v = json::Parse(ReadFile(kNoBasis + "/examples/" + name), json::ParseOptions{.max_depth = 256});
  return v.ok() ? *v : json::Value();
}

// All issue codes of an OperationOutcome.
std::vector<std::string> Codes(const HttpResponse& r) {
  std::vector<std::string> out;
  const json::Value* issues = r.json().find("issue");
  if (issues == nullptr) return out;
  for (const auto& i : issues->array()) {
    if (const json::Value* d = i.find("details")) {
      if (const json::Value* c = d->find("coding"); c && !c->empty()) {
        out.emplace_back(c->array()[0].get_string("code"));
      }
    }
  }
  return out;
}

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

class ProfilesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    server_ = new ServerProcess(dir_->path(), {"--profiles", kNoBasis});
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }
  void SetUp() override { client_ = std::make_unique<HttpClient>(server_->port()); }
  HttpClient& client() { return *client_; }
  HttpResponse Post(const json::Value& resource) {
    return client().Post("/" + std::string(resource.get_string("resourceType")),
                         json::Write(resource));
  }

  static TempDir* dir_;
  static ServerProcess* server_;
  std::unique_ptr<HttpClient> client_;
};
TempDir* ProfilesTest::dir_ = nullptr;
ServerProcess* ProfilesTest::server_ = nullptr;

TEST_F(ProfilesTest, NoBasisExamplesAreAcceptedExceptThePlaceholderFnr) {
  int accepted = 0, total = 0;
  for (const auto& f : std::filesystem::directory_iterator(kNoBasis + "/examples")) {
    if (f.path().extension() != ".json") continue;
    ++total;
    json::Value ex = Example(f.path().filename().string());
    HttpResponse r = Post(ex);
    if (f.path().filename() == "no-basis-HealthcareService-example.json") {
      // Its id has a space ("no-basis-HealthcareService example") and
      // providedBy names the organisasjonsnummer "test".
      EXPECT_EQ(r.status, 422) << r.body;
      auto codes = Codes(r);
      EXPECT_TRUE(Has(codes, "GM-VAL-014")) << r.body;
      EXPECT_TRUE(Has(codes, "GM-NO-007")) << r.body;
      continue;
    }
    if (f.path().filename() == "no-basis-Patient-Espen-Eksempel.json") {
      // Its FNR is "210377xxxxx": a placeholder, not a fødselsnummer.
      EXPECT_EQ(r.status, 422) << r.body;
      EXPECT_EQ(IssueCode(r), "GM-NO-001") << r.body;
      EXPECT_NE(r.body.find("Patient.identifier[0].value"), std::string::npos) << r.body;
      continue;
    }
    EXPECT_EQ(r.status, 201) << f.path().filename() << ": " << r.body.substr(0, 800);
    if (r.status == 201) ++accepted;
  }
  std::cout << "[ no-basis examples ] accepted " << accepted << " of " << total
            << " (refused: the placeholder FNR, and the HealthcareService with a bad id and orgnr)\n";
  EXPECT_EQ(total, 14);
  EXPECT_EQ(accepted, total - 2);
}

TEST_F(ProfilesTest, BrokenCopiesAreRefusedWithTheProfilesReasons) {
  // The official-address extension is a boolean: a string is refused.
  json::Value p = Example("no-basis-Patient-Jannice-Søreng.json");
  for (auto& ext : (*p.find("address")).array()[0].find("extension")->array()) {
    if (ext.get_string("url") == "http://hl7.no/fhir/StructureDefinition/no-basis-address-official") {
      ext.erase("valueBoolean");
      ext.set("valueString", "ja");
    }
  }
  HttpResponse r = Post(p);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_TRUE(Has(Codes(r), "GM-PROF-040")) << r.body;
  // An invalid FNR (last digit changed) is refused by the identifier check.
  json::Value q = Example("no-basis-Patient-Jannice-Søreng.json");
  (*q.find("identifier")).array()[0].set("value", "21030550232");
  HttpResponse bad_fnr = Post(q);
  EXPECT_EQ(bad_fnr.status, 422) << bad_fnr.body;
  EXPECT_EQ(IssueCode(bad_fnr), "GM-NO-001");
  // An organisasjonsnummer with a wrong check digit, anywhere (here in a Reference).
  json::Value o = Example("no-basis-Patient-Jannice-Søreng.json");
  json::Value gp = json::Value::MakeObject();
  gp.set("identifier", *json::Parse(R"({"system":"urn:oid:2.16.578.1.12.4.1.4.101","value":"983658726"})"));
  o.set("managingOrganization", gp);
  HttpResponse bad_org = Post(o);
  EXPECT_EQ(bad_org.status, 422) << bad_org.body;
  EXPECT_EQ(IssueCode(bad_org), "GM-NO-007");
  EXPECT_NE(bad_org.body.find("Patient.managingOrganization.identifier.value"), std::string::npos)
      << bad_org.body;
}

TEST_F(ProfilesTest, IdentifierSystemVariantsAreStoredCanonical) {
  HttpResponse r = client().Post("/Patient", R"({"resourceType":"Patient",
      "identifier":[{"system":"http://hl7.no/fhir/NamingSystem/FNR","value":"21030550231"}]})");
  ASSERT_EQ(r.status, 201) << r.body;
  std::string id(r.json().get_string("id"));
  const json::Value& p = client().Get("/Patient/" + id).json();
  EXPECT_EQ(p.find("identifier")->array()[0].get_string("system"), "urn:oid:2.16.578.1.12.4.1.4.1");
  // And it is found by the canonical system.
  HttpResponse s = client().Request("POST", "/Patient/_search",
                                    "identifier=urn:oid:2.16.578.1.12.4.1.4.1|21030550231&_id=" + id,
                                    {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(s.json().find("entry")->size(), 1u);
}

TEST_F(ProfilesTest, ValidateAgainstANamedProfile) {
  // Without meta.profile, the resource is checked against ?profile=.
  json::Value p = Example("no-basis-Patient-Jannice-Søreng.json");
  p.erase("meta");
  HttpResponse ok = client().Post("/Patient/$validate?profile=" + kPatientProfile, json::Write(p));
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_FALSE(Has(Codes(ok), "GM-PROF-040")) << ok.body;
  EXPECT_EQ(ok.json().find("issue")->array()[0].get_string("severity"), "information") << ok.body;
  for (auto& ext : (*p.find("address")).array()[0].find("extension")->array()) {
    if (ext.get_string("url") == "http://hl7.no/fhir/StructureDefinition/no-basis-address-official") {
      ext.erase("valueBoolean");
      ext.set("valueInteger", 1);
    }
  }
  HttpResponse bad = client().Post("/Patient/$validate?profile=" + kPatientProfile, json::Write(p));
  ASSERT_EQ(bad.status, 200);
  EXPECT_TRUE(Has(Codes(bad), "GM-PROF-040")) << bad.body;
  HttpResponse unknown =
      client().Post("/Patient/$validate?profile=http://example.org/no-such-profile", json::Write(p));
  ASSERT_EQ(unknown.status, 200);
  EXPECT_TRUE(Has(Codes(unknown), "GM-PROF-011")) << unknown.body;
}

// A profile created through the API: identifier becomes required (1..*).
json::Value StricterProfile() {
  json::Value sd = *json::Parse(ReadFile(kNoBasis + "/no-basis-Patient.structuredefinition-profile.json"),
                                json::ParseOptions{.max_depth = 256});
  sd.erase("id");
  sd.erase("text");
  sd.set("url", "http://grunnmur.test/StructureDefinition/identified-patient");
  sd.set("name", "IdentifiedPatient");
  sd.set("baseDefinition", kPatientProfile);
  for (auto& e : (*sd.find("snapshot")).find("element")->array()) {
    if (e.get_string("id") == "Patient.identifier") e.set("min", 1);
  }
  sd.erase("differential");
  return sd;
}

TEST_F(ProfilesTest, ProfilesStoredThroughTheApiAreEnforcedAlsoAfterARestart) {
  HttpResponse created = Post(StricterProfile());
  ASSERT_EQ(created.status, 201) << created.body.substr(0, 800);
  const std::string claim = R"({"resourceType":"Patient","meta":{"profile":
      ["http://grunnmur.test/StructureDefinition/identified-patient"]},"gender":"female"})";
  HttpResponse refused = client().Post("/Patient", claim);
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_TRUE(Has(Codes(refused), "GM-PROF-020")) << refused.body;

  // A new server on the same data directory loads the stored profile.
  delete server_;
  server_ = new ServerProcess(dir_->path(), {"--profiles", kNoBasis});
  client_ = std::make_unique<HttpClient>(server_->port());
  HttpResponse again = client().Post("/Patient", claim);
  EXPECT_EQ(again.status, 422) << again.body;
  EXPECT_TRUE(Has(Codes(again), "GM-PROF-020")) << again.body;
  HttpResponse with_id = client().Post("/Patient", R"({"resourceType":"Patient","meta":{"profile":
      ["http://grunnmur.test/StructureDefinition/identified-patient"]},
      "identifier":[{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"21030550231"}]})");
  EXPECT_EQ(with_id.status, 201) << with_id.body;

  // Deleting the stored profile stops its enforcement at once (this node).
  const std::string sd_id(created.json().get_string("id"));
  ASSERT_FALSE(sd_id.empty());
  HttpResponse deleted = client().Request("DELETE", "/StructureDefinition/" + sd_id, "");
  ASSERT_EQ(deleted.status / 100, 2) << deleted.body;
  HttpResponse after = client().Post("/Patient", claim);
  EXPECT_FALSE(Has(Codes(after), "GM-PROF-020")) << after.body;
}

TEST_F(ProfilesTest, TransactionEntriesGetEveryCheckOfAWrite) {
  // Entry 1 claims no-basis-Patient with a wrong-typed extension; entry 0 is fine.
  json::Value bad = Example("no-basis-Patient-Jannice-Søreng.json");
  for (auto& ext : (*bad.find("address")).array()[0].find("extension")->array()) {
    if (ext.get_string("url") == "http://hl7.no/fhir/StructureDefinition/no-basis-address-official") {
      ext.erase("valueBoolean");
      ext.set("valueString", "ja");
    }
  }
  json::Value good = Example("no-basis-Patient-Jannice-Søreng.json");
  json::Value bundle = *json::Parse(R"({"resourceType":"Bundle","type":"transaction","entry":[
      {"request":{"method":"POST","url":"Patient"}},{"request":{"method":"POST","url":"Patient"}}]})");
  bundle.find("entry")->array()[0].set("resource", good);
  bundle.find("entry")->array()[1].set("resource", bad);
  int64_t before = SystemHistoryCount(client());
  HttpResponse r = client().Post("/", json::Write(bundle));
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_TRUE(Has(Codes(r), "GM-PROF-040")) << r.body;
  EXPECT_NE(r.body.find("Bundle.entry[1].resource.address[0]"), std::string::npos) << r.body;
  EXPECT_EQ(SystemHistoryCount(client()), before);
  // An invalid fødselsnummer inside a transaction entry, located in the entry.
  json::Value fnr = good;
  (*fnr.find("identifier")).array()[0].set("value", "21030550232");
  bundle.find("entry")->array()[1].set("resource", fnr);
  HttpResponse f = client().Post("/", json::Write(bundle));
  EXPECT_EQ(f.status, 422) << f.body;
  EXPECT_EQ(IssueCode(f), "GM-NO-001");
  EXPECT_NE(f.body.find("\"Bundle.entry[1].resource.identifier[0].value\""), std::string::npos)
      << f.body;
  EXPECT_EQ(SystemHistoryCount(client()), before);
}

}  // namespace
}  // namespace gm::testing
