// The authorization matrix (issue "Trust"): roles × patients × kinds of data
// × interactions against the real server, checked against a table of
// expected access written out below (not computed by the server's code), and
// a leak scan of every response body: each data resource carries a marker
// ("MARK-<kind>-<patient>", Patients "MARKP-<patient>"), and no response may
// contain a marker of data outside the role's row of the table.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/fixture.h"

namespace gm::testing {
namespace {

constexpr const char* kFnr = "urn:oid:2.16.578.1.12.4.1.4.1";
constexpr const char* kHprSys = "urn:oid:2.16.578.1.12.4.1.4.4";
constexpr const char* kOrgSys = "urn:oid:2.16.578.1.12.4.1.4.101";
constexpr const char* kControl = "http://grunnmur.no/fhir/CodeSystem/citizen-control";

// Synthetic people (valid check digits). Today is 2026-11-30.
const std::map<std::string, std::string> kPid = {
    {"kari", "12038010008"},    // adult, fastlege = HPR 1000001, blocks HPR 1000005, fullmakt to venn
    {"ola", "05067520043"},     // adult, in hospital at org H1, sperring on Condition
    {"lille", "05052050016"},   // 6 years, mor has parental responsibility, same address
    {"tenaar", "03031260034"},  // 14 years, mor has parental responsibility, same address
    {"mor", "07078530183"},
    {"venn", "09097015160"},
};
const std::vector<std::string> kPatients = {"kari", "ola", "lille", "tenaar"};
const std::vector<std::string> kTypes = {"Patient", "Observation", "Condition",
                                         "MedicationRequest"};
constexpr const char* kOrgH1 = "974633574";  // ola's ward
constexpr const char* kOrgH2 = "987654325";  // another hospital
constexpr const char* kOrgGp = "912345688";

std::string Short(const std::string& type) {
  if (type == "Observation") return "obs";
  if (type == "Condition") return "cond";
  if (type == "MedicationRequest") return "mr";
  return "";
}
std::string IdOf(const std::string& patient, const std::string& type) {
  return type == "Patient" ? patient : Short(type) + "-" + patient;
}
std::string MarkerOf(const std::string& patient, const std::string& type) {
  return type == "Patient" ? "MARKP-" + patient : "MARK-" + Short(type) + "-" + patient;
}

struct Role {
  std::string name;
  std::vector<std::string> token_args;
  bool person = true;  // citizen or clinician (not a system)
  bool citizen = false;
  bool full_reach = false;  // EHR/operator: includes, chains, transactions
  // The independent table: "patient/Type" this role may see. "*" after the
  // slash: every type in the matrix.
  std::set<std::string> may_see;
  bool registry = true;  // may read registry data (Practitioner)
  bool conditional_update = false;  // may PUT /Observation?identifier=…
};

bool MaySee(const Role& role, const std::string& patient, const std::string& type) {
  return role.may_see.count(patient + "/" + type) > 0 || role.may_see.count(patient + "/*") > 0;
}

class AuthzMatrixTest : public ServerTest {
 protected:
  static void SetUpTestSuite() {
    ServerTest::SetUpTestSuite();
    HttpClient c(server_->port());
    auto put = [&](const std::string& type, const std::string& id, const std::string& body) {
      HttpResponse r = c.Put("/" + type + "/" + id, body);
      ASSERT_TRUE(r.status == 200 || r.status == 201) << type << "/" << id << ": " << r.body;
    };
    auto org = [&](const std::string& id, const std::string& orgnr) {
      put("Organization", id,
          R"({"resourceType":"Organization","id":")" + id + R"(","identifier":[{"system":")" +
              kOrgSys + R"(","value":")" + orgnr + R"("}],"name":"Org )" + id + R"("})");
    };
    org("org-h1", kOrgH1);
    org("org-h2", kOrgH2);
    org("org-gp", kOrgGp);
    auto practitioner = [&](const std::string& hpr, const std::string& code,
                            const std::string& status) {
      put("Practitioner", "pr-" + hpr,
          R"({"resourceType":"Practitioner","id":"pr-)" + hpr + R"(","identifier":[{"system":")" +
              kHprSys + R"(","value":")" + hpr + R"("}],"name":[{"family":"Helse)" + hpr +
              R"(","given":["Test"]}],"qualification":[{"extension":[{"url":"http://grunnmur.no/fhir/StructureDefinition/hpr-authorization-status","valueCode":")" +
              status + R"("}],"code":{"coding":[{"system":"urn:oid:2.16.578.1.12.4.1.1.9060","code":")" +
              code + R"("}]}}]})");
    };
    practitioner("1000001", "LE", "active");     // kari's fastlege
    practitioner("1000002", "LE", "active");     // hospital doctor (H2)
    practitioner("1000003", "SP", "active");     // nurse
    practitioner("1000004", "FA1", "active");    // pharmacist
    practitioner("1000005", "LE", "active");     // blocked by kari
    practitioner("1000006", "LE", "suspended");  // suspended doctor
    practitioner("1000007", "LE", "active");     // doctor at ola's ward (H1)
    put("PractitionerRole", "role-gp",
        R"({"resourceType":"PractitionerRole","id":"role-gp","practitioner":{"reference":"Practitioner/pr-1000001"},"organization":{"reference":"Organization/org-gp"}})");
    auto patient = [&](const std::string& id, const std::string& birth, const std::string& line,
                       const std::string& extra) {
      put("Patient", id,
          R"({"resourceType":"Patient","id":")" + id + R"(","identifier":[{"system":")" + kFnr +
              R"(","value":")" + kPid.at(id) + R"("}],"name":[{"family":"MARKP-)" + id +
              R"("}],"birthDate":")" + birth + R"(","address":[{"line":[")" + line +
              R"("],"postalCode":"0101","city":"Oslo"}])" + extra + "}");
    };
    patient("kari", "1980-03-12", "Gate 1",
            R"(,"generalPractitioner":[{"reference":"PractitionerRole/role-gp"}])");
    patient("ola", "1975-06-05", "Gate 2", "");
    patient("lille", "2020-05-05", "Hjemvei 3", "");
    patient("tenaar", "2012-03-03", "Hjemvei 3", "");
    patient("mor", "1985-07-07", "Hjemvei 3", "");
    patient("venn", "1970-09-09", "Gate 9", "");
    for (const char* child : {"lille", "tenaar"}) {
      put("RelatedPerson", std::string("rp-") + child,
          R"({"resourceType":"RelatedPerson","id":"rp-)" + std::string(child) +
              R"(","patient":{"reference":"Patient/)" + child + R"("},"identifier":[{"system":")" +
              kFnr + R"(","value":")" + kPid.at("mor") +
              R"("}],"relationship":[{"coding":[{"system":"http://hl7.no/fhir/CodeSystem/no-basis-parental-responsibility","code":"felles"}]}]})");
    }
    for (const auto& p : kPatients) {
      put("Observation", "obs-" + p,
          R"({"resourceType":"Observation","id":"obs-)" + p +
              R"(","status":"final","code":{"text":"MARK-obs-)" + p +
              R"("},"subject":{"reference":"Patient/)" + p + R"("}})");
      put("Condition", "cond-" + p,
          R"({"resourceType":"Condition","id":"cond-)" + p + R"(","code":{"text":"MARK-cond-)" +
              p + R"("},"subject":{"reference":"Patient/)" + p + R"("}})");
      put("MedicationRequest", "mr-" + p,
          R"({"resourceType":"MedicationRequest","id":"mr-)" + p +
              R"(","status":"active","intent":"order","medicationCodeableConcept":{"text":"MARK-mr-)" +
              p + R"("},"subject":{"reference":"Patient/)" + p + R"("}})");
    }
    put("Encounter", "enc-ola",
        R"({"resourceType":"Encounter","id":"enc-ola","status":"in-progress","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"},"subject":{"reference":"Patient/ola"},"serviceProvider":{"reference":"Organization/org-h1"}})");
    auto consent = [&](const std::string& id, const std::string& patient_id,
                       const std::string& code, const std::string& provision) {
      put("Consent", id,
          R"({"resourceType":"Consent","id":")" + id +
              R"(","status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},"category":[{"coding":[{"system":")" +
              kControl + R"(","code":")" + code + R"("}]}],"patient":{"reference":"Patient/)" +
              patient_id + R"("},"policyRule":{"text":"grunnmur citizen control"},"provision":)" +
              provision + "}");
    };
    consent("c-kari-blokk", "kari", "blokkering",
            std::string(R"({"type":"deny","actor":[{"role":{"text":"blokkert"},"reference":{"identifier":{"system":")") +
                kHprSys + R"(","value":"1000005"}}}]})");
    consent("c-kari-fullmakt", "kari", "fullmakt",
            std::string(R"({"type":"permit","actor":[{"role":{"text":"fullmektig"},"reference":{"identifier":{"system":")") +
                kFnr + R"(","value":")" + kPid.at("venn") + R"("}}}]})");
    consent("c-ola-sperr", "ola", "sperring",
            R"({"type":"deny","class":[{"system":"http://hl7.org/fhir/resource-types","code":"Condition"}]})");
  }

  static std::vector<Role> Roles() {
    auto all = [](const std::string& p) { return p + "/*"; };
    auto citizen = [](const std::string& who) {
      return std::vector<std::string>{"--scope", "patient/*.cruds", "--as-pid", kPid.at(who)};
    };
    auto clinician = [](const std::string& hpr, const std::string& org,
                        std::vector<std::string> more = {}) {
      std::vector<std::string> a = {"--scope", "user/*.cruds", "--as-hpr", hpr, "--orgnr", org};
      a.insert(a.end(), more.begin(), more.end());
      return a;
    };
    auto system = [](const std::string& kind) {
      return std::vector<std::string>{"--scope", "system/*.cruds", "--client-kind", kind};
    };
    const std::string kari = kPid.at("kari"), ola = kPid.at("ola");
    std::vector<Role> roles;
    roles.push_back({"citizen", citizen("kari"), true, true, false, {all("kari")}, false});
    roles.push_back({"parent", citizen("mor"), true, true, false,
                     {all("lille"), "tenaar/Patient", "mor/Patient"}, false});
    roles.push_back({"representative", citizen("venn"), true, true, false,
                     {all("kari"), "venn/Patient"}, false});
    roles.push_back({"fastlege", clinician("1000001", kOrgGp), true, false, false, {all("kari")}});
    roles.push_back({"hospital doctor, attested", clinician("1000002", kOrgH2,
                     {"--attest-patient", kari, "--purpose", "TREAT", "--attest-authorization", "LE"}),
                     true, false, false, {all("kari")}});
    roles.push_back({"hospital doctor, no attestation", clinician("1000002", kOrgH2), true, false,
                     false, {}});
    roles.push_back({"hospital doctor, expired attestation", clinician("1000002", kOrgH2,
                     {"--attest-patient", kari, "--attest-age", "3700"}), true, false, false, {}});
    roles.push_back({"hospital doctor, attested, sperring", clinician("1000002", kOrgH2,
                     {"--attest-patient", ola, "--purpose", "TREAT"}), true, false, false,
                     {"ola/Patient", "ola/Observation", "ola/MedicationRequest"}});
    roles.push_back({"ward doctor (active Encounter)", clinician("1000007", kOrgH1), true, false,
                     false, {"ola/Patient", "ola/Observation", "ola/MedicationRequest"}});
    roles.push_back({"BTG", clinician("1000002", kOrgH2, {"--attest-patient", ola, "--btg"}), true,
                     false, false, {all("ola")}});
    roles.push_back({"nurse", clinician("1000003", kOrgH2,
                     {"--attest-patient", kari, "--attest-authorization", "SP"}), true, false,
                     false, {all("kari")}});
    roles.push_back({"nurse claiming doctor", clinician("1000003", kOrgH2,
                     {"--attest-patient", kari, "--attest-authorization", "LE"}), true, false,
                     false, {}});
    roles.push_back({"pharmacist", clinician("1000004", kOrgH2), true, false, false, {}});
    roles.push_back({"suspended doctor", clinician("1000006", kOrgH2,
                     {"--attest-patient", kari, "--attest-authorization", "LE"}), true, false,
                     false, {}});
    roles.push_back({"blocked doctor (even BTG)", clinician("1000005", kOrgH2,
                     {"--attest-patient", kari, "--btg"}), true, false, false, {}});
    std::set<std::string> lab, pharmacy, ehr;
    for (const auto& p : kPatients) {
      lab.insert(p + "/Patient");
      lab.insert(p + "/Observation");
      pharmacy.insert(p + "/Patient");
      pharmacy.insert(p + "/MedicationRequest");
      ehr.insert(all(p));
    }
    for (const char* p : {"mor", "venn"}) {
      lab.insert(std::string(p) + "/Patient");
      pharmacy.insert(std::string(p) + "/Patient");
      ehr.insert(std::string(p) + "/Patient");
    }
    roles.push_back({"lab system", system("lab"), false, false, false, lab, true, true});
    roles.push_back({"pharmacy system", system("pharmacy"), false, false, false, pharmacy, true,
                     false});
    roles.push_back({"EHR system", system("ehr"), false, false, true, ehr, true, true});
    return roles;
  }
};

TEST_F(AuthzMatrixTest, EveryRoleSeesExactlyItsRowAndNothingLeaks) {
  int cases = 0, mismatches = 0, leaks = 0;
  std::vector<std::string> all_markers;
  for (const auto& p : std::vector<std::string>{"kari", "ola", "lille", "tenaar", "mor", "venn"}) {
    all_markers.push_back(MarkerOf(p, "Patient"));
  }
  for (const auto& p : kPatients) {
    for (const auto& t : kTypes) {
      if (t != "Patient") all_markers.push_back(MarkerOf(p, t));
    }
  }
  auto marker_allowed = [&](const Role& role, const std::string& marker) {
    for (const auto& p : std::vector<std::string>{"kari", "ola", "lille", "tenaar", "mor", "venn"}) {
      for (const auto& t : kTypes) {
        if (MarkerOf(p, t) == marker) return MaySee(role, p, t);
      }
    }
    return false;
  };
  for (const Role& role : Roles()) {
    SCOPED_TRACE(role.name);
    std::string token = server().Token(role.token_args);
    ASSERT_FALSE(token.empty()) << role.name;
    HttpClient c(server().port(), HttpClient::Auth::kNone);
    const std::pair<std::string, std::string> auth = {"Authorization", "Bearer " + token};
    auto check_leaks = [&](const std::string& what, const HttpResponse& r) {
      for (const auto& m : all_markers) {
        if (r.body.find(m) != std::string::npos && !marker_allowed(role, m)) {
          ++leaks;
          ADD_FAILURE() << role.name << ": " << what << " leaked " << m;
        }
      }
    };
    auto expect = [&](const std::string& what, const HttpResponse& r, bool allowed,
                      const std::string& must_contain) {
      ++cases;
      check_leaks(what, r);
      const bool got = r.status == 200 || r.status == 201;
      if (got != allowed ||
          (allowed && !must_contain.empty() && r.body.find(must_contain) == std::string::npos) ||
          (!allowed && r.status != 403 && r.status != 404)) {
        ++mismatches;
        ADD_FAILURE() << role.name << ": " << what << " expected "
                      << (allowed ? "allowed" : "denied") << ", got " << r.status << " "
                      << r.body.substr(0, 300);
      }
    };
    for (const auto& p : kPatients) {
      for (const auto& t : kTypes) {
        const bool may = MaySee(role, p, t);
        const std::string id = IdOf(p, t);
        const std::string marker = MarkerOf(p, t);
        // read
        HttpResponse read = c.Get("/" + t + "/" + id, {auth});
        expect("read " + t + "/" + id, read, may, marker);
        if (!may && role.person) {
          // Forbidden answers exactly like unknown.
          HttpResponse unknown = c.Get("/" + t + "/no-such-" + id, {auth});
          ++cases;
          if (read.status != unknown.status || IssueCode(read) != IssueCode(unknown)) {
            ++mismatches;
            ADD_FAILURE() << role.name << ": " << t << "/" << id << " answers " << read.status
                          << " " << IssueCode(read) << " but unknown answers " << unknown.status
                          << " " << IssueCode(unknown);
          }
        }
        // search naming the patient, and _total
        const std::string search = t == "Patient" ? "/Patient?_id=" + p
                                                  : "/" + t + "?patient=Patient/" + p;
        expect("search " + search, c.Get(search, {auth}), may, marker);
        HttpResponse total = c.Get(search + "&_total=accurate", {auth});
        expect("_total " + search, total, may, marker);
        if (may && total.status == 200) {
          const json::Value* n = total.json().find("total");
          ++cases;
          if (n == nullptr || n->str() != "1") {
            ++mismatches;
            ADD_FAILURE() << role.name << ": _total for " << search << " is not 1: " << total.body;
          }
        }
        // history and vread of the resource
        expect("history " + id, c.Get("/" + t + "/" + id + "/_history", {auth}), may, marker);
        expect("vread " + id, c.Get("/" + t + "/" + id + "/_history/1", {auth}), may, marker);
      }
      const bool may_patient = MaySee(role, p, "Patient");
      // $everything: allowed when the patient is; the leak scan checks that
      // only the allowed kinds of data came back.
      expect("$everything " + p, c.Get("/Patient/" + p + "/$everything", {auth}), may_patient,
             MarkerOf(p, "Patient"));
      // compartment search
      expect("Patient/" + p + "/Observation", c.Get("/Patient/" + p + "/Observation", {auth}),
             MaySee(role, p, "Observation"), MarkerOf(p, "Observation"));
      // What reaches past the patient: only operator/EHR systems.
      const std::string pid = kPid.at(p);
      expect("_include", c.Get("/Observation?patient=Patient/" + p +
                                   "&_include=Observation:subject", {auth}),
             role.full_reach, MarkerOf(p, "Patient"));
      expect("_revinclude", c.Get("/Patient?_id=" + p + "&_revinclude=Observation:subject",
                                  {auth}),
             role.full_reach, MarkerOf(p, "Observation"));
      expect("chain", c.Get("/Observation?subject:Patient.identifier=" + pid, {auth}),
             role.full_reach, MarkerOf(p, "Observation"));
      expect("_has", c.Get("/Patient?_has:Observation:subject:code:text=MARK-obs-" + p, {auth}),
             role.full_reach, MarkerOf(p, "Patient"));
      // A batch entry reading the patient's data.
      HttpResponse batch = c.Request(
          "POST", "/",
          R"({"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Observation/obs-)" +
              p + R"("}}]})",
          {auth, {"Content-Type", "application/fhir+json"}});
      if (role.person) {
        // A person's batch: each entry decided as the same read alone — the
        // Bundle answers 200, the entry 200 with the data or 404 as unknown.
        const bool may_obs = MaySee(role, p, "Observation");
        ++cases;
        check_leaks("batch entry", batch);
        const json::Value* entries = batch.status == 200 ? batch.json().find("entry") : nullptr;
        const std::string entry_status =
            entries && entries->size() == 1
                ? std::string(entries->array()[0].find("response")->get_string("status"))
                : std::string();
        if (entry_status.rfind(may_obs ? "200" : "404", 0) != 0 ||
            (may_obs && batch.body.find(MarkerOf(p, "Observation")) == std::string::npos)) {
          ++mismatches;
          ADD_FAILURE() << role.name << ": batch entry for " << p << " got " << batch.status
                        << " " << batch.body.substr(0, 300);
        }
      } else {
        expect("batch entry", batch, role.full_reach, MarkerOf(p, "Observation"));
      }
    }
    // Conditional update (searches across patients first).
    HttpResponse cond = c.Request(
        "PUT", "/Observation?identifier=urn:test|cond-" + std::to_string(cases),
        R"({"resourceType":"Observation","status":"final","identifier":[{"system":"urn:test","value":"cond-)" +
            std::to_string(cases) + R"("}],"code":{"text":"new"},"subject":{"reference":"Patient/mor"}})",
        {auth, {"Content-Type", "application/fhir+json"}});
    expect("conditional update", cond, role.conditional_update, "");
    // Registry data.
    expect("registry read", c.Get("/Practitioner/pr-1000001", {auth}), role.registry, "Helse1000001");
  }
  std::printf("[ authz matrix ] %zu roles, %d cases: %d mismatches, %d leaks\n", Roles().size(),
              cases, mismatches, leaks);
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(leaks, 0);
}

// Every route × method, with a clinician without any relationship, a
// citizen without a record and a system of an unknown kind: nothing reaches
// patient data (the server half of
// tests/rest/policy_routes_test.cc).
TEST_F(AuthzMatrixTest, EveryRouteIsDecided) {
  const std::vector<std::string> paths = {
      "/",  "/_history", "/_search", "/$export", "/Observation", "/Observation/_search",
      "/Observation/_history", "/Observation/$validate", "/Observation/obs-kari",
      "/Observation/obs-kari/_history", "/Observation/obs-kari/_history/1",
      "/Patient/kari/$everything", "/Patient/kari/$access-log", "/Patient/kari/Observation",
      "/Patient/kari/*"};
  const std::vector<std::string> methods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
  std::vector<std::string> tokens = {
      server().Token({"--scope", "user/*.cruds", "--as-hpr", "1000002", "--orgnr", kOrgH2}),
      server().Token({"--scope", "patient/*.cruds", "--as-pid", "21030550231"}),
      server().Token({"--scope", "system/*.cruds", "--client-kind", "spaceship"})};
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  int requests = 0;
  for (const auto& token : tokens) {
    for (const auto& path : paths) {
      for (const auto& m : methods) {
        std::string body;
        std::vector<std::pair<std::string, std::string>> h = {{"Authorization", "Bearer " + token}};
        if (m == "POST" || m == "PUT" || m == "PATCH") {
          body = R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/kari"}})";
          h.push_back({"Content-Type", "application/fhir+json"});
        }
        HttpResponse r = c.Request(m, path, body, h);
        ++requests;
        EXPECT_EQ(r.body.find("MARK-obs-kari"), std::string::npos) << m << " " << path;
        EXPECT_EQ(r.body.find("MARKP-kari"), std::string::npos) << m << " " << path;
        // Only $validate answers 200 (it stores nothing and returns no data).
        if (path.find("$validate") == std::string::npos) {
          EXPECT_FALSE(r.status == 200 || r.status == 201)
              << m << " " << path << " " << r.status << " " << r.body.substr(0, 200);
        }
      }
    }
  }
  EXPECT_EQ(requests, 3 * 15 * 6);
}

// The citizen manages their own controls: a blokkering written by the
// citizen holds at once, even against an attested clinician; nobody else
// writes them (runs after the matrix, which it changes).
TEST_F(AuthzMatrixTest, CitizensWriteTheirOwnControlsAndTheyHoldAtOnce) {
  auto consent = [](const std::string& patient, const std::string& hpr) {
    return std::string(R"({"resourceType":"Consent","status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},"category":[{"coding":[{"system":")") +
           kControl + R"(","code":"blokkering"}]}],"patient":{"reference":"Patient/)" + patient +
           R"("},"policyRule":{"text":"grunnmur citizen control"},"provision":{"type":"deny","actor":[{"role":{"text":"blokkert"},"reference":{"identifier":{"system":")" +
           kHprSys + R"(","value":")" + hpr + R"("}}}]}})";
  };
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  auto as = [&](const std::string& who) {
    return std::pair<std::string, std::string>{
        "Authorization",
        "Bearer " + server().Token({"--scope", "patient/*.cruds", "--as-pid", kPid.at(who)})};
  };
  const std::pair<std::string, std::string> json = {"Content-Type", "application/fhir+json"};
  const std::string doctor = server().Token({"--scope", "user/*.rs", "--as-hpr", "1000002",
                                             "--attest-patient", kPid.at("kari")});
  const std::pair<std::string, std::string> doc = {"Authorization", "Bearer " + doctor};
  ASSERT_EQ(c.Get("/Observation/obs-kari", {doc}).status, 200);
  // Not for someone else, not as a parent, not other kinds of data.
  EXPECT_EQ(c.Request("POST", "/Consent", consent("ola", "1000002"), {as("kari"), json}).status, 403);
  EXPECT_EQ(c.Request("POST", "/Consent", consent("lille", "1000002"), {as("mor"), json}).status, 403);
  EXPECT_EQ(c.Request("POST", "/Observation",
                      R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/kari"}})",
                      {as("kari"), json}).status,
            403);
  HttpResponse own = c.Request("POST", "/Consent", consent("kari", "1000002"), {as("kari"), json});
  ASSERT_EQ(own.status, 201) << own.body;
  HttpResponse blocked = c.Get("/Observation/obs-kari", {doc});
  EXPECT_EQ(blocked.status, 404);
  EXPECT_EQ(blocked.body.find("MARK-obs-kari"), std::string::npos);
  EXPECT_EQ(c.Get("/Observation?patient=Patient/kari", {doc}).status, 403);
  // The citizen withdraws it again (delete of their own Consent).
  const std::string id(own.json().get_string("id"));
  EXPECT_EQ(c.Request("DELETE", "/Consent/" + id, "", {as("kari")}).status, 204);
  EXPECT_EQ(c.Get("/Observation/obs-kari", {doc}).status, 200);
}

// ---- Writes by people (issue 5 item 3): batch/transaction, PATCH,
// conditional update/delete, no existence probe, POST _search paging. A
// suite of its own (a fresh server with the same data), so what it writes
// does not change the matrix above.
class AuthzWritesTest : public AuthzMatrixTest {
 protected:
  using Header = std::pair<std::string, std::string>;
  static Header Bearer(const Role& role) {
    return {"Authorization", "Bearer " + server().Token(role.token_args)};
  }
  static Role RoleNamed(const std::string& name) {
    for (const Role& r : Roles()) {
      if (r.name == name) return r;
    }
    ADD_FAILURE() << "no role " << name;
    return {};
  }
  static std::string Obs(const std::string& patient, const std::string& tag,
                         const std::string& extra = "") {
    return R"({"resourceType":"Observation","status":"final","identifier":[{"system":"urn:test:w","value":")" +
           tag + R"("}],"code":{"text":"written"},"subject":{"reference":"Patient/)" + patient +
           R"("})" + extra + "}";
  }
  static std::string Entry(const std::string& full_url, const std::string& resource,
                           const std::string& method, const std::string& url) {
    std::string e = "{";
    if (!full_url.empty()) e += R"("fullUrl":")" + full_url + R"(",)";
    if (!resource.empty()) e += R"("resource":)" + resource + ",";
    return e + R"("request":{"method":")" + method + R"(","url":")" + url + R"("}})";
  }
  static std::string Bundle(const std::string& type, const std::vector<std::string>& entries) {
    std::string b = R"({"resourceType":"Bundle","type":")" + type + R"(","entry":[)";
    for (size_t i = 0; i < entries.size(); ++i) b += (i ? "," : "") + entries[i];
    return b + "]}";
  }
  // How many current Observations carry identifier urn:test:w|tag (operator view).
  int Count(const std::string& tag) {
    HttpResponse r = client().Get("/Observation?identifier=urn:test:w|" + tag + "&_total=accurate");
    EXPECT_EQ(r.status, 200) << r.body;
    const json::Value* t = r.json().find("total");
    return t ? std::atoi(t->str().c_str()) : -1;
  }
  // The patients a person may write Observations for, and one they may not.
  static std::vector<std::string> Writable(const Role& role) {
    std::vector<std::string> out;
    if (role.citizen) return out;  // citizens change only their own consents
    for (const auto& p : kPatients) {
      if (MaySee(role, p, "Observation")) out.push_back(p);
    }
    return out;
  }
  static std::string Forbidden(const Role& role) {
    for (const auto& p : kPatients) {
      if (!MaySee(role, p, "Observation")) return p;
    }
    return "";
  }
  // The citizen's access log: events other than reading the log itself.
  std::vector<json::Value> LogEvents(const std::string& patient) {
    HttpClient c(server().port(), HttpClient::Auth::kNone);
    const std::string token =
        server().Token({"--scope", "patient/*.rs", "--as-pid", kPid.at(patient)});
    HttpResponse r = c.Get("/Patient/" + patient + "/$access-log?_count=500",
                           {{"Authorization", "Bearer " + token}});
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<json::Value> out;
    if (const json::Value* entries = r.json().find("entry")) {
      for (const auto& e : entries->array()) {
        const json::Value* ev = e.find("resource");
        const json::Value* ent = ev ? ev->find("entity") : nullptr;
        if (ent && ent->array()[0].get_string("description") == "AuditEvent") continue;
        out.push_back(*ev);
      }
    }
    return out;
  }
};

const std::pair<std::string, std::string> kFhirJson = {"Content-Type", "application/fhir+json"};

TEST_F(AuthzWritesTest, TransactionsAndBatchesAreDecidedEntryByEntry) {
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  int roles = 0;
  for (const Role& role : Roles()) {
    if (!role.person) continue;
    SCOPED_TRACE(role.name);
    ++roles;
    const auto auth = Bearer(role);
    const std::vector<std::string> writable = Writable(role);
    const std::string forbidden = Forbidden(role);
    const std::string tag = "tx-" + std::to_string(roles);
    if (writable.empty()) {
      // Nothing this role may write: the transaction is refused, nothing written.
      HttpResponse r = c.Request("POST", "/",
                                 Bundle("transaction", {Entry("urn:uuid:" + tag, Obs("kari", tag),
                                                              "POST", "Observation")}),
                                 {auth, kFhirJson});
      EXPECT_EQ(r.status, 403) << r.body;
      EXPECT_EQ(Count(tag), 0);
      continue;
    }
    const std::string p = writable.front();
    // All entries permitted, one referring to another by urn:uuid → written.
    HttpResponse ok = c.Request(
        "POST", "/",
        Bundle("transaction",
               {Entry("urn:uuid:" + tag + "-enc",
                      R"({"resourceType":"Encounter","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/)" +
                          p + R"("}})",
                      "POST", "Encounter"),
                Entry("urn:uuid:" + tag + "-a",
                      Obs(p, tag + "-a", R"(,"encounter":{"reference":"urn:uuid:)" + tag + R"(-enc"})"),
                      "POST", "Observation"),
                Entry("", Obs(p, tag + "-b", R"(,"hasMember":[{"reference":"urn:uuid:)" + tag + R"(-a"}])"),
                      "POST", "Observation")}),
        {auth, kFhirJson});
    EXPECT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(Count(tag + "-a"), 1);
    EXPECT_EQ(Count(tag + "-b"), 1);
    // One entry for a patient the role may not write for → the whole
    // transaction is refused and nothing is written; the answer is the same
    // when that patient does not exist at all.
    auto mixed = [&](const std::string& other, const std::string& suffix) {
      return c.Request("POST", "/",
                       Bundle("transaction",
                              {Entry("", Obs(p, tag + suffix + "-p"), "POST", "Observation"),
                               Entry("", Obs(other, tag + suffix + "-f"), "POST", "Observation")}),
                       {auth, kFhirJson});
    };
    HttpResponse refused = mixed(forbidden, "-x");
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(Count(tag + "-x-p"), 0);
    EXPECT_EQ(Count(tag + "-x-f"), 0);
    HttpResponse nobody = mixed("nobody-" + tag, "-x");
    EXPECT_EQ(nobody.status, 403);
    EXPECT_EQ(refused.body, nobody.body);
    // A new resource attached to a new Patient (urn:uuid) lands in no record
    // the clinician acts for: refused.
    HttpResponse new_patient = c.Request(
        "POST", "/",
        Bundle("transaction",
               {Entry("urn:uuid:" + tag + "-np",
                      R"({"resourceType":"Patient","name":[{"family":"Ny"}]})", "POST", "Patient"),
                Entry("", R"({"resourceType":"Observation","status":"final","identifier":[{"system":"urn:test:w","value":")" +
                              tag + R"(-np"}],"code":{"text":"x"},"subject":{"reference":"urn:uuid:)" +
                              tag + R"(-np"}})",
                      "POST", "Observation")}),
        {auth, kFhirJson});
    EXPECT_EQ(new_patient.status, 403) << new_patient.body;
    EXPECT_EQ(Count(tag + "-np"), 0);
    // Batch: each entry on its own.
    HttpResponse batch = c.Request(
        "POST", "/",
        Bundle("batch", {Entry("", Obs(p, tag + "-c"), "POST", "Observation"),
                         Entry("", Obs(forbidden, tag + "-d"), "POST", "Observation"),
                         Entry("", "", "GET", "Observation/obs-" + forbidden),
                         Entry("", "", "GET", "Observation/obs-" + p)}),
        {auth, kFhirJson});
    ASSERT_EQ(batch.status, 200) << batch.body;
    const json::Value* entries = batch.json().find("entry");
    ASSERT_TRUE(entries && entries->size() == 4) << batch.body;
    std::vector<std::string> statuses;
    for (const auto& e : entries->array()) {
      statuses.emplace_back(e.find("response")->get_string("status").substr(0, 3));
    }
    EXPECT_EQ(statuses, (std::vector<std::string>{"201", "403", "404", "200"}));
    EXPECT_EQ(Count(tag + "-c"), 1);
    EXPECT_EQ(Count(tag + "-d"), 0);
    EXPECT_NE(batch.body.find(MarkerOf(p, "Observation")), std::string::npos);
    EXPECT_EQ(batch.body.find(MarkerOf(forbidden, "Observation")), std::string::npos);
  }
  EXPECT_GE(roles, 10);
  // A citizen's transaction with what the citizen may do alone (an own
  // consent: blocking a clinician who is not in the data).
  const Role citizen = RoleNamed("citizen");
  HttpResponse own = c.Request(
      "POST", "/",
      Bundle("transaction",
             {Entry("", std::string(R"({"resourceType":"Consent","status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},"category":[{"coding":[{"system":")") +
                            kControl + R"(","code":"blokkering"}]}],"patient":{"reference":"Patient/kari"},"policyRule":{"text":"grunnmur citizen control"},"provision":{"type":"deny","actor":[{"role":{"text":"blokkert"},"reference":{"identifier":{"system":")" +
                            kHprSys + R"(","value":"1000009"}}}]}})",
                    "POST", "Consent")}),
      {Bearer(citizen), kFhirJson});
  EXPECT_EQ(own.status, 200) << own.body;
}

TEST_F(AuthzWritesTest, PatchIsDecidedBeforeAndCheckedInsideTheWrite) {
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  ASSERT_EQ(client().Put("/Observation/mv-kari", R"({"resourceType":"Observation","id":"mv-kari","status":"final","code":{"text":"move me"},"subject":{"reference":"Patient/kari"}})").status, 201);
  const std::pair<std::string, std::string> jp = {"Content-Type", "application/json-patch+json"};
  const auto gp = Bearer(RoleNamed("fastlege"));
  // Moving kari's Observation into ola's record: refused, unchanged.
  HttpResponse move = c.Request(
      "PATCH", "/Observation/mv-kari",
      R"([{"op":"replace","path":"/subject/reference","value":"Patient/ola"}])", {gp, jp});
  EXPECT_EQ(move.status, 403) << move.body;
  EXPECT_EQ(IssueCode(move), "GM-AUTH-041");
  HttpResponse after = client().Get("/Observation/mv-kari");
  EXPECT_EQ(after.json().find("subject")->get_string("reference"), "Patient/kari");
  EXPECT_EQ(after.json().find("meta")->get_string("versionId"), "1");
  // Removing it from every record: refused too.
  EXPECT_EQ(c.Request("PATCH", "/Observation/mv-kari", R"([{"op":"remove","path":"/subject"}])",
                      {gp, jp}).status,
            403);
  // A patch within kari's record: allowed.
  HttpResponse fine = c.Request(
      "PATCH", "/Observation/mv-kari",
      R"([{"op":"replace","path":"/status","value":"amended"}])", {gp, jp});
  EXPECT_EQ(fine.status, 200) << fine.body;
  EXPECT_EQ(client().Get("/Observation/mv-kari").json().get_string("status"), "amended");
  // The ward doctor (ola) moving ola's Observation to kari: refused.
  HttpResponse ward = c.Request(
      "PATCH", "/Observation/obs-ola",
      R"([{"op":"replace","path":"/subject/reference","value":"Patient/kari"}])",
      {Bearer(RoleNamed("ward doctor (active Encounter)")), jp});
  EXPECT_EQ(ward.status, 403) << ward.body;
  EXPECT_EQ(client().Get("/Observation/obs-ola").json().find("subject")->get_string("reference"),
            "Patient/ola");
  // PUT moving the resource is refused the same way.
  HttpResponse put = c.Request(
      "PUT", "/Observation/mv-kari",
      R"({"resourceType":"Observation","id":"mv-kari","status":"final","code":{"text":"moved"},"subject":{"reference":"Patient/ola"}})",
      {gp, kFhirJson});
  EXPECT_EQ(put.status, 403) << put.body;
  EXPECT_EQ(client().Get("/Observation/mv-kari").json().find("subject")->get_string("reference"),
            "Patient/kari");
}

TEST_F(AuthzWritesTest, ConditionalWritesNameOnePatientAndStayInItsRecord) {
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  const auto gp = Bearer(RoleNamed("fastlege"));
  // Another patient's Observation with the same identifier: never matched.
  ASSERT_EQ(client().Post("/Observation", Obs("ola", "shared")).status, 201);
  const std::string kari_crit = "/Observation?patient=Patient/kari&identifier=urn:test:w|";
  HttpResponse created = c.Request("PUT", kari_crit + "cu-1", Obs("kari", "cu-1"), {gp, kFhirJson});
  EXPECT_EQ(created.status, 201) << created.body;
  HttpResponse updated = c.Request("PUT", kari_crit + "cu-1", Obs("kari", "cu-1"), {gp, kFhirJson});
  EXPECT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.json().get_string("id"), created.json().get_string("id"));
  EXPECT_EQ(Count("cu-1"), 1);
  HttpResponse confined = c.Request("PUT", kari_crit + "shared", Obs("kari", "shared"), {gp, kFhirJson});
  EXPECT_EQ(confined.status, 201) << confined.body;  // a new one in kari's record
  EXPECT_EQ(Count("shared"), 2);
  EXPECT_EQ(client().Get("/Observation?identifier=urn:test:w|shared&patient=Patient/ola").json()
                .find("entry")->array()[0].find("resource")->find("meta")->get_string("versionId"),
            "1");
  // Naming another patient, none, or several: refused, nothing changed.
  EXPECT_EQ(c.Request("PUT", "/Observation?patient=Patient/ola&identifier=urn:test:w|cu-2",
                      Obs("ola", "cu-2"), {gp, kFhirJson}).status, 403);
  EXPECT_EQ(c.Request("PUT", "/Observation?identifier=urn:test:w|cu-1", Obs("kari", "cu-1"),
                      {gp, kFhirJson}).status, 403);
  EXPECT_EQ(c.Request("PUT", "/Observation?patient=Patient/kari,Patient/ola&identifier=urn:test:w|cu-1",
                      Obs("kari", "cu-1"), {gp, kFhirJson}).status, 403);
  EXPECT_EQ(Count("cu-2"), 0);
  // No match and an id of the client's choosing: refused (no update-as-create).
  std::string with_id = Obs("kari", "cu-3");
  with_id.insert(with_id.find(',') , R"(,"id":"obs-ola")");
  HttpResponse chosen = c.Request("PUT", kari_crit + "cu-3", with_id, {gp, kFhirJson});
  EXPECT_EQ(chosen.status, 403) << chosen.body;
  EXPECT_EQ(Count("cu-3"), 0);
  EXPECT_EQ(client().Get("/Observation/obs-ola").json().find("meta")->get_string("versionId"), "1");
  // Conditional delete.
  EXPECT_EQ(c.Request("DELETE", "/Observation?patient=Patient/ola&identifier=urn:test:w|shared", "",
                      {gp}).status, 403);
  EXPECT_EQ(c.Request("DELETE", "/Observation?identifier=urn:test:w|shared", "", {gp}).status, 403);
  EXPECT_EQ(Count("shared"), 2);
  EXPECT_EQ(c.Request("DELETE", kari_crit + "cu-1", "", {gp}).status, 204);
  EXPECT_EQ(Count("cu-1"), 0);
  EXPECT_EQ(c.Request("DELETE", kari_crit + "shared", "", {gp}).status, 204);
  EXPECT_EQ(Count("shared"), 1);  // ola's is still there
  // The same rules for batch/transaction entries.
  HttpResponse tx = c.Request(
      "POST", "/",
      Bundle("transaction", {Entry("", Obs("kari", "cu-5"), "PUT",
                                   "Observation?patient=Patient/kari&identifier=urn:test:w|cu-5")}),
      {gp, kFhirJson});
  EXPECT_EQ(tx.status, 200) << tx.body;
  EXPECT_EQ(Count("cu-5"), 1);
  HttpResponse batch = c.Request(
      "POST", "/",
      Bundle("batch", {Entry("", "", "DELETE",
                             "Observation?patient=Patient/ola&identifier=urn:test:w|shared"),
                       Entry("", "", "DELETE", "Observation?identifier=urn:test:w|shared"),
                       Entry("", "", "DELETE",
                             "Observation?patient=Patient/kari&identifier=urn:test:w|cu-5")}),
      {gp, kFhirJson});
  ASSERT_EQ(batch.status, 200) << batch.body;
  std::vector<std::string> statuses;
  for (const auto& e : batch.json().find("entry")->array()) {
    statuses.emplace_back(e.find("response")->get_string("status").substr(0, 3));
  }
  EXPECT_EQ(statuses, (std::vector<std::string>{"403", "403", "204"}));
  EXPECT_EQ(Count("shared"), 1);
  EXPECT_EQ(Count("cu-5"), 0);
  // Someone without a relationship with kari: refused.
  EXPECT_EQ(c.Request("PUT", kari_crit + "cu-4", Obs("kari", "cu-4"),
                      {Bearer(RoleNamed("hospital doctor, no attestation")), kFhirJson}).status,
            403);
  EXPECT_EQ(c.Request("DELETE", kari_crit + "shared", "",
                      {Bearer(RoleNamed("blocked doctor (even BTG)"))}).status,
            403);
  EXPECT_EQ(Count("cu-4"), 0);
}

TEST_F(AuthzWritesTest, AnIdInAForbiddenRecordAnswersLikeAnUnknownId) {
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  const std::pair<std::string, std::string> jp = {"Content-Type", "application/json-patch+json"};
  int compared = 0;
  for (const char* name : {"fastlege", "hospital doctor, no attestation", "blocked doctor (even BTG)",
                           "nurse", "citizen", "parent"}) {
    const Role role = RoleNamed(name);
    SCOPED_TRACE(role.name);
    ASSERT_FALSE(MaySee(role, "ola", "Observation"));
    const auto auth = Bearer(role);
    const std::string unknown = "no-such-" + std::to_string(compared);
    auto body = [](const std::string& id) {
      return R"({"resourceType":"Observation","id":")" + id +
             R"(","status":"final","code":{"text":"probe"},"subject":{"reference":"Patient/kari"}})";
    };
    struct Probe {
      std::string method, body;
      std::pair<std::string, std::string> type;
    };
    for (const Probe& probe :
         {Probe{"PUT", "", kFhirJson}, Probe{"DELETE", "", {"X-Probe", "1"}},
          Probe{"PATCH", R"([{"op":"replace","path":"/status","value":"amended"}])", jp}}) {
      auto send = [&](const std::string& id) {
        return c.Request(probe.method, "/Observation/" + id,
                         probe.method == "PUT" ? body(id) : probe.body, {auth, probe.type});
      };
      HttpResponse existing = send("obs-ola");
      HttpResponse missing = send(unknown);
      std::string normalised = missing.body;
      for (size_t at = normalised.find(unknown); at != std::string::npos;
           at = normalised.find(unknown, at)) {
        normalised.replace(at, unknown.size(), "obs-ola");
      }
      EXPECT_EQ(existing.status, 404) << probe.method << " " << existing.body;
      EXPECT_EQ(existing.status, missing.status) << probe.method;
      EXPECT_EQ(existing.body, normalised) << probe.method;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 18);
  // Nothing changed, nothing created.
  EXPECT_EQ(client().Get("/Observation/obs-ola").json().find("meta")->get_string("versionId"), "1");
  EXPECT_EQ(client().Get("/Observation/no-such-0").status, 404);
  // Systems keep update-as-create.
  EXPECT_EQ(client().Put("/Observation/sys-chosen", R"({"resourceType":"Observation","id":"sys-chosen","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/kari"}})").status, 201);
}

TEST_F(AuthzWritesTest, PostSearchNextPageIsDecidedOnTheSealedParametersAndAudited) {
  // Condition: POST Observation/_search is Pasientens prøvesvar's API (own rules).
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(client().Post("/Condition", R"({"resourceType":"Condition","code":{"text":"page"},"subject":{"reference":"Patient/kari"}})").status, 201);
  }
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  const auto gp = Bearer(RoleNamed("fastlege"));
  const std::pair<std::string, std::string> form = {"Content-Type",
                                                    "application/x-www-form-urlencoded"};
  HttpResponse first = c.Request("POST", "/Condition/_search", "patient=Patient/kari&_count=1",
                                 {gp, form});
  ASSERT_EQ(first.status, 200) << first.body;
  std::string next;
  for (const auto& l : first.json().find("link")->array()) {
    if (l.get_string("relation") == "next") next = std::string(l.get_string("url"));
  }
  ASSERT_NE(next.find("_page="), std::string::npos) << first.body;
  next = next.substr(next.find('/', 8));
  const size_t before = LogEvents("kari").size();
  HttpResponse second = c.Get(next, {gp});
  EXPECT_EQ(second.status, 200) << second.body;
  ASSERT_TRUE(second.json().find("entry") != nullptr) << second.body;
  for (const auto& e : second.json().find("entry")->array()) {
    EXPECT_EQ(e.find("resource")->find("subject")->get_string("reference"), "Patient/kari");
  }
  const std::vector<json::Value> log = LogEvents("kari");
  ASSERT_EQ(log.size(), before + 1);
  EXPECT_NE(json::Write(log.front()).find("Helse1000001"), std::string::npos)
      << json::Write(log.front());
  // The token does not carry the first caller's permission: someone without
  // a relationship with kari is refused the same page.
  EXPECT_EQ(c.Get(next, {Bearer(RoleNamed("hospital doctor, no attestation"))}).status, 403);
  // The follow-up page through POST _search (token in the body) works too.
  HttpResponse posted = c.Request("POST", "/Condition/_search",
                                  next.substr(next.find('?') + 1), {gp, form});
  EXPECT_EQ(posted.status, 200) << posted.body;
}

TEST_F(AuthzWritesTest, ABatchIsAuditedPerPatientWithThatPatientsDecision) {
  HttpClient c(server().port(), HttpClient::Auth::kNone);
  const size_t kari_before = LogEvents("kari").size();
  const size_t ola_before = LogEvents("ola").size();
  HttpResponse batch = c.Request(
      "POST", "/",
      Bundle("batch", {Entry("", Obs("kari", "audit-1"), "POST", "Observation"),
                       Entry("", Obs("kari", "audit-2"), "POST", "Observation"),
                       Entry("", "", "GET", "Observation/obs-ola")}),
      {Bearer(RoleNamed("fastlege")), kFhirJson});
  ASSERT_EQ(batch.status, 200) << batch.body;
  const std::vector<json::Value> kari = LogEvents("kari");
  const std::vector<json::Value> ola = LogEvents("ola");
  // kari: allowed (each entry that wrote commits, and is audited, on its own).
  ASSERT_GT(kari.size(), kari_before);
  for (size_t i = 0; i + kari_before < kari.size(); ++i) {
    EXPECT_EQ(kari[i].get_string("outcome"), "0") << json::Write(kari[i]);
  }
  ASSERT_EQ(ola.size(), ola_before + 1);  // ola: the refused read, once, as denied
  EXPECT_NE(ola.front().get_string("outcome"), "0") << json::Write(ola.front());
  EXPECT_NE(json::Write(ola.front()).find("Helse1000001"), std::string::npos);
}

}  // namespace
}  // namespace gm::testing
