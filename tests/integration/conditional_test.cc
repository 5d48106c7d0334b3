// Conditional create, update and delete, including 16 simultaneous conditional creates.
#include <atomic>
#include <thread>

#include "tests/integration/fixture.h"

namespace gm::testing {
namespace {

class ConditionalTest : public ServerTest {};

std::string PatientWith(const std::string& fnr) {
  return R"({"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":")" +
         fnr + R"("}],"active":true})";
}

int SearchCount(HttpClient& c, const std::string& query) {
  HttpResponse r = c.Get("/Patient?" + query + "&_count=100");
  if (r.status != 200) return -1;
  const json::Value* e = r.json().find("entry");
  int n = 0;
  if (e) {
    for (const auto& entry : e->array()) {
      if (entry.find("search") && entry.find("search")->get_string("mode") == "match") ++n;
    }
  }
  return n;
}

TEST_F(ConditionalTest, IfNoneExistCreatesOnceThenReturnsTheMatch) {
  const std::string criteria = "identifier=urn:oid:2.16.578.1.12.4.1.4.1|13097248022";
  HttpResponse first = client().Post("/Patient", PatientWith("13097248022"),
                                     {{"If-None-Exist", criteria}});
  ASSERT_EQ(first.status, 201) << first.body;
  HttpResponse second = client().Post("/Patient", PatientWith("13097248022"),
                                      {{"If-None-Exist", criteria}});
  EXPECT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.json().get_string("id"), first.json().get_string("id"));
  EXPECT_EQ(SearchCount(client(), criteria), 1);
}

TEST_F(ConditionalTest, SixteenSimultaneousConditionalCreatesMakeOneResource) {
  const std::string fnr = "29020050088";
  const std::string criteria = "identifier=urn:oid:2.16.578.1.12.4.1.4.1|" + fnr;
  std::atomic<int> created{0}, matched{0}, other{0};
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      HttpClient c(server().port());
      while (!go.load()) std::this_thread::yield();
      HttpResponse r = c.Post("/Patient", PatientWith(fnr), {{"If-None-Exist", criteria}});
      if (r.status == 201) {
        ++created;
      } else if (r.status == 200) {
        ++matched;
      } else {
        ++other;
      }
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(matched.load(), 15);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(SearchCount(client(), criteria), 1);
}

TEST_F(ConditionalTest, IfNoneExistWithTwoMatchesIs412) {
  Create("Patient", PatientWith("01010112377"));
  Create("Patient", PatientWith("01010112377"));
  HttpResponse r = client().Post("/Patient", PatientWith("01010112377"),
                                 {{"If-None-Exist", "identifier=01010112377"}});
  EXPECT_EQ(r.status, 412) << r.body;
}

TEST_F(ConditionalTest, ConditionalUpdateCreatesThenUpdates) {
  const std::string q = "/Patient?identifier=urn:oid:2.16.578.1.12.4.1.4.1|02020212317";
  HttpResponse c = client().Put(q, PatientWith("02020212317"));
  ASSERT_EQ(c.status, 201) << c.body;
  std::string id(c.json().get_string("id"));
  HttpResponse u = client().Put(q, PatientWith("02020212317"));
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_EQ(u.json().get_string("id"), id);
  EXPECT_EQ(u.header("etag"), "W/\"2\"");
}

TEST_F(ConditionalTest, ConditionalUpdateWithSeveralMatchesIs412) {
  Create("Patient", PatientWith("03030312367"));
  Create("Patient", PatientWith("03030312367"));
  HttpResponse r = client().Put("/Patient?identifier=03030312367", PatientWith("03030312367"));
  EXPECT_EQ(r.status, 412);
}

TEST_F(ConditionalTest, ConditionalDelete) {
  std::string id = Create("Patient", PatientWith("04040412307"));
  HttpResponse d = client().Request("DELETE", "/Patient?identifier=04040412307");
  EXPECT_EQ(d.status, 204);
  EXPECT_EQ(client().Get("/Patient/" + id).status, 410);
  HttpResponse none = client().Request("DELETE", "/Patient?identifier=04040412307");
  EXPECT_EQ(none.status, 204);
}

TEST_F(ConditionalTest, EmptyOrUnknownCriteriaAreRefused) {
  HttpResponse r = client().Post("/Patient", PatientWith("05050512357"),
                                 {{"If-None-Exist", "nonsense-param=1"}});
  EXPECT_EQ(r.status, 400) << r.body;
  HttpResponse d = client().Request("DELETE", "/Patient");
  EXPECT_EQ(d.status, 400);
}

}  // namespace
}  // namespace gm::testing
