// The audit wired into requests: one AuditEvent per patient touched, for
// allowed, denied and failed requests, observed through the citizen's access
// log (GET Patient/[id]/$access-log), which never shows a fødselsnummer.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/integration/fixture.h"

namespace gm::testing {
namespace {

constexpr const char* kFnr = "urn:oid:2.16.578.1.12.4.1.4.1";
constexpr const char* kAnnePid = "12038010008";
constexpr const char* kBjornPid = "05067520043";
constexpr const char* kDoctorPid = "07078530183";  // the clinician's own FNR: never shown
constexpr const char* kDoctorHpr = "2000001";

struct Entry {
  std::string interaction, outcome, who, role, basis, type;
  bool btg = false;
};

class AuditWiringTest : public ServerTest {
 protected:
  static void SetUpTestSuite() {
    ServerTest::SetUpTestSuite();
    HttpClient c(server_->port());
    auto put = [&](const std::string& path, const std::string& body) {
      HttpResponse r = c.Put(path, body);
      ASSERT_TRUE(r.status == 200 || r.status == 201) << path << ": " << r.body;
    };
    put("/Patient/anne", std::string(R"({"resourceType":"Patient","id":"anne","identifier":[{"system":")") +
                             kFnr + R"(","value":")" + kAnnePid + R"("}],"birthDate":"1980-03-12"})");
    put("/Patient/bjorn", std::string(R"({"resourceType":"Patient","id":"bjorn","identifier":[{"system":")") +
                              kFnr + R"(","value":")" + kBjornPid + R"("}],"birthDate":"1975-06-05"})");
    for (const char* p : {"anne", "bjorn"}) {
      put(std::string("/Observation/obs-") + p,
          std::string(R"({"resourceType":"Observation","id":"obs-)") + p +
              R"(","status":"final","code":{"text":"AuditWiring"},"subject":{"reference":"Patient/)" +
              p + R"("}})");
    }
    put("/Observation/obs-gone",
        R"({"resourceType":"Observation","id":"obs-gone","status":"final","code":{"text":"gone"},"subject":{"reference":"Patient/anne"}})");
    ASSERT_EQ(c.Request("DELETE", "/Observation/obs-gone").status, 204);
    put("/Practitioner/doc",
        std::string(R"({"resourceType":"Practitioner","id":"doc","identifier":[{"system":"urn:oid:2.16.578.1.12.4.1.4.4","value":")") +
            kDoctorHpr + R"("},{"system":")" + kFnr + R"(","value":")" + kDoctorPid +
            R"("}],"name":[{"family":"Doktorsen","given":["Dina"]}],"qualification":[{"code":{"coding":[{"system":"urn:oid:2.16.578.1.12.4.1.1.9060","code":"LE"}]}}]})");
  }

  // The citizen's access log, newest first (all pages).
  std::vector<Entry> Log(const std::string& patient, const std::string& pid,
                         std::string* raw = nullptr) {
    std::string token = server().Token({"--scope", "patient/*.rs", "--as-pid", pid});
    HttpClient c(server().port(), HttpClient::Auth::kNone);
    std::vector<Entry> out;
    std::string next = "/Patient/" + patient + "/$access-log?_count=3";
    while (!next.empty()) {
      HttpResponse r = c.Get(next, {{"Authorization", "Bearer " + token}});
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) break;
      if (raw) *raw += r.body;
      const json::Value& b = r.json();
      if (const json::Value* entries = b.find("entry")) {
        for (const auto& e : entries->array()) {
          const json::Value* ev = e.find("resource");
          Entry x;
          if (const json::Value* sub = ev->find("subtype")) {
            x.interaction = sub->array()[0].get_string("code");
          }
          x.outcome = ev->get_string("outcome");
          const json::Value& agent = ev->find("agent")->array()[0];
          x.who = agent.find("who")->get_string("display");
          x.role = agent.find("role")->array()[0].get_string("text");
          const json::Value& purpose = ev->find("purposeOfEvent")->array()[0];
          x.basis = purpose.get_string("text");
          x.btg = purpose.find("coding") != nullptr;
          if (const json::Value* ent = ev->find("entity")) {
            x.type = ent->array()[0].get_string("description");
          }
          out.push_back(std::move(x));
        }
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

  // Events the action added for the patient: reading the log is itself
  // audited (one "operation" event per page read), so those are left out.
  std::vector<Entry> NewEvents(const std::string& patient, const std::string& pid,
                               const std::function<void()>& action) {
    std::vector<Entry> before = Log(patient, pid);
    action();
    std::vector<Entry> after = Log(patient, pid);
    std::vector<Entry> added;
    for (size_t i = 0; i + before.size() < after.size(); ++i) {
      if (after[i].interaction == "operation" && after[i].type == "AuditEvent") continue;
      added.push_back(after[i]);
    }
    return added;
  }
};

TEST_F(AuditWiringTest, AllowedReadIsOneEventForThatPatientOnly) {
  std::vector<Entry> bjorn_before = Log("bjorn", kBjornPid);
  auto added = NewEvents("anne", kAnnePid, [&] {
    EXPECT_EQ(client().Get("/Observation/obs-anne").status, 200);
  });
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0].interaction, "read");
  EXPECT_EQ(added[0].outcome, "0");
  EXPECT_EQ(added[0].type, "Observation");
  // Nothing was added for the other patient except the log reads themselves.
  std::vector<Entry> bjorn_after = Log("bjorn", kBjornPid);
  size_t non_log = 0;
  for (size_t i = 0; i + bjorn_before.size() < bjorn_after.size(); ++i) {
    if (bjorn_after[i].type != "AuditEvent") ++non_log;
  }
  EXPECT_EQ(non_log, 0u);
}

TEST_F(AuditWiringTest, SearchAcrossPatientsIsOneEventPerPatientTouched) {
  std::vector<Entry> bjorn_before = Log("bjorn", kBjornPid);
  auto added = NewEvents("anne", kAnnePid, [&] {
    HttpResponse r = client().Get("/Observation?code:text=AuditWiring");
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("obs-bjorn"), std::string::npos);
  });
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0].interaction, "search-type");
  std::vector<Entry> bjorn_after = Log("bjorn", kBjornPid);
  int searches = 0;
  for (size_t i = 0; i + bjorn_before.size() < bjorn_after.size(); ++i) {
    if (bjorn_after[i].interaction == "search-type") ++searches;
  }
  EXPECT_EQ(searches, 1);
}

TEST_F(AuditWiringTest, DeniedAndFailedRequestsAreAuditedToo) {
  std::string doctor = server().Token({"--scope", "user/*.rs", "--as-hpr", kDoctorHpr});
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  auto denied = NewEvents("anne", kAnnePid, [&] {
    EXPECT_EQ(c.Get("/Observation/obs-anne", {{"Authorization", "Bearer " + doctor}}).status, 404);
  });
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].outcome, "4");
  EXPECT_EQ(denied[0].interaction, "read");
  auto denied_search = NewEvents("anne", kAnnePid, [&] {
    EXPECT_EQ(c.Get("/Observation?patient=Patient/anne", {{"Authorization", "Bearer " + doctor}}).status,
              403);
  });
  ASSERT_EQ(denied_search.size(), 1u);
  EXPECT_EQ(denied_search[0].outcome, "4");
  // A read of a deleted resource fails (410): audited for its patient.
  auto failed = NewEvents("anne", kAnnePid, [&] {
    EXPECT_EQ(client().Get("/Observation/obs-gone").status, 410);
  });
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].outcome, "8");
}

TEST_F(AuditWiringTest, WritesAreAuditedBeforeTheyAreAcknowledged) {
  auto added = NewEvents("bjorn", kBjornPid, [&] {
    HttpResponse r = client().Post("/Observation",
                                   R"({"resourceType":"Observation","status":"final","code":{"text":"new"},"subject":{"reference":"Patient/bjorn"}})");
    EXPECT_EQ(r.status, 201) << r.body;
  });
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0].interaction, "create");
  EXPECT_EQ(added[0].outcome, "0");
}

TEST_F(AuditWiringTest, EmergencyAccessIsFlaggedAndTheLogNeverShowsAFodselsnummer) {
  std::string btg = server().Token({"--scope", "user/*.rs", "--as-hpr", kDoctorHpr, "--as-pid",
                                    kDoctorPid, "--attest-patient", kAnnePid, "--btg",
                                    "--orgnr", "974633574"});
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  auto added = NewEvents("anne", kAnnePid, [&] {
    EXPECT_EQ(c.Get("/Observation/obs-anne", {{"Authorization", "Bearer " + btg}}).status, 200);
  });
  ASSERT_EQ(added.size(), 1u);
  EXPECT_TRUE(added[0].btg);
  EXPECT_NE(added[0].basis.find("BTG"), std::string::npos) << added[0].basis;
  EXPECT_NE(added[0].who.find("Doktorsen"), std::string::npos) << added[0].who;
  EXPECT_EQ(added[0].role, "Lege");
  std::string raw;
  Log("anne", kAnnePid, &raw);
  EXPECT_EQ(raw.find(kDoctorPid), std::string::npos);
  EXPECT_EQ(raw.find(kAnnePid), std::string::npos);
}

TEST_F(AuditWiringTest, OnlyTheCitizenAndRepresentativesReadTheLog) {
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  std::string other = server().Token({"--scope", "patient/*.rs", "--as-pid", kBjornPid});
  EXPECT_EQ(c.Get("/Patient/anne/$access-log", {{"Authorization", "Bearer " + other}}).status, 404);
  std::string doctor = server().Token({"--scope", "user/*.rs", "--as-hpr", kDoctorHpr,
                                       "--attest-patient", kAnnePid});
  EXPECT_EQ(c.Get("/Patient/anne/$access-log", {{"Authorization", "Bearer " + doctor}}).status, 403);
  EXPECT_EQ(client().Get("/Patient/anne/$access-log").status, 403);  // operator token
}

}  // namespace
}  // namespace gm::testing
