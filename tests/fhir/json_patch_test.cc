#include "fhir/json_patch.h"

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/json.h"

namespace gm::fhir {
namespace {

json::Value ParseOrDie(std::string_view text) {
  Result<json::Value> v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << v.status().message() << " in " << text;
  return v.ok() ? std::move(v).value() : json::Value();
}

// ---- the official cases: conformance/patch/json-patch-tests.json -------------

struct ConformanceCase {
  size_t index = 0;
  std::string name;
  json::Value test;  // {comment, doc, patch, expected | error, disabled?}
  std::string load_error;
};

std::vector<ConformanceCase> LoadConformanceCases() {
  const std::string file = std::string(GM_SHARED_DIR) + "/conformance/patch/json-patch-tests.json";
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  Result<json::Value> all = json::Parse(text.str());
  if (!in || !all.ok() || !all->is_array() || all->empty()) {
    ConformanceCase c;
    c.name = "LoadFile";
    c.load_error = "cannot load " + file + (all.ok() ? "" : ": " + all.status().message());
    return {c};
  }
  std::vector<ConformanceCase> cases;
  for (size_t i = 0; i < all->array().size(); ++i) {
    ConformanceCase c;
    c.index = i;
    c.test = all->array()[i];
    std::string name = "case" + std::to_string(i) + "_";
    for (char ch : c.test.get_string("comment")) {
      if (std::isalnum(static_cast<unsigned char>(ch))) name.push_back(ch);
    }
    c.name = name;
    cases.push_back(std::move(c));
  }
  return cases;
}

class JsonPatchConformanceTest : public ::testing::TestWithParam<ConformanceCase> {};

TEST_P(JsonPatchConformanceTest, Case) {
  const ConformanceCase& c = GetParam();
  ASSERT_TRUE(c.load_error.empty()) << c.load_error;
  const json::Value& t = c.test;
  if (const json::Value* disabled = t.find("disabled");
      disabled && disabled->is_bool() && disabled->as_bool()) {
    GTEST_SKIP() << "disabled in the official suite";
  }
  const json::Value* doc = t.find("doc");
  const json::Value* patch = t.find("patch");
  ASSERT_NE(doc, nullptr);
  ASSERT_NE(patch, nullptr);
  json::Value document = *doc;
  Status status = ApplyJsonPatch(*patch, document);
  SCOPED_TRACE(std::string(t.get_string("comment")));
  if (const json::Value* error = t.find("error")) {
    EXPECT_FALSE(status.ok()) << "expected an error: " << json::Write(*error);
    EXPECT_TRUE(status.code().rfind("GM-PATCH-", 0) == 0) << status.code();
    EXPECT_EQ(json::Write(document), json::Write(*doc)) << "a failed patch changed the document";
  } else {
    ASSERT_TRUE(status.ok()) << status.code() << " " << status.message();
    if (const json::Value* expected = t.find("expected")) {
      EXPECT_TRUE(JsonEqual(document, *expected))
          << "got " << json::Write(document) << "\nwant " << json::Write(*expected);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Official, JsonPatchConformanceTest,
                         ::testing::ValuesIn(LoadConformanceCases()),
                         [](const ::testing::TestParamInfo<ConformanceCase>& info) {
                           return info.param.name;
                         });

// ---- grunnmur's own cases ---------------------------------------------------

struct Case {
  const char* name;
  const char* doc;
  const char* patch;
  const char* expected;  // nullptr when an error is expected
  const char* code;      // expected error code
};

class JsonPatchCaseTest : public ::testing::TestWithParam<Case> {};

TEST_P(JsonPatchCaseTest, Applies) {
  const Case& c = GetParam();
  json::Value doc = ParseOrDie(c.doc);
  json::Value original = doc;
  Status status = ApplyJsonPatch(ParseOrDie(c.patch), doc);
  if (c.expected != nullptr) {
    ASSERT_TRUE(status.ok()) << status.code() << " " << status.message();
    json::Value expected = ParseOrDie(c.expected);
    EXPECT_TRUE(JsonEqual(doc, expected))
        << "got " << json::Write(doc) << "\nwant " << json::Write(expected);
    // Object member order is kept: compare the exact text too.
    EXPECT_EQ(json::Write(doc), json::Write(expected));
  } else {
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.code(), c.code) << status.message();
    EXPECT_EQ(json::Write(doc), json::Write(original));
  }
}

const Case kCases[] = {
    {"AddReplacesExistingMemberInPlace", R"({"a":1,"b":2})",
     R"([{"op":"add","path":"/a","value":3}])", R"({"a":3,"b":2})", nullptr},
    {"AddAppendsWithDash", R"({"a":[1]})", R"([{"op":"add","path":"/a/-","value":2}])",
     R"({"a":[1,2]})", nullptr},
    {"AddAtArrayEnd", R"({"a":[1]})", R"([{"op":"add","path":"/a/1","value":2}])", R"({"a":[1,2]})",
     nullptr},
    {"AddPastArrayEnd", R"({"a":[1]})", R"([{"op":"add","path":"/a/2","value":2}])", nullptr,
     "GM-PATCH-013"},
    {"AddLeadingZeroIndex", R"({"a":[1,2]})", R"([{"op":"add","path":"/a/01","value":2}])", nullptr,
     "GM-PATCH-012"},
    {"AddNegativeIndex", R"({"a":[1,2]})", R"([{"op":"add","path":"/a/-1","value":2}])", nullptr,
     "GM-PATCH-012"},
    {"AddHugeIndex", R"({"a":[1]})",
     R"([{"op":"add","path":"/a/99999999999999999999999","value":2}])", nullptr, "GM-PATCH-013"},
    {"AddToScalarParent", R"({"a":1})", R"([{"op":"add","path":"/a/b","value":2}])", nullptr,
     "GM-PATCH-011"},
    {"AddReplacesRoot", R"({"a":1})", R"([{"op":"add","path":"","value":[1]}])", "[1]", nullptr},
    {"AddEmptyKey", R"({})", R"([{"op":"add","path":"/","value":1}])", R"({"":1})", nullptr},
    {"AddNullValue", R"({})", R"([{"op":"add","path":"/a","value":null}])", R"({"a":null})",
     nullptr},
    {"EscapedTokens", R"({"a/b":{"m~n":1}})", R"([{"op":"replace","path":"/a~1b/m~0n","value":2}])",
     R"({"a/b":{"m~n":2}})", nullptr},
    {"BadEscape", R"({"a":1})", R"([{"op":"remove","path":"/a~2"}])", nullptr, "GM-PATCH-007"},
    {"PointerWithoutSlash", R"({"a":1})", R"([{"op":"remove","path":"a"}])", nullptr,
     "GM-PATCH-007"},
    {"RemoveMissing", R"({"a":1})", R"([{"op":"remove","path":"/b"}])", nullptr, "GM-PATCH-010"},
    {"RemoveDashIndex", R"({"a":[1]})", R"([{"op":"remove","path":"/a/-"}])", nullptr,
     "GM-PATCH-012"},
    {"RemoveOutOfBounds", R"({"a":[1]})", R"([{"op":"remove","path":"/a/1"}])", nullptr,
     "GM-PATCH-013"},
    {"RemoveRoot", R"({"a":1})", R"([{"op":"remove","path":""}])", nullptr, "GM-PATCH-016"},
    {"ReplaceMissing", R"({"a":1})", R"([{"op":"replace","path":"/b","value":1}])", nullptr,
     "GM-PATCH-010"},
    {"ReplaceRoot", R"({"a":1})", R"([{"op":"replace","path":"","value":{"b":2}}])", R"({"b":2})",
     nullptr},
    {"MoveToSameLocation", R"({"a":1})", R"([{"op":"move","from":"/a","path":"/a"}])", R"({"a":1})",
     nullptr},
    {"MoveIntoOwnChild", R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a/b/c"}])",
     nullptr, "GM-PATCH-014"},
    {"MoveFromMissing", R"({"a":1})", R"([{"op":"move","from":"/x","path":"/y"}])", nullptr,
     "GM-PATCH-010"},
    {"MoveWithoutFrom", R"({"a":1})", R"([{"op":"move","path":"/y"}])", nullptr, "GM-PATCH-005"},
    {"MoveBetweenArrays", R"({"a":[1,2],"b":[]})", R"([{"op":"move","from":"/a/0","path":"/b/-"}])",
     R"({"a":[2],"b":[1]})", nullptr},
    {"CopyIsDeep", R"({"a":{"x":1}})",
     R"([{"op":"copy","from":"/a","path":"/b"},{"op":"replace","path":"/b/x","value":2}])",
     R"({"a":{"x":1},"b":{"x":2}})", nullptr},
    {"TestIntegerEqualsDecimal", R"({"n":1})", R"([{"op":"test","path":"/n","value":1.0}])",
     R"({"n":1})", nullptr},
    {"TestExponentForms", R"({"n":100})", R"([{"op":"test","path":"/n","value":1e2}])",
     R"({"n":100})", nullptr},
    {"TestFractionWithExponent", R"({"n":0.015})", R"([{"op":"test","path":"/n","value":15E-3}])",
     R"({"n":0.015})", nullptr},
    {"TestNegativeZero", R"({"n":0})", R"([{"op":"test","path":"/n","value":-0.0}])", R"({"n":0})",
     nullptr},
    {"TestDifferentNumbers", R"({"n":1})", R"([{"op":"test","path":"/n","value":1.0001}])", nullptr,
     "GM-PATCH-015"},
    {"TestSignMatters", R"({"n":1})", R"([{"op":"test","path":"/n","value":-1}])", nullptr,
     "GM-PATCH-015"},
    {"TestObjectOrderIgnored", R"({"o":{"a":1,"b":[1,2]}})",
     R"([{"op":"test","path":"/o","value":{"b":[1,2],"a":1}}])", R"({"o":{"a":1,"b":[1,2]}})",
     nullptr},
    {"TestArrayOrderMatters", R"({"o":[1,2]})", R"([{"op":"test","path":"/o","value":[2,1]}])",
     nullptr, "GM-PATCH-015"},
    {"TestNullVersusMissing", R"({"a":null})", R"([{"op":"test","path":"/b","value":null}])",
     nullptr, "GM-PATCH-010"},
    {"TestWholeDocument", R"({"a":[1]})", R"([{"op":"test","path":"","value":{"a":[1]}}])",
     R"({"a":[1]})", nullptr},
    {"TestWithoutValue", R"({"a":1})", R"([{"op":"test","path":"/a"}])", nullptr, "GM-PATCH-006"},
    {"UnknownOp", R"({"a":1})", R"([{"op":"merge","path":"/a","value":1}])", nullptr,
     "GM-PATCH-003"},
    {"MissingOp", R"({"a":1})", R"([{"path":"/a","value":1}])", nullptr, "GM-PATCH-003"},
    {"MissingPath", R"({"a":1})", R"([{"op":"add","value":1}])", nullptr, "GM-PATCH-004"},
    {"PathNotString", R"({"a":1})", R"([{"op":"add","path":1,"value":1}])", nullptr,
     "GM-PATCH-004"},
    {"OperationNotObject", R"({"a":1})", R"([1])", nullptr, "GM-PATCH-002"},
    {"PatchNotArray", R"({"a":1})", R"({"op":"remove","path":"/a"})", nullptr, "GM-PATCH-001"},
    {"EmptyPatch", R"({"a":1})", R"([])", R"({"a":1})", nullptr},
    {"AtomicOnLaterFailure", R"({"a":1,"b":[1]})",
     R"([{"op":"remove","path":"/a"},{"op":"add","path":"/b/-","value":2},
         {"op":"test","path":"/b/0","value":9}])",
     nullptr, "GM-PATCH-015"},
    {"NumbersKeepTheirText", R"({"a":1.50})", R"([{"op":"add","path":"/b","value":2.500}])",
     R"({"a":1.50,"b":2.500})", nullptr},
};

INSTANTIATE_TEST_SUITE_P(Grunnmur, JsonPatchCaseTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

TEST(JsonPatch, ErrorNamesTheOperationIndex) {
  json::Value doc = ParseOrDie(R"({"a":1})");
  Status status = ApplyJsonPatch(
      ParseOrDie(R"([{"op":"add","path":"/b","value":2},{"op":"remove","path":"/missing"}])"), doc);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.category(), ErrorCategory::kUnprocessable);
  EXPECT_EQ(status.code(), "GM-PATCH-010");
  EXPECT_NE(status.message().find("operation 1"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("\"/missing\""), std::string::npos) << status.message();
  EXPECT_EQ(json::Write(doc), R"({"a":1})");
}

TEST(JsonPatch, MalformedPatchIsInvalidAndDoesNotEchoValues) {
  json::Value doc = ParseOrDie(R"({"a":1})");
  Status status =
      ApplyJsonPatch(ParseOrDie(R"([{"op":"test","path":"/a","value":"01017012345"}])"), doc);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.category(), ErrorCategory::kUnprocessable);
  EXPECT_EQ(status.message().find("01017012345"), std::string::npos) << status.message();

  status = ApplyJsonPatch(ParseOrDie(R"([{"op":"add","path":"x","value":1}])"), doc);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.category(), ErrorCategory::kInvalid);
  EXPECT_EQ(status.code(), "GM-PATCH-007");
  EXPECT_NE(status.message().find("operation 0"), std::string::npos) << status.message();
}

TEST(JsonPatch, ParsesPointers) {
  auto tokens = ParseJsonPointer("/a~1b/~01/-/");
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ(*tokens, (std::vector<std::string>{"a/b", "~1", "-", ""}));
  auto root = ParseJsonPointer("");
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(root->empty());
  EXPECT_FALSE(ParseJsonPointer("~").ok());
  EXPECT_FALSE(ParseJsonPointer("/a~").ok());
}

TEST(JsonPatch, JsonEqualComparesNumbersByValue) {
  EXPECT_TRUE(JsonEqual(json::Value::Number("10"), json::Value::Number("1e1")));
  EXPECT_TRUE(JsonEqual(json::Value::Number("0.10"), json::Value::Number("1E-1")));
  EXPECT_TRUE(JsonEqual(json::Value::Number("-0"), json::Value::Number("0e5")));
  EXPECT_FALSE(JsonEqual(json::Value::Number("10"), json::Value::Number("1e2")));
  EXPECT_FALSE(JsonEqual(json::Value::Number("1"), json::Value("1")));
  EXPECT_FALSE(JsonEqual(json::Value(true), json::Value::Number("1")));
  // Beyond double precision: compared exactly.
  EXPECT_FALSE(
      JsonEqual(json::Value::Number("9007199254740993"), json::Value::Number("9007199254740992")));
}

}  // namespace
}  // namespace gm::fhir
