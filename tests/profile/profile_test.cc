// Profile validation against the Norwegian base profiles (no-basis 2.2.2):
// the package's examples, and broken copies of them.
#include "profile/profile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "fhir/model.h"

namespace gm::profile {
namespace {

const std::string kPackage = std::string(GM_SHARED_DIR) + "/norway/no-basis-2.2.2";
const std::string kNo = "http://hl7.no/fhir/StructureDefinition/";

json::Value Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  auto v = json::Parse(ss.str());
  EXPECT_TRUE(v.ok()) << path << ": " << v.status().message();
  return v.ok() ? std::move(v).value() : json::Value();
}

json::Value Example(const std::string& name) { return Load(kPackage + "/examples/" + name); }
json::Value Definition(const std::string& name) { return Load(kPackage + "/" + name); }

std::string Describe(const std::vector<Issue>& issues) {
  std::string s;
  for (const Issue& i : issues) s += "  " + i.code + " @ " + i.expression + ": " + i.text + "\n";
  return s;
}

bool HasIssue(const ProfileValidation& v, std::string_view code, std::string_view expression) {
  for (const Issue& i : v.status.issues()) {
    if (i.code == code && i.expression == expression) return true;
  }
  for (const Issue& i : v.warnings) {
    if (i.code == code && i.expression == expression) return true;
  }
  return false;
}

class NoBasis : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = new ProfileRegistry();
    Status st = registry_->LoadDirectory(kPackage);
    ASSERT_TRUE(st.ok()) << Describe(st.issues());
  }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
  }
  static ProfileValidation Check(const json::Value& r, const std::vector<std::string>& extra = {}) {
    return CheckProfiles(r, *registry_, fhir::Model::R4(), extra);
  }
  static ProfileRegistry* registry_;
};
ProfileRegistry* NoBasis::registry_ = nullptr;

TEST_F(NoBasis, LoadsEveryStructureDefinitionOfThePackage) {
  size_t definitions = 0;
  for (const auto& f : std::filesystem::directory_iterator(kPackage)) {
    if (f.path().extension() != ".json") continue;
    if (Load(f.path().string()).get_string("resourceType") == "StructureDefinition") ++definitions;
  }
  EXPECT_EQ(definitions, 35u);
  EXPECT_EQ(registry_->size(), definitions);
  auto patient = registry_->Find(kNo + "no-basis-Patient");
  ASSERT_NE(patient, nullptr);
  EXPECT_EQ(patient->type(), "Patient");
  EXPECT_EQ(patient->version(), "2.0.10");
  EXPECT_EQ(patient->element_count(), 107u);  // every snapshot element compiled
  EXPECT_EQ(registry_->Find(kNo + "no-basis-Patient|2.0.10"), patient);  // the same compiled tree
  EXPECT_EQ(registry_->Find(kNo + "no-basis-Patient|9.9.9"), nullptr);
  auto ext = registry_->Find(kNo + "no-basis-middlename");
  ASSERT_NE(ext, nullptr);
  EXPECT_TRUE(ext->is_extension());
  // Terminology of the package: required bindings are checkable.
  EXPECT_EQ(registry_->ValueSetContains("http://hl7.no/fhir/ValueSet/no-basis-family-relation",
                                        "http://hl7.no/fhir/CodeSystem/no-basis-family-relation",
                                        "far"),
            std::optional<bool>(true));
  EXPECT_EQ(registry_->ValueSetContains("http://hl7.no/fhir/ValueSet/no-basis-family-relation",
                                        "http://hl7.no/fhir/CodeSystem/no-basis-family-relation",
                                        "onkel-bob"),
            std::optional<bool>(false));
  EXPECT_EQ(registry_->ValueSetContains("http://example.org/unknown", "", "x"), std::nullopt);
}

TEST_F(NoBasis, EveryExampleValidatesAgainstItsProfiles) {
  // Examples that claim no profile are validated against the no-basis profile
  // of their type when there is one (Patient-e70f…), else only for their
  // extensions (the two Observations: no-basis has no Observation profile).
  //
  // no-basis-Patient-Espen-Eksempel.json carries the placeholder FNR
  // "210377xxxxx": profile validation alone cannot see that (the FNR slice
  // only requires a value), so it passes here; the write path rejects it by
  // combining this result with gm::no::CheckIdentifiers.
  size_t total = 0, passed = 0, against_profile = 0;
  for (const auto& f : std::filesystem::directory_iterator(kPackage + "/examples")) {
    json::Value r = Load(f.path().string());
    ++total;
    std::vector<std::string> extra;
    const json::Value* meta = r.find("meta");
    bool claims = meta != nullptr && meta->find("profile") != nullptr;
    std::string own = kNo + "no-basis-" + std::string(r.get_string("resourceType"));
    if (!claims && registry_->Find(own) != nullptr) extra.push_back(own);
    if (claims || !extra.empty()) ++against_profile;
    ProfileValidation v = Check(r, extra);
    EXPECT_TRUE(v.status.ok()) << f.path().filename() << "\n" << Describe(v.status.issues());
    if (v.status.ok()) ++passed;
  }
  EXPECT_EQ(total, 14u);
  EXPECT_EQ(against_profile, 12u);
  EXPECT_EQ(passed, total);
  std::printf("[ profile ] no-basis examples: %zu/%zu pass (%zu against a no-basis profile)\n",
              passed, total, against_profile);
}

TEST_F(NoBasis, ProfileInvariantOfSeverityWarning) {
  // no-basis-providedBy-identifier (warning): providedBy should carry an identifier.
  json::Value hs = Example("no-basis-HealthcareService-example.json");
  ASSERT_TRUE(hs["providedBy"].erase("identifier"));
  ProfileValidation v = Check(hs);
  EXPECT_TRUE(v.status.ok()) << Describe(v.status.issues());
  EXPECT_TRUE(HasIssue(v, "GM-PROF-061", "HealthcareService.providedBy"))
      << Describe(v.warnings);
  for (const Issue& i : v.warnings) EXPECT_EQ(i.severity, Severity::kWarning);
}

TEST_F(NoBasis, MissingRequiredElementOfASlice) {
  // The FNR slice requires a value (1..1, base 0..1).
  json::Value p = Example("no-basis-Patient-Jannice-Søreng.json");
  ASSERT_TRUE(p["identifier"].array()[0].erase("value"));
  ProfileValidation v = Check(p);
  ASSERT_FALSE(v.status.ok());
  EXPECT_TRUE(HasIssue(v, "GM-PROF-020", "Patient.identifier[0].value")) << Describe(v.status.issues());
  EXPECT_NE(v.status.issues()[0].text.find("no-basis-Patient"), std::string::npos);
  EXPECT_NE(v.status.issues()[0].text.find("Patient.identifier:FNR.value"), std::string::npos);
}

TEST_F(NoBasis, FixedValueAndRequiredAssignerOfTheHnrSlice) {
  json::Value p = Example("no-basis-Patient-Jannice-Søreng.json");
  auto hnr = json::Parse(
      R"({"type":{"coding":[{"system":"urn:oid:2.16.578.1.12.4.1.1.8327","code":"XYZ"}]},)"
      R"("system":"HNR","value":"12345"})");
  ASSERT_TRUE(hnr.ok());
  p["identifier"].push_back(*hnr);
  ProfileValidation v = Check(p);
  ASSERT_FALSE(v.status.ok());
  EXPECT_TRUE(HasIssue(v, "GM-PROF-023", "Patient.identifier[2].type.coding[0].code"))
      << Describe(v.status.issues());
  EXPECT_TRUE(HasIssue(v, "GM-PROF-020", "Patient.identifier[2].assigner"))
      << Describe(v.status.issues());
  EXPECT_EQ(v.status.issues().size(), 2u) << Describe(v.status.issues());
}

TEST_F(NoBasis, ProhibitedElement) {
  // no-basis-Patient: the citizenship extension is complex; value[x] is 0..0.
  json::Value p = Example("no-basis-Patient-Jannice-Søreng.json");
  p["extension"].array()[0].set("valueString", "NO");
  ProfileValidation v = Check(p);
  ASSERT_FALSE(v.status.ok());
  EXPECT_TRUE(HasIssue(v, "GM-PROF-022", "Patient.extension[0].value.ofType(string)"))
      << Describe(v.status.issues());
}

TEST_F(NoBasis, ExtensionWithTheWrongValueType) {
  // no-basis-address-official takes a boolean.
  json::Value p = Example("no-basis-Patient-Jannice-Søreng.json");
  json::Value& official = p["address"].array()[0]["extension"].array()[1];
  ASSERT_EQ(official.get_string("url"), kNo + "no-basis-address-official");
  official.erase("valueBoolean");
  official.set("valueString", "true");
  ProfileValidation v = Check(p);
  ASSERT_FALSE(v.status.ok());
  EXPECT_TRUE(HasIssue(v, "GM-PROF-040", "Patient.address[0].extension[1].value.ofType(string)"))
      << Describe(v.status.issues());
  // Extensions are checked by url also where no profile is claimed.
  p.erase("meta");
  EXPECT_TRUE(
      HasIssue(Check(p), "GM-PROF-040", "Patient.address[0].extension[1].value.ofType(string)"));
}

TEST_F(NoBasis, ExtensionOnAPrimitiveAndInsideAComplexExtension) {
  json::Value p = Example("no-basis-Patient-Jannice-Søreng.json");
  // _district carries no-basis-municipalitycode (valueCoding).
  json::Value& ext = p["address"].array()[0]["_district"]["extension"].array()[0];
  ext.erase("valueCoding");
  ext.set("valueInteger", 301);
  // no-basis-propertyinformation: the municipality part takes a Coding.
  json::Value& part = p["address"].array()[0]["extension"].array()[0]["extension"].array()[0];
  part.erase("valueCoding");
  part.set("valueString", "0301");
  ProfileValidation v = Check(p);
  ASSERT_FALSE(v.status.ok());
  EXPECT_TRUE(
      HasIssue(v, "GM-PROF-040", "Patient.address[0].district.extension[0].value.ofType(integer)"))
      << Describe(v.status.issues());
  EXPECT_TRUE(HasIssue(v, "GM-PROF-040",
                       "Patient.address[0].extension[0].extension[0].value.ofType(string)"))
      << Describe(v.status.issues());
}

TEST_F(NoBasis, SliceOverItsMax) {
  // no-basis-Address: extension:official is 0..1.
  json::Value p = Example("no-basis-Patient-Jannice-Søreng.json");
  json::Value& exts = p["address"].array()[0]["extension"];
  exts.push_back(exts.array()[1]);
  ProfileValidation v = Check(p);
  ASSERT_FALSE(v.status.ok());
  EXPECT_TRUE(HasIssue(v, "GM-PROF-031", "Patient.address[0].extension[2]"))
      << Describe(v.status.issues());
  // no-basis-middlename is 0..1 by its definition's root: twice on one name.
  json::Value rp = Example("no-basis-RelatedPerson-Ærlend-Sørgård.json");
  json::Value& name_exts = rp["name"].array()[0]["extension"];
  name_exts.push_back(name_exts.array()[0]);
  ProfileValidation w = Check(rp);
  ASSERT_FALSE(w.status.ok());
  EXPECT_TRUE(HasIssue(w, "GM-PROF-041", "RelatedPerson.name[0].extension[1]"))
      << Describe(w.status.issues());
  EXPECT_TRUE(HasIssue(w, "GM-PROF-031", "RelatedPerson.name[0].extension[1]"))
      << Describe(w.status.issues());
}

TEST_F(NoBasis, RequiredBindingOfASlice) {
  // relationship sliced by coding.system; familyRelation binds (required) to
  // the package's no-basis-family-relation value set.
  json::Value rp = Example("no-basis-RelatedPerson-Solid-æresdoktor.json");
  rp["relationship"].array()[0]["coding"].array()[0].set("code", "onkel");
  ProfileValidation v = Check(rp);
  ASSERT_FALSE(v.status.ok());
  EXPECT_TRUE(HasIssue(v, "GM-PROF-050", "RelatedPerson.relationship[0]"))
      << Describe(v.status.issues());
  EXPECT_EQ(v.status.issues().size(), 1u) << Describe(v.status.issues());
}

TEST_F(NoBasis, TypeSlicingOfAChoice) {
  // no-basis-MedicationStatement: medication[x]:medicationReference is 1..1.
  auto ms = json::Parse(R"({"resourceType":"MedicationStatement",
    "meta":{"profile":["http://hl7.no/fhir/StructureDefinition/no-basis-MedicationStatement"]},
    "status":"active","subject":{"reference":"Patient/1"},
    "medicationReference":{"reference":"Medication/1"}})");
  ASSERT_TRUE(ms.ok());
  ProfileValidation ok = Check(*ms);
  EXPECT_TRUE(ok.status.ok()) << Describe(ok.status.issues());
  ms->erase("medicationReference");
  ms->set("medicationCodeableConcept", *json::Parse(R"({"text":"Paracet"})"));
  ProfileValidation v = Check(*ms);
  ASSERT_FALSE(v.status.ok());
  EXPECT_TRUE(HasIssue(v, "GM-PROF-030", "MedicationStatement.medication"))
      << Describe(v.status.issues());
}

TEST_F(NoBasis, ProfileInvariant) {
  // apr-1 (participantType or actor) is a core constraint the snapshot
  // repeats: the structural validator evaluates it, profile validation not again.
  json::Value r = Example("no-basis-AppointmentResponse-example.json");
  ASSERT_TRUE(r.erase("actor"));
  ProfileValidation v = Check(r);
  EXPECT_TRUE(v.status.ok()) << Describe(v.status.issues());
  // inv-1 as published fails every response without the shortnotice
  // extension; it is evaluated as its text says (KnownBrokenProfileInvariants).
  json::Value plain = Example("no-basis-AppointmentResponse-example.json");
  plain.erase("extension");
  ProfileValidation w = Check(plain);
  EXPECT_TRUE(w.status.ok()) << Describe(w.status.issues());
  // ... and still catches what it is meant to: shortnotice with a non-Patient actor.
  json::Value practitioner = Example("no-basis-AppointmentResponse-example.json");
  practitioner["actor"].set("reference", "Practitioner/1");
  practitioner["actor"].set("type", "Practitioner");
  ProfileValidation x = Check(practitioner);
  ASSERT_FALSE(x.status.ok());
  EXPECT_TRUE(HasIssue(x, "GM-PROF-060", "AppointmentResponse")) << Describe(x.status.issues());
}

TEST_F(NoBasis, UnknownAndMismatchedProfiles) {
  json::Value p = Example("no-basis-Patient-Jannice-Søreng.json");
  p["meta"]["profile"].push_back(json::Value("http://example.org/StructureDefinition/nope"));
  ProfileValidation v = Check(p);
  EXPECT_TRUE(v.status.ok()) << Describe(v.status.issues());
  EXPECT_TRUE(HasIssue(v, "GM-PROF-010", "Patient.meta.profile[1]"));
  Status s = ValidateProfiles(p, *registry_, fhir::Model::R4());
  EXPECT_TRUE(s.ok());
  ASSERT_EQ(s.issues().size(), 1u);  // the warning rides along
  EXPECT_EQ(s.issues()[0].severity, Severity::kWarning);

  ProfileValidation e = Check(p, {"http://example.org/StructureDefinition/nope"});
  EXPECT_FALSE(e.status.ok());
  EXPECT_TRUE(HasIssue(e, "GM-PROF-011", "Patient"));

  ProfileValidation m = Check(p, {kNo + "no-basis-Organization"});
  EXPECT_FALSE(m.status.ok());
  EXPECT_TRUE(HasIssue(m, "GM-PROF-012", "Patient"));
}

// A stricter profile derived from no-basis-Patient by editing its snapshot,
// added through Add as a StructureDefinition created through the API would be.
json::Value StrictPatient() {
  json::Value sd = Definition("no-basis-Patient.structuredefinition-profile.json");
  sd.set("url", "http://example.org/StructureDefinition/strict-Patient");
  sd.set("version", "1");
  for (json::Value& e : sd["snapshot"]["element"].array()) {
    std::string id(e.get_string("id"));
    if (id == "Patient.identifier") e["slicing"].set("rules", "closed");
    if (id == "Patient.identifier:FNR") e.set("max", "1");
    if (id == "Patient.telecom") e.set("max", "0");
    if (id == "Patient.gender") e.set("min", 1);
    if (id == "Patient.maritalStatus") {
      e.set("patternCodeableConcept",
            *json::Parse(R"({"coding":[{"system":"http://hl7.no/fhir/CodeSystem/no-basis-marital-status"}]})"));
    }
    if (id == "Patient.generalPractitioner") {
      e["type"].array()[0].set(
          "targetProfile",
          json::Value(json::Array{json::Value(kNo + "no-basis-Practitioner")}));
    }
    if (id == "Patient.communication") e.set("max", "1");
  }
  return sd;
}

TEST_F(NoBasis, DerivedProfileAddedLikeAnApiCreate) {
  ProfileRegistry registry;
  ASSERT_TRUE(registry.LoadDirectory(kPackage).ok());
  Status st = registry.Add(StrictPatient());
  ASSERT_TRUE(st.ok()) << Describe(st.issues());
  ASSERT_NE(registry.Find("http://example.org/StructureDefinition/strict-Patient|1"), nullptr);

  json::Value p = Example("no-basis-Patient-Jannice-Søreng.json");
  p["meta"].set("profile",
                json::Value(json::Array{json::Value("http://example.org/StructureDefinition/strict-Patient")}));
  p["identifier"].push_back(p["identifier"].array()[0]);  // a second FNR
  p.erase("gender");
  p["generalPractitioner"].array()[0].set("reference", "Organization/1");
  ProfileValidation v = CheckProfiles(p, registry, fhir::Model::R4());
  ASSERT_FALSE(v.status.ok());
  const std::string d = Describe(v.status.issues());
  EXPECT_TRUE(HasIssue(v, "GM-PROF-032", "Patient.identifier[1]")) << d;   // closed slicing
  EXPECT_TRUE(HasIssue(v, "GM-PROF-031", "Patient.identifier[2]")) << d;   // FNR 0..1
  EXPECT_TRUE(HasIssue(v, "GM-PROF-022", "Patient.telecom[0]")) << d;      // max 0
  EXPECT_TRUE(HasIssue(v, "GM-PROF-020", "Patient.gender")) << d;          // min 1
  EXPECT_TRUE(HasIssue(v, "GM-PROF-024", "Patient.maritalStatus")) << d;   // pattern
  EXPECT_TRUE(HasIssue(v, "GM-PROF-026", "Patient.generalPractitioner[0]")) << d;
  EXPECT_EQ(v.status.issues().size(), 6u) << d;

  // The same resource fixed up conforms.
  json::Value good = Example("no-basis-Patient-Jannice-Søreng.json");
  good["meta"].set("profile", p["meta"]["profile"]);
  good["identifier"].array().pop_back();
  good.erase("telecom");
  good["maritalStatus"] = *json::Parse(
      R"({"coding":[{"system":"http://hl7.no/fhir/CodeSystem/no-basis-marital-status","code":"ugift"}]})");
  ProfileValidation ok = CheckProfiles(good, registry, fhir::Model::R4());
  EXPECT_TRUE(ok.status.ok()) << Describe(ok.status.issues());

  // Replacing the profile (same url and version) takes effect.
  json::Value relaxed = StrictPatient();
  for (json::Value& e : relaxed["snapshot"]["element"].array()) {
    if (e.get_string("id") == "Patient.telecom") e.set("max", "*");
  }
  ASSERT_TRUE(registry.Add(relaxed).ok());
  EXPECT_EQ(registry.size(), 36u);
  json::Value with_telecom = good;
  with_telecom.set("telecom", p["telecom"]);
  EXPECT_TRUE(CheckProfiles(with_telecom, registry, fhir::Model::R4()).status.ok());
}

TEST(ProfileRegistry, RefusesUnusableStructureDefinitions) {
  ProfileRegistry registry;
  EXPECT_EQ(registry.Add(*json::Parse(R"({"resourceType":"Patient"})")).code(), "GM-PROF-001");
  EXPECT_EQ(registry.Add(*json::Parse(R"({"resourceType":"StructureDefinition",
      "url":"http://x/a","type":"Patient","derivation":"constraint"})")).code(),
            "GM-PROF-002");
  json::Value sd = Definition("no-basis-Patient.structuredefinition-profile.json");
  json::Value spec = sd;
  spec.set("derivation", "specialization");
  EXPECT_EQ(registry.Add(spec).code(), "GM-PROF-003");
  json::Value unknown_type = sd;
  unknown_type.set("type", "Spaceship");
  EXPECT_EQ(registry.Add(unknown_type).code(), "GM-PROF-003");
  json::Value orphan = sd;
  orphan["snapshot"]["element"].array().erase(orphan["snapshot"]["element"].array().begin() + 1,
                                              orphan["snapshot"]["element"].array().begin() + 30);
  Status st = registry.Add(orphan);
  EXPECT_EQ(st.code(), "GM-PROF-004") << st.message();
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_TRUE(registry.Add(sd).ok());
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_EQ(registry.LoadDirectory("/nonexistent/profiles").code(), "GM-PROF-005");
}

TEST_F(NoBasis, ConcurrentValidationWhileProfilesAreAdded) {
  ProfileRegistry registry;
  ASSERT_TRUE(registry.LoadDirectory(kPackage).ok());
  json::Value good = Example("no-basis-Patient-Jannice-Søreng.json");
  json::Value bad = good;
  bad["identifier"].array()[0].erase("value");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (!CheckProfiles(good, registry, fhir::Model::R4()).status.ok()) ++wrong;
        if (CheckProfiles(bad, registry, fhir::Model::R4()).status.ok()) ++wrong;
      }
    });
  }
  json::Value sd = Definition("no-basis-Patient.structuredefinition-profile.json");
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(registry.Add(sd).ok());
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace gm::profile
