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
      expect("batch entry", batch, role.full_reach, MarkerOf(p, "Observation"));
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

}  // namespace
}  // namespace gm::testing
