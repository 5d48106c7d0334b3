// HL7's official R4 examples (../shared/conformance/examples-r4): each one
// round-trips through the canonical serializer and validates without errors;
// broken variants of them produce exactly the expected issues.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "core/json.h"
#include "fhir/shape.h"
#include "fhir/validator.h"

namespace gm::fhir {
namespace {

namespace fs = std::filesystem;

const char* kExamplesDir = GM_SHARED_DIR "/conformance/examples-r4";

std::vector<fs::path> ExampleFiles() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(kExamplesDir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json::Value Load(const std::string& name) {
  auto v = json::Parse(ReadFile(fs::path(kExamplesDir) / name));
  EXPECT_TRUE(v.ok()) << name;
  return v.ok() ? std::move(v).value() : json::Value();
}

std::string Describe(const std::vector<Issue>& issues) {
  std::string out;
  for (const Issue& i : issues) out += i.code + " " + i.expression + ": " + i.text + "\n";
  return out;
}

// Examples that genuinely violate R4, with the issues they must produce.
struct KnownInvalid {
  const char* file;
  const char* reason;
  size_t issues;
  const char* code;  // every issue has this code
};
constexpr KnownInvalid kKnownInvalid[] = {
    // 50 of its 127 items (type "display") have no linkId; Questionnaire.item.linkId is 1..1.
    {"bundle-questionnaire.json", "Questionnaire.item.linkId missing", 50, "GM-VAL-012"},
};

const KnownInvalid* FindKnownInvalid(const std::string& file) {
  for (const KnownInvalid& k : kKnownInvalid) {
    if (file == k.file) return &k;
  }
  return nullptr;
}

TEST(Examples, AllRoundTripAndValidate) {
  std::vector<fs::path> files = ExampleFiles();
  ASSERT_EQ(files.size(), 72u);
  size_t round_tripped = 0;
  size_t valid = 0;
  for (const fs::path& file : files) {
    std::string name = file.filename().string();
    SCOPED_TRACE(name);
    auto parsed = json::Parse(ReadFile(file));
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    std::string written = Serialize(*parsed);
    auto reparsed = json::Parse(written);
    ASSERT_TRUE(reparsed.ok()) << reparsed.status().message();
    EXPECT_EQ(*reparsed, *parsed);
    EXPECT_TRUE(written.starts_with("{\"resourceType\":"));
    // Canonical order is stable: writing the re-parsed value gives the same bytes.
    EXPECT_EQ(Serialize(*reparsed), written);
    if (*reparsed == *parsed) ++round_tripped;
    std::vector<Issue> issues = Validate(*parsed);
    if (const KnownInvalid* known = FindKnownInvalid(name)) {
      EXPECT_EQ(issues.size(), known->issues) << known->reason;
      for (const Issue& i : issues) EXPECT_EQ(i.code, known->code) << i.expression;
      continue;
    }
    EXPECT_TRUE(issues.empty()) << Describe(issues);
    if (issues.empty()) ++valid;
  }
  std::cout << "[ examples ] round-trip " << round_tripped << "/" << files.size() << ", valid "
            << valid << "/" << files.size() << " (known invalid: " << std::size(kKnownInvalid)
            << ")\n";
  EXPECT_EQ(round_tripped, files.size());
  EXPECT_EQ(valid + std::size(kKnownInvalid), files.size());
}

TEST(Examples, KnownInvalidQuestionnaireLocations) {
  std::vector<Issue> issues = Validate(Load("bundle-questionnaire.json"));
  ASSERT_FALSE(issues.empty());
  EXPECT_EQ(issues[0].expression, "Questionnaire.item[0].item[0].linkId");
  EXPECT_EQ(issues[0].type, "required");
}

// Applies `mutate` to a parsed example and returns "CODE expression" per issue.
std::vector<std::string> Broken(const std::string& file,
                                const std::function<void(json::Value&)>& mutate) {
  json::Value v = Load(file);
  mutate(v);
  std::vector<std::string> out;
  for (const Issue& i : Validate(v)) out.push_back(i.code + " " + i.expression);
  return out;
}

using V = std::vector<std::string>;

json::Value& Name(json::Value& patient, size_t i) { return (*patient.find("name")).array()[i]; }

TEST(Examples, BrokenPatient) {
  const std::string f = "patient-example.json";
  EXPECT_EQ(Broken(f, [](json::Value& p) { p.set("active", "true"); }),
            V{"GM-VAL-009 Patient.active"});
  EXPECT_EQ(Broken(f, [](json::Value& p) { Name(p, 0).set("nickname", "Pete"); }),
            V{"GM-VAL-005 Patient.name[0].nickname"});
  EXPECT_EQ(Broken(f, [](json::Value& p) { p.set("birthDate", "1974-12-32"); }),
            V{"GM-VAL-014 Patient.birthDate"});
  EXPECT_EQ(Broken(f, [](json::Value& p) { p.set("birthDate", "1974-02-29"); }),
            V{"GM-VAL-014 Patient.birthDate"});
  EXPECT_EQ(Broken(f,
                   [](json::Value& p) {
                     json::Value companion = json::Value::MakeArray();
                     companion.push_back(json::Value());
                     Name(p, 0).set("_given", std::move(companion));
                   }),
            V{"GM-VAL-015 Patient.name[0].given"});
  EXPECT_EQ(Broken(f,
                   [](json::Value& p) {
                     (*p.find("contact")).array()[0].set("name", json::Value::MakeObject());
                   }),
            V{"GM-VAL-018 Patient.contact[0].name"});
  EXPECT_EQ(Broken(f, [](json::Value& p) { p.set("gender", "mannlig"); }),
            V{"GM-VAL-028 Patient.gender"});
  EXPECT_EQ(Broken(f,
                   [](json::Value& p) {
                     json::Value telecom = (*p.find("telecom")).array()[0];
                     p.set("telecom", std::move(telecom));
                   }),
            V{"GM-VAL-007 Patient.telecom"});
  EXPECT_EQ(Broken(f,
                   [](json::Value& p) {
                     (*(*p.find("_birthDate")).find("extension")).array()[0].erase("url");
                   }),
            V{"GM-VAL-012 Patient.birthDate.extension[0].url"});
  EXPECT_EQ(Broken(f, [](json::Value& p) { p.set("deceasedDateTime", "2015-02-07T13:28:17Z"); }),
            V{"GM-VAL-010 Patient.deceased"});
  EXPECT_EQ(Broken(f, [](json::Value& p) { Name(p, 1).set("given", json::Value::MakeArray()); }),
            V{"GM-VAL-019 Patient.name[1].given"});
  EXPECT_EQ(Broken(f, [](json::Value& p) { p.set("id", ""); }), V{"GM-VAL-020 Patient.id"});
}

TEST(Examples, BrokenObservation) {
  const std::string f = "observation-example.json";
  EXPECT_EQ(Broken(f, [](json::Value& o) { o.erase("status"); }),
            V{"GM-VAL-012 Observation.status"});
  EXPECT_EQ(Broken(f, [](json::Value& o) { o.erase("code"); }), V{"GM-VAL-012 Observation.code"});
  EXPECT_EQ(Broken(f, [](json::Value& o) { o.set("valueString", "185 lbs"); }),
            V{"GM-VAL-010 Observation.value"});
  EXPECT_EQ(Broken(f, [](json::Value& o) { (*o.find("valueQuantity")).set("value", "185"); }),
            V{"GM-VAL-009 Observation.value.ofType(Quantity).value"});
  EXPECT_EQ(Broken(f, [](json::Value& o) { o.set("effectiveDateTime", "2016-03-28T09:30"); }),
            V{"GM-VAL-014 Observation.effective.ofType(dateTime)"});
  EXPECT_EQ(Broken(f, [](json::Value& o) { o.set("status", "done"); }),
            V{"GM-VAL-028 Observation.status"});
}

TEST(Examples, BrokenNestedResources) {
  EXPECT_EQ(Broken("diagnosticreport-example.json",
                   [](json::Value& b) {
                     (*(*b.find("entry")).array()[1].find("resource")).erase("status");
                   }),
            V{"GM-VAL-012 Bundle.entry[1].resource.status"});
  EXPECT_EQ(Broken("medicationrequest0301.json",
                   [](json::Value& m) {
                     json::Value meta = json::Value::MakeObject();
                     meta.set("versionId", "3");
                     (*m.find("contained")).array()[0].set("meta", std::move(meta));
                   }),
            V{"GM-VAL-025 MedicationRequest.contained[0].meta"});
  EXPECT_EQ(Broken("questionnaire-example.json",
                   [](json::Value& q) {
                     (*(*q.find("item")).array()[0].find("item")).array()[0].erase("linkId");
                   }),
            V{"GM-VAL-012 Questionnaire.item[0].item[0].linkId"});
}

}  // namespace
}  // namespace gm::fhir
