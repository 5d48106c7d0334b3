// grunnmur backup --data DIR --to FILE: an online copy of the SQLite store
// taken while a client keeps writing is a complete, consistent store (a new
// server serves it, grunnmur check finds it clean); for a PostgreSQL data
// directory the command points at pg_dump instead.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "tests/support/server_process.h"

namespace gm::testing {
namespace {

struct CliRun {
  int status = -1;
  std::string output;
};

CliRun Grunnmur(const std::string& args) {
  CliRun r;
  FILE* p = popen((std::string(GM_BINARY) + " " + args + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

int64_t Total(HttpClient& c, const std::string& query) {
  HttpResponse r = c.Get(query);
  if (r.status != 200) return -1;
  return std::stoll(r.json().find("total")->str());
}

TEST(Backup, OnlineCopyWhileWritingIsACompleteStore) {
  if (!TestPostgresUrl().empty()) GTEST_SKIP() << "SQLite only (the PostgreSQL case is below)";
  TempDir dir, restored;
  const std::string file = dir.path() + "-backup.db";
  int64_t before = 0;
  {
    ServerProcess server(dir.path());
    HttpClient c(server.port());
    for (int i = 0; i < 40; ++i) {
      ASSERT_EQ(c.Post("/Patient", R"({"resourceType":"Patient","active":true})").status, 201);
    }
    before = Total(c, "/Patient?_summary=count");
    ASSERT_EQ(before, 40);
    std::atomic<bool> stop{false};
    std::atomic<int> written{0};
    std::thread writer([&] {
      HttpClient w(server.port());
      while (!stop) {
        if (w.Post("/Patient", R"({"resourceType":"Patient","active":false})").status == 201) {
          ++written;
        }
      }
    });
    while (written < 5) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CliRun b = Grunnmur("backup --data '" + dir.path() + "' --to '" + file + "'");
    stop = true;
    writer.join();
    ASSERT_EQ(b.status, 0) << b.output;
    EXPECT_NE(b.output.find("backup: "), std::string::npos) << b.output;
    EXPECT_GT(written.load(), 0);
  }
  ASSERT_TRUE(std::filesystem::exists(file));
  EXPECT_FALSE(std::filesystem::exists(file + ".partial"));
  std::filesystem::copy_file(file, restored.path() + "/grunnmur.db");
  std::filesystem::remove(file);
  CliRun check = Grunnmur("check --data '" + restored.path() + "'");
  EXPECT_EQ(check.status, 0) << check.output;
  ServerProcess again(restored.path());
  HttpClient c(again.port());
  const int64_t after = Total(c, "/Patient?_summary=count");
  EXPECT_GE(after, before + 5);  // the writes acknowledged before the backup started
  EXPECT_EQ(Total(c, "/Patient?active=true&_summary=count"), 40);
}

TEST(Backup, RefusesWithoutAStoreAndPointsPostgresAtPgDump) {
  TempDir empty;
  CliRun none = Grunnmur("backup --data '" + empty.path() + "' --to '" + empty.path() + "/x.db'");
  EXPECT_EQ(none.status, 2) << none.output;
  if (TestPostgresUrl().empty()) return;
  TempDir dir;
  { ServerProcess server(dir.path()); }
  CliRun b = Grunnmur("backup --data '" + dir.path() + "' --to '" + dir.path() + "/x.db'");
  EXPECT_EQ(b.status, 2) << b.output;
  EXPECT_NE(b.output.find("pg_dump"), std::string::npos) << b.output;
}

}  // namespace
}  // namespace gm::testing
