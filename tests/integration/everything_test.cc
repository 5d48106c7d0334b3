// Patient/[id]/$everything through the real server: the patient's compartment
// (and nothing of other patients), the Patient itself, referenced resources
// outside every compartment as includes, _type, _since, _count with paging,
// POST with a Parameters body, unknown parameters, and 404/410.
#include <algorithm>
#include <map>
#include <set>

#include "tests/integration/fixture.h"

namespace gm::testing {
namespace {

using V = std::vector<std::string>;

// "Type/id" of the entries with search.mode `mode`, sorted.
V Keys(const json::Value& bundle, std::string_view mode) {
  V out;
  if (const json::Value* entries = bundle.find("entry")) {
    for (const json::Value& e : entries->array()) {
      const json::Value* search = e.find("search");
      if (search == nullptr || search->get_string("mode") != mode) continue;
      const json::Value* r = e.find("resource");
      out.push_back(std::string(r->get_string("resourceType")) + "/" +
                    std::string(r->get_string("id")));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Next(const json::Value& bundle) {
  if (const json::Value* links = bundle.find("link")) {
    for (const json::Value& l : links->array()) {
      if (l.get_string("relation") != "next") continue;
      std::string url(l.get_string("url"));
      return url.substr(url.find('/', 8));
    }
  }
  return "";
}

class EverythingTest : public ServerTest {
 protected:
  static void SetUpTestSuite() {
    ServerTest::SetUpTestSuite();
    HttpClient c(server_->port());
    const std::vector<std::pair<std::string, std::string>> resources = {
        {"Organization/org-1", R"({"resourceType":"Organization","id":"org-1","name":"Legekontoret"})"},
        {"Organization/org-2", R"({"resourceType":"Organization","id":"org-2","name":"Sykehuset"})"},
        {"Practitioner/dr-1", R"({"resourceType":"Practitioner","id":"dr-1","name":[{"family":"Berg"}]})"},
        {"Practitioner/dr-2", R"({"resourceType":"Practitioner","id":"dr-2","name":[{"family":"Dahl"}]})"},
        {"Practitioner/dr-unused", R"({"resourceType":"Practitioner","id":"dr-unused"})"},
        {"Patient/p1", R"({"resourceType":"Patient","id":"p1","name":[{"family":"Sørgård"}],
          "generalPractitioner":[{"reference":"Practitioner/dr-1"}],
          "managingOrganization":{"reference":"Organization/org-1"},
          "link":[{"other":{"reference":"Patient/p2"},"type":"seealso"}]})"},
        {"Patient/p2", R"({"resourceType":"Patient","id":"p2","name":[{"family":"Hansen"}],
          "generalPractitioner":[{"reference":"Practitioner/dr-2"}]})"},
        {"Observation/o1", R"({"resourceType":"Observation","id":"o1","status":"final",
          "code":{"text":"weight"},"subject":{"reference":"Patient/p1"},
          "performer":[{"reference":"Practitioner/dr-1"}]})"},
        {"Observation/o2", R"({"resourceType":"Observation","id":"o2","status":"final",
          "code":{"text":"height"},"subject":{"reference":"Patient/p1"},
          "performer":[{"reference":"Organization/org-2"}],"encounter":{"reference":"Encounter/e1"}})"},
        {"Encounter/e1", R"({"resourceType":"Encounter","id":"e1","status":"finished",
          "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
          "subject":{"reference":"Patient/p1"},"serviceProvider":{"reference":"Organization/org-1"}})"},
        {"Condition/c1", R"({"resourceType":"Condition","id":"c1",
          "subject":{"reference":"Patient/p1"},"code":{"text":"diabetes"}})"},
        {"Observation/o-other", R"({"resourceType":"Observation","id":"o-other","status":"final",
          "code":{"text":"weight"},"subject":{"reference":"Patient/p2"},
          "performer":[{"reference":"Practitioner/dr-2"}]})"},
        {"Observation/o-shared", R"({"resourceType":"Observation","id":"o-shared","status":"final",
          "code":{"text":"note"},"subject":{"reference":"Patient/p2"},
          "performer":[{"reference":"Patient/p1"}]})"},
    };
    for (const auto& [path, body] : resources) {
      HttpResponse r = c.Put("/" + path, body);
      ASSERT_EQ(r.status, 201) << path << ": " << r.body;
    }
  }

  json::Value Get(const std::string& url) {
    HttpResponse r = client().Get(url);
    EXPECT_EQ(r.status, 200) << url << ": " << r.body;
    return r.json();
  }
};

const V kP1Matches = {"Condition/c1", "Encounter/e1", "Observation/o-shared", "Observation/o1",
                      "Observation/o2", "Patient/p1"};

TEST_F(EverythingTest, CompartmentPlusReferencedResourcesOutsideIt) {
  json::Value b = Get("/Patient/p1/$everything");
  EXPECT_EQ(b.get_string("type"), "searchset");
  // o-shared is p2's Observation that p1 performed: it is in p1's compartment.
  EXPECT_EQ(Keys(b, "match"), kP1Matches);
  // Practitioners and Organizations referenced from the page, one level; never
  // another patient (p2 is referenced by p1.link and o-shared.subject).
  EXPECT_EQ(Keys(b, "include"), (V{"Organization/org-1", "Organization/org-2",
                                   "Practitioner/dr-1"}));
  const std::string body = json::Write(b);
  EXPECT_EQ(body.find("\"o-other\""), std::string::npos);
  EXPECT_EQ(body.find("Hansen"), std::string::npos) << "p2's own data";
  EXPECT_EQ(body.find("dr-2"), std::string::npos);
  EXPECT_EQ(body.find("dr-unused"), std::string::npos);

  // p1 links to p2 (Patient.link is a compartment parameter of Patient), so by
  // the compartment definition p1 is in p2's compartment, not the other way.
  json::Value p2 = Get("/Patient/p2/$everything");
  EXPECT_EQ(Keys(p2, "match"), (V{"Observation/o-other", "Observation/o-shared", "Patient/p1",
                                  "Patient/p2"}));
  EXPECT_EQ(Keys(p2, "include"),
            (V{"Organization/org-1", "Practitioner/dr-1", "Practitioner/dr-2"}));
}

TEST_F(EverythingTest, TypeFilterAppliesToIncludesToo) {
  json::Value obs = Get("/Patient/p1/$everything?_type=Observation");
  EXPECT_EQ(Keys(obs, "match"),
            (V{"Observation/o-shared", "Observation/o1", "Observation/o2"}));
  EXPECT_TRUE(Keys(obs, "include").empty());
  json::Value with_gp = Get("/Patient/p1/$everything?_type=Observation,Practitioner,Patient");
  EXPECT_EQ(Keys(with_gp, "match"), (V{"Observation/o-shared", "Observation/o1",
                                       "Observation/o2", "Patient/p1"}));
  EXPECT_EQ(Keys(with_gp, "include"), (V{"Practitioner/dr-1"}));
  HttpResponse bad = client().Get("/Patient/p1/$everything?_type=Nonsense");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(IssueCode(bad), "GM-SEARCH-005");
}

TEST_F(EverythingTest, PagesCoverEverythingOnce) {
  V all;
  std::string next = "/Patient/p1/$everything?_count=2";
  int pages = 0;
  for (; pages < 20 && !next.empty(); ++pages) {
    json::Value b = Get(next);
    V page = Keys(b, "match");
    EXPECT_LE(page.size(), 2u);
    all.insert(all.end(), page.begin(), page.end());
    next = Next(b);
    if (!next.empty()) EXPECT_NE(next.find("_count=2"), std::string::npos) << next;
  }
  EXPECT_EQ(pages, 3);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, kP1Matches);
}

TEST_F(EverythingTest, SinceSelectsByLastUpdated) {
  // Change o1; _since its new lastUpdated gives exactly what changed at or after it.
  HttpResponse put = client().Put(
      "/Observation/o1", R"({"resourceType":"Observation","id":"o1","status":"amended",
        "code":{"text":"weight"},"subject":{"reference":"Patient/p1"},
        "performer":[{"reference":"Practitioner/dr-1"}]})");
  ASSERT_EQ(put.status, 200) << put.body;
  const std::string since(put.json().find("meta")->get_string("lastUpdated"));
  json::Value all = Get("/Patient/p1/$everything");
  V expected;
  for (const json::Value& e : all.find("entry")->array()) {
    if (e.find("search")->get_string("mode") != "match") continue;
    const json::Value* r = e.find("resource");
    // Instants of the same format compare as text.
    if (r->find("meta")->get_string("lastUpdated") >= since) {
      expected.push_back(std::string(r->get_string("resourceType")) + "/" +
                         std::string(r->get_string("id")));
    }
  }
  std::sort(expected.begin(), expected.end());
  ASSERT_FALSE(expected.empty());
  EXPECT_NE(std::find(expected.begin(), expected.end(), "Observation/o1"), expected.end());
  json::Value b = Get("/Patient/p1/$everything?_since=" + since);
  EXPECT_EQ(Keys(b, "match"), expected);
  json::Value future = Get("/Patient/p1/$everything?_since=2999-01-01T00:00:00Z");
  EXPECT_TRUE(Keys(future, "match").empty());
  HttpResponse bad = client().Get("/Patient/p1/$everything?_since=yesterday");
  EXPECT_EQ(bad.status, 400);
}

TEST_F(EverythingTest, PostWithParametersOrForm) {
  HttpResponse r = client().Post(
      "/Patient/p1/$everything",
      R"({"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Condition,Encounter"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Keys(r.json(), "match"), (V{"Condition/c1", "Encounter/e1"}));
  EXPECT_EQ(Keys(r.json(), "include"), V{});
  HttpResponse form = client().Request("POST", "/Patient/p1/$everything", "_type=Condition",
                                       {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(form.status, 200) << form.body;
  EXPECT_EQ(Keys(form.json(), "match"), (V{"Condition/c1"}));
}

TEST_F(EverythingTest, UnknownPatientsAndParameters) {
  EXPECT_EQ(client().Get("/Patient/nobody/$everything").status, 404);
  HttpResponse gone = client().Put("/Patient/p-gone", R"({"resourceType":"Patient","id":"p-gone"})");
  ASSERT_EQ(gone.status, 201);
  ASSERT_EQ(client().Request("DELETE", "/Patient/p-gone").status / 100, 2);
  EXPECT_EQ(client().Get("/Patient/p-gone/$everything").status, 410);
  json::Value b = Get("/Patient/p1/$everything?start=2020-01-01");
  bool reported = false;
  for (const json::Value& e : b.find("entry")->array()) {
    if (e.find("search")->get_string("mode") == "outcome") {
      reported = json::Write(*e.find("resource")).find("start") != std::string::npos;
    }
  }
  EXPECT_TRUE(reported);
  HttpResponse strict =
      client().Get("/Patient/p1/$everything?start=2020-01-01", {{"Prefer", "handling=strict"}});
  EXPECT_EQ(strict.status, 400);
  EXPECT_EQ(IssueCode(strict), "GM-SEARCH-001");
  HttpResponse other_op = client().Get("/Patient/p1/$nothing");
  EXPECT_EQ(other_op.status, 404);
  HttpResponse wrong_type = client().Get("/Observation/o1/$everything");
  EXPECT_EQ(wrong_type.status, 404);
}

}  // namespace
}  // namespace gm::testing
