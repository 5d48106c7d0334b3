// HL7's official R4 examples (../shared/conformance/examples-r4/) through the
// real server: each is accepted, stored and read back with the same content
// (apart from the server-assigned id and meta). Two examples break R4 and must
// be refused: bundle-questionnaire.json has 50 items without the required
// Questionnaire.item.linkId (1..1), and codesystem-example.json defines the
// code "chol-mass" twice, against invariant csd-1 (codes SHALL be unique).
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/integration/fixture.h"

namespace gm::testing {
namespace {

class ExamplesTest : public ServerTest {};

json::Value WithoutServerFields(json::Value v) {
  v.erase("id");
  if (json::Value* meta = v.find("meta")) {
    meta->erase("versionId");
    meta->erase("lastUpdated");
    if (meta->empty()) v.erase("meta");
  }
  return v;
}

TEST_F(ExamplesTest, EveryExampleIsStoredAndReadBackUnchanged) {
  std::string dir = std::string(GM_SHARED_DIR) + "/conformance/examples-r4";
  ASSERT_TRUE(std::filesystem::exists(dir)) << dir;
  int total = 0, passed = 0, refused_as_expected = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().extension() != ".json") continue;
    ++total;
    std::ifstream in(f.path());
    std::stringstream ss;
    ss << in.rdbuf();
    json::Value original = *json::Parse(ss.str(), json::ParseOptions{.max_depth = 1024});
    std::string type(original.get_string("resourceType"));
    HttpResponse created = client().Post("/" + type, ss.str());
    if (f.path().filename() == "bundle-questionnaire.json") {
      EXPECT_EQ(created.status, 422) << created.body.substr(0, 300);
      EXPECT_EQ(IssueCode(created), "GM-VAL-012");
      ++refused_as_expected;
      continue;
    }
    if (f.path().filename() == "codesystem-example.json") {
      EXPECT_EQ(created.status, 422) << created.body.substr(0, 300);
      EXPECT_EQ(IssueCode(created), "GM-VAL-040");
      EXPECT_NE(created.body.find("csd-1"), std::string::npos) << created.body.substr(0, 300);
      ++refused_as_expected;
      continue;
    }
    EXPECT_EQ(created.status, 201) << f.path().filename() << ": " << created.body.substr(0, 600);
    if (created.status != 201) continue;
    std::string id(created.json().get_string("id"));
    HttpResponse read = client().Get("/" + type + "/" + id);
    EXPECT_EQ(read.status, 200);
    if (WithoutServerFields(read.json()) == WithoutServerFields(original)) {
      ++passed;
    } else {
      ADD_FAILURE() << f.path().filename() << " changed on the way through the server";
    }
  }
  std::cout << "[ examples-r4 ] stored and read back unchanged: " << passed << "/" << total
            << ", refused as invalid R4: " << refused_as_expected << "\n";
  EXPECT_EQ(total, 72);
  EXPECT_EQ(refused_as_expected, 2);
  EXPECT_EQ(passed, total - refused_as_expected);
}

}  // namespace
}  // namespace gm::testing
