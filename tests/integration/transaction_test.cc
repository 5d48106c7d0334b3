// batch and transaction: ordering, urn:uuid and conditional references, all-or-nothing.
#include "tests/integration/fixture.h"

namespace gm::testing {
namespace {

class TransactionTest : public ServerTest {};

const char* kTransaction = R"({
  "resourceType": "Bundle", "type": "transaction",
  "entry": [
    {"fullUrl": "urn:uuid:0b7a0c4e-1111-4c4e-9f5e-000000000001",
     "resource": {"resourceType": "Observation", "status": "final",
                  "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
                  "subject": {"reference": "urn:uuid:0b7a0c4e-1111-4c4e-9f5e-000000000002"},
                  "valueQuantity": {"value": 6.3, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}},
     "request": {"method": "POST", "url": "Observation"}},
    {"fullUrl": "urn:uuid:0b7a0c4e-1111-4c4e-9f5e-000000000002",
     "resource": {"resourceType": "Patient", "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "31129956715"}]},
     "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=urn:oid:2.16.578.1.12.4.1.4.1|31129956715"}}
  ]})";

TEST_F(TransactionTest, ResolvesUrnUuidReferences) {
  int64_t before = SystemHistoryCount(client());
  HttpResponse r = client().Post("/", kTransaction);
  ASSERT_EQ(r.status, 200) << r.body;
  json::Value b = r.json();
  EXPECT_EQ(b.get_string("type"), "transaction-response");
  ASSERT_EQ(b.find("entry")->size(), 2u);
  const json::Value& obs_entry = b.find("entry")->array()[0];
  const json::Value& pat_entry = b.find("entry")->array()[1];
  EXPECT_EQ(obs_entry.find("response")->get_string("status"), "201 Created");
  std::string obs_loc(obs_entry.find("response")->get_string("location"));
  std::string pat_loc(pat_entry.find("response")->get_string("location"));
  ASSERT_EQ(obs_loc.rfind("Observation/", 0), 0u) << obs_loc;
  ASSERT_EQ(pat_loc.rfind("Patient/", 0), 0u) << pat_loc;
  std::string pat_id = pat_loc.substr(8, pat_loc.find('/', 8) - 8);
  HttpResponse obs = client().Get("/" + obs_loc.substr(0, obs_loc.find("/_history")));
  ASSERT_EQ(obs.status, 200);
  EXPECT_EQ(obs.json().find("subject")->get_string("reference"), "Patient/" + pat_id);
  EXPECT_EQ(obs.json().find("valueQuantity")->find("value")->str(), "6.3");
  EXPECT_EQ(SystemHistoryCount(client()), before + 2);

  // Again: the conditional create matches, the Observation refers to the same Patient.
  HttpResponse again = client().Post("/", kTransaction);
  ASSERT_EQ(again.status, 200) << again.body;
  json::Value b2 = again.json();
  EXPECT_EQ(b2.find("entry")->array()[1].find("response")->get_string("status"), "200 OK");
  std::string obs2(b2.find("entry")->array()[0].find("response")->get_string("location"));
  HttpResponse o2 = client().Get("/" + obs2.substr(0, obs2.find("/_history")));
  EXPECT_EQ(o2.json().find("subject")->get_string("reference"), "Patient/" + pat_id);
  EXPECT_EQ(SystemHistoryCount(client()), before + 3);
}

TEST_F(TransactionTest, OneFailingEntryLeavesTheStoreUnchanged) {
  int64_t before = SystemHistoryCount(client());
  HttpResponse r = client().Post("/", R"({
    "resourceType": "Bundle", "type": "transaction",
    "entry": [
      {"resource": {"resourceType": "Patient", "active": true}, "request": {"method": "POST", "url": "Patient"}},
      {"resource": {"resourceType": "Patient", "id": "tx-fail-1", "active": false}, "request": {"method": "PUT", "url": "Patient/tx-fail-1"}},
      {"request": {"method": "DELETE", "url": "Patient/does-not-exist"}}
    ]})");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.json().get_string("resourceType"), "OperationOutcome");
  EXPECT_NE(r.body.find("Bundle.entry[2]"), std::string::npos) << r.body;
  EXPECT_EQ(SystemHistoryCount(client()), before);
  EXPECT_EQ(client().Get("/Patient/tx-fail-1").status, 404);
}

TEST_F(TransactionTest, InvalidResourceInsideIsRefusedWhole) {
  int64_t before = SystemHistoryCount(client());
  HttpResponse r = client().Post("/", R"({
    "resourceType": "Bundle", "type": "transaction",
    "entry": [
      {"resource": {"resourceType": "Patient", "active": true}, "request": {"method": "POST", "url": "Patient"}},
      {"resource": {"resourceType": "Patient", "birthDate": "1980-13-45"}, "request": {"method": "POST", "url": "Patient"}}
    ]})");
  EXPECT_GE(r.status, 400);
  EXPECT_LT(r.status, 500);
  EXPECT_EQ(SystemHistoryCount(client()), before);
}

TEST_F(TransactionTest, ProcessingOrderDeleteBeforeCreate) {
  std::string id = Create("Patient", R"({"resourceType":"Patient","active":true})");
  // GET listed first still sees the result of the PUT (reads run last).
  HttpResponse r = client().Post("/", std::string(R"({
    "resourceType": "Bundle", "type": "transaction",
    "entry": [
      {"request": {"method": "GET", "url": "Patient/)") + id + R"("}},
      {"resource": {"resourceType": "Patient", "id": ")" + id + R"(", "active": false},
       "request": {"method": "PUT", "url": "Patient/)" + id + R"("}}
    ]})");
  ASSERT_EQ(r.status, 200) << r.body;
  const json::Value& get = r.json().find("entry")->array()[0];
  EXPECT_EQ(get.find("resource")->find("active")->as_bool(), false);
  EXPECT_EQ(get.find("response")->get_string("etag"), "W/\"2\"");
}

TEST_F(TransactionTest, SameResourceTwiceIsRefused) {
  HttpResponse r = client().Post("/", R"({
    "resourceType": "Bundle", "type": "transaction",
    "entry": [
      {"resource": {"resourceType": "Patient", "id": "twice"}, "request": {"method": "PUT", "url": "Patient/twice"}},
      {"resource": {"resourceType": "Patient", "id": "twice"}, "request": {"method": "PUT", "url": "Patient/twice"}}
    ]})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(client().Get("/Patient/twice").status, 404);
}

TEST_F(TransactionTest, ConditionalReference) {
  Create("Patient", R"({"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"15076500565"}]})");
  HttpResponse r = client().Post("/", R"({
    "resourceType": "Bundle", "type": "transaction",
    "entry": [
      {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "vekt"},
                    "subject": {"reference": "Patient?identifier=urn:oid:2.16.578.1.12.4.1.4.1|15076500565"}},
       "request": {"method": "POST", "url": "Observation"}}
    ]})");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string loc(r.json().find("entry")->array()[0].find("response")->get_string("location"));
  HttpResponse o = client().Get("/" + loc.substr(0, loc.find("/_history")));
  std::string ref(o.json().find("subject")->get_string("reference"));
  EXPECT_EQ(ref.rfind("Patient/", 0), 0u);
  EXPECT_EQ(ref.find('?'), std::string::npos);
}

TEST_F(TransactionTest, BatchReportsEachEntry) {
  int64_t before = SystemHistoryCount(client());
  HttpResponse r = client().Post("/", R"({
    "resourceType": "Bundle", "type": "batch",
    "entry": [
      {"resource": {"resourceType": "Patient", "active": true}, "request": {"method": "POST", "url": "Patient"}},
      {"request": {"method": "GET", "url": "Patient/not-there"}},
      {"resource": {"resourceType": "Patient", "gender": "sometimes"}, "request": {"method": "POST", "url": "Patient"}}
    ]})");
  ASSERT_EQ(r.status, 200) << r.body;
  json::Value b = r.json();
  EXPECT_EQ(b.get_string("type"), "batch-response");
  ASSERT_EQ(b.find("entry")->size(), 3u);
  EXPECT_EQ(b.find("entry")->array()[0].find("response")->get_string("status"), "201 Created");
  EXPECT_EQ(b.find("entry")->array()[1].find("response")->get_string("status"), "404");
  EXPECT_NE(b.find("entry")->array()[1].find("response")->find("outcome"), nullptr);
  EXPECT_EQ(SystemHistoryCount(client()), before + 1);
}

TEST_F(TransactionTest, OtherBundleTypesAreRefused) {
  HttpResponse r = client().Post("/", R"({"resourceType":"Bundle","type":"collection"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(IssueCode(r), "GM-REST-110");
}

}  // namespace
}  // namespace gm::testing
