// Pasientens prøvesvar through the real server: POST /$svarrapport (KITH
// Svarrapport XML) → NILAR resources in one transaction; idempotent re-send,
// corrections, cancellations, preliminary → final, notifications, rejection
// of bad messages with nothing stored, and ordinary FHIR search on the results.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/integration/fixture.h"

namespace gm::testing {
namespace {

const std::string kSamples = std::string(GM_SHARED_DIR) + "/norway/svarrapport/samples";

std::string Sample(const std::string& name) {
  std::ifstream in(kSamples + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
    s.replace(p, from.size(), to);
  }
  return s;
}

std::string ReplaceFirst(std::string s, const std::string& from, const std::string& to) {
  size_t p = s.find(from);
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

// A fresh server per test: the tests ingest overlapping samples.
class SvarrapportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>();
    server_ = std::make_unique<ServerProcess>(dir_->path());
    client_ = std::make_unique<HttpClient>(server_->port());
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
    dir_.reset();
  }
  HttpClient& client() { return *client_; }
  ServerProcess& server() { return *server_; }
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;

  HttpResponse Ingest(const std::string& xml, const std::string& type = "application/xml") {
    return client().Request("POST", "/$svarrapport", xml, {{"Content-Type", type}});
  }
  // The resources of a search Bundle.
  static std::vector<json::Value> Resources(const HttpResponse& r) {
    std::vector<json::Value> out;
    json::Value b = r.json();
    if (const json::Value* e = b.find("entry")) {
      for (const json::Value& x : e->array()) out.push_back(*x.find("resource"));
    }
    return out;
  }
  // The id of the DiagnosticReport a transaction-response created/updated.
  static std::string ReportId(const HttpResponse& r) {
    json::Value b = r.json();
    if (const json::Value* e = b.find("entry")) {
      for (const json::Value& x : e->array()) {
        std::string loc(x.find("response")->get_string("location"));
        if (loc.rfind("DiagnosticReport/", 0) == 0) {
          return loc.substr(17, loc.find('/', 17) - 17);
        }
      }
    }
    return {};
  }
  static std::string Version(const json::Value& r) {
    return std::string(r.find("meta")->get_string("versionId"));
  }
};

TEST_F(SvarrapportTest, EverySampleIngestsOrIsRejectedWithNothingStored) {
  size_t ingested = 0;
  std::set<std::string> codes;
  std::vector<std::string> rejected;
  for (const auto& e : std::filesystem::directory_iterator(kSamples)) {
    std::string name = e.path().filename().string();
    SCOPED_TRACE(name);
    HttpResponse r = Ingest(Sample(name));
    if (r.status == 200) {
      ++ingested;
      EXPECT_EQ(r.json().get_string("type"), "transaction-response");
      EXPECT_FALSE(ReportId(r).empty()) << "a DiagnosticReport is written";
    } else {
      rejected.push_back(name);
      EXPECT_TRUE(r.status == 400 || r.status == 422) << r.status << r.body;
      codes.insert(IssueCode(r));
    }
  }
  std::printf("svarrapport over HTTP: %zu samples ingested, %zu rejected\n", ingested,
              rejected.size());
  EXPECT_EQ(ingested, 45u);
  EXPECT_EQ(rejected.size(), 13u);
  EXPECT_EQ(codes, (std::set<std::string>{"GM-LAB-003", "GM-LAB-030"}));
  // A rejected message stores nothing (not even the registry look-ups).
  int64_t before = SystemHistoryCount(client());
  for (const std::string& name : rejected) EXPECT_NE(Ingest(Sample(name)).status, 200);
  EXPECT_EQ(SystemHistoryCount(client()), before);
}

TEST_F(SvarrapportTest, ResendingTheSameMessageWritesNothing) {
  std::string xml = Sample("Svar_immunologi_v1-4_Ny.xml");
  HttpResponse first = Ingest(xml);
  ASSERT_EQ(first.status, 200) << first.body;
  int64_t before = SystemHistoryCount(client());
  HttpResponse again = Ingest(xml);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(SystemHistoryCount(client()), before);
  // Only the registry look-ups remain in the transaction, all matched (200).
  for (const json::Value& e : again.json().find("entry")->array()) {
    EXPECT_EQ(e.find("response")->get_string("status"), "200 OK");
  }
  std::string id = ReportId(first);
  HttpResponse dr = client().Get("/DiagnosticReport/" + id);
  ASSERT_EQ(dr.status, 200);
  EXPECT_EQ(Version(dr.json()), "1");
}

TEST_F(SvarrapportTest, ACorrectionWritesNewVersionsOfTheSameResources) {
  // Unilab/OUS: an ENDRING of report 20152714B, then an ENDRING that
  // cancels one of its results (ResultItem ServType C).
  HttpResponse endring = Ingest(Sample("SvarMBK-Unilab-OUS_Endring_20200317.xml"));
  ASSERT_EQ(endring.status, 200) << endring.body;
  std::string id = ReportId(endring);
  ASSERT_FALSE(id.empty());
  json::Value v1 = client().Get("/DiagnosticReport/" + id).json();
  EXPECT_EQ(v1.get_string("status"), "amended");
  size_t results = v1.find("result")->size();
  ASSERT_GT(results, 1u);

  HttpResponse sletting = Ingest(Sample("SvarMBK-Unilab-OUS_Sletting_20200317.xml"));
  ASSERT_EQ(sletting.status, 200) << sletting.body;
  EXPECT_EQ(ReportId(sletting), id) << "the same report, not a new one";
  json::Value v2 = client().Get("/DiagnosticReport/" + id).json();
  EXPECT_EQ(Version(v2), "2");
  EXPECT_EQ(v2.find("result")->size(), results) << "earlier results stay in the report";
  // Exactly one observation of the report is now cancelled, in its version 2;
  // the others were not touched (version 1).
  HttpResponse obs = client().Get("/Observation?_count=200&based-on=" +
                                  std::string(v2.find("basedOn")->array()[0].get_string("reference")));
  ASSERT_EQ(obs.status, 200);
  size_t cancelled = 0, untouched = 0;
  for (const json::Value& o : Resources(obs)) {
    if (o.get_string("status") == "cancelled") {
      ++cancelled;
      EXPECT_EQ(Version(o), "2");
    } else if (Version(o) == "1") {
      ++untouched;
    }
  }
  EXPECT_EQ(cancelled, 1u);
  EXPECT_GT(untouched, 0u);
}

TEST_F(SvarrapportTest, PreliminaryThenFinalIsFollowed) {
  std::string prelim = Sample("04608395R_SVAR_CLIN _gendate_13.58.56_order_diff_iProsess.xml");
  HttpResponse r1 = Ingest(prelim);
  ASSERT_EQ(r1.status, 200) << r1.body;
  std::string id = ReportId(r1);
  json::Value dr1 = client().Get("/DiagnosticReport/" + id).json();
  EXPECT_EQ(dr1.get_string("status"), "preliminary");
  std::string first_result(dr1.find("result")->array()[0].get_string("reference"));
  EXPECT_EQ(client().Get("/" + first_result).json().get_string("status"), "registered")
      << "StatusInvestigation 15 (in process) of a new report";
  // The lab's final report for the same requisition: same ids, later message.
  std::string final_xml = ReplaceFirst(prelim, "<Status V=\"P\"", "<Status V=\"F\"");
  final_xml = ReplaceAll(final_xml, "<StatusInvestigation V=\"15\"", "<StatusInvestigation V=\"3\"");
  final_xml = ReplaceFirst(final_xml, "333A8DAC-F254-11E8-A73C-5056AF460000",
                           "333A8DAC-F254-11E8-A73C-5056AF46FFFF");
  final_xml = ReplaceFirst(final_xml, "2018-11-27T13:58:56.5972", "2018-11-27T15:00:00");
  ASSERT_NE(final_xml, prelim);
  HttpResponse r2 = Ingest(final_xml);
  ASSERT_EQ(r2.status, 200) << r2.body;
  EXPECT_EQ(ReportId(r2), id);
  json::Value dr2 = client().Get("/DiagnosticReport/" + id).json();
  EXPECT_EQ(dr2.get_string("status"), "final");
  EXPECT_EQ(Version(dr2), "2");
  json::Value o = client().Get("/" + first_result).json();
  EXPECT_EQ(o.get_string("status"), "final");
  EXPECT_EQ(Version(o), "2");
}

TEST_F(SvarrapportTest, ACancellationMarksTheReportAndItsResults) {
  std::string ny = Sample("Svar_biokjemi_v1-4_Ny.xml");
  HttpResponse r1 = Ingest(ny);
  ASSERT_EQ(r1.status, 200) << r1.body;
  std::string id = ReportId(r1);
  // The same report cancelled (KANSELLERING), as a later message.
  std::string cancel = ReplaceAll(ny, "<ServType V=\"N\" DN=\"Ny\"/>", "<ServType V=\"C\" DN=\"Kansellering\"/>");
  ASSERT_NE(cancel, ny);
  cancel = ReplaceFirst(cancel, "<MsgId>", "<MsgId>c-");
  HttpResponse r2 = Ingest(cancel);
  ASSERT_EQ(r2.status, 200) << r2.body;
  EXPECT_EQ(ReportId(r2), id);
  json::Value dr = client().Get("/DiagnosticReport/" + id).json();
  EXPECT_EQ(dr.get_string("status"), "cancelled");
  for (const json::Value& ref : dr.find("result")->array()) {
    EXPECT_EQ(client().Get("/" + std::string(ref.get_string("reference"))).json().get_string("status"),
              "cancelled");
  }
  json::Value sr = client().Get("/" + std::string(dr.find("basedOn")->array()[0].get_string("reference"))).json();
  EXPECT_EQ(sr.get_string("status"), "revoked");
}

TEST_F(SvarrapportTest, TheRequestingOrganisationIsNotified) {
  HttpResponse r = Ingest(Sample("Svar_mikrobiologi_gruppert_v1-4_Ny.xml"));
  ASSERT_EQ(r.status, 200) << r.body;
  std::string id = ReportId(r);
  // The requester's organisation (Kattskinnet legesenter, HER-id 91096, the
  // message's Requester) polls its notifications.
  HttpResponse org = client().Get("/Organization?identifier=urn:oid:2.16.578.1.12.4.1.2|91096");
  ASSERT_EQ(org.status, 200);
  auto orgs = Resources(org);
  ASSERT_EQ(orgs.size(), 1u);
  std::string org_ref = "Organization/" + std::string(orgs[0].get_string("id"));
  HttpResponse notes = client().Get("/Communication?recipient=" + org_ref + "&category=notification");
  ASSERT_EQ(notes.status, 200);
  auto list = Resources(notes);
  bool found = false;
  for (const json::Value& c : list) {
    for (const json::Value& a : c.find("about")->array()) {
      if (a.get_string("reference") == "DiagnosticReport/" + id) found = true;
    }
  }
  EXPECT_TRUE(found) << notes.body;
}

TEST_F(SvarrapportTest, ACorrectionNotifiesAgain) {
  HttpResponse r1 = Ingest(Sample("SvarMBK-Unilab-OUS_Endring_20200317.xml"));
  ASSERT_EQ(r1.status, 200);
  std::string dr = "DiagnosticReport/" + ReportId(r1);
  auto count = [&] {
    return Resources(client().Get("/Communication?about=" + dr)).size();
  };
  size_t before = count();
  EXPECT_GE(before, 1u);
  ASSERT_EQ(Ingest(Sample("SvarMBK-Unilab-OUS_Sletting_20200317.xml")).status, 200);
  EXPECT_EQ(count(), before + 1);
  ASSERT_EQ(Ingest(Sample("SvarMBK-Unilab-OUS_Sletting_20200317.xml")).status, 200);
  EXPECT_EQ(count(), before + 1) << "a re-sent message does not notify twice";
}

TEST_F(SvarrapportTest, BadMessagesAreRejectedWithClearErrorsAndNothingStored) {
  int64_t before = SystemHistoryCount(client());
  HttpResponse malformed = Ingest("<Message xmlns=\"http://www.kith.no/xmlstds/labsvar/2012-02-15\"><Type>");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(IssueCode(malformed), "GM-LAB-001");

  HttpResponse foreign = Ingest("<?xml version=\"1.0\"?><Bundle xmlns=\"http://hl7.org/fhir\"/>");
  EXPECT_EQ(foreign.status, 400);
  EXPECT_EQ(IssueCode(foreign), "GM-LAB-002");

  // XSD-invalid: a required element (MsgId) removed.
  std::string xml = Sample("Svar_biokjemi_v1-4_Ny.xml");
  size_t a = xml.find("<MsgId>"), b = xml.find("</MsgId>");
  ASSERT_NE(a, std::string::npos);
  xml.erase(a, b + 8 - a);
  HttpResponse invalid = Ingest(xml);
  EXPECT_EQ(invalid.status, 400);
  EXPECT_EQ(IssueCode(invalid), "GM-LAB-003");
  EXPECT_NE(invalid.body.find("ServReport"), std::string::npos) << invalid.body;

  HttpResponse wrong_type = Ingest(Sample("Svar_biokjemi_v1-4_Ny.xml"), "application/fhir+json");
  EXPECT_EQ(wrong_type.status, 415);
  EXPECT_EQ(IssueCode(wrong_type), "GM-LAB-005");

  HttpResponse no_identity = Ingest(Sample("SVAR_CYTO_eks (1).xml"));
  EXPECT_EQ(no_identity.status, 422);
  EXPECT_EQ(IssueCode(no_identity), "GM-LAB-030");

  HttpResponse dtd = Ingest("<?xml version=\"1.0\"?><!DOCTYPE Message [<!ENTITY x \"y\">]>"
                            "<Message xmlns=\"http://www.kith.no/xmlstds/labsvar/2012-02-15\"/>");
  EXPECT_EQ(dtd.status, 400);
  EXPECT_EQ(IssueCode(dtd), "GM-LAB-001");
  EXPECT_EQ(SystemHistoryCount(client()), before);
}

TEST_F(SvarrapportTest, IngestionNeedsWriteScopes) {
  std::string read_only = server().Token({"--scope", "system/*.rs"});
  HttpResponse r = client().Request("POST", "/$svarrapport", Sample("Svar_biokjemi_v1-4_Ny.xml"),
                                    {{"Content-Type", "application/xml"},
                                     {"Authorization", "Bearer " + read_only}});
  EXPECT_EQ(r.status, 403) << r.body;
}

TEST_F(SvarrapportTest, OrdinarySearchOnTheResults) {
  HttpResponse mbio = Ingest(Sample("FHI_SVAR_MBIO FHI Resistens_VVHF_DS.xml"));
  ASSERT_EQ(mbio.status, 200) << mbio.body;
  HttpResponse rad = Ingest(Sample("Svar_radiologi_v1-4_Ny.xml"));
  ASSERT_EQ(rad.status, 200) << rad.body;
  std::string mbio_id = ReportId(mbio), rad_id = ReportId(rad);
  const std::string k8202 = "http://ehelse.no/fhir/CodeSystem/no-kodeverk-8202";
  auto ids = [&](const std::string& q) {
    std::set<std::string> out;
    HttpResponse r = client().Get(q);
    EXPECT_EQ(r.status, 200) << q << " " << r.body;
    for (const json::Value& x : Resources(r)) {
      out.insert(std::string(x.get_string("resourceType")) + "/" + std::string(x.get_string("id")));
    }
    return out;
  };
  // category (NILAR main area: LAB / PAT / BLD)
  EXPECT_TRUE(ids("/DiagnosticReport?category=" + k8202 + "|BLD&_count=200").count("DiagnosticReport/" + rad_id));
  EXPECT_FALSE(ids("/DiagnosticReport?category=" + k8202 + "|BLD&_count=200").count("DiagnosticReport/" + mbio_id));
  // code (8202 subject area of the report)
  EXPECT_TRUE(ids("/DiagnosticReport?code=MBIO&_count=200").count("DiagnosticReport/" + mbio_id));
  // date range (effective: the sample was collected 2021-01-05/06)
  EXPECT_TRUE(ids("/DiagnosticReport?date=ge2021-01-01&date=lt2021-02-01&_count=200")
                  .count("DiagnosticReport/" + mbio_id));
  EXPECT_FALSE(ids("/DiagnosticReport?date=ge2021-01-01&date=lt2021-02-01&_count=200")
                   .count("DiagnosticReport/" + rad_id));
  // status
  EXPECT_TRUE(ids("/DiagnosticReport?status=final&_count=200").count("DiagnosticReport/" + mbio_id));
  // performer
  json::Value dr = client().Get("/DiagnosticReport/" + mbio_id).json();
  std::string performer(dr.find("performer")->array()[0].get_string("reference"));
  EXPECT_TRUE(ids("/DiagnosticReport?performer=" + performer).count("DiagnosticReport/" + mbio_id));
  // Observation by code: the isolate's resistance to cefotaxime (8212 code CX)
  auto cx = ids("/Observation?code=http://ehelse.no/fhir/CodeSystem/no-kodeverk-8212|CX&_count=200");
  EXPECT_EQ(cx.size(), 1u);
  json::Value cx_obs = client().Get("/" + *cx.begin()).json();
  EXPECT_EQ(cx_obs.find("valueCodeableConcept")->find("coding")->array()[0].get_string("code"), "R");
  // _include: the report with its results and specimen in one Bundle
  auto with = ids("/DiagnosticReport?_id=" + mbio_id +
                  "&_include=DiagnosticReport:result&_include=DiagnosticReport:specimen");
  EXPECT_TRUE(with.count("DiagnosticReport/" + mbio_id));
  size_t observations = 0, specimens = 0;
  for (const std::string& x : with) {
    observations += x.rfind("Observation/", 0) == 0;
    specimens += x.rfind("Specimen/", 0) == 0;
  }
  EXPECT_EQ(observations, dr.find("result")->size());
  EXPECT_EQ(specimens, 1u);
  // hasMember: the culture (UD) has the isolate (UD1) as member, the isolate its resistances
  auto ud = ids("/Observation?code=http://ehelse.no/fhir/CodeSystem/no-kodeverk-8212|UD&_count=200");
  ASSERT_EQ(ud.size(), 1u);
  json::Value culture = client().Get("/" + *ud.begin()).json();
  ASSERT_NE(culture.find("hasMember"), nullptr);
  std::string isolate_ref(culture.find("hasMember")->array()[0].get_string("reference"));
  json::Value isolate = client().Get("/" + isolate_ref).json();
  EXPECT_EQ(isolate.find("code")->find("coding")->array()[0].get_string("code"), "IDENT");
  EXPECT_GE(isolate.find("hasMember")->size(), 10u) << "quantity + resistance results";
  // meta.tag of the mother observation carries the codes of the whole tree
  EXPECT_TRUE(ids("/Observation?_tag=http://ehelse.no/fhir/CodeSystem/no-kodeverk-8212|CX&_count=200")
                  .count(*ud.begin()));
  // The requisition by the lab's id, with its requester; the specimen by accession.
  auto sr = ids("/ServiceRequest?identifier=ServReqIdByServProvider|25721245/1899"
                "&_include=ServiceRequest:requester");
  size_t requests = 0, roles = 0;
  for (const std::string& x : sr) {
    requests += x.rfind("ServiceRequest/", 0) == 0;
    roles += x.rfind("PractitionerRole/", 0) == 0;
  }
  EXPECT_EQ(requests, 1u);
  EXPECT_EQ(roles, 1u);
  auto spec = ids("/Specimen?accession=25721245/1899");
  EXPECT_EQ(spec.size(), 1u);
  EXPECT_TRUE(ids("/Specimen?patient.identifier=urn:oid:2.16.578.1.12.4.1.4.1|17109012343")
                  .count(*spec.begin()));
  // POST _search (identity in the body, not the URL) by the patient's FNR
  HttpResponse post = client().Request(
      "POST", "/DiagnosticReport/_search",
      "patient.identifier=urn:oid:2.16.578.1.12.4.1.4.1|17109012343",
      {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(post.status, 200) << post.body;
  std::set<std::string> found;
  for (const json::Value& x : Resources(post)) found.insert(std::string(x.get_string("id")));
  EXPECT_TRUE(found.count(mbio_id));
  EXPECT_FALSE(found.count(rad_id));
}

}  // namespace
}  // namespace gm::testing
