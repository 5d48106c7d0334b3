// Content negotiation and output shaping: _format, Accept, _pretty, _summary, _elements.
#include "tests/integration/fixture.h"

namespace gm::testing {
namespace {

class FormatTest : public ServerTest {
 protected:
  std::string PatientId() {
    static std::string id;
    if (id.empty()) {
      id = Create("Patient", R"({"resourceType":"Patient",
        "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Kari</div>"},
        "identifier":[{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"31129956715"}],
        "name":[{"family":"Nordmann","given":["Kari"],"_given":[{"extension":[{"url":"http://example.org/x","valueString":"y"}]}]}],
        "gender":"female","birthDate":"1999-12-31","maritalStatus":{"text":"ugift"}})");
    }
    return id;
  }
};

TEST_F(FormatTest, FormatParameterAndAccept) {
  std::string id = PatientId();
  EXPECT_EQ(client().Get("/Patient/" + id + "?_format=json").status, 200);
  HttpResponse j = client().Get("/Patient/" + id + "?_format=application/json");
  EXPECT_EQ(j.status, 200);
  EXPECT_NE(j.header("content-type").find("application/json"), std::string::npos);
  EXPECT_EQ(client().Get("/Patient/" + id + "?_format=xml").status, 406);
  EXPECT_EQ(client().Get("/Patient/" + id, {{"Accept", "application/fhir+xml"}}).status, 406);
  EXPECT_EQ(client().Get("/Patient/" + id, {{"Accept", "application/fhir+json"}}).status, 200);
  EXPECT_EQ(client().Get("/Patient/" + id, {{"Accept", "text/html, */*;q=0.1"}}).status, 200);
}

TEST_F(FormatTest, Pretty) {
  std::string id = PatientId();
  HttpResponse compact = client().Get("/Patient/" + id);
  HttpResponse pretty = client().Get("/Patient/" + id + "?_pretty=true");
  EXPECT_EQ(compact.body.find('\n'), std::string::npos);
  EXPECT_NE(pretty.body.find("\n  \"id\""), std::string::npos);
  EXPECT_EQ(compact.json(), pretty.json());
}

TEST_F(FormatTest, PrimitiveExtensionsRoundTrip) {
  json::Value p = client().Get("/Patient/" + PatientId()).json();
  const json::Value* given_ext = p.find("name")->array()[0].find("_given");
  ASSERT_NE(given_ext, nullptr);
  EXPECT_EQ(given_ext->array()[0].find("extension")->array()[0].get_string("valueString"), "y");
}

bool HasSubsettedTag(const json::Value& r) {
  const json::Value* meta = r.find("meta");
  if (!meta) return false;
  const json::Value* tags = meta->find("tag");
  if (!tags) return false;
  for (const auto& t : tags->array()) {
    if (t.get_string("code") == "SUBSETTED") return true;
  }
  return false;
}

TEST_F(FormatTest, SummaryTrue) {
  json::Value p = client().Get("/Patient/" + PatientId() + "?_summary=true").json();
  EXPECT_NE(p.find("name"), nullptr);        // summary element
  EXPECT_NE(p.find("birthDate"), nullptr);   // summary element
  EXPECT_EQ(p.find("maritalStatus"), nullptr);  // not summary
  EXPECT_EQ(p.find("text"), nullptr);
  EXPECT_TRUE(HasSubsettedTag(p));
}

TEST_F(FormatTest, SummaryTextAndData) {
  json::Value t = client().Get("/Patient/" + PatientId() + "?_summary=text").json();
  EXPECT_NE(t.find("text"), nullptr);
  EXPECT_EQ(t.find("name"), nullptr);
  EXPECT_EQ(t.find("id")->str(), PatientId());
  json::Value d = client().Get("/Patient/" + PatientId() + "?_summary=data").json();
  EXPECT_EQ(d.find("text"), nullptr);
  EXPECT_NE(d.find("maritalStatus"), nullptr);
  EXPECT_EQ(client().Get("/Patient/" + PatientId() + "?_summary=maybe").status, 400);
}

TEST_F(FormatTest, Elements) {
  json::Value p = client().Get("/Patient/" + PatientId() + "?_elements=gender,birthDate").json();
  EXPECT_EQ(p.get_string("resourceType"), "Patient");
  EXPECT_NE(p.find("id"), nullptr);
  EXPECT_NE(p.find("gender"), nullptr);
  EXPECT_NE(p.find("birthDate"), nullptr);
  EXPECT_EQ(p.find("name"), nullptr);
  EXPECT_EQ(p.find("identifier"), nullptr);
  EXPECT_TRUE(HasSubsettedTag(p));
}

TEST_F(FormatTest, JsonContentTypeAccepted) {
  HttpResponse r = client().Request("POST", "/Patient", R"({"resourceType":"Patient"})",
                                    {{"Content-Type", "application/json; charset=utf-8"}});
  EXPECT_EQ(r.status, 201);
}

TEST_F(FormatTest, DecimalsKeepTheirText) {
  HttpResponse r = client().Post("/Observation",
      R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50,"unit":"mmol/L"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_NE(r.body.find("\"value\":1.50"), std::string::npos) << r.body;
  HttpResponse read = client().Get("/Observation/" + std::string(r.json().get_string("id")));
  EXPECT_NE(read.body.find("\"value\":1.50"), std::string::npos);
}

}  // namespace
}  // namespace gm::testing
