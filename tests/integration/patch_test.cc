// JSON Patch through the server: applied to the current version, validated, version-aware.
#include "tests/integration/fixture.h"

namespace gm::testing {
namespace {

class PatchTest : public ServerTest {
 protected:
  HttpResponse Patch(const std::string& target, const std::string& patch,
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
    headers.emplace_back("Content-Type", "application/json-patch+json");
    return client().Request("PATCH", target, patch, headers);
  }
};

TEST_F(PatchTest, ReplaceAndAdd) {
  std::string id = Create("Patient", R"({"resourceType":"Patient","active":true,"name":[{"family":"Hansen"}]})");
  HttpResponse r = Patch("/Patient/" + id, R"([
    {"op":"replace","path":"/active","value":false},
    {"op":"add","path":"/name/0/given","value":["Ola"]}])");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("etag"), "W/\"2\"");
  json::Value p = client().Get("/Patient/" + id).json();
  EXPECT_FALSE(p.find("active")->as_bool());
  EXPECT_EQ(p.find("name")->array()[0].find("given")->array()[0].str(), "Ola");
}

TEST_F(PatchTest, FailedTestOperationChangesNothing) {
  std::string id = Create("Patient", R"({"resourceType":"Patient","active":true})");
  HttpResponse r = Patch("/Patient/" + id, R"([
    {"op":"replace","path":"/active","value":false},
    {"op":"test","path":"/active","value":true}])");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(client().Get("/Patient/" + id).header("etag"), "W/\"1\"");
}

TEST_F(PatchTest, ResultMustBeValid) {
  std::string id = Create("Patient", R"({"resourceType":"Patient","active":true})");
  HttpResponse r = Patch("/Patient/" + id, R"([{"op":"replace","path":"/active","value":"yes"}])");
  EXPECT_EQ(r.status, 422) << r.body;
  HttpResponse rt = Patch("/Patient/" + id, R"([{"op":"replace","path":"/resourceType","value":"Group"}])");
  EXPECT_GE(rt.status, 400);
  EXPECT_LT(rt.status, 500);
  EXPECT_EQ(client().Get("/Patient/" + id).header("etag"), "W/\"1\"");
}

TEST_F(PatchTest, IfMatchAndMissing) {
  std::string id = Create("Patient", R"({"resourceType":"Patient","active":true})");
  EXPECT_EQ(Patch("/Patient/" + id, R"([{"op":"remove","path":"/active"}])", {{"If-Match", "W/\"5\""}}).status,
            412);
  EXPECT_EQ(Patch("/Patient/" + id, R"([{"op":"remove","path":"/active"}])", {{"If-Match", "W/\"1\""}}).status,
            200);
  EXPECT_EQ(Patch("/Patient/nope", R"([{"op":"remove","path":"/active"}])").status, 404);
  HttpResponse wrong_type = client().Request("PATCH", "/Patient/" + id, "[]",
                                             {{"Content-Type", "text/plain"}});
  EXPECT_EQ(wrong_type.status, 415);
}

}  // namespace
}  // namespace gm::testing
