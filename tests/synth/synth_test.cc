#include "synth/synth.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "no/check.h"
#include "no/identifiers.h"
#include "validation/invariants.h"

namespace gm::synth {
namespace {

struct Population {
  std::vector<json::Value> registry;
  std::vector<std::vector<json::Value>> citizens;
};

Population Generate(size_t patients, uint64_t seed) {
  Options o;
  o.patients = patients;
  o.seed = seed;
  Generator gen(o);
  Population p;
  p.registry = gen.Registry();
  Status st = gen.ForEachPatient([&](std::vector<json::Value>& group) {
    p.citizens.push_back(group);
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.message();
  return p;
}

std::string Text(const Population& p) {
  std::string out;
  for (const auto& r : p.registry) out += json::Write(r) + "\n";
  for (const auto& g : p.citizens)
    for (const auto& r : g) out += json::Write(r) + "\n";
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Municipalities, EmbeddedFromSsbClassification) {
  const auto& list = Municipalities();
  EXPECT_EQ(list.size(), 357u);
  bool oslo = false;
  for (const auto& m : list) oslo |= m.code == "0301" && m.name == "Oslo";
  EXPECT_TRUE(oslo);
}

TEST(Synth, SameSeedSameBytesOtherSeedDiffers) {
  std::string a = Text(Generate(150, 42));
  std::string b = Text(Generate(150, 42));
  std::string c = Text(Generate(150, 43));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_GT(a.size(), 10000u);
}

TEST(Synth, FilesAreByteIdenticalForTheSameSeed) {
  namespace fs = std::filesystem;
  std::string base = fs::temp_directory_path().string() + "/gm-synth-test-" + std::to_string(::getpid());
  for (Format f : {Format::kNdjson, Format::kBundles}) {
    Options o;
    o.patients = 60;
    o.seed = 9;
    auto c1 = WriteOutput(o, base + "/a", f);
    auto c2 = WriteOutput(o, base + "/b", f);
    ASSERT_TRUE(c1.ok() && c2.ok());
    EXPECT_EQ(c1->patients, 60u);
    EXPECT_EQ(c1->resources, c2->resources);
    size_t files = 0;
    for (const auto& e : fs::directory_iterator(base + "/a")) {
      ++files;
      EXPECT_EQ(ReadFile(e.path().string()),
                ReadFile(base + "/b/" + e.path().filename().string()))
          << e.path();
    }
    EXPECT_GE(files, f == Format::kNdjson ? 10u : 3u);
    fs::remove_all(base);
  }
}

TEST(Synth, EveryResourcePassesValidationAndIdentifierChecks) {
  Population p = Generate(400, 1);
  size_t n = 0;
  std::map<std::string, size_t> types;
  auto check = [&](const json::Value& r) {
    auto result = validation::ValidateWithInvariants(r);
    std::string type(r.get_string("resourceType"));
    ++types[type];
    EXPECT_TRUE(result.status.ok())
        << type << "/" << r.get_string("id") << ": " << result.status.code() << " "
        << result.status.message() << " at "
        << (result.status.issues().empty() ? "" : result.status.issues()[0].expression);
    auto ids = no::CheckIdentifiers(r);
    EXPECT_TRUE(ids.empty()) << type << "/" << r.get_string("id") << ": " << ids[0].text;
    ++n;
  };
  for (const auto& r : p.registry) check(r);
  for (const auto& g : p.citizens)
    for (const auto& r : g) check(r);
  EXPECT_GT(n, 2000u);
  for (const char* t : {"Patient", "RelatedPerson", "Practitioner", "PractitionerRole",
                        "Organization", "Endpoint", "Location", "HealthcareService", "Encounter",
                        "Condition", "AllergyIntolerance", "MedicationRequest",
                        "MedicationDispense", "Observation", "Immunization"}) {
    EXPECT_GT(types[t], 0u) << t;
  }
}

TEST(Synth, PersonNumbersValidUniqueAndConsistent) {
  Population p = Generate(2000, 3);
  std::set<std::string> seen;
  size_t dnr = 0, fnr = 0;
  auto add = [&](const json::Value& r) {
    for (const json::Value& id : r.find("identifier")->array()) {
      std::string_view sys = id.get_string("system");
      std::string v(id.get_string("value"));
      if (sys == no::systems::kFnr || sys == no::systems::kDnr) {
        bool d = sys == no::systems::kDnr;
        (d ? dnr : fnr)++;
        auto parsed = no::ParsePersonNumber(v, d ? no::PersonKind::kDnr : no::PersonKind::kFnr);
        ASSERT_TRUE(parsed) << v;
        EXPECT_TRUE(parsed->synthetic);
        EXPECT_TRUE(seen.insert(v).second) << "duplicate " << v;
        char date[11];
        std::snprintf(date, sizeof date, "%04d-%02d-%02d", parsed->year, parsed->month, parsed->day);
        EXPECT_EQ(r.get_string("birthDate"), date);
        EXPECT_EQ(r.get_string("gender"), parsed->sex == no::Sex::kFemale ? "female" : "male");
      }
    }
  };
  for (const auto& r : p.registry)
    if (r.get_string("resourceType") == "Practitioner") add(r);
  for (const auto& g : p.citizens) add(g[0]);
  EXPECT_EQ(fnr + dnr, seen.size());
  EXPECT_GT(dnr, 0u);
  EXPECT_GT(fnr, 1900u);
}

TEST(Synth, RegistryAndRelationsAreConsistent) {
  Population p = Generate(3000, 5);
  std::set<std::string> registry_refs;
  std::map<std::string, std::string> hpr_status;
  size_t suspended = 0;
  for (const auto& r : p.registry) {
    registry_refs.insert(std::string(r.get_string("resourceType")) + "/" + std::string(r.get_string("id")));
    if (r.get_string("resourceType") == "Organization") {
      std::set<std::string_view> systems;
      for (const auto& id : r.find("identifier")->array()) systems.insert(id.get_string("system"));
      EXPECT_TRUE(systems.count(no::systems::kOrgnr));
      EXPECT_TRUE(systems.count(no::systems::kHerId));
    }
    if (r.get_string("resourceType") == "Practitioner") {
      const auto& q = r.find("qualification")->array()[0];
      EXPECT_EQ(q.find("code")->find("coding")->array()[0].get_string("system"),
                "urn:oid:2.16.578.1.12.4.1.1.9060");
      std::string status(q.find("extension")->array()[0].get_string("valueCode"));
      suspended += status == "suspended";
    }
  }
  EXPECT_GT(suspended, 0u);
  std::map<std::string, size_t> list_size;
  std::set<std::string> patient_ids, confidential;
  size_t links = 0;
  for (const auto& g : p.citizens) {
    const json::Value& pat = g[0];
    ASSERT_EQ(pat.get_string("resourceType"), "Patient");
    patient_ids.insert(std::string(pat.get_string("id")));
    std::string gp(pat.find("generalPractitioner")->array()[0].get_string("reference"));
    EXPECT_TRUE(registry_refs.count(gp)) << gp;
    ++list_size[gp];
    if (const json::Value* meta = pat.find("meta"); meta->find("security")) {
      confidential.insert(std::string(meta->find("security")->array()[0].get_string("code")));
    }
    if (const json::Value* l = pat.find("link")) links += l->size();
    // Every reference from a citizen's resources resolves to the registry or the citizen's group.
    std::set<std::string> own;
    for (const auto& r : g) own.insert(std::string(r.get_string("resourceType")) + "/" + std::string(r.get_string("id")));
    for (const auto& r : g) {
      std::string text = json::Write(r);
      for (size_t pos = text.find("\"reference\":\""); pos != std::string::npos;
           pos = text.find("\"reference\":\"", pos + 1)) {
        size_t start = pos + 13, end = text.find('"', start);
        std::string ref = text.substr(start, end - start);
        if (ref.rfind("RelatedPerson/", 0) == 0 || ref.rfind("Patient/", 0) == 0) continue;
        EXPECT_TRUE(registry_refs.count(ref) || own.count(ref)) << ref;
      }
    }
  }
  EXPECT_EQ(patient_ids.size(), 3000u);
  EXPECT_EQ(list_size.size(), 3u);  // 3 GPs of ~1,000 patients
  for (const auto& [gp, n] : list_size) {
    EXPECT_GE(n, 900u) << gp;
    EXPECT_LE(n, 1100u) << gp;
  }
  EXPECT_TRUE(confidential.count("R"));
  EXPECT_TRUE(confidential.count("V"));
  EXPECT_GT(links, 100u);
  // Parental responsibility: RelatedPersons name an existing child and a parent.
  size_t related = 0;
  for (const auto& g : p.citizens) {
    for (const auto& r : g) {
      if (r.get_string("resourceType") != "RelatedPerson") continue;
      ++related;
      EXPECT_EQ(r.find("patient")->get_string("reference"), "Patient/" + std::string(g[0].get_string("id")));
      ASSERT_EQ(r.find("relationship")->size(), 2u);
      EXPECT_EQ(r.find("relationship")->array()[1].find("coding")->array()[0].get_string("system"),
                "http://hl7.no/fhir/CodeSystem/no-basis-parental-responsibility");
    }
  }
  EXPECT_GT(related, 100u);
}

TEST(Synth, TransactionBundlePutsAtIds) {
  Population p = Generate(3, 1);
  json::Value b = TransactionBundle(p.citizens[0]);
  EXPECT_EQ(b.get_string("type"), "transaction");
  const auto& e = b.find("entry")->array();
  ASSERT_EQ(e.size(), p.citizens[0].size());
  EXPECT_EQ(e[0].find("request")->get_string("method"), "PUT");
  EXPECT_EQ(e[0].find("request")->get_string("url"), "Patient/p1");
  EXPECT_TRUE(validation::ValidateWithInvariants(b).status.ok());
}

}  // namespace
}  // namespace gm::synth
