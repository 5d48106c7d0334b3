// read, vread, create, update, delete, versioning headers, conditional read.
#include "tests/integration/fixture.h"

namespace gm::testing {
namespace {

const char* kPatient = R"({"resourceType":"Patient","name":[{"family":"Nordmann","given":["Kari"]}],"gender":"female","birthDate":"1980-02-29"})";

class CrudTest : public ServerTest {};

TEST_F(CrudTest, CreateAssignsIdAndMeta) {
  HttpResponse r = client().Post("/Patient", kPatient);
  ASSERT_EQ(r.status, 201) << r.body;
  json::Value p = r.json();
  std::string id(p.get_string("id"));
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(p.object()[0].first, "resourceType");
  EXPECT_EQ(p.find("meta")->get_string("versionId"), "1");
  EXPECT_FALSE(p.find("meta")->get_string("lastUpdated").empty());
  EXPECT_EQ(r.header("etag"), "W/\"1\"");
  EXPECT_EQ(r.header("location"), server().base_url() + "/Patient/" + id + "/_history/1");
  EXPECT_FALSE(r.header("last-modified").empty());
  EXPECT_NE(r.header("content-type").find("application/fhir+json"), std::string::npos);
}

TEST_F(CrudTest, ClientIdOnCreateIsIgnored) {
  HttpResponse r = client().Post(
      "/Patient", R"({"resourceType":"Patient","id":"chosen-by-client","active":true})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_NE(r.json().get_string("id"), "chosen-by-client");
}

TEST_F(CrudTest, ReadReturnsStoredContent) {
  std::string id = Create("Patient", kPatient);
  HttpResponse r = client().Get("/Patient/" + id);
  ASSERT_EQ(r.status, 200);
  json::Value p = r.json();
  EXPECT_EQ(p.get_string("birthDate"), "1980-02-29");
  EXPECT_EQ(p.find("name")->array()[0].get_string("family"), "Nordmann");
  EXPECT_EQ(r.header("etag"), "W/\"1\"");
}

TEST_F(CrudTest, ReadUnknownIs404WithOperationOutcome) {
  HttpResponse r = client().Get("/Patient/does-not-exist");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json().get_string("resourceType"), "OperationOutcome");
  EXPECT_EQ(IssueCode(r), "GM-REST-060");
}

TEST_F(CrudTest, UnknownTypeIs404) {
  HttpResponse r = client().Get("/Pasient/1");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(IssueCode(r), "GM-REST-002");
}

TEST_F(CrudTest, UpdateMakesNewVersionAndVreadSeesBoth) {
  std::string id = Create("Patient", kPatient);
  std::string body = std::string(R"({"resourceType":"Patient","id":")") + id +
                     R"(","name":[{"family":"Nordmann","given":["Kari","Anne"]}],"gender":"female"})";
  HttpResponse u = client().Put("/Patient/" + id, body);
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_EQ(u.header("etag"), "W/\"2\"");
  EXPECT_EQ(u.json().find("meta")->get_string("versionId"), "2");
  HttpResponse v1 = client().Get("/Patient/" + id + "/_history/1");
  ASSERT_EQ(v1.status, 200);
  EXPECT_EQ(v1.json().get_string("birthDate"), "1980-02-29");
  HttpResponse v2 = client().Get("/Patient/" + id + "/_history/2");
  ASSERT_EQ(v2.status, 200);
  EXPECT_EQ(v2.json().find("birthDate"), nullptr);
  EXPECT_EQ(client().Get("/Patient/" + id + "/_history/3").status, 404);
  EXPECT_EQ(client().Get("/Patient/" + id + "/_history/x").status, 404);
}

TEST_F(CrudTest, UpdateAsCreate) {
  HttpResponse r =
      client().Put("/Patient/chosen-id-1", R"({"resourceType":"Patient","id":"chosen-id-1"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("location"), server().base_url() + "/Patient/chosen-id-1/_history/1");
  EXPECT_EQ(client().Get("/Patient/chosen-id-1").status, 200);
}

TEST_F(CrudTest, IfMatchGuardsUpdates) {
  std::string id = Create("Patient", kPatient);
  std::string body = R"({"resourceType":"Patient","id":")" + id + R"(","active":true})";
  HttpResponse stale = client().Put("/Patient/" + id, body, {{"If-Match", "W/\"7\""}});
  EXPECT_EQ(stale.status, 412) << stale.body;
  EXPECT_EQ(client().Get("/Patient/" + id).header("etag"), "W/\"1\"");
  HttpResponse ok = client().Put("/Patient/" + id, body, {{"If-Match", "W/\"1\""}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.header("etag"), "W/\"2\"");
  HttpResponse bad = client().Put("/Patient/" + id, body, {{"If-Match", "nonsense"}});
  EXPECT_EQ(bad.status, 400);
}

TEST_F(CrudTest, DeleteKeepsHistoryAndReadGives410) {
  std::string id = Create("Patient", kPatient);
  HttpResponse d = client().Request("DELETE", "/Patient/" + id);
  EXPECT_EQ(d.status, 204);
  HttpResponse r = client().Get("/Patient/" + id);
  EXPECT_EQ(r.status, 410);
  EXPECT_EQ(r.json().get_string("resourceType"), "OperationOutcome");
  EXPECT_EQ(client().Get("/Patient/" + id + "/_history/1").status, 200);
  EXPECT_EQ(client().Get("/Patient/" + id + "/_history/2").status, 410);
  // Deleting again changes nothing.
  EXPECT_EQ(client().Request("DELETE", "/Patient/" + id).status, 204);
  HttpResponse h = client().Get("/Patient/" + id + "/_history");
  ASSERT_EQ(h.status, 200);
  EXPECT_EQ(h.json().find("entry")->size(), 2u);
  // Re-creating with PUT after delete gives a new version.
  HttpResponse again =
      client().Put("/Patient/" + id, R"({"resourceType":"Patient","id":")" + id + R"("})");
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.header("etag"), "W/\"3\"");
}

TEST_F(CrudTest, DeleteUnknownIs404) {
  EXPECT_EQ(client().Request("DELETE", "/Patient/never-was").status, 404);
}

TEST_F(CrudTest, ConditionalReadWithETagAndDate) {
  std::string id = Create("Patient", kPatient);
  HttpResponse first = client().Get("/Patient/" + id);
  HttpResponse same = client().Get("/Patient/" + id, {{"If-None-Match", first.header("etag")}});
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  HttpResponse other = client().Get("/Patient/" + id, {{"If-None-Match", "W/\"99\""}});
  EXPECT_EQ(other.status, 200);
  HttpResponse not_modified =
      client().Get("/Patient/" + id, {{"If-Modified-Since", first.header("last-modified")}});
  EXPECT_EQ(not_modified.status, 304);
  HttpResponse modified =
      client().Get("/Patient/" + id, {{"If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"}});
  EXPECT_EQ(modified.status, 200);
}

TEST_F(CrudTest, PreferReturn) {
  HttpResponse minimal = client().Post("/Patient", kPatient, {{"Prefer", "return=minimal"}});
  EXPECT_EQ(minimal.status, 201);
  EXPECT_TRUE(minimal.body.empty());
  EXPECT_FALSE(minimal.header("location").empty());
  HttpResponse oo = client().Post("/Patient", kPatient, {{"Prefer", "return=OperationOutcome"}});
  EXPECT_EQ(oo.status, 201);
  EXPECT_EQ(oo.json().get_string("resourceType"), "OperationOutcome");
  HttpResponse rep = client().Post("/Patient", kPatient, {{"Prefer", "return=representation"}});
  EXPECT_EQ(rep.json().get_string("resourceType"), "Patient");
}

TEST_F(CrudTest, HeadHasNoBody) {
  std::string id = Create("Patient", kPatient);
  HttpResponse r = client().Request("HEAD", "/Patient/" + id);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.header("etag"), "W/\"1\"");
}

TEST_F(CrudTest, MethodNotAllowed) {
  HttpResponse r = client().Request("POST", "/Patient/some-id", kPatient,
                                    {{"Content-Type", "application/fhir+json"}});
  EXPECT_EQ(r.status, 405);
  EXPECT_FALSE(r.header("allow").empty());
}

}  // namespace
}  // namespace gm::testing
