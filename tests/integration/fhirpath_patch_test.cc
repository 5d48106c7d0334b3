// FHIRPath Patch through the server (PATCH with a Parameters body as
// application/fhir+json): HL7's cases (../shared/conformance/patch/
// fhir-patch-tests.xml, as the JSON fixture tests/patch/fhir-patch-tests.json)
// are each stored, patched over HTTP and read back; plus the REST behaviour
// around it (validation of the result, If-Match, malformed bodies).
#include <fstream>
#include <sstream>

#include "tests/integration/fixture.h"

namespace gm::testing {
namespace {

class FhirPathPatchTest : public ServerTest {
 protected:
  HttpResponse Patch(const std::string& target, const std::string& parameters,
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
    headers.emplace_back("Content-Type", "application/fhir+json");
    return client().Request("PATCH", target, parameters, headers);
  }
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The content a case compares: the resource without id and the server's meta.
json::Value Content(json::Value r) {
  r.erase("id");
  if (json::Value* meta = r.find("meta"); meta && meta->is_object()) {
    meta->erase("versionId");
    meta->erase("lastUpdated");
    if (meta->empty()) r.erase("meta");
  }
  return r;
}

TEST_F(FhirPathPatchTest, Hl7CasesThroughTheServer) {
  auto doc = json::Parse(ReadFile(GM_SOURCE_DIR "/tests/patch/fhir-patch-tests.json"));
  ASSERT_TRUE(doc.ok());
  const json::Value* cases = doc->find("cases");
  ASSERT_NE(cases, nullptr);
  int passed = 0, stored = 0, n = 0, refused_invalid = 0;
  for (const json::Value& c : cases->array()) {
    std::string name(c.get_string("name"));
    json::Value input = *c.find("input");
    std::string type(input.get_string("resourceType"));
    std::string id = "fpp" + std::to_string(n++);
    input.set("id", id);
    HttpResponse put = client().Request("PUT", "/" + type + "/" + id, json::Write(input),
                                        {{"Content-Type", "application/fhir+json"}});
    // Every case's input is a valid resource, so the server must take it.
    ASSERT_TRUE(put.status == 201 || put.status == 200) << name << ": " << put.body;
    ++stored;
    HttpResponse r = Patch("/" + type + "/" + id, json::Write(*c.find("diff")));
    HttpResponse after = client().Get("/" + type + "/" + id);
    ASSERT_EQ(after.status, 200) << name;
    const json::Value* out = c.find("output");
    // A case whose expected output is not a valid resource (two of HL7's cases
    // leave a Patient.contact with neither details nor organization, against
    // pat-1) must be refused: the server stores only valid resources.
    bool output_valid = true;
    if (out != nullptr) {
      HttpResponse v = client().Post("/" + type + "/$validate", json::Write(*out));
      ASSERT_EQ(v.status, 200) << name;
      for (const auto& issue : v.json().find("issue")->array()) {
        if (issue.get_string("severity") == "error") output_valid = false;
      }
      if (!output_valid) {
        ++refused_invalid;
        EXPECT_EQ(r.status, 422) << name << ": " << r.body;
        EXPECT_EQ(after.header("etag"), "W/\"1\"") << name;
        if (r.status == 422 && after.header("etag") == "W/\"1\"") ++passed;
        continue;
      }
    }
    if (out != nullptr) {
      EXPECT_EQ(r.status, 200) << name << ": " << r.body;
      EXPECT_EQ(Content(after.json()), Content(*out))
          << name << "\nexpected " << json::Write(*out) << "\ngot      " << after.body;
      if (r.status == 200 && Content(after.json()) == Content(*out)) ++passed;
    } else {
      EXPECT_GE(r.status, 400) << name << ": " << r.body;
      EXPECT_LT(r.status, 500) << name << ": " << r.body;
      EXPECT_EQ(r.json().get_string("resourceType"), "OperationOutcome") << name;
      EXPECT_EQ(after.header("etag"), "W/\"1\"") << name << ": a failed patch changed it";
      if (r.status >= 400 && r.status < 500 && after.header("etag") == "W/\"1\"") ++passed;
    }
  }
  std::cout << "FHIRPath Patch through the server: " << passed << " of " << n
            << " HL7 cases passed (" << stored << " stored; " << refused_invalid
            << " correctly refused because the expected output is not a valid resource)\n";
  EXPECT_EQ(passed, n);
  EXPECT_EQ(refused_invalid, 2);
  EXPECT_EQ(n, 33);
}

TEST_F(FhirPathPatchTest, ReplaceAddAndDelete) {
  std::string id = Create("Patient", R"({"resourceType":"Patient","active":true,
      "name":[{"family":"Sørgård","given":["Kari"]}],"gender":"female"})");
  HttpResponse r = Patch("/Patient/" + id, R"({"resourceType":"Parameters","parameter":[
    {"name":"operation","part":[{"name":"type","valueCode":"replace"},
      {"name":"path","valueString":"Patient.active"},{"name":"value","valueBoolean":false}]},
    {"name":"operation","part":[{"name":"type","valueCode":"add"},
      {"name":"path","valueString":"Patient"},{"name":"name","valueString":"birthDate"},
      {"name":"value","valueDate":"1980-05-17"}]},
    {"name":"operation","part":[{"name":"type","valueCode":"delete"},
      {"name":"path","valueString":"Patient.gender"}]}]})",
                         {{"Prefer", "return=representation"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("etag"), "W/\"2\"");
  const json::Value& p = client().Get("/Patient/" + id).json();
  EXPECT_FALSE(p.find("active")->as_bool());
  EXPECT_EQ(p.get_string("birthDate"), "1980-05-17");
  EXPECT_EQ(p.find("gender"), nullptr);
  // The index follows the patch: the new birthdate is searchable.
  HttpResponse s = client().Get("/Patient?birthdate=1980-05-17&_id=" + id);
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.json().find("entry")->size(), 1u) << s.body;
}

TEST_F(FhirPathPatchTest, InvalidResultIsRefusedAndChangesNothing) {
  std::string id = Create("Observation", R"({"resourceType":"Observation","status":"final",
      "code":{"text":"vekt"},"valueQuantity":{"value":80,"unit":"kg"}})");
  // Deleting the required status makes an invalid Observation: 422.
  HttpResponse r = Patch("/Observation/" + id, R"({"resourceType":"Parameters","parameter":[
    {"name":"operation","part":[{"name":"type","valueCode":"delete"},
      {"name":"path","valueString":"Observation.status"}]}]})");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(IssueCode(r), "GM-VAL-012") << r.body;
  // A value that violates an invariant (qty-3: code needs a system) is refused too.
  HttpResponse inv = Patch("/Observation/" + id, R"({"resourceType":"Parameters","parameter":[
    {"name":"operation","part":[{"name":"type","valueCode":"add"},
      {"name":"path","valueString":"Observation.value"},{"name":"name","valueString":"code"},
      {"name":"value","valueCode":"kg"}]}]})");
  EXPECT_EQ(inv.status, 422) << inv.body;
  EXPECT_EQ(IssueCode(inv), "GM-VAL-040") << inv.body;
  EXPECT_EQ(client().Get("/Observation/" + id).header("etag"), "W/\"1\"");
}

TEST_F(FhirPathPatchTest, IfMatchMissingAndMalformed) {
  std::string id = Create("Patient", R"({"resourceType":"Patient","active":true})");
  const std::string del = R"({"resourceType":"Parameters","parameter":[
    {"name":"operation","part":[{"name":"type","valueCode":"delete"},
      {"name":"path","valueString":"Patient.active"}]}]})";
  EXPECT_EQ(Patch("/Patient/" + id, del, {{"If-Match", "W/\"7\""}}).status, 412);
  EXPECT_EQ(Patch("/Patient/missing-one", del).status, 404);
  HttpResponse not_params = Patch("/Patient/" + id, R"({"resourceType":"Patient"})");
  EXPECT_EQ(not_params.status, 400);
  EXPECT_EQ(IssueCode(not_params), "GM-REST-082");
  HttpResponse bad_op = Patch("/Patient/" + id, R"({"resourceType":"Parameters","parameter":[
    {"name":"operation","part":[{"name":"type","valueCode":"explode"}]}]})");
  EXPECT_EQ(bad_op.status, 400) << bad_op.body;
  EXPECT_EQ(IssueCode(bad_op), "GM-FPATCH-004");
  HttpResponse bad_path = Patch("/Patient/" + id, R"({"resourceType":"Parameters","parameter":[
    {"name":"operation","part":[{"name":"type","valueCode":"delete"},
      {"name":"path","valueString":"Patient.(("}]}]})");
  EXPECT_EQ(bad_path.status, 400) << bad_path.body;
  EXPECT_EQ(IssueCode(bad_path), "GM-FPATCH-006");
  EXPECT_EQ(client().Get("/Patient/" + id).header("etag"), "W/\"1\"");
  EXPECT_EQ(Patch("/Patient/" + id, del, {{"If-Match", "W/\"1\""}}).status, 200);
}

TEST_F(FhirPathPatchTest, CapabilityStatementNamesBothPatchFormats) {
  const json::Value& cs = client().Get("/metadata").json();
  const json::Value* formats = cs.find("patchFormat");
  ASSERT_NE(formats, nullptr);
  std::vector<std::string> got;
  for (const auto& f : formats->array()) got.emplace_back(f.str());
  EXPECT_EQ(got, (std::vector<std::string>{"application/json-patch+json", "application/fhir+json"}));
}

}  // namespace
}  // namespace gm::testing
