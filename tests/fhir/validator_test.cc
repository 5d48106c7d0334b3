#include "fhir/validator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/json.h"

namespace gm::fhir {
namespace {

json::Value ParseOrDie(std::string_view text) {
  auto v = json::Parse(text, json::ParseOptions{.max_depth = 1000});
  EXPECT_TRUE(v.ok()) << v.status().message() << "\n" << text.substr(0, 200);
  return v.ok() ? std::move(v).value() : json::Value();
}

// "CODE expression" per issue, in the validator's order.
std::vector<std::string> Codes(std::string_view text, const ValidateOptions& options = {}) {
  std::vector<std::string> out;
  for (const Issue& i : Validate(ParseOrDie(text), options)) {
    out.push_back(i.code + " " + i.expression);
  }
  return out;
}

using V = std::vector<std::string>;

TEST(Validator, MinimalResourcesAreValid) {
  EXPECT_EQ(Codes(R"({"resourceType":"Patient"})"), V{});
  EXPECT_EQ(Codes(R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})"), V{});
  EXPECT_EQ(Codes(R"({"resourceType":"Bundle","type":"collection"})"), V{});
  EXPECT_EQ(Codes(R"({"resourceType":"Binary","contentType":"text/plain","data":"QUJD"})"), V{});
}

TEST(Validator, IssueCarriesAllFields) {
  std::vector<Issue> issues = Validate(ParseOrDie(R"({"resourceType":"Patient","gender":7})"));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].severity, Severity::kError);
  EXPECT_EQ(issues[0].type, "structure");
  EXPECT_EQ(issues[0].code, "GM-VAL-009");
  EXPECT_EQ(issues[0].text, "Element 'gender' (code) must be a JSON string, found number");
  EXPECT_EQ(issues[0].expression, "Patient.gender");
}

TEST(Validator, ResourceType) {
  EXPECT_EQ(Codes("[]"), V{"GM-VAL-001 "});
  EXPECT_EQ(Codes(R"("Patient")"), V{"GM-VAL-001 "});
  EXPECT_EQ(Codes("{}"), V{"GM-VAL-002 "});
  EXPECT_EQ(Codes(R"({"id":"x"})"), V{"GM-VAL-002 "});
  EXPECT_EQ(Codes(R"({"resourceType":1})"), V{"GM-VAL-002 "});
  EXPECT_EQ(Codes(R"({"resourceType":"Foo"})"), V{"GM-VAL-003 "});
  EXPECT_EQ(Codes(R"({"resourceType":"patient"})"), V{"GM-VAL-003 "});
  EXPECT_EQ(Codes(R"({"resourceType":"HumanName"})"), V{"GM-VAL-003 "});
  EXPECT_EQ(Codes(R"({"resourceType":"DomainResource"})"), V{"GM-VAL-004 "});
  EXPECT_EQ(Codes(R"({"resourceType":"Resource"})"), V{"GM-VAL-004 "});
}

TEST(Validator, UnknownElements) {
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","foo":1})"), V{"GM-VAL-005 Patient.foo"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[{"family":"x","foo":true}]})"),
            V{"GM-VAL-005 Patient.name[0].foo"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","_foo":{"id":"x"}})"), V{"GM-VAL-005 Patient._foo"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[{"resourceType":"Patient"}]})"),
            V{"GM-VAL-005 Patient.name[0].resourceType"});
  // Names that are not FHIRPath identifiers are delimited.
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","a b":1})"), V{"GM-VAL-005 Patient.`a b`"});
  // Medplum's additions to Meta are not R4.
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","meta":{"project":"x"}})"),
            V{"GM-VAL-005 Patient.meta.project"});
  // Member names match exactly.
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","Gender":"male"})"), V{"GM-VAL-005 Patient.Gender"});
}

TEST(Validator, UnknownElementTextIsTruncated) {
  std::string name(500, 'x');
  std::vector<Issue> issues =
      Validate(ParseOrDie(R"({"resourceType":"Patient",")" + name + R"(":1})"));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].code, "GM-VAL-005");
  EXPECT_LT(issues[0].text.size(), 80u);
  EXPECT_LT(issues[0].expression.size(), 80u);
}

TEST(Validator, CompanionsOnlyForPrimitives) {
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","_name":[{"id":"a"}]})"),
            V{"GM-VAL-006 Patient._name"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","_id":{"extension":[]}})"),
            V{"GM-VAL-006 Patient._id"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","extension":[{"url":"http://x","_url":{"id":"a"},)"
                  R"("valueString":"v"}]})"),
            V{"GM-VAL-006 Patient.extension[0]._url"});
  EXPECT_EQ(Codes(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},)"
                  R"("_valueQuantity":{"id":"a"}})"),
            V{"GM-VAL-006 Observation._valueQuantity"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[{"_id":{"id":"x"},"text":"a"}]})"),
            V{"GM-VAL-006 Patient.name[0]._id"});
}

TEST(Validator, ArrayShape) {
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":{"family":"x"}})"),
            V{"GM-VAL-007 Patient.name"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[{"given":"x"}]})"),
            V{"GM-VAL-007 Patient.name[0].given"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[{"given":["x"],"_given":{"id":"a"}}]})"),
            V{"GM-VAL-007 Patient.name[0].given"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","birthDate":["2000"]})"),
            V{"GM-VAL-008 Patient.birthDate"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","maritalStatus":[{"text":"x"}]})"),
            V{"GM-VAL-008 Patient.maritalStatus"});
}

TEST(Validator, JsonKinds) {
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","active":"true"})"), V{"GM-VAL-009 Patient.active"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","active":1})"), V{"GM-VAL-009 Patient.active"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","birthDate":2000})"),
            V{"GM-VAL-009 Patient.birthDate"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":["Ola"]})"), V{"GM-VAL-009 Patient.name[0]"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","maritalStatus":"M"})"),
            V{"GM-VAL-009 Patient.maritalStatus"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","multipleBirthInteger":"2"})"),
            V{"GM-VAL-009 Patient.multipleBirth.ofType(integer)"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","_birthDate":"x"})"),
            V{"GM-VAL-009 Patient.birthDate"});
  EXPECT_EQ(Codes(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},)"
                  R"("valueQuantity":{"value":"1.5"}})"),
            V{"GM-VAL-009 Observation.value.ofType(Quantity).value"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","contained":["x"]})"),
            V{"GM-VAL-009 Patient.contained[0]"});
}

TEST(Validator, ChoiceElements) {
  const std::string obs = R"({"resourceType":"Observation","status":"final","code":{"text":"x"},)";
  EXPECT_EQ(Codes(obs + R"("valueString":"a"})"), V{});
  EXPECT_EQ(Codes(obs + R"("valueString":"a","valueBoolean":true})"),
            V{"GM-VAL-010 Observation.value"});
  EXPECT_EQ(Codes(obs + R"("valueString":"a","_valueBoolean":{"id":"x"}})"),
            V{"GM-VAL-010 Observation.value"});
  EXPECT_EQ(Codes(obs + R"("valueString":"a","_valueString":{"id":"x"}})"), V{});
  EXPECT_EQ(Codes(obs + R"("valueFoo":1})"), V{"GM-VAL-011 Observation.value"});
  EXPECT_EQ(Codes(obs + R"("valueAge":{"value":1}})"), V{"GM-VAL-011 Observation.value"});
  EXPECT_EQ(Codes(obs + R"("value":1})"), V{"GM-VAL-005 Observation.value"});
  EXPECT_EQ(Codes(obs + R"("valuestring":"a"})"), V{"GM-VAL-005 Observation.valuestring"});
  EXPECT_EQ(Codes(obs + R"("effectiveDateTime":"2024-13"})"),
            V{"GM-VAL-014 Observation.effective.ofType(dateTime)"});
}

TEST(Validator, Cardinality) {
  EXPECT_EQ(Codes(R"({"resourceType":"Observation"})"),
            (V{"GM-VAL-012 Observation.status", "GM-VAL-012 Observation.code"}));
  EXPECT_EQ(Codes(R"({"resourceType":"Observation","code":{"text":"x"}})"),
            V{"GM-VAL-012 Observation.status"});
  // Required nested elements, inline backbone elements, choice elements.
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","link":[{"type":"seealso"}]})"),
            V{"GM-VAL-012 Patient.link[0].other"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","text":{"status":"generated"}})"),
            V{"GM-VAL-012 Patient.text.`div`"});
  EXPECT_EQ(Codes(R"({"resourceType":"Bundle"})"), V{"GM-VAL-012 Bundle.type"});
  EXPECT_EQ(Codes(R"({"resourceType":"Task","status":"draft","intent":"order",)"
                  R"("input":[{"type":{"text":"x"}}]})"),
            V{"GM-VAL-012 Task.input[0].value"});
  // xhtml allows no extensions (max 0).
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","text":{"status":"generated",)"
                  R"("div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>",)"
                  R"("_div":{"extension":[{"url":"http://x","valueString":"y"}]}}})"),
            V{"GM-VAL-013 Patient.text.`div`.extension"});
  // A required primitive may be present through its extensions alone.
  EXPECT_EQ(Codes(R"({"resourceType":"Observation","code":{"text":"x"},"_status":{"extension":)"
                  R"([{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason",)"
                  R"("valueCode":"unknown"}]}})"),
            V{});
}

TEST(Validator, PrimitiveValues) {
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","birthDate":"2023-02-29"})"),
            V{"GM-VAL-014 Patient.birthDate"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","birthDate":"2024-02-29"})"), V{});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","id":"a_b"})"), V{"GM-VAL-014 Patient.id"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","id":")" + std::string(65, 'a') + "\"}"),
            V{"GM-VAL-014 Patient.id"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","multipleBirthInteger":3000000000})"),
            V{"GM-VAL-014 Patient.multipleBirth.ofType(integer)"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","multipleBirthInteger":2.0})"),
            V{"GM-VAL-014 Patient.multipleBirth.ofType(integer)"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","deceasedDateTime":"2024-01-01T10:00:00"})"),
            V{"GM-VAL-014 Patient.deceased.ofType(dateTime)"});
  EXPECT_EQ(Codes(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},)"
                  R"("issued":"2024-01-01"})"),
            V{"GM-VAL-014 Observation.issued"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","telecom":[{"system":"phone","value":"a\u0001"}]})"),
            V{"GM-VAL-014 Patient.telecom[0].value"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","managingOrganization":{"reference":"x",)"
                  R"("type":"http://a b"}})"),
            V{"GM-VAL-014 Patient.managingOrganization.type"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","photo":[{"data":"QQ="}]})"),
            V{"GM-VAL-014 Patient.photo[0].data"});
  EXPECT_EQ(
      Codes(R"({"resourceType":"Patient","text":{"status":"generated",)"
            R"("div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>x</script></div>"}})"),
      V{"GM-VAL-014 Patient.text.`div`"});
  // Element.id is a string, Resource.id an id.
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[{"id":"any string","text":"a"}]})"), V{});
}

TEST(Validator, TextNeverQuotesValues) {
  std::vector<Issue> issues = Validate(ParseOrDie(
      R"({"resourceType":"Patient","birthDate":"1970-13-01-Kari-Nordmann","gender":"Kari"})"));
  ASSERT_EQ(issues.size(), 2u);
  for (const Issue& i : issues) {
    EXPECT_EQ(i.text.find("Kari"), std::string::npos) << i.text;
    EXPECT_EQ(i.expression.find("Kari"), std::string::npos) << i.expression;
  }
  EXPECT_EQ(issues[0].code, "GM-VAL-028");  // gender precedes birthDate in Patient
  EXPECT_EQ(issues[1].text, "Invalid date value: month must be 01-12");
}

TEST(Validator, PrimitiveArraysAndCompanions) {
  const std::string ext = R"({"extension":[{"url":"http://x","valueString":"y"}]})";
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[{"given":["a","b"],"_given":[null,)" + ext +
                  "]}]}"),
            V{});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[{"given":["a",null],"_given":[null,)" + ext +
                  "]}]}"),
            V{});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[{"_given":[)" + ext + "]}]}"), V{});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[{"given":["a","b"],"_given":[null]}]})"),
            V{"GM-VAL-015 Patient.name[0].given"});
  EXPECT_EQ(
      Codes(R"({"resourceType":"Patient","name":[{"given":["a",null],"_given":[null,null]}]})"),
      V{"GM-VAL-017 Patient.name[0].given[1]"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[{"given":["a",null]}]})"),
            V{"GM-VAL-016 Patient.name[0].given[1]"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[{"_given":[null]}]})"),
            V{"GM-VAL-016 Patient.name[0].given[0]"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[{"given":["a"],"_given":[{"foo":1}]}]})"),
            V{"GM-VAL-005 Patient.name[0].given[0].foo"});
  // A single primitive: null is never allowed.
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","birthDate":null})"),
            V{"GM-VAL-016 Patient.birthDate"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","birthDate":null,"_birthDate":)" + ext + "}"),
            V{"GM-VAL-016 Patient.birthDate"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","_birthDate":)" + ext + "}"), V{});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","birthDate":"2000","_birthDate":{"id":"a"}})"), V{});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","_birthDate":{"id":"a"}})"),
            V{"GM-VAL-021 Patient.birthDate"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","_birthDate":{}})"),
            V{"GM-VAL-018 Patient.birthDate"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","_birthDate":)" +
                  std::string(R"({"extension":[{"url":"http://x"}]})") + "}"),
            V{"GM-VAL-023 Patient.birthDate.extension[0]"});
  // null inside complex arrays.
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[null]})"), V{"GM-VAL-016 Patient.name[0]"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","maritalStatus":null})"),
            V{"GM-VAL-016 Patient.maritalStatus"});
}

TEST(Validator, EmptyContent) {
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[{}]})"), V{"GM-VAL-018 Patient.name[0]"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","meta":{}})"), V{"GM-VAL-018 Patient.meta"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[]})"), V{"GM-VAL-019 Patient.name"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[{"given":[]}]})"),
            V{"GM-VAL-019 Patient.name[0].given"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[{"given":["a"],"_given":[]}]})"),
            V{"GM-VAL-019 Patient.name[0].given"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","gender":""})"), V{"GM-VAL-020 Patient.gender"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","name":[{"given":[""]}]})"),
            V{"GM-VAL-020 Patient.name[0].given[0]"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","contained":[{}]})"),
            V{"GM-VAL-018 Patient.contained[0]"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","maritalStatus":{"id":"x"}})"),
            V{"GM-VAL-021 Patient.maritalStatus"});
}

TEST(Validator, Extensions) {
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","extension":[{"url":"http://x","valueCode":"a"}]})"),
            V{});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","extension":[{"url":"http://x","extension":[)"
                  R"({"url":"a","valueInteger":1}]}]})"),
            V{});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","extension":[{"url":"http://x"}]})"),
            V{"GM-VAL-023 Patient.extension[0]"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","extension":[{"url":"http://x","valueCode":"a",)"
                  R"("extension":[{"url":"a","valueInteger":1}]}]})"),
            V{"GM-VAL-022 Patient.extension[0]"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","extension":[{"valueCode":"a"}]})"),
            V{"GM-VAL-012 Patient.extension[0].url"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","extension":[{"url":"","valueCode":"a"}]})"),
            V{"GM-VAL-020 Patient.extension[0].url"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","extension":[{"url":"a b","valueCode":"a"}]})"),
            V{"GM-VAL-014 Patient.extension[0].url"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","modifierExtension":[{"url":"http://x",)"
                  R"("valueQuantity":{"value":"x"}}]})"),
            V{"GM-VAL-009 Patient.modifierExtension[0].value.ofType(Quantity).value"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","extension":[{"url":"http://x","valueFoo":1}]})"),
            (V{"GM-VAL-011 Patient.extension[0].value", "GM-VAL-023 Patient.extension[0]"}));
}

TEST(Validator, ContainedResources) {
  const std::string head =
      R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[)";
  EXPECT_EQ(Codes(head + R"({"resourceType":"Patient","id":"p"}]})"), V{});
  EXPECT_EQ(Codes(head + R"({"resourceType":"Patient","id":"p","foo":1}]})"),
            V{"GM-VAL-005 Observation.contained[0].foo"});
  EXPECT_EQ(Codes(head + R"({"resourceType":"Patient","id":"p","contained":[)"
                         R"({"resourceType":"Patient","id":"q"}]}]})"),
            V{"GM-VAL-024 Observation.contained[0].contained"});
  EXPECT_EQ(Codes(head + R"({"resourceType":"Patient","meta":{"versionId":"1"}}]})"),
            V{"GM-VAL-025 Observation.contained[0].meta"});
  EXPECT_EQ(Codes(head + R"({"resourceType":"Patient","meta":{"lastUpdated":)"
                         R"("2024-01-01T00:00:00Z"}}]})"),
            V{"GM-VAL-025 Observation.contained[0].meta"});
  EXPECT_EQ(Codes(head + R"({"resourceType":"Patient","meta":{"security":[{"code":"R"}]}}]})"),
            V{"GM-VAL-026 Observation.contained[0].meta"});
  EXPECT_EQ(Codes(head + R"({"id":"p"}]})"), V{"GM-VAL-002 Observation.contained[0]"});
  EXPECT_EQ(Codes(head + R"({"resourceType":"Nope"}]})"), V{"GM-VAL-003 Observation.contained[0]"});
  EXPECT_EQ(Codes(head + R"({"resourceType":"Observation"}]})"),
            (V{"GM-VAL-012 Observation.contained[0].status",
               "GM-VAL-012 Observation.contained[0].code"}));
  // A top-level resource may have meta.versionId.
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","meta":{"versionId":"1"}})"), V{});
}

TEST(Validator, BundleAndParametersHoldResources) {
  EXPECT_EQ(Codes(R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":)"
                  R"({"resourceType":"Patient","gender":"x"}},{"resource":{"resourceType":)"
                  R"("Patient","contained":[{"resourceType":"Patient"}]}}]})"),
            V{"GM-VAL-028 Bundle.entry[0].resource.gender"});
  EXPECT_EQ(Codes(R"({"resourceType":"Bundle","type":"batch-response","entry":[{"response":)"
                  R"({"status":"200","outcome":{"resourceType":"Patient"}}}]})"),
            V{"GM-VAL-027 Bundle.entry[0].response.outcome"});
  EXPECT_EQ(Codes(R"({"resourceType":"Bundle","type":"batch-response","entry":[{"response":)"
                  R"({"status":"200","outcome":{"resourceType":"OperationOutcome",)"
                  R"("issue":[{"severity":"error","code":"invalid"}]}}}]})"),
            V{});
  EXPECT_EQ(Codes(R"({"resourceType":"Parameters","parameter":[{"name":"a","resource":)"
                  R"({"resourceType":"Patient","foo":1}},{"name":"b","part":[{"name":"c",)"
                  R"("valueInteger":"1"},{"name":"d","part":[{"bar":1,"name":"e"}]}]}]})"),
            (V{"GM-VAL-005 Parameters.parameter[0].resource.foo",
               "GM-VAL-009 Parameters.parameter[1].part[0].value.ofType(integer)",
               "GM-VAL-005 Parameters.parameter[1].part[1].part[0].bar"}));
}

TEST(Validator, RequiredBindings) {
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","gender":"female"})"), V{});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","gender":"woman"})"),
            V{"GM-VAL-028 Patient.gender"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","gender":"Female"})"),
            V{"GM-VAL-028 Patient.gender"});
  EXPECT_EQ(Codes(R"({"resourceType":"Observation","status":"done","code":{"text":"x"}})"),
            V{"GM-VAL-028 Observation.status"});
  EXPECT_EQ(Codes(R"({"resourceType":"Patient","telecom":[{"system":"pager2","value":"1"}]})"),
            V{"GM-VAL-028 Patient.telecom[0].system"});
  std::vector<Issue> issues =
      Validate(ParseOrDie(R"({"resourceType":"Patient","gender":"woman"})"));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].type, "code-invalid");
  EXPECT_EQ(issues[0].text,
            "Value is not a code of the required value set "
            "http://hl7.org/fhir/ValueSet/administrative-gender");
}

TEST(Validator, StopsAfterMaxIssues) {
  std::string text = R"({"resourceType":"Patient")";
  for (int i = 0; i < 10; ++i) text += ",\"f" + std::to_string(i) + "\":1";
  text += "}";
  ValidateOptions options;
  options.max_issues = 3;
  EXPECT_EQ(Codes(text, options), (V{"GM-VAL-005 Patient.f0", "GM-VAL-005 Patient.f1",
                                     "GM-VAL-005 Patient.f2", "GM-VAL-029 Patient"}));
}

TEST(Validator, DeepNestingIsBounded) {
  std::string text = R"({"resourceType":"Questionnaire","status":"draft")";
  for (int i = 0; i < 200; ++i) text += R"(,"item":[{"linkId":"a","type":"group")";
  for (int i = 0; i < 200; ++i) text += "}]";
  text += "}";
  std::vector<Issue> issues = Validate(ParseOrDie(text));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].code, "GM-VAL-030");
  EXPECT_EQ(issues[0].type, "too-costly");
}

TEST(Validator, StatusForm) {
  Status ok = ValidateResource(ParseOrDie(R"({"resourceType":"Patient"})"));
  EXPECT_TRUE(ok.ok());
  Status bad = ValidateResource(ParseOrDie(R"({"resourceType":"Patient","a":1,"b":2})"));
  EXPECT_EQ(bad.category(), ErrorCategory::kUnprocessable);
  ASSERT_EQ(bad.issues().size(), 2u);
  EXPECT_EQ(bad.code(), "GM-VAL-005");
}

TEST(Validator, InvariantHookSeesConstrainedNodes) {
  json::Value obs = ParseOrDie(
      R"({"resourceType":"Observation","status":"final","code":{"text":"x"},)"
      R"("valueQuantity":{"value":1,"unit":"mg"},"contained":[{"resourceType":"Patient","id":"p"}]})");
  std::vector<std::string> seen;
  ValidateOptions options;
  options.invariants = [&](const InvariantSite& site, std::vector<Issue>& issues) {
    std::string where = site.Location();
    seen.push_back(where);
    if (where == "Observation.value.ofType(Quantity)") {
      EXPECT_EQ(site.type()->name, "Quantity");
      ASSERT_NE(site.element(), nullptr);
      EXPECT_EQ(site.element()->name, "value");
      EXPECT_EQ(site.node()->get_string("unit"), "mg");
      EXPECT_EQ(site.resource().get_string("resourceType"), "Observation");
      issues.push_back(Issue{Severity::kError, "invariant", "GM-FP-001", "qty", where});
    }
    if (where == "Observation.contained[0]") {
      EXPECT_EQ(site.element(), nullptr);
      EXPECT_EQ(site.resource().get_string("resourceType"), "Patient");
      EXPECT_EQ(site.root_resource().get_string("resourceType"), "Observation");
    }
    if (where == "Observation") {
      EXPECT_EQ(site.type()->name, "Observation");
      bool has_obs6 = false;
      for (const Constraint& c : site.type()->constraints) has_obs6 |= c.key == "obs-6";
      EXPECT_TRUE(has_obs6);
      EXPECT_EQ(&site.root_resource(), &site.resource());
    }
  };
  std::vector<Issue> issues = Validate(obs, options);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].code, "GM-FP-001");
  EXPECT_EQ(issues[0].expression, "Observation.value.ofType(Quantity)");
  auto has = [&](const std::string& s) {
    return std::find(seen.begin(), seen.end(), s) != seen.end();
  };
  EXPECT_TRUE(has("Observation"));
  EXPECT_TRUE(has("Observation.value.ofType(Quantity)"));
  EXPECT_TRUE(has("Observation.contained[0]"));
  EXPECT_FALSE(has("Observation.code"));  // no constraints besides the native ele-1
  EXPECT_FALSE(has("Observation.status"));
}

TEST(Validator, NativeConstraints) {
  EXPECT_TRUE(IsNativeConstraint("ext-1"));
  EXPECT_TRUE(IsNativeConstraint("dom-2"));
  EXPECT_TRUE(IsNativeConstraint("dom-4"));
  EXPECT_TRUE(IsNativeConstraint("dom-5"));
  EXPECT_TRUE(IsNativeConstraint("txt-1"));
  EXPECT_FALSE(IsNativeConstraint("dom-3"));
  EXPECT_FALSE(IsNativeConstraint("dom-6"));
  EXPECT_FALSE(IsNativeConstraint("obs-6"));
}

}  // namespace
}  // namespace gm::fhir
