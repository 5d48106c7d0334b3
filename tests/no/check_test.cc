#include "no/check.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace gm::no {
namespace {

json::Value P(std::string_view text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << v.status().message();
  return v.ok() ? *v : json::Value();
}

TEST(CheckIdentifiers, ValidPatientHasNoIssues) {
  auto r = P(R"({"resourceType":"Patient","identifier":[
      {"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"31129956715"},
      {"system":"http://example.org/mrn","value":"x"}],
    "generalPractitioner":[{"identifier":{"system":"urn:oid:2.16.578.1.12.4.1.2","value":"720"}}]})");
  EXPECT_TRUE(CheckIdentifiers(r).empty());
}

TEST(CheckIdentifiers, InvalidFnrNamesTheElement) {
  auto r = P(R"({"resourceType":"Patient","identifier":[
      {"system":"http://example.org/mrn","value":"x"},
      {"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"31129956716"}]})");
  auto issues = CheckIdentifiers(r);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].code, "GM-NO-001");
  EXPECT_EQ(issues[0].type, "value");
  EXPECT_EQ(issues[0].severity, Severity::kError);
  EXPECT_EQ(issues[0].expression, "Patient.identifier[1].value");
  EXPECT_EQ(issues[0].text.find("31129956716"), std::string::npos);  // never the value
  EXPECT_NE(issues[0].text.find("check digit"), std::string::npos);
}

TEST(CheckIdentifiers, NoBasisPlaceholderExampleFails) {
  std::ifstream in(std::string(GM_SHARED_DIR) +
                   "/norway/no-basis-2.2.2/examples/no-basis-Patient-Espen-Eksempel.json");
  ASSERT_TRUE(in) << "shared example missing";
  std::stringstream ss;
  ss << in.rdbuf();
  auto issues = CheckIdentifiers(P(ss.str()));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].code, "GM-NO-001");
  EXPECT_EQ(issues[0].expression, "Patient.identifier[0].value");
}

TEST(CheckIdentifiers, NestedReferencesContainedAndChoices) {
  auto r = P(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
    "subject":{"identifier":{"system":"urn:oid:2.16.578.1.12.4.1.4.2","value":"12345678901"}},
    "performer":[{"reference":"#o"},
                 {"identifier":{"system":"urn:oid:2.16.578.1.12.4.1.2.101","value":"123456789"}}],
    "extension":[{"url":"http://example.org/x",
                  "valueIdentifier":{"system":"urn:oid:2.16.578.1.12.4.1.4.4","value":"0"}}],
    "contained":[{"resourceType":"Organization","id":"o","identifier":[
       {"system":"urn:oid:2.16.578.1.12.4.1.4.101","value":"123456785"},
       {"system":"urn:oid:2.16.578.1.12.4.1.4.102","value":"abc"}]}]})");
  auto issues = CheckIdentifiers(r);
  ASSERT_EQ(issues.size(), 4u);
  std::map<std::string, std::string> by_expr;
  for (const Issue& i : issues) by_expr[i.expression] = i.code;
  EXPECT_EQ(by_expr["Observation.subject.identifier.value"], "GM-NO-002");
  EXPECT_EQ(by_expr["Observation.performer[1].identifier.value"], "GM-NO-007");  // variant system
  EXPECT_EQ(by_expr["Observation.extension[0].value.ofType(Identifier).value"], "GM-NO-005");
  EXPECT_EQ(by_expr["Observation.contained[0].identifier[1].value"], "GM-NO-008");
}

TEST(CheckIdentifiers, BundleEntriesAndBackboneElements) {
  auto r = P(R"({"resourceType":"Bundle","type":"collection","entry":[
    {"resource":{"resourceType":"Patient","identifier":[
      {"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"31129956715"}],
      "contact":[{"organization":{"identifier":{"system":"urn:oid:2.16.578.1.12.4.1.4.101",
                                                "value":"123456784"}}}]}},
    {"resource":{"resourceType":"Practitioner","identifier":[
      {"system":"urn:oid:2.16.578.1.12.4.1.4.4","value":"9144889"}],
      "qualification":[{"code":{"text":"LE"},"identifier":[
        {"system":"urn:oid:2.16.578.1.12.4.1.2","value":"1.5"}]}]}}]})");
  auto issues = CheckIdentifiers(r);
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].expression, "Bundle.entry[0].resource.contact[0].organization.identifier.value");
  EXPECT_EQ(issues[0].code, "GM-NO-007");
  EXPECT_EQ(issues[1].expression, "Bundle.entry[1].resource.qualification[0].identifier[0].value");
  EXPECT_EQ(issues[1].code, "GM-NO-010");
}

TEST(CheckIdentifiers, HnummerNeedsAssigner) {
  std::optional<std::string> h;
  for (int i = 100; !h; ++i) h = MakePersonNumber(PersonKind::kHnr, 1970, 3, 9, i);
  auto without = P(R"({"resourceType":"Patient","identifier":[{"system":"HNR","value":")" + *h +
                   R"("}]})");
  auto issues = CheckIdentifiers(without);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].code, "GM-NO-011");
  EXPECT_EQ(issues[0].expression, "Patient.identifier[0]");
  auto with = P(R"({"resourceType":"Patient","identifier":[{"system":"HNR","value":")" + *h +
                R"(","assigner":{"display":"Sykehuset"}}]})");
  EXPECT_TRUE(CheckIdentifiers(with).empty());
  auto bad = P(R"({"resourceType":"Patient","identifier":[{"system":"HNR","value":"31129956715",
                  "assigner":{"display":"Sykehuset"}}]})");
  issues = CheckIdentifiers(bad);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].code, "GM-NO-004");
}

TEST(CheckIdentifiers, EveryKindHasItsCode) {
  struct Case {
    const char* system;
    const char* bad;
    const char* code;
  } cases[] = {
      {"urn:oid:2.16.578.1.12.4.1.4.1", "31129956714", "GM-NO-001"},
      {"urn:oid:2.16.578.1.12.4.1.4.2", "31129956715", "GM-NO-002"},
      {"urn:oid:2.16.578.1.12.4.1.4.3", "31129956715", "GM-NO-003"},
      {"urn:oid:2.16.578.1.12.4.1.4.4", "HPR1", "GM-NO-005"},
      {"urn:oid:2.16.578.1.12.4.1.4.5", "1", "GM-NO-006"},
      {"urn:oid:2.16.578.1.12.4.1.4.101", "123456780", "GM-NO-007"},
      {"urn:oid:2.16.578.1.12.4.1.4.102", "0", "GM-NO-008"},
      {"urn:oid:2.16.578.1.12.4.1.4.107", "x", "GM-NO-009"},
      {"urn:oid:2.16.578.1.12.4.1.2", "", "GM-NO-010"},
  };
  for (const Case& c : cases) {
    json::Value r = json::Value::MakeObject();
    r.set("resourceType", "Organization");
    json::Value id = json::Value::MakeObject();
    id.set("system", c.system);
    id.set("value", c.bad);
    r.set("identifier", json::Value(json::Array{id}));
    auto issues = CheckIdentifiers(r);
    ASSERT_EQ(issues.size(), 1u) << c.system;
    EXPECT_EQ(issues[0].code, c.code) << c.system;
  }
}

TEST(Canonicalize, RewritesVariantsOnly) {
  auto r = P(R"({"resourceType":"Organization","identifier":[
      {"system":"urn:oid:2.16.578.1.12.4.1.2.101","value":"123456785"},
      {"system":"http://hl7.no/fhir/NamingSystem/RESHid","value":"102649"},
      {"system":"urn:oid:2.16.578.1.12.4.1.2","value":"720"},
      {"system":"http://example.org","value":"a"}],
    "partOf":{"identifier":{"system":"2.16.578.1.12.4.1.4.101","value":"123456785"}}})");
  EXPECT_EQ(CanonicalizeIdentifierSystems(r), 3u);
  const auto& ids = r.find("identifier")->array();
  EXPECT_EQ(ids[0].get_string("system"), "urn:oid:2.16.578.1.12.4.1.4.101");
  EXPECT_EQ(ids[1].get_string("system"), "urn:oid:2.16.578.1.12.4.1.4.102");
  EXPECT_EQ(ids[2].get_string("system"), "urn:oid:2.16.578.1.12.4.1.2");
  EXPECT_EQ(ids[3].get_string("system"), "http://example.org");
  EXPECT_EQ(r.find("partOf")->find("identifier")->get_string("system"),
            "urn:oid:2.16.578.1.12.4.1.4.101");
  EXPECT_EQ(CanonicalizeIdentifierSystems(r), 0u);
}

}  // namespace
}  // namespace gm::no
