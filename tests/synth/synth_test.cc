#include "synth/synth.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "fhir/model.h"
#include "no/check.h"
#include "no/identifiers.h"
#include "profile/profile.h"
#include "validation/invariants.h"

namespace gm::synth {
namespace {

struct Population {
  std::vector<json::Value> registry;
  std::vector<std::vector<json::Value>> citizens;
};

Population Generate(size_t patients, uint64_t seed, bool histories = true) {
  Options o;
  o.patients = patients;
  o.seed = seed;
  o.histories = histories;
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

// The Norwegian base profiles (the ones the synthetic resources claim).
const profile::ProfileRegistry& Profiles() {
  static profile::ProfileRegistry* registry = [] {
    auto* r = new profile::ProfileRegistry();
    Status st = r->LoadDirectory(std::string(GM_SHARED_DIR) + "/norway/no-basis-2.2.2");
    EXPECT_TRUE(st.ok()) << st.message();
    return r;
  }();
  return *registry;
}

std::string Key(const json::Value& r) {
  return std::string(r.get_string("resourceType")) + "/" + std::string(r.get_string("id"));
}

// Every "reference" value anywhere in the resource.
void References(const json::Value& v, std::vector<std::string>& out) {
  if (v.is_object()) {
    for (const auto& [k, child] : v.object()) {
      if (k == "reference" && child.is_string()) out.emplace_back(child.str());
      else References(child, out);
    }
  } else if (v.is_array()) {
    for (const auto& child : v.array()) References(child, out);
  }
}

int AgeOf(const json::Value& patient) {
  // The generator's today is 2026-11-29.
  std::string_view b = patient.get_string("birthDate");
  int y = std::stoi(std::string(b.substr(0, 4))), m = std::stoi(std::string(b.substr(5, 2))),
      d = std::stoi(std::string(b.substr(8, 2)));
  int age = 2026 - y;
  if (m > 11 || (m == 11 && d > 29)) --age;
  return age;
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
    o.patients = 300;
    o.seed = 9;
    o.threads = 1;
    auto c1 = WriteOutput(o, base + "/a", f);
    o.threads = 3;  // histories on three threads: the same bytes
    auto c2 = WriteOutput(o, base + "/b", f);
    ASSERT_TRUE(c1.ok() && c2.ok());
    EXPECT_EQ(c1->patients, 300u);
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
    auto prof = profile::CheckProfiles(r, Profiles(), fhir::Model::R4());
    EXPECT_TRUE(prof.status.ok())
        << type << "/" << r.get_string("id") << ": " << prof.status.message() << " at "
        << (prof.status.issues().empty() ? "" : prof.status.issues()[0].expression);
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
                        "MedicationDispense", "Observation", "Immunization", "ServiceRequest",
                        "Specimen", "DiagnosticReport", "EpisodeOfCare"}) {
    EXPECT_GT(types[t], 0u) << t;
  }
}

TEST(Synth, PersonNumbersValidUniqueAndConsistent) {
  Population p = Generate(2000, 3, /*histories=*/false);
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
  Population p = Generate(3000, 5, /*histories=*/false);
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

// One population, shared by the history tests below.
const Population& Histories() {
  static const Population* p = new Population(Generate(1500, 21));
  return *p;
}

TEST(SynthHistory, EveryReferenceResolvesWithinTheOutput) {
  const Population& p = Histories();
  std::set<std::string> keys;
  for (const auto& r : p.registry) EXPECT_TRUE(keys.insert(Key(r)).second) << Key(r);
  for (const auto& g : p.citizens)
    for (const auto& r : g) EXPECT_TRUE(keys.insert(Key(r)).second) << "duplicate " << Key(r);
  size_t refs = 0;
  auto check = [&](const json::Value& r) {
    std::vector<std::string> out;
    References(r, out);
    for (const std::string& ref : out) {
      ++refs;
      EXPECT_TRUE(keys.count(ref)) << Key(r) << " → " << ref;
    }
  };
  for (const auto& r : p.registry) check(r);
  for (const auto& g : p.citizens)
    for (const auto& r : g) check(r);
  EXPECT_GT(refs, 300000u);
}

TEST(SynthHistory, ResourcesPerCitizenByAge) {
  const Population& p = Histories();
  struct Band {
    const char* name;
    int lo, hi;
    size_t people = 0, resources = 0;
  };
  std::vector<Band> bands = {{"0-17", 0, 17}, {"18-44", 18, 44}, {"45-66", 45, 66},
                             {"67-79", 67, 79}, {"80+", 80, 200}};
  size_t total = 0;
  for (const auto& g : p.citizens) {
    int age = AgeOf(g[0]);
    total += g.size();
    for (Band& b : bands) {
      if (age >= b.lo && age <= b.hi) {
        ++b.people;
        b.resources += g.size();
      }
    }
  }
  double mean = static_cast<double>(total) / static_cast<double>(p.citizens.size());
  std::printf("resources per citizen: %.1f (%zu citizens)\n", mean, p.citizens.size());
  std::vector<double> means;
  for (const Band& b : bands) {
    ASSERT_GT(b.people, 20u) << b.name;
    means.push_back(static_cast<double>(b.resources) / static_cast<double>(b.people));
    std::printf("  %-6s %5zu citizens %7.1f resources each\n", b.name, b.people, means.back());
  }
  // ≈ 100 per citizen (the issue: 100,000 citizens ≈ 10M resources).
  EXPECT_GE(mean, 75.0);
  EXPECT_LE(mean, 130.0);
  // Children have few, the old many.
  EXPECT_LT(means[0], means[1]);
  EXPECT_LT(means[1], means[2]);
  EXPECT_LT(means[2], means[3]);
  EXPECT_LT(means[0] * 4, means[4]);
}

// Reference range and interpretation of a numeric laboratory result agree with its value.
TEST(SynthHistory, LabValuesMostlyNormalAndFlagsConsistent) {
  const Population& p = Histories();
  size_t numeric = 0, normal = 0, high = 0, low = 0;
  std::set<std::string> nlk_codes;
  for (const auto& g : p.citizens) {
    for (const auto& r : g) {
      if (r.get_string("resourceType") != "Observation") continue;
      const json::Value* cat = r.find("category");
      if (cat->array()[0].find("coding")->array()[0].get_string("code") != "laboratory") continue;
      const json::Value& coding = r.find("code")->find("coding")->array()[0];
      // NLK as the NILAR IG and the Svarrapport mapping write it.
      EXPECT_EQ(coding.get_string("system"), "http://ehelse.no/fhir/CodeSystem/no-kodeverk-7280-nlk") << Key(r);
      nlk_codes.insert(std::string(coding.get_string("code")));
      const json::Value* q = r.find("valueQuantity");
      if (q == nullptr) continue;
      ++numeric;
      EXPECT_EQ(q->get_string("system"), "http://unitsofmeasure.org");
      double v = std::stod(q->find("value")->str());
      const json::Value& range = r.find("referenceRange")->array()[0];
      const json::Value* lo = range.find("low");
      const json::Value* hi = range.find("high");
      std::string expected = "N";
      if (lo != nullptr && v < std::stod(lo->find("value")->str())) expected = "L";
      if (hi != nullptr && v > std::stod(hi->find("value")->str())) expected = "H";
      if (q->find("comparator") != nullptr) expected = "N";  // "> 90"
      std::string flag(r.find("interpretation")->array()[0].find("coding")->array()[0].get_string("code"));
      EXPECT_EQ(flag, expected) << Key(r) << " value " << v;
      normal += flag == "N";
      high += flag == "H";
      low += flag == "L";
    }
  }
  ASSERT_GT(numeric, 20000u);
  double share = static_cast<double>(normal) / static_cast<double>(numeric);
  std::printf("lab results: %zu numeric, %.1f%% normal, %zu high, %zu low, %zu NLK codes\n", numeric,
              100 * share, high, low, nlk_codes.size());
  EXPECT_GT(share, 0.7);
  EXPECT_LT(share, 0.97);  // but not all
  EXPECT_GT(high, 0u);
  EXPECT_GT(low, 0u);
  EXPECT_GE(nlk_codes.size(), 20u);
}

// A requisition: ServiceRequest by a role → Specimen → Observations by a
// laboratory, grouped by the DiagnosticReport; microbiology as hasMember.
TEST(SynthHistory, LabRequisitionsAreComplete) {
  const Population& p = Histories();
  std::map<std::string, const json::Value*> orgs;
  for (const auto& r : p.registry)
    if (r.get_string("resourceType") == "Organization") orgs[Key(r)] = &r;
  size_t reports = 0, micro = 0, susceptibilities = 0;
  for (const auto& g : p.citizens) {
    std::map<std::string, const json::Value*> own;
    for (const auto& r : g) own[Key(r)] = &r;
    for (const auto& r : g) {
      if (r.get_string("resourceType") != "DiagnosticReport") continue;
      ++reports;
      std::string sr(r.find("basedOn")->array()[0].get_string("reference"));
      ASSERT_TRUE(own.count(sr)) << sr;
      const json::Value& req = *own[sr];
      EXPECT_EQ(req.find("requester")->get_string("reference").substr(0, 17), "PractitionerRole/");
      std::string lab(r.find("performer")->array()[0].get_string("reference"));
      EXPECT_EQ(req.find("performer")->array()[0].get_string("reference"), lab);
      ASSERT_TRUE(orgs.count(lab)) << lab;
      std::string lab_type(orgs[lab]->find("type")->array()[0].get_string("text"));
      bool is_micro_report = r.find("category")->array()[0].find("coding")->array()[0].get_string("code") == "MB";
      if (is_micro_report) {
        EXPECT_TRUE(lab_type == "Laboratorium" || lab_type == "Avdeling for medisinsk mikrobiologi") << lab_type;
      } else {
        EXPECT_TRUE(lab_type == "Laboratorium" || lab_type == "Avdeling for medisinsk biokjemi") << lab_type;
      }
      for (const auto& s : r.find("specimen")->array()) {
        const json::Value& spm = *own[std::string(s.get_string("reference"))];
        EXPECT_EQ(spm.find("request")->array()[0].get_string("reference"), sr);
      }
      EXPECT_GE(r.find("result")->size(), 1u);
      bool is_micro = r.find("category")->array()[0].find("coding")->array()[0].get_string("code") == "MB";
      micro += is_micro;
      std::vector<std::string> todo;
      for (const auto& res : r.find("result")->array()) todo.emplace_back(res.get_string("reference"));
      for (size_t i = 0; i < todo.size(); ++i) {
        ASSERT_TRUE(own.count(todo[i])) << todo[i];
        const json::Value& obs = *own[todo[i]];
        EXPECT_EQ(obs.find("basedOn")->array()[0].get_string("reference"), sr);
        EXPECT_EQ(obs.find("performer")->array()[0].get_string("reference"), lab);
        if (const json::Value* m = obs.find("hasMember")) {
          for (const auto& x : m->array()) todo.emplace_back(x.get_string("reference"));
        }
        if (is_micro && obs.find("interpretation") != nullptr) ++susceptibilities;
      }
    }
  }
  EXPECT_GT(reports, 3000u);
  EXPECT_GT(micro, 10u);
  EXPECT_GT(susceptibilities, 30u);
}

// The dead have no history after death; nursing homes and hospital stays are consistent.
TEST(SynthHistory, DeathsStaysAndNursingHomesConsistent) {
  const Population& p = Histories();
  size_t dead = 0, residents = 0, stays = 0, died_in_hospital = 0;
  for (const auto& g : p.citizens) {
    const json::Value& pat = g[0];
    std::string deceased(pat.get_string("deceasedDateTime"));
    dead += !deceased.empty();
    for (const auto& r : g) {
      std::string_view type = r.get_string("resourceType");
      std::vector<std::string> times;
      if (type == "Encounter") {
        times.emplace_back(r.find("period")->get_string("end"));
        EXPECT_LE(r.find("period")->get_string("start"), r.find("period")->get_string("end")) << Key(r);
        if (r.find("class")->get_string("code") == "IMP") {
          ++stays;
          ASSERT_NE(r.find("episodeOfCare"), nullptr) << Key(r);
          std::string disp(r.find("hospitalization")->find("dischargeDisposition")->find("coding")
                               ->array()[0].get_string("code"));
          if (disp == "exp") {
            ++died_in_hospital;
            EXPECT_EQ(r.find("period")->get_string("end"), deceased) << Key(r);
          }
        }
      }
      if (type == "Observation") times.emplace_back(r.get_string("effectiveDateTime"));
      if (type == "MedicationDispense") times.emplace_back(r.get_string("whenHandedOver"));
      if (type == "Immunization") times.emplace_back(r.get_string("occurrenceDateTime"));
      if (type == "MedicationRequest" && !deceased.empty()) {
        EXPECT_NE(r.get_string("status"), "active") << Key(r);
      }
      if (type == "EpisodeOfCare" && r.find("type")->array()[0].get_string("text") == "Langtidsopphold i sykehjem") {
        ++residents;
        EXPECT_GE(AgeOf(pat), 78);
        EXPECT_EQ(r.get_string("status"), deceased.empty() ? "active" : "finished");
      }
      if (deceased.empty()) continue;
      for (const std::string& t : times) {
        // Dates and dateTimes (all UTC) compare as text up to their length.
        EXPECT_LE(t, deceased.substr(0, std::max<size_t>(t.size(), 10))) << Key(r);
      }
    }
  }
  EXPECT_GT(dead, 5u);
  EXPECT_GT(residents, 5u);
  EXPECT_GT(stays, 50u);
  EXPECT_GT(died_in_hospital, 0u);
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
