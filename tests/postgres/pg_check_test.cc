// grunnmur check on a data directory whose server uses PostgreSQL: clean
// after ordinary writes (creates, updates, deletes, full text, composites),
// and each kind of damage to the index is reported (exit status 1).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "store/postgres/pg_connection.h"
#include "tests/support/server_process.h"

namespace gm::testing {
namespace {

struct CheckRun {
  int status = -1;
  std::string output;
};

CheckRun Check(const std::string& dir) {
  CheckRun r;
  FILE* p = popen((std::string(GM_BINARY) + " check --data '" + dir + "' 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

TEST(PgCheck, CleanStoreThenEachDamageIsReported) {
  if (TestPostgresUrl().empty()) {
    GTEST_SKIP() << "GM_TEST_PG_URL is not set (make test runs this against a throwaway "
                    "cluster: scripts/pg-cluster run)";
  }
  TempDir dir;
  std::string obs;
  {
    ServerProcess server(dir.path());
    HttpClient c(server.port());
    HttpResponse p = c.Post("/Patient", R"({"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Kari Nordmann, Oslo</div>"},"name":[{"family":"Sørgård","given":["Kari"]}],"birthDate":"1970-01-01"})");
    ASSERT_EQ(p.status, 201) << p.body;
    const std::string pid(p.json().get_string("id"));
    HttpResponse o = c.Post("/Observation", R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"subject":{"reference":"Patient/)" + pid + R"("},"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}],"valueQuantity":{"value":120.5,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}})");
    ASSERT_EQ(o.status, 201) << o.body;
    obs = std::string(o.json().get_string("id"));
    HttpResponse gone = c.Post("/Organization", R"({"resourceType":"Organization","name":"Gone"})");
    ASSERT_EQ(gone.status, 201);
    ASSERT_EQ(c.Request("DELETE", "/Organization/" + std::string(gone.json().get_string("id"))).status / 100, 2);
  }
  CheckRun clean = Check(dir.path());
  EXPECT_EQ(clean.status, 0) << clean.output;
  EXPECT_NE(clean.output.find("clean"), std::string::npos) << clean.output;

  auto db = store::postgres::PgConnection::Open(TestDatabaseFor(dir.path()));
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Exec("DELETE FROM idx_token WHERE ctid IN (SELECT t.ctid FROM idx_token t "
                          "JOIN resource r ON r.rid = t.rid WHERE r.type = 'Observation' LIMIT 1)")
                  .ok());
  ASSERT_TRUE((*db)->Exec("UPDATE idx_date SET b = b + 1").ok());
  ASSERT_TRUE((*db)->Exec("INSERT INTO compartment(patient, rid) SELECT 'someone-else', rid FROM "
                          "resource WHERE type = 'Observation'")
                  .ok());
  ASSERT_TRUE((*db)->Exec("UPDATE resource_version SET json = '{' WHERE version = 1 AND type = "
                          "'Organization' AND deleted = 0")
                  .ok());
  CheckRun damaged = Check(dir.path());
  EXPECT_EQ(damaged.status, 1) << damaged.output;
  EXPECT_NE(damaged.output.find("Observation/" + obs + ": idx_token lacks 1 rows"),
            std::string::npos)
      << damaged.output;
  EXPECT_NE(damaged.output.find("idx_date has"), std::string::npos) << damaged.output;
  EXPECT_NE(damaged.output.find("Observation/" + obs + ": compartment has 1 rows"),
            std::string::npos)
      << damaged.output;
  EXPECT_NE(damaged.output.find("does not parse"), std::string::npos) << damaged.output;
  EXPECT_NE(damaged.output.find("PROBLEMS FOUND"), std::string::npos) << damaged.output;
}

}  // namespace
}  // namespace gm::testing
