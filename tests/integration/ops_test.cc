// Operational endpoints, the CapabilityStatement and $validate.
#include <signal.h>
#include <sys/wait.h>

#include <set>

#include "tests/integration/fixture.h"

namespace gm::testing {
namespace {

class OpsTest : public ServerTest {};

TEST_F(OpsTest, HealthReadyMetrics) {
  EXPECT_EQ(client().Get("/healthz").status, 200);
  EXPECT_EQ(client().Get("/readyz").status, 200);
  client().Get("/Patient/not-there");
  HttpResponse m = client().Get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("grunnmur_http_requests_total"), std::string::npos);
  EXPECT_NE(m.body.find("interaction=\"read\""), std::string::npos);
  EXPECT_NE(m.body.find("grunnmur_store_resources"), std::string::npos);
  EXPECT_NE(m.body.find("grunnmur_http_request_duration_seconds"), std::string::npos);
}

TEST_F(OpsTest, CapabilityStatementSaysWhatIsSupported) {
  HttpResponse r = client().Get("/metadata");
  ASSERT_EQ(r.status, 200);
  json::Value cs = r.json();
  EXPECT_EQ(cs.get_string("resourceType"), "CapabilityStatement");
  EXPECT_EQ(cs.get_string("fhirVersion"), "4.0.1");
  EXPECT_EQ(cs.get_string("kind"), "instance");
  const json::Value& rest = cs.find("rest")->array()[0];
  bool patient = false;
  for (const auto& res : rest.find("resource")->array()) {
    if (res.get_string("type") != "Patient") continue;
    patient = true;
    std::set<std::string> codes;
    for (const auto& i : res.find("interaction")->array()) codes.insert(std::string(i.get_string("code")));
    for (const char* c : {"read", "vread", "update", "patch", "delete", "history-instance",
                          "history-type", "create", "search-type"}) {
      EXPECT_TRUE(codes.count(c)) << c;
    }
    EXPECT_EQ(res.get_string("versioning"), "versioned-update");
    EXPECT_TRUE(res.find("conditionalCreate")->as_bool());
  }
  EXPECT_TRUE(patient);
  std::set<std::string> system;
  for (const auto& i : rest.find("interaction")->array()) system.insert(std::string(i.get_string("code")));
  EXPECT_TRUE(system.count("transaction"));
  EXPECT_TRUE(system.count("batch"));
  EXPECT_TRUE(system.count("history-system"));
}

TEST_F(OpsTest, ValidateStoresNothing) {
  int64_t before = SystemHistoryCount(client());
  HttpResponse ok = client().Post("/Patient/$validate", R"({"resourceType":"Patient","active":true})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.json().get_string("resourceType"), "OperationOutcome");
  EXPECT_EQ(ok.json().find("issue")->array()[0].get_string("severity"), "information");
  HttpResponse bad = client().Post("/Patient/$validate",
                                   R"({"resourceType":"Patient","birthDate":"yesterday","foo":1})");
  ASSERT_EQ(bad.status, 200) << bad.body;
  const json::Value* issues = bad.json().find("issue");
  ASSERT_NE(issues, nullptr);
  EXPECT_GE(issues->size(), 2u);
  bool has_expression = false, seen_warning = false;
  int errors = 0;
  for (const auto& i : issues->array()) {
    // Errors first, then warnings (such as dom-6, no narrative).
    if (i.get_string("severity") == "error") {
      EXPECT_FALSE(seen_warning) << bad.body;
      ++errors;
    } else {
      EXPECT_EQ(i.get_string("severity"), "warning");
      seen_warning = true;
    }
    if (i.find("expression")) has_expression = true;
  }
  EXPECT_GE(errors, 2);
  EXPECT_TRUE(has_expression);
  EXPECT_EQ(SystemHistoryCount(client()), before);
}

TEST(ServerLifecycle, SigtermStopsCleanly) {
  TempDir dir;
  ServerProcess server(dir.path());
  {
    HttpClient c(server.port());
    EXPECT_EQ(c.Post("/Patient", R"({"resourceType":"Patient"})").status, 201);
  }
  int status = server.Terminate();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The data is there after a restart.
  ServerProcess again(dir.path());
  HttpClient c(again.port());
  EXPECT_EQ(c.Get("/Patient/_history").json().find("entry")->size(), 1u);
}

}  // namespace
}  // namespace gm::testing
