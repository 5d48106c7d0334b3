// `grunnmur check`: clean on a store written by the server (with updates,
// deletes, transactions), and each kind of damage done to the database file
// behind its back is reported (exit 1); no store is exit 2.
#include <sqlite3.h>

#include <gtest/gtest.h>

#include "tests/reliability/util.h"

namespace gm::testing {
namespace {

void Sql(const std::string& dir, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir + "/grunnmur.db").c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

class CheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerProcess server(dir_.path());
    HttpClient c(server.port());
    for (int i = 0; i < 5; ++i) {
      HttpResponse r = c.Post("/Patient", R"({"resourceType":"Patient","name":[{"family":"Ås)" +
                                              std::to_string(i) + R"("}],"birthDate":"1980-02-0)" +
                                              std::to_string(i + 1) + R"("})");
      ASSERT_EQ(r.status, 201);
      ids_.push_back(std::string(r.json().get_string("id")));
    }
    ASSERT_EQ(c.Put("/Patient/" + ids_[0], R"({"resourceType":"Patient","id":")" + ids_[0] +
                                              R"(","name":[{"family":"Changed"}]})").status, 200);
    ASSERT_EQ(c.Request("DELETE", "/Patient/" + ids_[1]).status, 204);
    ASSERT_EQ(c.Post("/Observation", R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"subject":{"reference":"Patient/)" +
                                         ids_[2] + R"("},"valueQuantity":{"value":120,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}})").status, 201);
  }
  TempDir dir_;
  std::vector<std::string> ids_;
};

TEST_F(CheckTest, CleanStoreIsExitZero) {
  CommandResult r = RunCheck(dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("8 versions"), std::string::npos) << r.output;
}

TEST_F(CheckTest, MissingIndexRowIsReported) {
  Sql(dir_.path(), "DELETE FROM idx_string WHERE (pid, text, code, rid) IN "
                   "(SELECT pid, text, code, rid FROM idx_string LIMIT 1)");
  CommandResult r = RunCheck(dir_.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("idx_string lacks 1 rows"), std::string::npos) << r.output;
}

TEST_F(CheckTest, StaleIndexRowOfDeletedResourceIsReported) {
  Sql(dir_.path(), "INSERT INTO idx_uri(pid, uri, rid) SELECT 1, 'urn:stale', rid FROM resource "
                   "WHERE deleted = 1");
  CommandResult r = RunCheck(dir_.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("(deleted): idx_uri has 1 rows the indexer does not produce"),
            std::string::npos) << r.output;
}

TEST_F(CheckTest, CompartmentAndVersionGapsAndBadJsonAreReported) {
  Sql(dir_.path(), "DELETE FROM compartment WHERE rid = (SELECT rid FROM resource WHERE type = "
                   "'Observation');"
                   "UPDATE resource_version SET version = 3 WHERE version = 2;"
                   "UPDATE resource SET version = 3 WHERE version = 2 AND deleted = 0;"
                   "UPDATE resource_version SET json = '{\"resourceType\":' WHERE rid = "
                   "(SELECT rid FROM resource WHERE id = '" + ids_[3] + "');"
                   "UPDATE resource_version SET json = replace(json, '\"versionId\":\"1\"', "
                   "'\"versionId\":\"9\"') WHERE rid = (SELECT rid FROM resource WHERE id = '" +
                       ids_[4] + "')");
  CommandResult r = RunCheck(dir_.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("compartment lacks"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("version 3 follows 1 (gap or duplicate)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Patient/" + ids_[3] + "/_history/1: stored JSON does not parse"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Patient/" + ids_[4] + "/_history/1: meta.versionId is '9'"),
            std::string::npos) << r.output;
}

TEST(CheckCommandTest, NoStoreIsExitTwo) {
  TempDir dir;
  CommandResult r = RunCheck(dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

}  // namespace
}  // namespace gm::testing
