#include "fhir/shape.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/json.h"
#include "fhir/validator.h"

namespace gm::fhir {
namespace {

json::Value ParseOrDie(std::string_view text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << v.status().message();
  return v.ok() ? std::move(v).value() : json::Value();
}

json::Value Example(const std::string& name) {
  std::ifstream in(std::string(GM_SHARED_DIR "/conformance/examples-r4/") + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseOrDie(ss.str());
}

std::vector<std::string> Keys(const json::Value& v) {
  std::vector<std::string> out;
  for (const json::Member& m : v.object()) out.push_back(m.first);
  return out;
}

bool HasSubsettedTag(const json::Value& resource) {
  const json::Value* meta = resource.find("meta");
  if (meta == nullptr || meta->find("tag") == nullptr) return false;
  int found = 0;
  for (const json::Value& t : meta->find("tag")->array()) {
    if (t.get_string("system") == "http://terminology.hl7.org/CodeSystem/v3-ObservationValue" &&
        t.get_string("code") == "SUBSETTED") {
      ++found;
    }
  }
  EXPECT_LE(found, 1);
  return found == 1;
}

using V = std::vector<std::string>;

ShapeOptions Opts(Summary summary, std::vector<std::string> elements = {}) {
  ShapeOptions o;
  o.summary = summary;
  o.elements = std::move(elements);
  return o;
}

TEST(Shape, ParseSummary) {
  EXPECT_EQ(*ParseSummary("true"), Summary::kTrue);
  EXPECT_EQ(*ParseSummary("false"), Summary::kFalse);
  EXPECT_EQ(*ParseSummary("text"), Summary::kText);
  EXPECT_EQ(*ParseSummary("data"), Summary::kData);
  EXPECT_EQ(*ParseSummary("count"), Summary::kCount);
  for (const char* bad : {"", "TRUE", "yes", "true ", "summary"}) {
    auto r = ParseSummary(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().category(), ErrorCategory::kInvalid);
    EXPECT_EQ(r.status().code(), "GM-SHAPE-001");
  }
}

TEST(Shape, ParseElements) {
  EXPECT_EQ(ParseElements("name"), V{"name"});
  EXPECT_EQ(ParseElements(" name , birthDate,,Patient.gender, "),
            (V{"name", "birthDate", "Patient.gender"}));
  EXPECT_EQ(ParseElements(""), V{});
  EXPECT_EQ(ParseElements(",,"), V{});
}

TEST(Shape, SummaryFalseIsIdentity) {
  json::Value p = Example("patient-example.json");
  ShapeOptions options;
  EXPECT_FALSE(Subsets(options));
  json::Value out = Shape(p, options);
  EXPECT_EQ(out, p);
  EXPECT_FALSE(HasSubsettedTag(out));
}

TEST(Shape, SummaryTrueKeepsSummaryElements) {
  json::Value p = Example("patient-example.json");
  json::Value out = Shape(p, Opts(Summary::kTrue));
  EXPECT_EQ(Keys(out),
            (V{"resourceType", "id", "meta", "identifier", "active", "name", "telecom", "gender",
               "birthDate", "_birthDate", "deceasedBoolean", "address", "managingOrganization"}));
  EXPECT_TRUE(HasSubsettedTag(out));
  EXPECT_EQ(*out.find("name"), *p.find("name"));
  EXPECT_EQ(*out.find("_birthDate"), *p.find("_birthDate"));
  EXPECT_TRUE(Validate(out).empty());
}

TEST(Shape, SummaryTrueRecursesAndKeepsMandatoryAndModifiers) {
  json::Value obs =
      ParseOrDie(R"({"resourceType":"Observation","id":"o","text":{"status":"generated",
    "div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},"status":"final",
    "category":[{"text":"lab"}],"code":{"text":"x"},"note":[{"text":"n"}],
    "modifierExtension":[{"url":"http://x","valueBoolean":true}],
    "extension":[{"url":"http://y","valueBoolean":true}],
    "component":[{"code":{"text":"c"},"valueQuantity":{"value":1},"interpretation":[{"text":"H"}]}],
    "valueSampledData":{"origin":{"value":0},"period":1,"dimensions":1,"data":"1 2"}})");
  json::Value out = Shape(obs, Opts(Summary::kTrue));
  EXPECT_EQ(Keys(out), (V{"resourceType", "id", "meta", "status", "code", "modifierExtension",
                          "component", "valueSampledData"}));
  // Inside the component backbone: code (mandatory) and value[x] (summary), not interpretation.
  EXPECT_EQ(Keys(out.find("component")->array()[0]), (V{"code", "valueQuantity"}));
  // SampledData.data is not a summary element.
  EXPECT_EQ(Keys(*out.find("valueSampledData")), (V{"origin", "period", "dimensions"}));
  EXPECT_TRUE(Validate(out).empty());
}

TEST(Shape, SummaryOfBundleSummarizesEntries) {
  json::Value bundle = Example("diagnosticreport-example.json");
  ASSERT_EQ(bundle.get_string("resourceType"), "Bundle");
  json::Value out = Shape(bundle, Opts(Summary::kTrue));
  const json::Array& entries = out.find("entry")->array();
  ASSERT_FALSE(entries.empty());
  for (const json::Value& e : entries) {
    const json::Value* r = e.find("resource");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->find("text"), nullptr);
    EXPECT_TRUE(HasSubsettedTag(*r));
  }
  EXPECT_TRUE(HasSubsettedTag(out));
  EXPECT_TRUE(Validate(out).empty());
}

TEST(Shape, SummaryText) {
  json::Value obs = Example("observation-example.json");
  json::Value out = Shape(obs, Opts(Summary::kText));
  EXPECT_EQ(Keys(out), (V{"resourceType", "id", "meta", "text", "status", "code"}));
  EXPECT_EQ(*out.find("text"), *obs.find("text"));
  EXPECT_TRUE(HasSubsettedTag(out));
  EXPECT_TRUE(Validate(out).empty());
}

TEST(Shape, SummaryData) {
  json::Value obs = Example("observation-example.json");
  json::Value out = Shape(obs, Opts(Summary::kData));
  EXPECT_EQ(out.find("text"), nullptr);
  EXPECT_EQ(out.size(), obs.size());  // text removed, meta added
  EXPECT_EQ(*out.find("valueQuantity"), *obs.find("valueQuantity"));
  EXPECT_TRUE(HasSubsettedTag(out));
}

TEST(Shape, SummaryCountActsAsTrue) {
  json::Value p = Example("patient-example.json");
  EXPECT_EQ(Shape(p, Opts(Summary::kCount)), Shape(p, Opts(Summary::kTrue)));
}

TEST(Shape, Elements) {
  json::Value p = Example("patient-example.json");
  json::Value out = Shape(p, Opts(Summary::kFalse, {"birthDate", "name"}));
  EXPECT_EQ(Keys(out), (V{"resourceType", "id", "meta", "name", "birthDate", "_birthDate"}));
  EXPECT_TRUE(HasSubsettedTag(out));
  EXPECT_EQ(*out.find("name"), *p.find("name"));
  // Mandatory elements come back unasked; unknown names are ignored.
  json::Value obs = Example("observation-example.json");
  EXPECT_EQ(Keys(Shape(obs, Opts(Summary::kFalse, {"subject", "nonsense"}))),
            (V{"resourceType", "id", "meta", "status", "code", "subject"}));
  // Choice elements by stem, [x] or variant; type-qualified and nested paths.
  for (const char* name :
       {"value", "value[x]", "valueQuantity", "Observation.value", "valueQuantity.unit"}) {
    EXPECT_EQ(Keys(Shape(obs, Opts(Summary::kFalse, {name}))),
              (V{"resourceType", "id", "meta", "status", "code", "valueQuantity"}))
        << name;
  }
  EXPECT_EQ(Keys(Shape(obs, Opts(Summary::kFalse, {"valueString"}))),
            (V{"resourceType", "id", "meta", "status", "code", "valueQuantity"}));
}

TEST(Shape, SummaryThenElements) {
  json::Value p = Example("patient-example.json");
  json::Value out = Shape(p, Opts(Summary::kTrue, {"gender", "contact"}));
  // contact is not in the summary, so only gender survives both.
  EXPECT_EQ(Keys(out), (V{"resourceType", "id", "meta", "gender"}));
}

TEST(Shape, SubsettedTagIsAddedOnce) {
  json::Value r = ParseOrDie(R"({"resourceType":"Patient","id":"p","meta":{"versionId":"2",
    "tag":[{"system":"http://x","code":"y"}]},"gender":"male","text":{"status":"generated",
    "div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}})");
  json::Value once = Shape(r, Opts(Summary::kData));
  json::Value twice = Shape(once, Opts(Summary::kData));
  EXPECT_EQ(once, twice);
  const json::Array& tags = once.find("meta")->find("tag")->array();
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_EQ(tags[0].get_string("code"), "y");
  EXPECT_EQ(tags[1].get_string("code"), "SUBSETTED");
  EXPECT_EQ(once.find("meta")->get_string("versionId"), "2");
  // Without meta, it is created after id.
  json::Value bare = ParseOrDie(R"({"resourceType":"Patient","id":"p","gender":"male"})");
  AddSubsettedTag(bare);
  EXPECT_EQ(json::Write(bare),
            R"({"resourceType":"Patient","id":"p","meta":{"tag":[{"system":)"
            R"("http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED"}]},)"
            R"("gender":"male"})");
}

TEST(Shape, NonResourcesAreReturnedUnchanged) {
  for (const char* text : {R"({"resourceType":"Foo","a":1})", R"([1,2])", R"({"a":1})"}) {
    json::Value v = ParseOrDie(text);
    EXPECT_EQ(Shape(v, Opts(Summary::kTrue)), v) << text;
  }
}

TEST(Shape, CanonicalOrder) {
  json::Value p = ParseOrDie(
      R"({"zzz":1,"gender":"male","_birthDate":{"id":"b"},"birthDate":"2000","id":"p",)"
      R"("name":[{"given":["A"],"family":"B","_given":[{"id":"g"}]}],"resourceType":"Patient",)"
      R"("contained":[{"status":"final","resourceType":"Observation","code":{"text":"c"}}],)"
      R"("meta":{"versionId":"1","extension":[{"valueString":"v","url":"http://x"}]}})");
  EXPECT_EQ(Serialize(p),
            R"({"resourceType":"Patient","id":"p","meta":{"extension":[{"url":"http://x",)"
            R"("valueString":"v"}],"versionId":"1"},"contained":[{"resourceType":"Observation",)"
            R"("status":"final","code":{"text":"c"}}],"name":[{"family":"B","given":["A"],)"
            R"("_given":[{"id":"g"}]}],"gender":"male","birthDate":"2000","_birthDate":{"id":"b"},)"
            R"("zzz":1})");
  json::Value copy = p;
  Canonicalize(copy);
  EXPECT_EQ(copy, p);
  EXPECT_EQ(json::Write(copy), Serialize(p));
  EXPECT_EQ(copy.object().front().first, "resourceType");
}

TEST(Shape, CanonicalOrderInsideBundles) {
  json::Value b = ParseOrDie(
      R"({"type":"collection","resourceType":"Bundle","entry":[{"resource":{"gender":"male",)"
      R"("resourceType":"Patient"},"fullUrl":"urn:uuid:c757873d-ec9a-4326-a141-556f43239520"}]})");
  EXPECT_EQ(Serialize(b),
            R"({"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":)"
            R"("urn:uuid:c757873d-ec9a-4326-a141-556f43239520","resource":{"resourceType":)"
            R"("Patient","gender":"male"}}]})");
}

TEST(Shape, SerializePretty) {
  json::Value p = ParseOrDie(R"({"gender":"male","resourceType":"Patient"})");
  std::string pretty = Serialize(p, SerializeOptions{.pretty = true, .model = nullptr});
  EXPECT_NE(pretty.find('\n'), std::string::npos);
  EXPECT_LT(pretty.find("resourceType"), pretty.find("gender"));
  EXPECT_EQ(*json::Parse(pretty), p);
}

TEST(Shape, ShapedExamplesStayValid) {
  int shaped = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(GM_SHARED_DIR "/conformance/examples-r4")) {
    std::string name = entry.path().filename().string();
    if (name == "bundle-questionnaire.json") continue;  // invalid to begin with (examples_test)
    json::Value r = Example(name);
    for (Summary s : {Summary::kTrue, Summary::kText, Summary::kData}) {
      json::Value out = Shape(r, Opts(s));
      std::vector<Issue> issues = Validate(out);
      EXPECT_TRUE(issues.empty()) << name << " summary " << static_cast<int>(s) << ": "
                                  << (issues.empty() ? ""
                                                     : issues[0].code + " " + issues[0].expression);
      EXPECT_TRUE(HasSubsettedTag(out)) << name;
      EXPECT_LE(out.size(), r.size() + (r.find("meta") == nullptr ? 1 : 0)) << name;
    }
    json::Value out = Shape(r, Opts(Summary::kFalse, {"identifier"}));
    EXPECT_TRUE(Validate(out).empty()) << name;
    ++shaped;
  }
  EXPECT_EQ(shaped, 71);
}

}  // namespace
}  // namespace gm::fhir
