#include "core/json.h"

#include <gtest/gtest.h>

namespace gm::json {
namespace {

TEST(JsonParse, KeepsExactDecimalText) {
  auto v = Parse(R"({"a":1.50,"b":-0.0,"c":1e-7,"d":100})");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->find("a")->str(), "1.50");
  EXPECT_EQ(v->find("b")->str(), "-0.0");
  EXPECT_EQ(v->find("c")->str(), "1e-7");
  EXPECT_EQ(Write(*v), R"({"a":1.50,"b":-0.0,"c":1e-7,"d":100})");
}

TEST(JsonParse, KeepsMemberOrderAndUnicode) {
  auto v = Parse(R"({"z":"Sørgård","a":[null,true,false,"\u00e6\n"]})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->object()[0].first, "z");
  EXPECT_EQ(v->find("z")->str(), "Sørgård");
  EXPECT_EQ(Write(*v), R"({"z":"Sørgård","a":[null,true,false,"æ\n"]})");
}

TEST(JsonParse, RejectsDuplicateKeys) {
  auto v = Parse(R"({"a":1,"a":2})");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), "GM-JSON-004");
}

TEST(JsonParse, RejectsInvalidUtf8) {
  std::string s = "{\"a\":\"\xff\xfe\"}";
  auto v = Parse(s);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), "GM-JSON-002");
}

TEST(JsonParse, RejectsDeepNesting) {
  std::string s(10000, '[');
  s += std::string(10000, ']');
  auto v = Parse(s);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), "GM-JSON-003");
  std::string ok(100, '[');
  ok += std::string(100, ']');
  EXPECT_TRUE(Parse(ok).ok());
}

TEST(JsonParse, RejectsMalformed) {
  for (const char* bad : {"", "{", "{\"a\":}", "{\"a\":01}", "{\"a\":1.}", "[1,]", "{} {}",
                          "{\"a\":tru}", "{'a':1}", "{\"a\":\"\\x\"}", "nul", "{\"a\":1,}"}) {
    auto v = Parse(bad);
    EXPECT_FALSE(v.ok()) << "accepted: " << bad;
    if (!v.ok()) {
      EXPECT_EQ(v.status().category(), ErrorCategory::kInvalid);
    }
  }
}

TEST(JsonParse, ScalarsAtRoot) {
  auto v = Parse(" 42 ");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->str(), "42");
  auto s = Parse("\"x\"");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->str(), "x");
}

TEST(JsonValue, EqualityIgnoresMemberOrder) {
  auto a = Parse(R"({"x":1,"y":[1,2]})");
  auto b = Parse(R"({"y":[1,2],"x":1})");
  auto c = Parse(R"({"y":[2,1],"x":1})");
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
}

TEST(JsonWrite, EscapesControlCharacters) {
  Value v(std::string("a\"b\\c\x01"));
  EXPECT_EQ(Write(v), "\"a\\\"b\\\\c\\u0001\"");
}

TEST(JsonWrite, Pretty) {
  auto v = Parse(R"({"a":[1,{"b":null}],"c":{}})");
  EXPECT_EQ(Write(*v, {.pretty = true}),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": {}\n}");
}

TEST(JsonValue, SetEraseFind) {
  Value v = Value::MakeObject();
  v.set("resourceType", "Patient");
  v["id"] = "p1";
  v.set("id", "p2");
  EXPECT_EQ(v.get_string("id"), "p2");
  EXPECT_EQ(v.size(), 2u);
  EXPECT_TRUE(v.erase("id"));
  EXPECT_EQ(v.find("id"), nullptr);
}

}  // namespace
}  // namespace gm::json
