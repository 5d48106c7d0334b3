// Bad input gets a clear 4xx OperationOutcome, stores nothing, and the server keeps serving.
#include "tests/integration/fixture.h"

namespace gm::testing {
namespace {

class BadInputTest : public ServerTest {
 protected:
  // Sends a request, checks status and that it is an OperationOutcome, that
  // nothing was stored and that the server still answers.
  void ExpectRefused(const std::string& method, const std::string& target, const std::string& body,
                     int status, const std::string& code,
                     std::vector<std::pair<std::string, std::string>> headers = {
                         {"Content-Type", "application/fhir+json"}}) {
    int64_t before = SystemHistoryCount(client());
    HttpResponse r = client().Request(method, target, body, headers);
    EXPECT_EQ(r.status, status) << method << " " << target << ": " << r.body.substr(0, 400);
    EXPECT_EQ(r.json().get_string("resourceType"), "OperationOutcome") << r.body.substr(0, 200);
    if (!code.empty()) EXPECT_EQ(IssueCode(r), code) << r.body.substr(0, 400);
    EXPECT_EQ(SystemHistoryCount(client()), before);
    EXPECT_EQ(client().Get("/metadata").status, 200);
  }
};

TEST_F(BadInputTest, MalformedJson) {
  ExpectRefused("POST", "/Patient", R"({"resourceType":"Patient",)", 400, "GM-JSON-001");
}

TEST_F(BadInputTest, InvalidUtf8) {
  ExpectRefused("POST", "/Patient", "{\"resourceType\":\"Patient\",\"id\":\"\xc3\x28\"}", 400,
                "GM-JSON-002");
}

TEST_F(BadInputTest, WrongContentType) {
  ExpectRefused("POST", "/Patient", R"({"resourceType":"Patient"})", 415, "GM-REST-022",
                {{"Content-Type", "text/plain"}});
  ExpectRefused("POST", "/Patient", R"({"resourceType":"Patient"})", 415, "GM-REST-022",
                {{"Content-Type", "application/fhir+xml"}});
}

TEST_F(BadInputTest, UnknownResourceType) {
  ExpectRefused("POST", "/Patient", R"({"resourceType":"Pasient"})", 400, "GM-REST-033");
  ExpectRefused("POST", "/Pasient", R"({"resourceType":"Pasient"})", 404, "GM-REST-002");
}

TEST_F(BadInputTest, ResourceTypeNotMatchingUrl) {
  ExpectRefused("POST", "/Patient", R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})",
                400, "GM-REST-034");
}

TEST_F(BadInputTest, BodyIdNotMatchingUrl) {
  ExpectRefused("PUT", "/Patient/abc", R"({"resourceType":"Patient","id":"xyz"})", 400,
                "GM-REST-042");
  ExpectRefused("PUT", "/Patient/abc", R"({"resourceType":"Patient"})", 400, "GM-REST-041");
}

TEST_F(BadInputTest, UnknownElement) {
  ExpectRefused("POST", "/Patient", R"({"resourceType":"Patient","favouriteColour":"blue"})", 422,
                "");
}

TEST_F(BadInputTest, BadPrimitives) {
  ExpectRefused("POST", "/Patient", R"({"resourceType":"Patient","birthDate":"1980-02-30"})", 422, "");
  ExpectRefused("POST", "/Patient", R"({"resourceType":"Patient","active":"yes"})", 422, "");
  ExpectRefused("POST", "/Patient", R"({"resourceType":"Patient","gender":"sometimes"})", 422, "");
  ExpectRefused("POST", "/Observation",
                R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"valueInteger":3000000000})",
                422, "");
}

TEST_F(BadInputTest, MissingRequiredElement) {
  ExpectRefused("POST", "/Observation", R"({"resourceType":"Observation","code":{"text":"x"}})", 422,
                "");
}

TEST_F(BadInputTest, DuplicateKeys) {
  ExpectRefused("POST", "/Patient", R"({"resourceType":"Patient","active":true,"active":false})",
                400, "GM-JSON-004");
}

TEST_F(BadInputTest, DeepNesting) {
  std::string deep = R"({"resourceType":"Patient","extension":)";
  for (int i = 0; i < 10000; ++i) deep += "[";
  for (int i = 0; i < 10000; ++i) deep += "]";
  deep += "}";
  ExpectRefused("POST", "/Patient", deep, 400, "GM-JSON-003");
}

TEST_F(BadInputTest, OversizedBody) {
  std::string big = R"({"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">)";
  big += std::string(33u << 20, 'a');
  big += R"(</div>"}})";
  int64_t before = SystemHistoryCount(client());
  HttpResponse r = client().Post("/Patient", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.json().get_string("resourceType"), "OperationOutcome");
  HttpClient fresh(server().port());
  EXPECT_EQ(fresh.Get("/metadata").status, 200);
  EXPECT_EQ(SystemHistoryCount(fresh), before);
}

TEST_F(BadInputTest, EmptyBody) {
  ExpectRefused("POST", "/Patient", "", 400, "GM-REST-030");
}

TEST_F(BadInputTest, NotAnObject) {
  ExpectRefused("POST", "/Patient", "[1,2,3]", 400, "GM-REST-031");
}

TEST_F(BadInputTest, BadIdInUrl) {
  HttpResponse r = client().Get("/Patient/" + std::string(65, 'a'));
  EXPECT_EQ(r.status, 400);
  HttpResponse r2 = client().Get("/Patient/bad_id!");
  EXPECT_EQ(r2.status, 400);
}

TEST_F(BadInputTest, BadPercentEncoding) {
  HttpResponse r = client().Get("/Patient?name=%zz");
  EXPECT_EQ(r.status, 400);
}

TEST_F(BadInputTest, TransactionWithFailingEntry) {
  ExpectRefused("POST", "/", R"({"resourceType":"Bundle","type":"transaction","entry":[
      {"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},
      {"resource":{"resourceType":"Patient"},"request":{"method":"POST"}}]})",
                400, "GM-VAL-012");
}

}  // namespace
}  // namespace gm::testing
