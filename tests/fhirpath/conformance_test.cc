// HL7's official FHIRPath test suite for R4 (shared/conformance/fhirpath/
// tests-fhir-r4.xml), every test as its own case. Inputs are the JSON
// versions of the suite's resources. Tests this engine does not pass are
// listed in kSkipped with the reason; the run prints the pass count and the
// skip list.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <pugixml.hpp>
#include <set>
#include <sstream>

#include "fhirpath/fhirpath.h"

namespace gm::fhirpath {
namespace {

const std::string kDir = std::string(GM_SHARED_DIR) + "/conformance/fhirpath";

// Tests not passed, each with the reason.
const std::map<std::string, std::string>& Skipped() {
  static const std::map<std::string, std::string> kSkipped = {};
  return kSkipped;
}

struct Expected {
  std::string type;  // empty when the suite gives none
  std::string text;
};

struct Case {
  std::string name;  // unique gtest name
  std::string suite_name;
  std::string group;
  std::string input;  // JSON file name, empty for none
  std::string expression;
  std::string invalid;  // "", "syntax", "semantic", "execution", "true"
  bool strict = false;
  bool predicate = false;
  bool ordered = true;
  std::vector<Expected> outputs;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.suite_name << ": " << c.expression; }

std::string Sanitize(const std::string& s) {
  std::string r;
  for (char c : s) r.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return r;
}

std::vector<Case> LoadCases() {
  std::vector<Case> cases;
  pugi::xml_document doc;
  pugi::xml_parse_result r = doc.load_file((kDir + "/tests-fhir-r4.xml").c_str());
  if (!r) return cases;
  std::set<std::string> names;
  for (pugi::xml_node group : doc.child("tests").children("group")) {
    for (pugi::xml_node test : group.children("test")) {
      Case c;
      c.suite_name = test.attribute("name").value();
      c.group = group.attribute("name").value();
      std::string input = test.attribute("inputfile").value();
      if (!input.empty()) {
        size_t dot = input.rfind('.');
        c.input = input.substr(0, dot) + ".json";
      }
      pugi::xml_node expr = test.child("expression");
      c.expression = expr.text().get();
      c.invalid = expr.attribute("invalid").value();
      std::string mode = test.attribute("mode").value();
      if (mode.empty()) mode = expr.attribute("mode").value();
      c.strict = mode == "strict";
      c.predicate = std::string(test.attribute("predicate").value()) == "true";
      c.ordered = std::string(test.attribute("ordered").value()) != "false";
      for (pugi::xml_node out : test.children("output")) {
        c.outputs.push_back({out.attribute("type").value(), out.text().get()});
      }
      std::string name = Sanitize(c.suite_name);
      std::string unique = name;
      for (int k = 2; names.count(unique); ++k) unique = name + "_" + std::to_string(k);
      names.insert(unique);
      c.name = unique;
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

const json::Value& Input(const std::string& file) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<json::Value>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[file];
  if (!slot) {
    std::ifstream in(kDir + "/input/" + file);
    std::stringstream ss;
    ss << in.rdbuf();
    auto parsed = json::Parse(ss.str());
    slot = std::make_unique<json::Value>(parsed.ok() ? std::move(parsed).value() : json::Value());
  }
  return *slot;
}

// The suite's type names: FHIR types by name, System types in lower case.
std::string SuiteType(const Item& item) {
  if (item.is_fhir()) return std::string(item.type_name());
  switch (item.kind()) {
    case ValueKind::kBoolean:
      return "boolean";
    case ValueKind::kInteger:
      return "integer";
    case ValueKind::kDecimal:
      return "decimal";
    case ValueKind::kString:
      return "string";
    case ValueKind::kDate:
      return "date";
    case ValueKind::kDateTime:
      return "dateTime";
    case ValueKind::kTime:
      return "time";
    case ValueKind::kQuantity:
      return "Quantity";
    default:
      return "TypeInfo";
  }
}

// The suite's value notation: dates and times as literals (@...), quantities
// as value 'unit', everything else as its string form.
std::string SuiteText(const Item& item) {
  std::string s = item.ToString().value_or("");
  std::string type = SuiteType(item);
  if (type == "date" || type == "dateTime" || type == "instant") return "@" + s;
  if (type == "time") return "@T" + s;
  return s;
}

bool IsDecimalText(const std::string& s) {
  if (s.empty()) return false;
  size_t k = s[0] == '-' ? 1 : 0;
  bool digits = false, dot = false;
  for (; k < s.size(); ++k) {
    if (std::isdigit(static_cast<unsigned char>(s[k]))) {
      digits = true;
    } else if (s[k] == '.' && !dot) {
      dot = true;
    } else {
      return false;
    }
  }
  return digits;
}

// Decimals compare by value and number of decimal places (so "-0.0" is "0.0").
bool SameDecimal(const std::string& a, const std::string& b) {
  if (!IsDecimalText(a) || !IsDecimalText(b)) return false;
  auto places = [](const std::string& s) {
    size_t dot = s.find('.');
    return dot == std::string::npos ? 0 : s.size() - dot - 1;
  };
  if (places(a) != places(b)) return false;
  auto digits = [](const std::string& s) {
    std::string d;
    for (char c : s) {
      if (std::isdigit(static_cast<unsigned char>(c))) d.push_back(c);
    }
    size_t nz = d.find_first_not_of('0');
    return nz == std::string::npos ? std::string() : d.substr(nz);
  };
  std::string da = digits(a), db = digits(b);
  if (da != db) return false;
  return da.empty() || (a[0] == '-') == (b[0] == '-');
}

bool Matches(const Item& item, const Expected& e, std::string& why) {
  std::string type = SuiteType(item);
  std::string text = SuiteText(item);
  if (!e.type.empty() && e.type != type) {
    why = "type " + type + " (" + text + "), expected " + e.type;
    return false;
  }
  bool decimal = type == "decimal" || (item.is_fhir() && item.type_name() == "decimal");
  if (decimal ? SameDecimal(text, e.text) : text == e.text) return true;
  why = "value '" + text + "', expected '" + e.text + "'";
  return false;
}

struct Counts {
  int passed = 0;
  int failed = 0;
  int skipped = 0;
};
Counts& Tally() {
  static Counts c;
  return c;
}

class FhirPathSuite : public ::testing::TestWithParam<Case> {
 protected:
  void TearDown() override {
    if (IsSkipped()) return;
    if (HasFailure()) {
      ++Tally().failed;
    } else {
      ++Tally().passed;
    }
  }
  bool IsSkipped() const {
    return ::testing::UnitTest::GetInstance()->current_test_info()->result()->Skipped();
  }
};

TEST_P(FhirPathSuite, Run) {
  const Case& c = GetParam();
  auto skip = Skipped().find(c.suite_name);
  if (skip != Skipped().end()) {
    ++Tally().skipped;
    GTEST_SKIP() << skip->second;
  }
  const json::Value& input = c.input.empty() ? json::Value() : Input(c.input);
  std::string context_type;
  if (input.is_object()) context_type = std::string(input.get_string("resourceType"));
  CompileOptions copts;
  copts.context_type = context_type;
  copts.strict = c.strict;
  auto compiled = Expression::Compile(c.expression, copts);
  if (!c.invalid.empty()) {
    if (!compiled.ok()) {
      EXPECT_EQ(compiled.status().code().rfind("GM-FP-", 0), 0u) << compiled.status().code();
      return;
    }
    ASSERT_NE(c.invalid, "syntax") << "expected a syntax error for: " << c.expression;
    static const json::Value kNull;
    auto result = compiled->Evaluate(c.input.empty() ? kNull : input);
    ASSERT_FALSE(result.ok()) << "expected an error (" << c.invalid << ") for: " << c.expression
                              << ", got " << json::Write(ToJson(*result));
    EXPECT_EQ(result.status().code().rfind("GM-FP-", 0), 0u);
    return;
  }
  ASSERT_TRUE(compiled.ok()) << compiled.status().message();
  static const json::Value kNull;
  auto result = compiled->Evaluate(c.input.empty() ? kNull : input);
  ASSERT_TRUE(result.ok()) << result.status().message();
  Collection actual = std::move(result).value();
  if (c.predicate) {
    auto b = ToBoolean(actual);
    ASSERT_TRUE(b.ok()) << b.status().message();
    Collection p;
    p.AddBoolean(b->value_or(false));
    actual = p;
  }
  ASSERT_EQ(actual.size(), c.outputs.size())
      << c.expression << "\n  got: " << json::Write(ToJson(actual));
  if (c.ordered) {
    for (size_t k = 0; k < actual.size(); ++k) {
      std::string why;
      EXPECT_TRUE(Matches(actual[k], c.outputs[k], why)) << "item " << k << ": " << why;
    }
  } else {
    std::vector<bool> used(c.outputs.size(), false);
    for (size_t k = 0; k < actual.size(); ++k) {
      bool found = false;
      for (size_t j = 0; j < c.outputs.size() && !found; ++j) {
        std::string why;
        if (!used[j] && Matches(actual[k], c.outputs[j], why)) used[j] = found = true;
      }
      EXPECT_TRUE(found) << "unexpected item " << SuiteText(actual[k]);
    }
  }
}

const std::vector<Case>& AllCases() {
  static const std::vector<Case> cases = LoadCases();
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Official, FhirPathSuite, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

TEST(FhirPathSuiteFile, LoadsEveryTest) {
  // Sanity check of the harness itself: the suite has 937 tests.
  EXPECT_GT(AllCases().size(), 900u);
}

class SummaryPrinter : public ::testing::Environment {
 public:
  void TearDown() override {
    const Counts& c = Tally();
    if (c.passed + c.failed + c.skipped == 0) return;
    std::printf("\nFHIRPath R4 suite: %d passed, %d failed, %d skipped of %zu tests\n", c.passed,
                c.failed, c.skipped, AllCases().size());
    for (const auto& [name, reason] : Skipped()) {
      std::printf("  skipped %s: %s\n", name.c_str(), reason.c_str());
    }
  }
};

const auto* const kSummary = ::testing::AddGlobalTestEnvironment(new SummaryPrinter);

}  // namespace
}  // namespace gm::fhirpath
