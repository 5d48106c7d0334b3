// Several grunnmur processes ("nodes") on one PostgreSQL database receive
// interleaved requests: concurrent conditional creates make exactly one
// resource, concurrent If-Match updates lose no update, and paging links made
// by one node work on the others. The nodes share the data directory (the
// token keys), as nodes behind one load balancer share their key material.
//
// Needs GM_TEST_PG_URL (see tests/support/server_process.h); skipped without it.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "tests/support/server_process.h"

namespace gm::testing {
namespace {

constexpr const char* kFnrSystem = "http://example.org/membership";

class MultiNode : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (TestPostgresUrl().empty()) return;
    // Each node has its own data directory (its own audit log) with copies
    // of the first node's token signing keys and page-token key.
    for (int i = 0; i < 3; ++i) {
      dirs_.push_back(new TempDir());
      if (i > 0) {
        namespace fs = std::filesystem;
        const fs::path from = dirs_[0]->path(), to = dirs_[i]->path();
        fs::copy(from / "keys", to / "keys", fs::copy_options::recursive);
        fs::copy_file(from / "search-page.key", to / "search-page.key");
        ShareTestDatabase(from.string(), to.string());
      }
      nodes_.push_back(new ServerProcess(dirs_[i]->path()));
    }
  }
  static void TearDownTestSuite() {
    for (ServerProcess* n : nodes_) delete n;
    nodes_.clear();
    for (TempDir* d : dirs_) delete d;
    dirs_.clear();
  }
  void SetUp() override {
    if (TestPostgresUrl().empty()) {
      GTEST_SKIP() << "GM_TEST_PG_URL is not set (make test runs this against a throwaway "
                      "cluster: scripts/pg-cluster run)";
    }
  }
  static uint16_t Port(size_t i) { return nodes_[i % nodes_.size()]->port(); }

  static std::vector<TempDir*> dirs_;
  static std::vector<ServerProcess*> nodes_;
};
std::vector<TempDir*> MultiNode::dirs_;
std::vector<ServerProcess*> MultiNode::nodes_;

// The path and query of an absolute URL (for sending it to another node).
std::string PathOf(const std::string& url) {
  size_t scheme = url.find("://");
  size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

std::string NextLink(const json::Value& bundle) {
  if (const json::Value* links = bundle.find("link")) {
    for (const auto& l : links->array()) {
      if (l.get_string("relation") == "next") return PathOf(std::string(l.get_string("url")));
    }
  }
  return {};
}

TEST_F(MultiNode, NodesShareOneDatabase) {
  ASSERT_EQ(nodes_.size(), 3u);
  EXPECT_EQ(nodes_[0]->db_url(), nodes_[2]->db_url());
  HttpClient a(Port(0)), b(Port(1));
  HttpResponse created = a.Post("/Patient", R"({"resourceType":"Patient","active":true})");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id(created.json().get_string("id"));
  HttpResponse read = b.Get("/Patient/" + id);
  EXPECT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.header("etag"), created.header("etag"));
}

TEST_F(MultiNode, ConcurrentConditionalCreatesMakeOneResource) {
  for (int round = 0; round < 3; ++round) {
    const std::string fnr = "member-" + std::to_string(round);
    const std::string body = std::string(R"({"resourceType":"Patient","identifier":[{"system":")") +
                             kFnrSystem + R"(","value":")" + fnr + R"("}]})";
    std::atomic<int> created{0}, existing{0}, other{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 12; ++t) {
      threads.emplace_back([&, t] {
        HttpClient c(Port(t));
        HttpResponse r = c.Post("/Patient", body,
                                {{"If-None-Exist", std::string("identifier=") + kFnrSystem + "|" + fnr}});
        if (r.status == 201) {
          ++created;
        } else if (r.status == 200) {
          ++existing;
        } else {
          ++other;
          ADD_FAILURE() << r.status << " " << r.body;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(created.load(), 1) << "round " << round;
    EXPECT_EQ(existing.load(), 11) << "round " << round;
    EXPECT_EQ(other.load(), 0);
    for (size_t n = 0; n < 3; ++n) {
      HttpClient c(Port(n));
      HttpResponse found =
          c.Get(std::string("/Patient?identifier=") + kFnrSystem + "|" + fnr + "&_total=accurate");
      ASSERT_EQ(found.status, 200) << found.body;
      EXPECT_EQ(found.json().find("entry")->size(), 1u) << found.body;
    }
  }
}

// Read-modify-write cycles with If-Match from every node: each successful
// update adds one to multipleBirthInteger, so a lost update would leave the
// counter below the number of successes.
TEST_F(MultiNode, ConcurrentIfMatchUpdatesLoseNothing) {
  HttpClient a(Port(0));
  HttpResponse created =
      a.Post("/Patient", R"({"resourceType":"Patient","multipleBirthInteger":0})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id(created.json().get_string("id"));
  std::atomic<int> updates{0}, precondition_failed{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c(Port(t));
      for (int k = 0; k < 8; ++k) {
        HttpResponse cur = c.Get("/Patient/" + id);
        if (cur.status != 200) {
          ++other;
          continue;
        }
        json::Value doc = cur.json();
        const std::string version(doc.find("meta")->get_string("versionId"));
        const int64_t n = std::stoll(doc.find("multipleBirthInteger")->str());
        std::string body = R"({"resourceType":"Patient","id":")" + id +
                           R"(","multipleBirthInteger":)" + std::to_string(n + 1) + "}";
        HttpResponse put =
            c.Put("/Patient/" + id, body, {{"If-Match", "W/\"" + version + "\""}});
        if (put.status == 200) {
          ++updates;
        } else if (put.status == 412) {
          ++precondition_failed;
        } else {
          ++other;
          ADD_FAILURE() << put.status << " " << put.body;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(updates.load(), 0);
  EXPECT_EQ(updates.load() + precondition_failed.load(), 48);
  for (size_t n = 0; n < 3; ++n) {
    HttpClient c(Port(n));
    HttpResponse final_read = c.Get("/Patient/" + id);
    ASSERT_EQ(final_read.status, 200);
    json::Value doc = final_read.json();
    EXPECT_EQ(std::stoll(doc.find("multipleBirthInteger")->str()), updates.load());
    EXPECT_EQ(std::string(doc.find("meta")->get_string("versionId")),
              std::to_string(updates.load() + 1));
  }
}

TEST_F(MultiNode, PagingLinksWorkOnEveryNode) {
  HttpClient a(Port(0));
  std::set<std::string> made;
  for (int i = 0; i < 23; ++i) {
    HttpResponse r = a.Post("/Organization", R"({"resourceType":"Organization","name":"Paging )" +
                                                 std::to_string(i) + R"("})");
    ASSERT_EQ(r.status, 201) << r.body;
    made.insert(std::string(r.json().get_string("id")));
  }
  // GET paging with cursors, each next page asked of the next node.
  std::set<std::string> seen;
  std::string next = "/Organization?name=paging&_count=5&_sort=name";
  int pages = 0;
  while (!next.empty()) {
    HttpClient c(Port(pages++));
    HttpResponse r = c.Get(next);
    ASSERT_EQ(r.status, 200) << next << ": " << r.body;
    json::Value b = r.json();
    if (const json::Value* e = b.find("entry")) {
      for (const auto& entry : e->array()) {
        std::string id(entry.find("resource")->get_string("id"));
        EXPECT_TRUE(seen.insert(id).second) << "twice: " << id;
      }
    }
    next = NextLink(b);
    ASSERT_LT(pages, 20);
  }
  EXPECT_EQ(pages, 5);
  EXPECT_EQ(seen, made);
  // POST _search: the next link carries a sealed page token, opened by another node.
  HttpClient b(Port(1));
  HttpResponse first = b.Request("POST", "/Organization/_search", "name=paging&_count=10",
                                 {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(first.status, 200) << first.body;
  std::string link = NextLink(first.json());
  ASSERT_FALSE(link.empty()) << first.body;
  HttpClient c(Port(2));
  HttpResponse second = c.Get(link);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.json().find("entry")->size(), 10u);
}

}  // namespace
}  // namespace gm::testing
