// FHIRPath Patch beyond HL7's cases: malformed Parameters, every error code,
// atomicity, primitives with extensions, choice elements, contained resources.
#include "patch/fhirpath_patch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/json.h"

namespace gm::patch {
namespace {

json::Value J(std::string_view text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << v.status().message() << "\n" << text;
  return v.ok() ? std::move(v).value() : json::Value();
}

// One part of an operation: {"name": name, <value member>}.
std::string Part(std::string_view name, std::string_view member_json) {
  return R"({"name":")" + std::string(name) + R"(",)" + std::string(member_json) + "}";
}

// A Parameters resource with one operation per element of `ops`, each given
// as the JSON text of its parts (comma-separated).
json::Value Patch(const std::vector<std::string>& ops) {
  std::string text = R"({"resourceType":"Parameters","parameter":[)";
  for (size_t i = 0; i < ops.size(); ++i) {
    if (i > 0) text += ",";
    text += R"({"name":"operation","part":[)" + ops[i] + "]}";
  }
  text += "]}";
  return J(text);
}

std::string Type(std::string_view t) {
  return Part("type", R"("valueCode":")" + std::string(t) + "\"");
}
std::string Path(std::string_view p) {
  std::string escaped;
  for (char c : p) {
    if (c == '"') escaped += '\\';
    escaped += c;
  }
  return Part("path", R"("valueString":")" + escaped + "\"");
}
std::string Name(std::string_view n) {
  return Part("name", R"("valueString":")" + std::string(n) + "\"");
}
std::string Value(std::string_view member_json) { return Part("value", member_json); }
std::string Int(std::string_view name, int v) {
  return Part(name, R"("valueInteger":)" + std::to_string(v));
}

std::string Op(std::initializer_list<std::string> parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += ",";
    out += p;
  }
  return out;
}

// Applies and expects success with the given result.
void ExpectPatched(std::string_view input, const json::Value& patch, std::string_view expected) {
  json::Value r = J(input);
  Status st = ApplyFhirPathPatch(patch, r);
  ASSERT_TRUE(st.ok()) << st.code() << " " << st.message();
  EXPECT_EQ(r, J(expected)) << json::Write(r);
}

// Applies and expects the error code and category, with the resource unchanged.
void ExpectError(std::string_view input, const json::Value& patch, std::string_view code,
                 ErrorCategory category) {
  json::Value r = J(input);
  json::Value before = r;
  Status st = ApplyFhirPathPatch(patch, r);
  ASSERT_FALSE(st.ok()) << "expected " << code;
  EXPECT_EQ(st.code(), code) << st.message();
  EXPECT_EQ(st.category(), category) << st.message();
  EXPECT_EQ(r, before);
}

constexpr char kPatient[] = R"({"resourceType":"Patient","id":"p",
    "name":[{"family":"Berg","given":["Ola","Kari"]},{"text":"Second"}],
    "birthDate":"1970-01-01","deceasedBoolean":false})";

// ------------------------------------------------------------ malformed

TEST(FhirPathPatchParameters, NotParameters) {
  ExpectError(kPatient, J(R"([])"), "GM-FPATCH-001", ErrorCategory::kInvalid);
  ExpectError(kPatient, J(R"({"resourceType":"Patient"})"), "GM-FPATCH-001",
              ErrorCategory::kInvalid);
}

TEST(FhirPathPatchParameters, MalformedParameter) {
  ExpectError(kPatient, J(R"({"resourceType":"Parameters","parameter":{}})"), "GM-FPATCH-002",
              ErrorCategory::kInvalid);
  ExpectError(kPatient, J(R"({"resourceType":"Parameters","parameter":[{"name":"op","part":[]}]})"),
              "GM-FPATCH-002", ErrorCategory::kInvalid);
  ExpectError(kPatient, J(R"({"resourceType":"Parameters","parameter":[{"name":"operation"}]})"),
              "GM-FPATCH-002", ErrorCategory::kInvalid);
  ExpectError(kPatient, J(R"({"resourceType":"Parameters","parameter":[{"name":"operation",
                  "valueString":"x","part":[]}]})"),
              "GM-FPATCH-002", ErrorCategory::kInvalid);
}

TEST(FhirPathPatchParameters, MalformedParts) {
  ExpectError(kPatient, Patch({Op({Type("delete"), R"({"valueString":"x"})"})}), "GM-FPATCH-003",
              ErrorCategory::kInvalid);
  ExpectError(kPatient,
              Patch({Op({Type("delete"), Path("Patient.birthDate"),
                         Part("where", R"("valueString":"x")")})}),
              "GM-FPATCH-003", ErrorCategory::kInvalid);
  ExpectError(kPatient,
              Patch({Op({Type("delete"), Path("Patient.birthDate"), Path("Patient.id")})}),
              "GM-FPATCH-003", ErrorCategory::kInvalid);
  ExpectError(kPatient, Patch({Op({Type("delete"), Part("path", R"("valueInteger":1)")})}),
              "GM-FPATCH-003", ErrorCategory::kInvalid);
  ExpectError(
      kPatient,
      Patch({Op({Type("insert"), Path("Patient.name"), Part("index", R"("valueString":"1")"),
                 Value(R"("valueHumanName":{"text":"x"})")})}),
      "GM-FPATCH-003", ErrorCategory::kInvalid);
  ExpectError(
      kPatient,
      Patch({Op({Type("insert"), Path("Patient.name"), Part("index", R"("valueInteger":1.5)"),
                 Value(R"("valueHumanName":{"text":"x"})")})}),
      "GM-FPATCH-003", ErrorCategory::kInvalid);
}

TEST(FhirPathPatchParameters, OperationType) {
  ExpectError(kPatient, Patch({Op({Path("Patient.birthDate")})}), "GM-FPATCH-004",
              ErrorCategory::kInvalid);
  ExpectError(kPatient, Patch({Op({Type("remove"), Path("Patient.birthDate")})}), "GM-FPATCH-004",
              ErrorCategory::kInvalid);
}

TEST(FhirPathPatchParameters, PartsOfEachType) {
  ExpectError(kPatient, Patch({Op({Type("delete")})}), "GM-FPATCH-005", ErrorCategory::kInvalid);
  ExpectError(kPatient, Patch({Op({Type("add"), Path("Patient"), Value(R"("valueDate":"2000")")})}),
              "GM-FPATCH-005", ErrorCategory::kInvalid);
  ExpectError(kPatient,
              Patch({Op({Type("insert"), Path("Patient.name"),
                         Value(R"("valueHumanName":{"text":"x"})")})}),
              "GM-FPATCH-005", ErrorCategory::kInvalid);
  ExpectError(kPatient, Patch({Op({Type("move"), Path("Patient.name"), Int("source", 0)})}),
              "GM-FPATCH-005", ErrorCategory::kInvalid);
  ExpectError(kPatient, Patch({Op({Type("delete"), Path("Patient.birthDate"), Int("index", 0)})}),
              "GM-FPATCH-005", ErrorCategory::kInvalid);
  ExpectError(kPatient,
              Patch({Op({Type("replace"), Path("Patient.birthDate"), Name("birthDate"),
                         Value(R"("valueDate":"2000")")})}),
              "GM-FPATCH-005", ErrorCategory::kInvalid);
}

TEST(FhirPathPatchParameters, InvalidPath) {
  ExpectError(kPatient, Patch({Op({Type("delete"), Path("Patient.name.where(")})}), "GM-FPATCH-006",
              ErrorCategory::kInvalid);
  ExpectError(kPatient, Patch({Op({Type("delete"), Path("Patient.nosuchelement")})}),
              "GM-FPATCH-006", ErrorCategory::kInvalid);
}

TEST(FhirPathPatchParameters, MalformedValue) {
  ExpectError(kPatient,
              Patch({Op({Type("replace"), Path("Patient.birthDate"), R"({"name":"value"})"})}),
              "GM-FPATCH-007", ErrorCategory::kInvalid);
  ExpectError(kPatient,
              Patch({Op({Type("replace"), Path("Patient.birthDate"),
                         Value(R"("valueDate":"2000","valueString":"x")")})}),
              "GM-FPATCH-007", ErrorCategory::kInvalid);
  ExpectError(kPatient,
              Patch({Op({Type("replace"), Path("Patient.birthDate"), Value(R"("valueFoo":"x")")})}),
              "GM-FPATCH-007", ErrorCategory::kInvalid);
  ExpectError(
      kPatient,
      Patch({Op({Type("replace"), Path("Patient.birthDate"), Value(R"("valueDate":"2000-13")")})}),
      "GM-FPATCH-007", ErrorCategory::kInvalid);
  ExpectError(kPatient,
              Patch({Op({Type("add"), Path("Patient"), Name("contact"),
                         Value(R"("part":[{"valueCode":"male"}])")})}),
              "GM-FPATCH-007", ErrorCategory::kInvalid);
}

TEST(FhirPathPatchParameters, TooManyOperations) {
  std::vector<std::string> ops(3, Op({Type("delete"), Path("Patient.birthDate")}));
  json::Value r = J(kPatient);
  Status st = ApplyFhirPathPatch(Patch(ops), r, {.max_operations = 2});
  EXPECT_EQ(st.code(), "GM-FPATCH-002");
}

TEST(FhirPathPatchParameters, NoOperationsChangesNothing) {
  ExpectPatched(kPatient, J(R"({"resourceType":"Parameters"})"), kPatient);
}

// ------------------------------------------------------------ semantic errors

TEST(FhirPathPatch, PathSelectsNothing) {
  ExpectError(
      kPatient,
      Patch({Op({Type("replace"), Path("Patient.gender"), Value(R"("valueCode":"male")")})}),
      "GM-FPATCH-011", ErrorCategory::kUnprocessable);
  ExpectError(
      kPatient,
      Patch({Op({Type("move"), Path("Patient.address"), Int("source", 0), Int("destination", 1)})}),
      "GM-FPATCH-011", ErrorCategory::kUnprocessable);
}

TEST(FhirPathPatch, PathSelectsMoreThanOne) {
  ExpectError(kPatient,
              Patch({Op({Type("replace"), Path("Patient.name"),
                         Value(R"("valueHumanName":{"text":"x"})")})}),
              "GM-FPATCH-012", ErrorCategory::kUnprocessable);
  ExpectError(kPatient, Patch({Op({Type("delete"), Path("Patient.name.given")})}), "GM-FPATCH-012",
              ErrorCategory::kUnprocessable);
  ExpectError(kPatient,
              Patch({Op({Type("add"), Path("Patient.name"), Name("use"),
                         Value(R"("valueCode":"usual")")})}),
              "GM-FPATCH-012", ErrorCategory::kUnprocessable);
}

TEST(FhirPathPatch, PathSelectsNoElement) {
  ExpectError(kPatient, Patch({Op({Type("delete"), Path("Patient.name.given.first() + 'x'")})}),
              "GM-FPATCH-013", ErrorCategory::kUnprocessable);
  ExpectError(kPatient, Patch({Op({Type("delete"), Path("Patient")})}), "GM-FPATCH-013",
              ErrorCategory::kUnprocessable);
  ExpectError(kPatient,
              Patch({Op({Type("replace"), Path("Patient"), Value(R"("valueString":"x")")})}),
              "GM-FPATCH-013", ErrorCategory::kUnprocessable);
}

TEST(FhirPathPatch, UnknownElementName) {
  ExpectError(
      kPatient,
      Patch({Op({Type("add"), Path("Patient"), Name("colour"), Value(R"("valueCode":"red")")})}),
      "GM-FPATCH-014", ErrorCategory::kUnprocessable);
  ExpectError(kPatient,
              Patch({Op({Type("add"), Path("Patient"), Name("contact"),
                         Value(R"("part":[{"name":"colour","valueCode":"red"}])")})}),
              "GM-FPATCH-014", ErrorCategory::kUnprocessable);
}

TEST(FhirPathPatch, AddExistingSingleElement) {
  ExpectError(kPatient,
              Patch({Op({Type("add"), Path("Patient"), Name("birthDate"),
                         Value(R"("valueDate":"1980")")})}),
              "GM-FPATCH-015", ErrorCategory::kUnprocessable);
  ExpectError(kPatient,
              Patch({Op({Type("add"), Path("Patient"), Name("deceased"),
                         Value(R"("valueDateTime":"2020-01-01")")})}),
              "GM-FPATCH-015", ErrorCategory::kUnprocessable);
}

TEST(FhirPathPatch, ValueTypeMustFit) {
  ExpectError(
      kPatient,
      Patch({Op({Type("replace"), Path("Patient.birthDate"), Value(R"("valueBoolean":true)")})}),
      "GM-FPATCH-016", ErrorCategory::kUnprocessable);
  ExpectError(kPatient,
              Patch({Op({Type("replace"), Path("Patient.birthDate"),
                         Value(R"("valueString":"yesterday")")})}),
              "GM-FPATCH-016", ErrorCategory::kUnprocessable);
  ExpectError(kPatient,
              Patch({Op({Type("add"), Path("Patient"), Name("maritalStatus"),
                         Value(R"("valueHumanName":{"text":"x"})")})}),
              "GM-FPATCH-016", ErrorCategory::kUnprocessable);
  ExpectError(kPatient,
              Patch({Op({Type("add"), Path("Patient"), Name("contact"),
                         Value(R"("valueHumanName":{"text":"x"})")})}),
              "GM-FPATCH-016", ErrorCategory::kUnprocessable);
  ExpectError(
      kPatient,
      Patch({Op({Type("add"), Path("Patient"), Name("deceased"), Value(R"("valueCode":"x")")})}),
      "GM-FPATCH-016", ErrorCategory::kUnprocessable);
}

TEST(FhirPathPatch, PositionsOutOfRange) {
  ExpectError(kPatient,
              Patch({Op({Type("insert"), Path("Patient.name"), Int("index", 3),
                         Value(R"("valueHumanName":{"text":"x"})")})}),
              "GM-FPATCH-017", ErrorCategory::kUnprocessable);
  ExpectError(kPatient,
              Patch({Op({Type("insert"), Path("Patient.name"), Int("index", -1),
                         Value(R"("valueHumanName":{"text":"x"})")})}),
              "GM-FPATCH-017", ErrorCategory::kUnprocessable);
  ExpectError(
      kPatient,
      Patch({Op({Type("move"), Path("Patient.name"), Int("source", 0), Int("destination", 2)})}),
      "GM-FPATCH-017", ErrorCategory::kUnprocessable);
}

TEST(FhirPathPatch, ListOperationsNeedOneList) {
  ExpectError(kPatient,
              Patch({Op({Type("insert"), Path("Patient.birthDate"), Int("index", 0),
                         Value(R"("valueDate":"2000")")})}),
              "GM-FPATCH-018", ErrorCategory::kUnprocessable);
  ExpectError(R"({"resourceType":"Patient","name":[{"given":["A"]},{"given":["B"]}]})",
              Patch({Op({Type("move"), Path("Patient.name.given"), Int("source", 0),
                         Int("destination", 1)})}),
              "GM-FPATCH-018", ErrorCategory::kUnprocessable);
}

TEST(FhirPathPatch, EvaluationError) {
  ExpectError(kPatient, Patch({Op({Type("delete"), Path("Patient.name.given.single()")})}),
              "GM-FPATCH-010", ErrorCategory::kUnprocessable);
  json::Value r = J(kPatient);
  Status st =
      ApplyFhirPathPatch(Patch({Op({Type("delete"), Path("Patient.descendants().where(false)")})}),
                         r, {.max_steps = 5});
  EXPECT_EQ(st.code(), "GM-FPATCH-010");
}

TEST(FhirPathPatch, FailedPatchChangesNothing) {
  json::Value r = J(kPatient);
  json::Value before = r;
  Status st = ApplyFhirPathPatch(
      Patch({Op({Type("delete"), Path("Patient.birthDate")}),
             Op({Type("replace"), Path("Patient.name[0].family"), Value(R"("valueString":"Li")")}),
             Op({Type("replace"), Path("Patient.gender"), Value(R"("valueCode":"male")")})}),
      r);
  EXPECT_EQ(st.code(), "GM-FPATCH-011");
  EXPECT_EQ(r, before);
}

TEST(FhirPathPatch, MessagesNameTheOperationNotTheData) {
  json::Value r = J(R"({"resourceType":"Patient","birthDate":"1970-01-01",
      "name":[{"family":"Secretname"}]})");
  Status st = ApplyFhirPathPatch(
      Patch({Op({Type("delete"), Path("Patient.name[0].family")}),
             Op({Type("replace"), Path("Patient.birthDate"), Value(R"("valueBoolean":true)")})}),
      r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("operation 1 (replace 'Patient.birthDate')"), std::string::npos)
      << st.message();
  EXPECT_EQ(st.message().find("Secretname"), std::string::npos);
  EXPECT_EQ(st.message().find("1970"), std::string::npos);
}

// ------------------------------------------------------------ behaviour

TEST(FhirPathPatch, PrimitiveListsStayAlignedWithTheirExtensions) {
  constexpr char kIn[] = R"({"resourceType":"Patient","name":[{"given":["A","B","C"],
      "_given":[null,{"extension":[{"url":"http://x","valueString":"b"}]},null]}]})";
  ExpectPatched(kIn, Patch({Op({Type("delete"), Path("Patient.name[0].given[1]")})}),
                R"({"resourceType":"Patient","name":[{"given":["A","C"]}]})");
  ExpectPatched(kIn, Patch({Op({Type("delete"), Path("Patient.name[0].given[0]")})}),
                R"({"resourceType":"Patient","name":[{"given":["B","C"],
                    "_given":[{"extension":[{"url":"http://x","valueString":"b"}]},null]}]})");
  ExpectPatched(kIn,
                Patch({Op({Type("insert"), Path("Patient.name[0].given"), Int("index", 0),
                           Value(R"("valueString":"Z")")})}),
                R"({"resourceType":"Patient","name":[{"given":["Z","A","B","C"],
                    "_given":[null,null,{"extension":[{"url":"http://x","valueString":"b"}]},null]}]})");
  ExpectPatched(kIn,
                Patch({Op({Type("move"), Path("Patient.name[0].given"), Int("source", 1),
                           Int("destination", 2)})}),
                R"({"resourceType":"Patient","name":[{"given":["A","C","B"],
                    "_given":[null,null,{"extension":[{"url":"http://x","valueString":"b"}]}]}]})");
  ExpectPatched(kIn,
                Patch({Op({Type("add"), Path("Patient.name[0]"), Name("given"),
                           Value(R"("valueString":"D","_valueString":{"id":"d"})")})}),
                R"({"resourceType":"Patient","name":[{"given":["A","B","C","D"],
                    "_given":[null,{"extension":[{"url":"http://x","valueString":"b"}]},null,{"id":"d"}]}]})");
}

TEST(FhirPathPatch, ReplacingAPrimitiveReplacesItsExtensions) {
  constexpr char kIn[] = R"({"resourceType":"Patient","birthDate":"1970-01-01",
      "_birthDate":{"extension":[{"url":"http://x","valueString":"b"}]}})";
  ExpectPatched(
      kIn,
      Patch({Op({Type("replace"), Path("Patient.birthDate"), Value(R"("valueDate":"1971")")})}),
      R"({"resourceType":"Patient","birthDate":"1971"})");
  ExpectPatched(kIn,
                Patch({Op({Type("replace"), Path("Patient.birthDate"),
                           Value(R"("valueDate":"1971","_valueDate":{"id":"b"})")})}),
                R"({"resourceType":"Patient","birthDate":"1971","_birthDate":{"id":"b"}})");
  ExpectPatched(kIn, Patch({Op({Type("delete"), Path("Patient.birthDate")})}),
                R"({"resourceType":"Patient"})");
}

TEST(FhirPathPatch, ExtensionsOfPrimitives) {
  ExpectPatched(R"({"resourceType":"Patient","birthDate":"1970-01-01"})",
                Patch({Op({Type("add"), Path("Patient.birthDate"), Name("extension"),
                           Value(R"("part":[{"name":"url","valueUri":"http://x"},
                                            {"name":"value","valueString":"b"}])")})}),
                R"({"resourceType":"Patient","birthDate":"1970-01-01",
                    "_birthDate":{"extension":[{"url":"http://x","valueString":"b"}]}})");
  ExpectPatched(R"({"resourceType":"Patient","birthDate":"1970-01-01",
                    "_birthDate":{"extension":[{"url":"http://x","valueString":"b"}]}})",
                Patch({Op({Type("delete"), Path("Patient.birthDate.extension[0]")})}),
                R"({"resourceType":"Patient","birthDate":"1970-01-01"})");
  ExpectPatched(
      R"({"resourceType":"Patient","name":[{"given":["A","B"]}]})",
      Patch({Op({Type("add"), Path("Patient.name[0].given[1]"), Name("id"),
                 Value(R"("valueString":"g2")")})}),
      R"({"resourceType":"Patient","name":[{"given":["A","B"],"_given":[null,{"id":"g2"}]}]})");
}

TEST(FhirPathPatch, ChoiceElementsFollowTheValueType) {
  ExpectPatched(kPatient,
                Patch({Op({Type("replace"), Path("Patient.deceased"),
                           Value(R"("valueDateTime":"2020-02-02")")})}),
                R"({"resourceType":"Patient","id":"p",
                    "name":[{"family":"Berg","given":["Ola","Kari"]},{"text":"Second"}],
                    "birthDate":"1970-01-01","deceasedDateTime":"2020-02-02"})");
  json::Value r = J(kPatient);
  ASSERT_TRUE(ApplyFhirPathPatch(Patch({Op({Type("replace"), Path("Patient.deceased"),
                                            Value(R"("valueDateTime":"2020-02-02")")})}),
                                 r)
                  .ok());
  EXPECT_EQ(r.object().back().first, "deceasedDateTime");  // renamed in place
  ExpectPatched(R"({"resourceType":"Patient"})",
                Patch({Op({Type("add"), Path("Patient"), Name("multipleBirth"),
                           Value(R"("valueInteger":2)")})}),
                R"({"resourceType":"Patient","multipleBirthInteger":2})");
  ExpectPatched(R"({"resourceType":"Patient"})",
                Patch({Op({Type("add"), Path("Patient"), Name("deceasedBoolean"),
                           Value(R"("valueBoolean":true)")})}),
                R"({"resourceType":"Patient","deceasedBoolean":true})");
  ExpectPatched(
      R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
                    "valueQuantity":{"value":1}})",
      Patch({Op({Type("replace"), Path("Observation.value"), Value(R"("valueString":"one")")})}),
      R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
                    "valueString":"one"})");
}

TEST(FhirPathPatch, PrimitivesAcceptLexicallyValidValues) {
  ExpectPatched(
      R"({"resourceType":"Patient","gender":"male"})",
      Patch({Op({Type("replace"), Path("Patient.gender"), Value(R"("valueString":"female")")})}),
      R"({"resourceType":"Patient","gender":"female"})");
  ExpectPatched(R"({"resourceType":"Patient"})",
                Patch({Op({Type("add"), Path("Patient"), Name("photo"),
                           Value(R"("part":[{"name":"size","valueInteger":12}])")})}),
                R"({"resourceType":"Patient","photo":[{"size":12}]})");
}

TEST(FhirPathPatch, AnonymousTypesFromNestedParts) {
  ExpectPatched(R"({"resourceType":"Patient"})",
                Patch({Op({Type("add"), Path("Patient"), Name("contact"), Value(R"("part":[
                               {"name":"telecom","valueContactPoint":{"system":"phone","value":"1"}},
                               {"name":"telecom","valueContactPoint":{"system":"email","value":"a@b"}},
                               {"name":"period","part":[{"name":"start","valueDateTime":"2020"}]}])")})}),
                R"({"resourceType":"Patient","contact":[{"telecom":[
                    {"system":"phone","value":"1"},{"system":"email","value":"a@b"}],
                    "period":{"start":"2020"}}]})");
  ExpectPatched(R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})",
                Patch({Op({Type("add"), Path("Observation"), Name("component"),
                           Value(R"("part":[{"name":"code","valueCodeableConcept":{"text":"y"}},
                                            {"name":"value","valueQuantity":{"value":2}}])")})}),
                R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
                    "component":[{"code":{"text":"y"},"valueQuantity":{"value":2}}]})");
}

TEST(FhirPathPatch, InsertIntoAnAbsentList) {
  ExpectPatched(R"({"resourceType":"Patient","active":true})",
                Patch({Op({Type("insert"), Path("Patient.identifier"), Int("index", 0),
                           Value(R"("valueIdentifier":{"value":"1"})")})}),
                R"({"resourceType":"Patient","active":true,"identifier":[{"value":"1"}]})");
  ExpectError(R"({"resourceType":"Patient","active":true})",
              Patch({Op({Type("insert"), Path("Patient.identifier"), Int("index", 1),
                         Value(R"("valueIdentifier":{"value":"1"})")})}),
              "GM-FPATCH-017", ErrorCategory::kUnprocessable);
}

TEST(FhirPathPatch, DeletePrunesWhatItLeavesEmpty) {
  ExpectPatched(R"({"resourceType":"Patient","contact":[{"name":{"text":"a"}},{"gender":"male"}]})",
                Patch({Op({Type("delete"), Path("Patient.contact[0].name.text")})}),
                R"({"resourceType":"Patient","contact":[{"gender":"male"}]})");
  ExpectPatched(R"({"resourceType":"Patient","contact":[{"name":{"text":"a"}}],"active":true})",
                Patch({Op({Type("delete"), Path("Patient.contact.name.text")})}),
                R"({"resourceType":"Patient","active":true})");
  ExpectPatched(kPatient, Patch({Op({Type("delete"), Path("Patient.address")})}), kPatient);
}

TEST(FhirPathPatch, ContainedResourcesAndResolve) {
  constexpr char kIn[] = R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "contained":[{"resourceType":"Patient","id":"p1","gender":"male"}],
      "subject":{"reference":"#p1"}})";
  ExpectPatched(kIn,
                Patch({Op({Type("replace"), Path("Observation.subject.resolve().gender"),
                           Value(R"("valueCode":"female")")})}),
                R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
                    "contained":[{"resourceType":"Patient","id":"p1","gender":"female"}],
                    "subject":{"reference":"#p1"}})");
  ExpectPatched(
      kIn,
      Patch({Op({Type("add"), Path("Observation"), Name("contained"),
                 R"({"name":"value","resource":{"resourceType":"Practitioner","id":"d"}})"}),
             Op({Type("add"), Path("Observation"), Name("performer"),
                 Value(R"("valueReference":{"reference":"#d"})")})}),
      R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
                    "contained":[{"resourceType":"Patient","id":"p1","gender":"male"},
                                 {"resourceType":"Practitioner","id":"d"}],
                    "subject":{"reference":"#p1"},"performer":[{"reference":"#d"}]})");
  ExpectError(
      kIn,
      Patch({Op({Type("add"), Path("Observation"), Name("subject"),
                 R"({"name":"value","resource":{"resourceType":"Practitioner","id":"d"}})"})}),
      "GM-FPATCH-016", ErrorCategory::kUnprocessable);
}

TEST(FhirPathPatch, ResourcesInsideABundle) {
  ExpectPatched(R"({"resourceType":"Bundle","type":"collection","entry":[
                    {"resource":{"resourceType":"Patient","active":true}}]})",
                Patch({Op({Type("replace"), Path("Bundle.entry[0].resource.active"),
                           Value(R"("valueBoolean":false)")}),
                       Op({Type("add"), Path("Bundle.entry[0].resource"), Name("gender"),
                           Value(R"("valueCode":"other")")})}),
                R"({"resourceType":"Bundle","type":"collection","entry":[
                    {"resource":{"resourceType":"Patient","active":false,"gender":"other"}}]})");
}

TEST(FhirPathPatch, OperationsSeeEarlierOnes) {
  ExpectPatched(R"({"resourceType":"Patient"})",
                Patch({Op({Type("add"), Path("Patient"), Name("name"),
                           Value(R"("valueHumanName":{"family":"A"})")}),
                       Op({Type("add"), Path("Patient.name[0]"), Name("given"),
                           Value(R"("valueString":"B")")}),
                       Op({Type("replace"), Path("Patient.name.where(family = 'A').family"),
                           Value(R"("valueString":"C")")})}),
                R"({"resourceType":"Patient","name":[{"family":"C","given":["B"]}]})");
}

}  // namespace
}  // namespace gm::patch
