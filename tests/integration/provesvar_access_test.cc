// Pasientens prøvesvar access (issue 8 items 2 and 4) through the real
// server: the national search API (POST [type]/_search with person-id and
// access-basis headers), results the citizen hid (9603 NORS) kept from
// clinicians unless the access basis opens them, results held back from the
// citizen (9603 NORU) until released or the delay has passed, on every read
// path, and every access in the citizen's access log.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "tests/integration/fixture.h"

namespace gm::testing {
namespace {

constexpr const char* kFnrSystem = "urn:oid:2.16.578.1.12.4.1.4.1";
constexpr const char* kPid = "13116900216";       // the patient of the biokjemi sample
constexpr const char* kOtherPid = "12038010008";  // a patient nobody here treats
constexpr const char* kHpr = "2000001";
constexpr const char* kLabel = "http://ehelse.no/fhir/CodeSystem/no-kodeverk-9603";

std::string Sample(const std::string& name) {
  std::ifstream in(std::string(GM_SHARED_DIR) + "/norway/svarrapport/samples/" + name,
                   std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using Headers = std::vector<std::pair<std::string, std::string>>;

class ProvesvarAccessTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    // A delay long enough that the samples' results (2019-2021) are still held.
    server_ = new ServerProcess(dir_->path(), {"--lab-release-delay-days", "3650"});
    HttpClient c(server_->port());
    for (const char* name : {"Svar_biokjemi_v1-4_Ny.xml", "Svar_immunologi_v1-4_Ny.xml"}) {
      HttpResponse r = c.Request("POST", "/$svarrapport", Sample(name),
                                 {{"Content-Type", "application/xml"}});
      ASSERT_EQ(r.status, 200) << name << ": " << r.body;
    }
    HttpResponse p = c.Get(std::string("/Patient?identifier=") + kFnrSystem + "|" + kPid);
    ASSERT_EQ(p.status, 200) << p.body;
    ASSERT_NE(p.json().find("entry"), nullptr) << p.body;
    ASSERT_EQ(p.json().find("entry")->size(), 1u);
    patient_ = std::string(p.json().find("entry")->array()[0].find("resource")->get_string("id"));
    HttpResponse drs = c.Get("/DiagnosticReport?patient=Patient/" + patient_);
    ASSERT_EQ(drs.status, 200);
    ASSERT_NE(drs.json().find("entry"), nullptr) << drs.body;
    json::Value dr = *drs.json().find("entry")->array()[0].find("resource");
    const json::Value* results = dr.find("result");
    ASSERT_TRUE(results != nullptr && results->size() >= 2);
    nors_dr_ = std::string(dr.get_string("id"));
    std::string first_obs(results->array()[0].get_string("reference"));
    nors_obs_ = first_obs.substr(first_obs.find('/') + 1);
    std::string second_obs(results->array()[1].get_string("reference"));
    open_obs_ = second_obs.substr(second_obs.find('/') + 1);

    // The citizen hid the report and its first result (NORS).
    Label(c, "DiagnosticReport", nors_dr_, "NORS");
    Label(c, "Observation", nors_obs_, "NORS");
    // Copies of the report held back from the citizen (NORU): one issued with
    // the sample's date (within the delay), one issued long ago (delay passed),
    // and one the requester will release.
    for (const char* id : {"pvs-noru", "pvs-noru-old", "pvs-noru-release"}) {
      json::Value copy = dr;
      copy.set("id", std::string(id));
      copy.erase("meta");
      copy.erase("identifier");
      if (std::string(id) == "pvs-noru-old") copy.set("issued", std::string("2001-02-03T10:00:00Z"));
      HttpResponse put = c.Put(std::string("/DiagnosticReport/") + id, json::Write(copy));
      ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
      Label(c, "DiagnosticReport", id, "NORU");
    }
    // The clinician (HPR, authorised as a physician), and a second patient.
    HttpResponse doc = c.Put(
        "/Practitioner/pvs-doc",
        std::string(R"({"resourceType":"Practitioner","id":"pvs-doc","identifier":[{"system":"urn:oid:2.16.578.1.12.4.1.4.4","value":")") +
            kHpr + R"("}],"name":[{"family":"Labsen","given":["Lise"]}],"qualification":[{"code":{"coding":[{"system":"urn:oid:2.16.578.1.12.4.1.1.9060","code":"LE"}]}}]})");
    ASSERT_TRUE(doc.status == 200 || doc.status == 201) << doc.body;
    HttpResponse other = c.Put(
        "/Patient/pvs-other",
        std::string(R"({"resourceType":"Patient","id":"pvs-other","identifier":[{"system":")") +
            kFnrSystem + R"(","value":")" + kOtherPid + R"("}],"birthDate":"1980-03-12"})");
    ASSERT_TRUE(other.status == 200 || other.status == 201) << other.body;
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
    server_ = nullptr;
    dir_ = nullptr;
  }

  // Adds (or, with code "", removes) a 9603 label on a stored resource (operator).
  static void Label(HttpClient& c, const std::string& type, const std::string& id,
                    const std::string& code) {
    HttpResponse r = c.Get("/" + type + "/" + id);
    ASSERT_EQ(r.status, 200) << r.body;
    json::Value res = r.json();
    json::Value meta = res.find("meta") ? *res.find("meta") : json::Value::MakeObject();
    json::Value security = json::Value::MakeArray();
    if (const json::Value* old = meta.find("security")) {
      for (const auto& s : old->array()) {
        if (s.get_string("system") != kLabel) security.push_back(s);
      }
    }
    if (!code.empty()) {
      json::Value coding = json::Value::MakeObject();
      coding.set("system", std::string(kLabel));
      coding.set("code", code);
      security.push_back(std::move(coding));
    }
    if (security.empty()) meta.erase("security");
    else meta.set("security", std::move(security));
    res.set("meta", std::move(meta));
    HttpResponse put = c.Put("/" + type + "/" + id, json::Write(res));
    ASSERT_EQ(put.status, 200) << put.body;
  }

  static std::string Bearer(const std::vector<std::string>& args) {
    return "Bearer " + server_->Token(args);
  }
  // A clinician with an attested care relationship (TREAT) with the patient.
  static std::string Treating() {
    return Bearer({"--scope", "user/*.rs", "--as-hpr", kHpr, "--attest-patient", kPid,
                   "--orgnr", "974633574"});
  }
  // The same clinician without any relationship with the patient.
  static std::string Stranger() { return Bearer({"--scope", "user/*.rs", "--as-hpr", kHpr}); }
  static std::string Citizen() { return Bearer({"--scope", "patient/*.rs", "--as-pid", kPid}); }

  // The national search API.
  HttpResponse NationalSearch(const std::string& type, const std::string& auth,
                              const std::string& basis, const std::string& body = "",
                              const std::string& person = kPid) {
    Headers h = {{"Authorization", auth},
                 {"Content-Type", "application/x-www-form-urlencoded"},
                 {"requester-hpr-role", "LE"}};
    if (!person.empty()) h.emplace_back("person-id", person);
    if (!basis.empty()) h.emplace_back("access-basis", basis);
    HttpClient c(server_->port(), HttpClient::Auth::kNone);
    return c.Request("POST", "/" + type + "/_search", body, std::move(h));
  }
  static std::set<std::string> Ids(const HttpResponse& r) {
    std::set<std::string> out;
    if (const json::Value* e = r.json().find("entry")) {
      for (const auto& x : e->array()) {
        const json::Value* res = x.find("resource");
        out.insert(std::string(res->get_string("resourceType")) + "/" +
                   std::string(res->get_string("id")));
      }
    }
    return out;
  }
  HttpResponse GetAs(const std::string& path, const std::string& auth) {
    HttpClient c(server_->port(), HttpClient::Auth::kNone);
    return c.Get(path, {{"Authorization", auth}});
  }

  // The citizen's access log: (interaction, outcome, btg) of every event.
  struct Event {
    std::string interaction, outcome, type;
    bool btg = false;
  };
  std::vector<Event> Log() {
    std::vector<Event> out;
    std::string next = "/Patient/" + patient_ + "/$access-log?_count=500";
    HttpResponse r = GetAs(next, Citizen());
    EXPECT_EQ(r.status, 200) << r.body;
    if (const json::Value* entries = r.json().find("entry")) {
      for (const auto& e : entries->array()) {
        const json::Value* ev = e.find("resource");
        Event x;
        if (const json::Value* sub = ev->find("subtype")) x.interaction = sub->array()[0].get_string("code");
        x.outcome = ev->get_string("outcome");
        x.btg = ev->find("purposeOfEvent")->array()[0].find("coding") != nullptr;
        if (const json::Value* ent = ev->find("entity")) {
          x.type = ent->array()[0].get_string("description");
        }
        out.push_back(std::move(x));
      }
    }
    return out;
  }
  // The events an action added (newest first), without the log reads themselves.
  std::vector<Event> NewEvents(const std::function<void()>& action) {
    size_t before = Log().size();
    action();
    std::vector<Event> after = Log();
    std::vector<Event> added;
    for (size_t i = 0; i + before < after.size(); ++i) {
      if (after[i].interaction == "operation" && after[i].type == "AuditEvent") continue;
      added.push_back(after[i]);
    }
    return added;
  }

  void SetUp() override { client_ = std::make_unique<HttpClient>(server_->port()); }
  HttpClient& client() { return *client_; }  // the operator (system/*.cruds)
  std::unique_ptr<HttpClient> client_;

  static TempDir* dir_;
  static ServerProcess* server_;
  static std::string patient_, nors_dr_, nors_obs_, open_obs_;
};

TempDir* ProvesvarAccessTest::dir_ = nullptr;
ServerProcess* ProvesvarAccessTest::server_ = nullptr;
std::string ProvesvarAccessTest::patient_;
std::string ProvesvarAccessTest::nors_dr_;
std::string ProvesvarAccessTest::nors_obs_;
std::string ProvesvarAccessTest::open_obs_;

TEST_F(ProvesvarAccessTest, UnntakAndSamtykkeSeeResultsButNotTheHiddenOnes) {
  for (const char* basis : {"UNNTAK", "SAMTYKKE"}) {
    SCOPED_TRACE(basis);
    HttpResponse r = NationalSearch("DiagnosticReport", Treating(), basis);
    ASSERT_EQ(r.status, 200) << r.body;
    std::set<std::string> ids = Ids(r);
    EXPECT_TRUE(ids.count("DiagnosticReport/pvs-noru")) << r.body;  // NORU: not for clinicians to hide
    EXPECT_FALSE(ids.count("DiagnosticReport/" + nors_dr_));
    EXPECT_EQ(r.json().find("total"), nullptr) << "a total would count hidden results";
    HttpResponse with_total = NationalSearch("DiagnosticReport", Treating(), basis, "_total=accurate");
    ASSERT_EQ(with_total.status, 200) << with_total.body;
    EXPECT_EQ(with_total.json().find("total"), nullptr);
    HttpResponse o = NationalSearch("Observation", Treating(), basis);
    ASSERT_EQ(o.status, 200) << o.body;
    EXPECT_TRUE(Ids(o).count("Observation/" + open_obs_));
    EXPECT_FALSE(Ids(o).count("Observation/" + nors_obs_));
  }
  // The identity in the body instead of the header, with an ordinary parameter.
  HttpResponse body = NationalSearch(
      "DiagnosticReport", Treating(), "UNNTAK",
      std::string("subject:identifier=") + kFnrSystem + "%7C" + kPid + "&status=final", "");
  ASSERT_EQ(body.status, 200) << body.body;
  EXPECT_TRUE(Ids(body).count("DiagnosticReport/pvs-noru"));
  EXPECT_FALSE(Ids(body).count("DiagnosticReport/" + nors_dr_));
}

TEST_F(ProvesvarAccessTest, ForhoyetSamtykkeAndAkuttOpenHiddenResults) {
  HttpResponse f = NationalSearch("DiagnosticReport", Treating(), "FORHOYET_SAMTYKKE");
  ASSERT_EQ(f.status, 200) << f.body;
  EXPECT_TRUE(Ids(f).count("DiagnosticReport/" + nors_dr_));
  HttpResponse fo = NationalSearch("Observation", Treating(), "FORHOYET_SAMTYKKE");
  ASSERT_EQ(fo.status, 200) << fo.body;
  EXPECT_TRUE(Ids(fo).count("Observation/" + nors_obs_));
  // AKUTT: emergency access, even without a care relationship; flagged.
  std::vector<Event> added = NewEvents([&] {
    HttpResponse a = NationalSearch("DiagnosticReport", Stranger(), "AKUTT");
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_TRUE(Ids(a).count("DiagnosticReport/" + nors_dr_));
  });
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0].outcome, "0");
  EXPECT_TRUE(added[0].btg);
}

TEST_F(ProvesvarAccessTest, MissingOrUnknownAccessBasisIsRefused) {
  HttpResponse none = NationalSearch("DiagnosticReport", Treating(), "");
  EXPECT_EQ(none.status, 400) << none.body;
  EXPECT_EQ(IssueCode(none), "GM-PVS-001");
  HttpResponse unknown = NationalSearch("Specimen", Treating(), "NOEN");
  EXPECT_EQ(unknown.status, 400) << unknown.body;
  EXPECT_EQ(IssueCode(unknown), "GM-PVS-001");
  HttpResponse bad_pid = NationalSearch("DiagnosticReport", Treating(), "UNNTAK", "", "123");
  EXPECT_EQ(bad_pid.status, 400) << bad_pid.body;
  EXPECT_EQ(IssueCode(bad_pid), "GM-PVS-002");
}

TEST_F(ProvesvarAccessTest, NoCareRelationshipOrAnotherPatientIsForbiddenAndAudited) {
  std::vector<Event> added = NewEvents([&] {
    HttpResponse r = NationalSearch("DiagnosticReport", Stranger(), "UNNTAK");
    EXPECT_EQ(r.status, 403) << r.body;
    HttpResponse s = NationalSearch("ServiceRequest", Stranger(), "SAMTYKKE");
    EXPECT_EQ(s.status, 403) << s.body;
  });
  ASSERT_EQ(added.size(), 2u);
  for (const auto& e : added) EXPECT_EQ(e.outcome, "4");
  // A role the clinician does not hold in HPR (a physician, LE, stating SP).
  {
    HttpClient c(server_->port(), HttpClient::Auth::kNone);
    HttpResponse role = c.Request("POST", "/DiagnosticReport/_search", "",
                                  {{"Authorization", Treating()},
                                   {"Content-Type", "application/x-www-form-urlencoded"},
                                   {"person-id", kPid},
                                   {"access-basis", "UNNTAK"},
                                   {"requester-hpr-role", "SP"}});
    EXPECT_EQ(role.status, 403) << role.body;
    EXPECT_EQ(IssueCode(role), "GM-PVS-004");
  }
  // Attested for this patient, asking about another one.
  HttpResponse other = NationalSearch("DiagnosticReport", Treating(), "UNNTAK", "", kOtherPid);
  EXPECT_EQ(other.status, 403) << other.body;
}

TEST_F(ProvesvarAccessTest, ClinicianReadsOfHiddenResultsAnswerLikeUnknown) {
  EXPECT_EQ(GetAs("/DiagnosticReport/" + nors_dr_, Treating()).status, 404);
  EXPECT_EQ(GetAs("/Observation/" + nors_obs_, Treating()).status, 404);
  EXPECT_EQ(GetAs("/DiagnosticReport/" + nors_dr_ + "/_history", Treating()).body.find(
                "\"id\":\"" + nors_dr_ + "\""),
            std::string::npos);
  EXPECT_EQ(GetAs("/Observation/" + open_obs_, Treating()).status, 200);
  // Ordinary GET search and the compartment leave them out too.
  HttpResponse s = GetAs("/DiagnosticReport?patient=Patient/" + patient_, Treating());
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_FALSE(Ids(s).count("DiagnosticReport/" + nors_dr_));
  EXPECT_TRUE(Ids(s).count("DiagnosticReport/pvs-noru"));
  HttpResponse everything = GetAs("/Patient/" + patient_ + "/$everything", Treating());
  ASSERT_EQ(everything.status, 200) << everything.body;
  EXPECT_FALSE(Ids(everything).count("DiagnosticReport/" + nors_dr_));
  EXPECT_FALSE(Ids(everything).count("Observation/" + nors_obs_));
  EXPECT_TRUE(Ids(everything).count("Observation/" + open_obs_));
  // The operator (system) still sees everything.
  EXPECT_EQ(client().Get("/DiagnosticReport/" + nors_dr_).status, 200);
}

TEST_F(ProvesvarAccessTest, CitizenSeesDelayedResultsOnlyAfterReleaseOrDelay) {
  const std::string me = Citizen();
  HttpResponse s = GetAs("/DiagnosticReport?_total=accurate&patient=Patient/" + patient_, me);
  ASSERT_EQ(s.status, 200) << s.body;
  std::set<std::string> ids = Ids(s);
  EXPECT_FALSE(ids.count("DiagnosticReport/pvs-noru"));
  EXPECT_FALSE(ids.count("DiagnosticReport/pvs-noru-release"));
  EXPECT_TRUE(ids.count("DiagnosticReport/pvs-noru-old")) << "the delay has passed";
  EXPECT_TRUE(ids.count("DiagnosticReport/" + nors_dr_)) << "the citizen sees what they hid";
  EXPECT_EQ(s.json().find("total"), nullptr);
  // Where nothing is held back the total stays (it counts only what is shown).
  HttpResponse specimens = GetAs("/Specimen?_total=accurate", me);
  ASSERT_EQ(specimens.status, 200) << specimens.body;
  ASSERT_NE(specimens.json().find("total"), nullptr) << specimens.body;
  EXPECT_EQ(specimens.json().find("total")->str(), std::to_string(Ids(specimens).size()));
  EXPECT_GE(Ids(specimens).size(), 1u);
  EXPECT_EQ(GetAs("/DiagnosticReport/pvs-noru", me).status, 404);
  EXPECT_EQ(GetAs("/DiagnosticReport/pvs-noru/_history/2", me).status, 404);
  EXPECT_EQ(GetAs("/DiagnosticReport/pvs-noru-old", me).status, 200);
  HttpResponse comp = GetAs("/Patient/" + patient_ + "/DiagnosticReport", me);
  ASSERT_EQ(comp.status, 200) << comp.body;
  EXPECT_FALSE(Ids(comp).count("DiagnosticReport/pvs-noru"));
  EXPECT_TRUE(Ids(comp).count("DiagnosticReport/pvs-noru-old"));
  HttpResponse everything = GetAs("/Patient/" + patient_ + "/$everything", me);
  ASSERT_EQ(everything.status, 200) << everything.body;
  EXPECT_FALSE(Ids(everything).count("DiagnosticReport/pvs-noru"));
  HttpResponse post = GetAs("/DiagnosticReport/pvs-noru-release", me);
  EXPECT_EQ(post.status, 404);
  // The requester releases the report: the NORU label is removed (an update
  // by the requester's EHR system / the operator).
  HttpClient op(server_->port());
  Label(op, "DiagnosticReport", "pvs-noru-release", "");
  EXPECT_EQ(GetAs("/DiagnosticReport/pvs-noru-release", me).status, 200);
  HttpResponse after = GetAs("/DiagnosticReport?patient=Patient/" + patient_, me);
  ASSERT_EQ(after.status, 200);
  EXPECT_TRUE(Ids(after).count("DiagnosticReport/pvs-noru-release"));
  EXPECT_FALSE(Ids(after).count("DiagnosticReport/pvs-noru"));
}

TEST_F(ProvesvarAccessTest, EveryAccessIsInThePatientsAccessLog) {
  std::vector<Event> added = NewEvents([&] {
    EXPECT_EQ(NationalSearch("DiagnosticReport", Treating(), "UNNTAK").status, 200);
    EXPECT_EQ(NationalSearch("Observation", Treating(), "FORHOYET_SAMTYKKE").status, 200);
    EXPECT_EQ(GetAs("/DiagnosticReport/" + nors_dr_, Treating()).status, 404);
    EXPECT_EQ(GetAs("/DiagnosticReport/pvs-noru", Citizen()).status, 404);
  });
  ASSERT_EQ(added.size(), 4u);
  // Newest first: the citizen's read, the clinician's read, two searches.
  EXPECT_EQ(added[0].interaction, "read");
  EXPECT_EQ(added[1].interaction, "read");
  EXPECT_EQ(added[2].interaction, "search-type");
  EXPECT_EQ(added[3].interaction, "search-type");
  for (const auto& e : added) EXPECT_FALSE(e.btg);
}

TEST_F(ProvesvarAccessTest, TheCitizensSperringHoldsUnlessConsentOrEmergencyOpensIt) {
  // The citizen restricts (sperring) their requisitions; the other results stay open.
  HttpResponse put = client().Put(
      "/Consent/pvs-sperring",
      R"({"resourceType":"Consent","id":"pvs-sperring","status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},"category":[{"coding":[{"system":"http://grunnmur.no/fhir/CodeSystem/citizen-control","code":"sperring"}]}],"patient":{"reference":"Patient/)" +
          patient_ +
          R"("},"policyRule":{"text":"grunnmur citizen control"},"provision":{"type":"deny","class":[{"system":"http://hl7.org/fhir/resource-types","code":"ServiceRequest"}]}})");
  ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
  HttpResponse unntak = NationalSearch("ServiceRequest", Treating(), "UNNTAK");
  EXPECT_EQ(unntak.status, 403) << unntak.body;
  EXPECT_EQ(NationalSearch("DiagnosticReport", Treating(), "UNNTAK").status, 200);
  HttpResponse samtykke = NationalSearch("ServiceRequest", Treating(), "SAMTYKKE");
  EXPECT_EQ(samtykke.status, 200) << samtykke.body;
  EXPECT_FALSE(Ids(samtykke).empty());
  EXPECT_EQ(NationalSearch("ServiceRequest", Stranger(), "AKUTT").status, 200);
  EXPECT_EQ(client().Request("DELETE", "/Consent/pvs-sperring").status, 204);
}

}  // namespace
}  // namespace gm::testing
