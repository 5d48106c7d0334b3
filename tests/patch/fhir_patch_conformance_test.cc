// HL7's FHIRPath Patch test cases (../shared/conformance/patch/fhir-patch-tests.xml),
// run from their JSON conversion tests/patch/fhir-patch-tests.json, every case
// its own test: the patched input must equal the expected output, or the
// patch must fail (and leave the input unchanged) where an error is expected.
#include <gtest/gtest.h>

#include <array>
#include <cctype>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/json.h"
#include "patch/fhirpath_patch.h"
#include "tests/patch/fhir_xml.h"

namespace gm::patch {
namespace {

const char* kFixture = GM_SOURCE_DIR "/tests/patch/fhir-patch-tests.json";
const char* kXml = GM_SHARED_DIR "/conformance/patch/fhir-patch-tests.xml";

std::string ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Case {
  std::string name;
  json::Value input;
  json::Value diff;
  json::Value output;  // null when an error is expected
  std::string error;
};

// Cases this implementation does not pass, with the reason (none today).
struct NotPassed {
  const char* name;
  const char* reason;
};
constexpr std::array<NotPassed, 0> kNotPassed{};

std::vector<Case> LoadCases() {
  std::vector<Case> cases;
  auto doc = json::Parse(ReadFile(kFixture));
  if (!doc.ok() || doc->find("cases") == nullptr) return cases;
  for (const json::Value& c : doc->find("cases")->array()) {
    Case k;
    k.name = std::string(c.get_string("name"));
    k.input = *c.find("input");
    k.diff = *c.find("diff");
    if (const json::Value* out = c.find("output")) k.output = *out;
    k.error = std::string(c.get_string("error"));
    cases.push_back(std::move(k));
  }
  return cases;
}

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = LoadCases();
  return cases;
}

std::string TestName(const ::testing::TestParamInfo<size_t>& info) {
  std::string out;
  for (char c : Cases()[info.param].name) {
    out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  }
  return out + "_" + std::to_string(info.param);
}

class FhirPatchConformance : public ::testing::TestWithParam<size_t> {};

TEST_P(FhirPatchConformance, Case) {
  const Case& c = Cases()[GetParam()];
  for (const NotPassed& n : kNotPassed) {
    if (c.name == n.name) GTEST_SKIP() << n.reason;
  }
  json::Value resource = c.input;
  Status st = ApplyFhirPathPatch(c.diff, resource);
  if (!c.error.empty()) {
    EXPECT_FALSE(st.ok()) << "expected an error like: " << c.error;
    EXPECT_EQ(st.category(), ErrorCategory::kUnprocessable) << st.code() << " " << st.message();
    EXPECT_EQ(resource, c.input) << "a failed patch must leave the resource unchanged";
    return;
  }
  ASSERT_TRUE(st.ok()) << st.code() << " " << st.message();
  EXPECT_EQ(resource, c.output) << "got:      " << json::Write(resource)
                                << "\nexpected: " << json::Write(c.output);
}

INSTANTIATE_TEST_SUITE_P(Hl7, FhirPatchConformance, ::testing::Range<size_t>(0, Cases().size()),
                         TestName);

TEST(FhirPatchFixture, HasEveryCaseOfTheXml) {
  auto doc = json::Parse(ReadFile(kFixture));
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  EXPECT_EQ(doc->get_string("source"), testing::kFhirPatchTestsSource);
  EXPECT_EQ(Cases().size(), 33u);
}

// The committed fixture is what the converter makes of the XML today.
TEST(FhirPatchFixture, IsUpToDateWithTheXml) {
  auto fixture = json::Parse(ReadFile(kFixture));
  ASSERT_TRUE(fixture.ok());
  auto converted = testing::ConvertFhirPatchTests(ReadFile(kXml), testing::kFhirPatchTestsSource,
                                                  fhir::Model::R4());
  ASSERT_TRUE(converted.ok()) << converted.status().message();
  EXPECT_EQ(*converted, *fixture);
}

}  // namespace
}  // namespace gm::patch
