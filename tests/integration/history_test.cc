// history (instance, type, system) with _since, _at, _count and paging.
#include <set>

#include "tests/integration/fixture.h"

namespace gm::testing {
namespace {

class HistoryTest : public ServerTest {
 protected:
  // Follows next links, returns every entry.
  std::vector<json::Value> AllPages(const std::string& first) {
    std::vector<json::Value> out;
    std::string next = first;
    int guard = 0;
    while (!next.empty() && ++guard < 1000) {
      HttpResponse r = client().Get(next);
      EXPECT_EQ(r.status, 200) << r.body;
      json::Value b = r.json();
      EXPECT_EQ(b.get_string("type"), "history");
      if (const json::Value* e = b.find("entry")) {
        for (const auto& x : e->array()) out.push_back(x);
      }
      next.clear();
      if (const json::Value* links = b.find("link")) {
        for (const auto& l : links->array()) {
          if (l.get_string("relation") == "next") {
            std::string url(l.get_string("url"));
            next = url.substr(url.find('/', 8));
          }
        }
      }
    }
    return out;
  }
};

TEST_F(HistoryTest, InstanceHistoryNewestFirstWithMethods) {
  std::string id = Create("Patient", R"({"resourceType":"Patient","active":true})");
  client().Put("/Patient/" + id, R"({"resourceType":"Patient","id":")" + id + R"(","active":false})");
  client().Request("DELETE", "/Patient/" + id);
  HttpResponse r = client().Get("/Patient/" + id + "/_history");
  ASSERT_EQ(r.status, 200);
  json::Value b = r.json();
  EXPECT_EQ(b.find("total")->str(), "3");
  const auto& e = b.find("entry")->array();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].find("request")->get_string("method"), "DELETE");
  EXPECT_EQ(e[0].find("resource"), nullptr);
  EXPECT_EQ(e[1].find("request")->get_string("method"), "PUT");
  EXPECT_EQ(e[1].find("resource")->find("active")->as_bool(), false);
  EXPECT_EQ(e[2].find("request")->get_string("method"), "POST");
  EXPECT_EQ(e[2].find("response")->get_string("etag"), "W/\"1\"");
  EXPECT_EQ(client().Get("/Patient/never/_history").status, 404);
}

TEST_F(HistoryTest, TypeHistoryPagesWithoutDuplicatesWhileOthersWrite) {
  for (int i = 0; i < 25; ++i) Create("Device", R"({"resourceType":"Device","status":"active"})");
  std::set<std::string> seen;
  std::string next = "/Device/_history?_count=7";
  int pages = 0;
  size_t total = 0;
  while (!next.empty()) {
    HttpResponse r = client().Get(next);
    ASSERT_EQ(r.status, 200);
    json::Value b = r.json();
    ++pages;
    if (const json::Value* e = b.find("entry")) {
      for (const auto& x : e->array()) {
        std::string key = std::string(x.get_string("fullUrl")) + "@" +
                          std::string(x.find("response")->get_string("etag"));
        EXPECT_TRUE(seen.insert(key).second) << "duplicate " << key;
        ++total;
      }
    }
    // A write between pages must not shift what the next page shows.
    if (pages == 1) Create("Device", R"({"resourceType":"Device","status":"inactive"})");
    next.clear();
    for (const auto& l : b.find("link")->array()) {
      if (l.get_string("relation") == "next") {
        std::string url(l.get_string("url"));
        next = url.substr(url.find('/', 8));
      }
    }
  }
  EXPECT_EQ(total, 25u);
  EXPECT_EQ(pages, 4);
}

TEST_F(HistoryTest, SinceAndSystemHistory) {
  std::string id = Create("Basic", R"({"resourceType":"Basic","code":{"text":"a"}})");
  HttpResponse first = client().Get("/Basic/" + id);
  std::string since(first.json().find("meta")->get_string("lastUpdated"));
  client().Put("/Basic/" + id, R"({"resourceType":"Basic","id":")" + id + R"(","code":{"text":"b"}})");
  auto entries = AllPages("/Basic/_history?_since=" + since);
  ASSERT_EQ(entries.size(), 2u);  // version 1 (at since) and version 2
  auto later = AllPages("/Basic/_history?_since=2999-01-01T00:00:00Z");
  EXPECT_TRUE(later.empty());
  auto all = AllPages("/_history?_count=50");
  EXPECT_GE(all.size(), 2u);
  EXPECT_EQ(client().Get("/_history?_since=yesterday").status, 400);
}

TEST_F(HistoryTest, AtGivesTheStateAtAnInstant) {
  std::string id = Create("Basic", R"({"resourceType":"Basic","code":{"text":"v1"}})");
  std::string t1(client().Get("/Basic/" + id).json().find("meta")->get_string("lastUpdated"));
  client().Put("/Basic/" + id, R"({"resourceType":"Basic","id":")" + id + R"(","code":{"text":"v2"}})");
  auto at = AllPages("/Basic/" + id + "/_history?_at=" + t1);
  ASSERT_EQ(at.size(), 1u);
  EXPECT_EQ(at[0].find("resource")->find("code")->get_string("text"), "v1");
}

}  // namespace
}  // namespace gm::testing
