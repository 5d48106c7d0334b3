// FHIRPath invariants on write: resources breaking common R4 constraints are
// rejected with the constraint's key; HL7's official examples pass.
#include "validation/invariants.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "core/json.h"
#include "fhir/validator.h"
#include "fhirpath/fhirpath.h"

namespace gm::validation {
namespace {

namespace fs = std::filesystem;

const char* kExamplesDir = GM_SHARED_DIR "/conformance/examples-r4";

json::Value J(std::string_view text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << v.status().message();
  return v.ok() ? std::move(v).value() : json::Value();
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Describe(const std::vector<Issue>& issues) {
  std::string out;
  for (const Issue& i : issues) out += i.code + " " + i.expression + ": " + i.text + "\n";
  return out;
}

std::vector<Issue> AllIssues(const ValidationResult& r) {
  return r.status.ok() ? r.warnings : r.status.issues();
}

// The issues of one code.
std::vector<Issue> WithCode(const std::vector<Issue>& issues, std::string_view code) {
  std::vector<Issue> out;
  for (const Issue& i : issues) {
    if (i.code == code) out.push_back(i);
  }
  return out;
}

// Validates and expects exactly one invariant error, with this key and location.
void ExpectInvariantError(std::string_view resource, std::string_view key,
                          std::string_view location) {
  json::Value r = J(resource);
  ValidationResult result = ValidateWithInvariants(r);
  SCOPED_TRACE(std::string(key));
  ASSERT_FALSE(result.status.ok());
  EXPECT_EQ(result.status.category(), ErrorCategory::kUnprocessable);
  std::vector<Issue> errors = WithCode(result.status.issues(), "GM-VAL-040");
  ASSERT_EQ(errors.size(), 1u) << Describe(result.status.issues());
  EXPECT_EQ(errors[0].severity, Severity::kError);
  EXPECT_EQ(errors[0].type, "invariant");
  EXPECT_TRUE(errors[0].text.starts_with(std::string(key) + ": ")) << errors[0].text;
  EXPECT_EQ(errors[0].expression, location);
  for (const Issue& i : result.status.issues()) {
    if (i.code != "GM-VAL-040") {
      EXPECT_NE(i.severity, Severity::kError) << Describe({i});
    }
  }
}

void ExpectNoInvariantError(std::string_view resource) {
  json::Value r = J(resource);
  ValidationResult result = ValidateWithInvariants(r);
  EXPECT_TRUE(result.status.ok()) << Describe(result.status.issues());
  EXPECT_TRUE(WithCode(AllIssues(result), "GM-VAL-042").empty()) << Describe(AllIssues(result));
}

TEST(Invariants, ObservationValueAndDataAbsentReason) {
  ExpectInvariantError(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "valueString":"high","dataAbsentReason":{"text":"asked"}})",
                       "obs-6", "Observation");
  ExpectNoInvariantError(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "dataAbsentReason":{"text":"asked"}})");
}

TEST(Invariants, ObservationComponentRepeatsCode) {
  ExpectInvariantError(R"({"resourceType":"Observation","status":"final",
      "code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
      "valueString":"x",
      "component":[{"code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
                    "valueString":"y"}]})",
                       "obs-7", "Observation");
  ExpectNoInvariantError(R"({"resourceType":"Observation","status":"final",
      "code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
      "component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},
                    "valueString":"y"}]})");
}

TEST(Invariants, ObservationReferenceRangeNeedsContent) {
  ExpectInvariantError(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "referenceRange":[{"text":"normal"},{"appliesTo":[{"text":"adults"}]}]})",
                       "obs-3", "Observation.referenceRange[1]");
}

TEST(Invariants, PatientContactNeedsDetails) {
  ExpectInvariantError(R"({"resourceType":"Patient","contact":[
      {"name":{"family":"Hansen"}},{"gender":"female"}]})",
                       "pat-1", "Patient.contact[1]");
  ExpectNoInvariantError(R"({"resourceType":"Patient","contact":[
      {"telecom":[{"system":"phone","value":"12345678"}]}]})");
}

TEST(Invariants, PeriodStartNotAfterEnd) {
  ExpectInvariantError(R"({"resourceType":"Patient","name":[{"family":"Berg",
      "period":{"start":"2020-05-01","end":"2019-01-01"}}]})",
                       "per-1", "Patient.name[0].period");
  ExpectNoInvariantError(R"({"resourceType":"Patient","name":[{"family":"Berg",
      "period":{"start":"2019-01-01","end":"2020-05-01T10:00:00Z"}}]})");
  ExpectNoInvariantError(R"({"resourceType":"Patient","name":[{"family":"Berg",
      "period":{"start":"2020-05-01"}}]})");
}

TEST(Invariants, ReferenceToMissingContainedResource) {
  ExpectInvariantError(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "subject":{"reference":"#p1"}})",
                       "ref-1", "Observation.subject");
  ExpectNoInvariantError(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "contained":[{"resourceType":"Patient","id":"p1","active":true}],
      "subject":{"reference":"#p1"}})");
}

TEST(Invariants, ContainedResourceMayReferToItsContainer) {
  ExpectNoInvariantError(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},
      "contained":[{"resourceType":"Patient","id":"p1",
                    "link":[{"other":{"reference":"#"},"type":"seealso"}]}],
      "subject":{"reference":"#p1"}})");
}

TEST(Invariants, ContainedResourceReferencedByCanonical) {
  ExpectNoInvariantError(R"({"resourceType":"Questionnaire","status":"draft",
      "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},
      "contained":[{"resourceType":"ValueSet","id":"vs","status":"draft"}],
      "item":[{"linkId":"1","type":"choice","answerValueSet":"#vs"}]})");
}

TEST(Invariants, EnableWhenExistsTakesABooleanAnswer) {
  ExpectNoInvariantError(R"({"resourceType":"Questionnaire","status":"draft",
      "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},
      "item":[{"linkId":"1","type":"boolean"},{"linkId":"2","type":"string",
        "enableWhen":[{"question":"1","operator":"exists","answerBoolean":true}]}]})");
  ExpectInvariantError(R"({"resourceType":"Questionnaire","status":"draft",
      "item":[{"linkId":"1","type":"boolean"},{"linkId":"2","type":"string",
        "enableWhen":[{"question":"1","operator":"exists","answerString":"yes"}]}]})",
                       "que-7", "Questionnaire.item[1].enableWhen[0]");
}

TEST(Invariants, ContainedResourceNotReferenced) {
  ExpectInvariantError(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "contained":[{"resourceType":"Patient","id":"p1","active":true}],
      "subject":{"reference":"Patient/other"}})",
                       "dom-3", "Observation");
}

TEST(Invariants, QuantityCodeNeedsSystem) {
  ExpectInvariantError(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "valueQuantity":{"value":5,"code":"mg"}})",
                       "qty-3", "Observation.value.ofType(Quantity)");
  ExpectNoInvariantError(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "valueQuantity":{"value":5,"system":"http://unitsofmeasure.org","code":"mg"}})");
}

TEST(Invariants, RangeLowNotAboveHigh) {
  ExpectInvariantError(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "valueRange":{"low":{"value":10,"system":"http://unitsofmeasure.org","code":"mg"},
                    "high":{"value":2,"system":"http://unitsofmeasure.org","code":"mg"}}})",
                       "rng-2", "Observation.value.ofType(Range)");
}

TEST(Invariants, StructureDefinitionNeedsBaseUnlessAbstract) {
  ExpectInvariantError(R"({"resourceType":"StructureDefinition","url":"http://example.org/sd",
      "name":"Example","status":"draft","kind":"resource","abstract":false,"type":"Patient",
      "differential":{"element":[{"id":"Patient","path":"Patient"}]}})",
                       "sdf-4", "StructureDefinition");
}

TEST(Invariants, MoreCommonConstraints) {
  struct Case {
    const char* key;
    const char* resource;
    const char* location;
  };
  const Case cases[] = {
      {"att-1", R"({"resourceType":"Patient","photo":[{"data":"AAAA"}]})", "Patient.photo[0]"},
      {"cpt-2", R"({"resourceType":"Patient","telecom":[{"value":"12345678"}]})",
       "Patient.telecom[0]"},
      {"org-1", R"({"resourceType":"Organization","active":true})", "Organization"},
      {"grp-1", R"({"resourceType":"Group","type":"person","actual":false,
          "member":[{"entity":{"reference":"Patient/1"}}]})",
       "Group"},
      {"mdd-1", R"({"resourceType":"MedicationDispense","status":"completed",
          "medicationCodeableConcept":{"text":"x"},
          "whenPrepared":"2020-01-02T10:00:00Z","whenHandedOver":"2020-01-01T10:00:00Z"})",
       "MedicationDispense"},
      {"cnt-3", R"({"resourceType":"Patient","extension":[{"url":"http://x",
          "valueCount":{"value":1.5,"system":"http://unitsofmeasure.org","code":"1"}}]})",
       "Patient.extension[0].value.ofType(Count)"},
  };
  for (const Case& c : cases) ExpectInvariantError(c.resource, c.key, c.location);
}

TEST(Invariants, BundleTotalOnlyForSearchAndHistory) {
  ExpectInvariantError(R"({"resourceType":"Bundle","type":"collection","total":3})", "bdl-1",
                       "Bundle");
}

TEST(Invariants, ConstraintsOfContainedResourcesAndBundleEntries) {
  ExpectInvariantError(R"({"resourceType":"Bundle","type":"collection","entry":[
      {"fullUrl":"urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0",
       "resource":{"resourceType":"Patient","contact":[{"gender":"male"}]}}]})",
                       "pat-1", "Bundle.entry[0].resource.contact[0]");
  ExpectInvariantError(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "contained":[{"resourceType":"Observation","id":"o","status":"final","code":{"text":"y"},
                    "valueString":"a","dataAbsentReason":{"text":"b"}}],
      "hasMember":[{"reference":"#o"}]})",
                       "obs-6", "Observation.contained[0]");
}

TEST(Invariants, WarningsDoNotReject) {
  // dom-6 (a resource should have narrative) is a warning.
  json::Value r = J(R"({"resourceType":"Patient","active":true})");
  ValidationResult result = ValidateWithInvariants(r);
  EXPECT_TRUE(result.status.ok());
  std::vector<Issue> dom6 = WithCode(result.warnings, "GM-VAL-041");
  ASSERT_EQ(dom6.size(), 1u) << Describe(result.warnings);
  EXPECT_EQ(dom6[0].severity, Severity::kWarning);
  EXPECT_TRUE(dom6[0].text.starts_with("dom-6: ")) << dom6[0].text;
  EXPECT_EQ(dom6[0].expression, "Patient");
}

TEST(Invariants, ContainedResourcesNeedNoNarrative) {
  json::Value r = J(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "contained":[{"resourceType":"Patient","id":"p1","active":true}],
      "subject":{"reference":"#p1"}})");
  ValidationResult result = ValidateWithInvariants(r);
  EXPECT_TRUE(result.status.ok());
  std::vector<Issue> dom6 = WithCode(result.warnings, "GM-VAL-041");
  ASSERT_EQ(dom6.size(), 1u) << Describe(result.warnings);
  EXPECT_EQ(dom6[0].expression, "Observation");
}

TEST(Invariants, ErrorsCarryWarningsToo) {
  json::Value r = J(R"({"resourceType":"Patient","contact":[{"gender":"male"}]})");
  ValidationResult result = ValidateWithInvariants(r);
  ASSERT_FALSE(result.status.ok());
  EXPECT_EQ(WithCode(result.status.issues(), "GM-VAL-040").size(), 1u);
  EXPECT_EQ(WithCode(result.status.issues(), "GM-VAL-041").size(), 1u);
  EXPECT_EQ(WithCode(result.warnings, "GM-VAL-041").size(), 1u);
}

TEST(Invariants, StructuralErrorsStillReported) {
  json::Value r = J(R"({"resourceType":"Patient","gender":"f","text":{"status":"generated",
      "div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}})");
  ValidationResult result = ValidateWithInvariants(r);
  ASSERT_FALSE(result.status.ok());
  EXPECT_EQ(result.status.code(), "GM-VAL-028") << Describe(result.status.issues());
}

TEST(Invariants, TextsNeverEchoData) {
  json::Value r = J(R"({"resourceType":"Patient","name":[{"family":"Secretname",
      "period":{"start":"2020-05-01","end":"2019-01-01"}}]})");
  ValidationResult result = ValidateWithInvariants(r);
  ASSERT_FALSE(result.status.ok());
  for (const Issue& i : result.status.issues()) {
    EXPECT_EQ(i.text.find("Secretname"), std::string::npos);
    EXPECT_EQ(i.text.find("2019"), std::string::npos);
  }
}

// The embedded R4 model with extra constraints on Patient (key, severity, expression).
fhir::Model ModelWithPatientConstraints(
    const std::vector<std::array<std::string, 3>>& constraints) {
  json::Value doc = J(fhir::EmbeddedModelJson());
  for (json::Value& t : doc.find("types")->array()) {
    if (t.get_string("n") != "Patient") continue;
    json::Value& rc = t["rc"];
    if (!rc.is_array()) rc = json::Value::MakeArray();
    for (const auto& c : constraints) {
      rc.push_back(json::Value(json::Array{json::Value(c[0]), json::Value(c[1]), json::Value(c[2]),
                                           json::Value("Test constraint " + c[0])}));
    }
  }
  auto model = fhir::Model::FromJson(doc);
  EXPECT_TRUE(model.ok()) << model.status().message();
  return std::move(model).value();
}

TEST(Invariants, EngineFailuresAreWarningsNamingTheKey) {
  fhir::Model model = ModelWithPatientConstraints({
      {"tst-1", "error", "name.exists() or ("},  // does not compile
      {"tst-2", "error", "name | telecom"},      // two items: not a singleton Boolean
      {"tst-3", "error", "name.exists()"},       // holds
  });
  auto checker = std::make_shared<const InvariantChecker>(InvariantOptions{.model = &model});
  EXPECT_GE(checker->uncompilable_expressions(), 1u);
  json::Value r = J(R"({"resourceType":"Patient","name":[{"family":"A"}],
      "telecom":[{"system":"phone","value":"1"}],"text":{"status":"generated",
      "div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}})");
  ValidationResult result = ValidateWithInvariants(r, {.model = &model, .checker = checker});
  EXPECT_TRUE(result.status.ok()) << Describe(result.status.issues());
  std::vector<Issue> failed = WithCode(result.warnings, "GM-VAL-042");
  ASSERT_EQ(failed.size(), 2u) << Describe(result.warnings);
  EXPECT_TRUE(failed[0].text.starts_with("tst-1: ")) << failed[0].text;
  EXPECT_TRUE(failed[1].text.starts_with("tst-2: ")) << failed[1].text;
  for (const Issue& i : failed) {
    EXPECT_EQ(i.severity, Severity::kWarning);
    EXPECT_EQ(i.type, "invariant");
    EXPECT_EQ(i.expression, "Patient");
  }
}

TEST(Invariants, WorkLimitIsAWarning) {
  fhir::Model model =
      ModelWithPatientConstraints({{"tst-4", "error", "descendants().count() < 0"}});
  auto checker =
      std::make_shared<const InvariantChecker>(InvariantOptions{.model = &model, .max_steps = 10});
  json::Value r = J(R"({"resourceType":"Patient","name":[{"family":"A","given":["B","C","D"]},
      {"family":"E","given":["F","G","H"]}]})");
  ValidationResult result = ValidateWithInvariants(r, {.model = &model, .checker = checker});
  EXPECT_TRUE(result.status.ok()) << Describe(result.status.issues());
  std::vector<Issue> failed = WithCode(result.warnings, "GM-VAL-042");
  ASSERT_EQ(failed.size(), 1u) << Describe(result.warnings);
  EXPECT_TRUE(failed[0].text.starts_with("tst-4: ")) << failed[0].text;
}

TEST(Invariants, WarningSeverityFromTheConstraint) {
  fhir::Model model = ModelWithPatientConstraints(
      {{"tst-5", "warning", "active.exists()"}, {"tst-6", "error", "gender.exists()"}});
  auto checker = std::make_shared<const InvariantChecker>(InvariantOptions{.model = &model});
  json::Value r = J(R"({"resourceType":"Patient","birthDate":"1970-01-01"})");
  ValidationResult result = ValidateWithInvariants(r, {.model = &model, .checker = checker});
  ASSERT_FALSE(result.status.ok());
  std::vector<Issue> all = result.status.issues();
  std::vector<Issue> errors = WithCode(all, "GM-VAL-040");
  ASSERT_EQ(errors.size(), 1u) << Describe(all);
  EXPECT_EQ(errors[0].text, "tst-6: Test constraint tst-6");
  std::vector<Issue> warnings = WithCode(all, "GM-VAL-041");
  ASSERT_EQ(warnings.size(), 2u) << Describe(all);  // tst-5 and dom-6
  EXPECT_EQ(warnings[0].severity, Severity::kWarning);
}

TEST(Invariants, WarningsAreCapped) {
  fhir::Model model = ModelWithPatientConstraints({});
  auto checker = std::make_shared<const InvariantChecker>(
      InvariantOptions{.model = &model, .max_warnings = 3});
  // A Bundle of six patients without narrative: one dom-6 warning each.
  std::string bundle = R"({"resourceType":"Bundle","type":"collection","entry":[)";
  for (int i = 0; i < 6; ++i) {
    if (i > 0) bundle += ",";
    bundle += R"({"resource":{"resourceType":"Patient","active":true}})";
  }
  bundle += "]}";
  json::Value r = J(bundle);
  ValidationResult result = ValidateWithInvariants(r, {.model = &model, .checker = checker});
  EXPECT_TRUE(result.status.ok()) << Describe(result.status.issues());
  EXPECT_EQ(WithCode(result.warnings, "GM-VAL-041").size(), 3u) << Describe(result.warnings);
  EXPECT_EQ(WithCode(result.warnings, "GM-VAL-043").size(), 1u) << Describe(result.warnings);
}

TEST(Invariants, ManyWarningsNeverTurnIntoAnError) {
  std::string bundle = R"({"resourceType":"Bundle","type":"collection","entry":[)";
  for (int i = 0; i < 300; ++i) {
    if (i > 0) bundle += ",";
    bundle += R"({"resource":{"resourceType":"Patient","active":true}})";
  }
  bundle += "]}";
  json::Value r = J(bundle);
  ValidationResult result = ValidateWithInvariants(r);
  EXPECT_TRUE(result.status.ok()) << Describe(result.status.issues());
}

// Every constraint of the model, reached from the resource types.
std::vector<const fhir::Constraint*> AllConstraints(const fhir::Model& model) {
  std::vector<const fhir::Constraint*> out;
  std::set<const fhir::TypeDef*> seen;
  std::vector<const fhir::TypeDef*> work;
  auto visit = [&](const fhir::TypeDef* t) {
    if (t != nullptr && seen.insert(t).second) work.push_back(t);
  };
  for (const std::string& name : model.ResourceTypes()) visit(model.Type(name));
  while (!work.empty()) {
    const fhir::TypeDef* t = work.back();
    work.pop_back();
    for (const fhir::Constraint& c : t->constraints) out.push_back(&c);
    for (const fhir::ElementDef& el : t->elements) {
      for (const fhir::Constraint& c : el.constraints) out.push_back(&c);
      visit(el.type);
      for (const fhir::TypeRef& ref : el.types) visit(model.Type(ref.code));
    }
  }
  return out;
}

TEST(Invariants, KnownBrokenListIsLive) {
  std::vector<const fhir::Constraint*> all = AllConstraints(fhir::Model::R4());
  ASSERT_GT(all.size(), 1000u);
  for (const KnownBrokenInvariant& k : KnownBrokenInvariants()) {
    SCOPED_TRACE(std::string(k.key));
    EXPECT_FALSE(k.reason.empty());
    bool found = std::any_of(all.begin(), all.end(), [&](const fhir::Constraint* c) {
      return c->key == k.key && c->expression == k.expression;
    });
    EXPECT_TRUE(found) << "no constraint of the model has this expression any more";
    auto original = fhirpath::Expression::Compile(k.expression);
    if (!k.replacement.empty()) {
      auto compiled = fhirpath::Expression::Compile(k.replacement);
      EXPECT_TRUE(compiled.ok()) << compiled.status().message();
    } else {
      EXPECT_FALSE(original.ok()) << "a skipped constraint must be one the engine cannot compile";
    }
  }
}

// What each correction is for: the published expression gives the wrong
// answer on a valid resource, the replacement the right one.
TEST(Invariants, KnownBrokenExpressionsAreWrongAndReplacementsRight) {
  auto expect = [](std::string_view key, std::string_view resource, std::string_view at) {
    SCOPED_TRACE(std::string(key));
    const KnownBrokenInvariant* k = nullptr;
    for (const KnownBrokenInvariant& e : KnownBrokenInvariants()) {
      if (e.key == key) k = &e;
    }
    ASSERT_NE(k, nullptr);
    json::Value r = J(resource);
    auto focus = fhirpath::Expression::Compile(at);
    ASSERT_TRUE(focus.ok());
    auto nodes = focus->Evaluate(r);
    ASSERT_TRUE(nodes.ok());
    ASSERT_EQ(nodes->size(), 1u);
    fhirpath::EvalOptions eo;
    eo.resource = &r;
    eo.root_resource = &r;
    auto published = fhirpath::Expression::Compile(k->expression);
    ASSERT_TRUE(published.ok());
    auto before = published->Evaluate(*nodes, eo);
    bool wrong = !before.ok();
    if (before.ok()) {
      auto b = fhirpath::ToBoolean(*before);
      wrong = !b.ok() || (b->has_value() && !**b);
    }
    EXPECT_TRUE(wrong) << "the published expression holds here; is the entry still needed?";
    auto replacement = fhirpath::Expression::Compile(k->replacement);
    ASSERT_TRUE(replacement.ok());
    auto after = replacement->Evaluate(*nodes, eo);
    ASSERT_TRUE(after.ok()) << after.status().message();
    auto a = fhirpath::ToBoolean(*after);
    ASSERT_TRUE(a.ok());
    EXPECT_NE(*a, std::optional<bool>(false));
  };
  expect("dom-3", R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "contained":[{"resourceType":"Patient","id":"p1","active":true}],
      "subject":{"reference":"#p1"}})",
         "Observation");
  expect("que-7", R"({"resourceType":"Questionnaire","status":"draft",
      "item":[{"linkId":"2","type":"string",
        "enableWhen":[{"question":"1","operator":"exists","answerBoolean":true}]}]})",
         "Questionnaire.item.enableWhen");
}

TEST(Invariants, ConcurrentValidationAgrees) {
  json::Value bad = J(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "valueString":"high","dataAbsentReason":{"text":"asked"},
      "referenceRange":[{"appliesTo":[{"text":"adults"}]}]})");
  json::Value good = J(R"({"resourceType":"Patient","contact":[{"name":{"family":"A"}}],
      "name":[{"period":{"start":"2019-01-01","end":"2020-01-01"}}]})");
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        ValidationResult b = ValidateWithInvariants(bad);
        ValidationResult g = ValidateWithInvariants(good);
        if (b.status.ok() || WithCode(b.status.issues(), "GM-VAL-040").size() != 2 ||
            !g.status.ok()) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Invariants, HookWorksWithTheStructuralValidator) {
  json::Value r = J(R"({"resourceType":"Patient","contact":[{"gender":"male"}]})");
  fhir::ValidateOptions vo;
  vo.invariants = MakeInvariantHook(InvariantChecker::R4());
  std::vector<Issue> issues = fhir::Validate(r, vo);
  std::vector<Issue> errors = WithCode(issues, "GM-VAL-040");
  ASSERT_EQ(errors.size(), 1u) << Describe(issues);
  EXPECT_EQ(errors[0].expression, "Patient.contact[0]");
  EXPECT_FALSE(fhir::ValidateResource(r, vo).ok());
}

TEST(Invariants, ChecksCompileEveryExpressionOnce) {
  auto checker = InvariantChecker::R4();
  EXPECT_GT(checker->compiled_expressions(), 150u);
  EXPECT_EQ(checker->uncompilable_expressions(), 0u);
}

// Official examples that genuinely violate an invariant, with the one
// invariant error each must produce.
struct ExampleViolation {
  const char* file;
  const char* key;
  const char* reason;
};
constexpr ExampleViolation kExampleViolations[] = {
    {"codesystem-example.json", "csd-1",
     "concept code 'chol-mass' is defined twice (once for mmol/L, once for mg/L)"},
};

TEST(Invariants, AllExamplesPassWithoutInvariantErrors) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(kExamplesDir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 72u);
  size_t warnings = 0;
  size_t unevaluable = 0;
  size_t bytes = 0;
  std::vector<json::Value> docs;
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.filename().string());
    std::string text = ReadFile(file);
    bytes += text.size();
    auto parsed = json::Parse(text);
    ASSERT_TRUE(parsed.ok());
    ValidationResult result = ValidateWithInvariants(*parsed);
    std::vector<Issue> all = AllIssues(result);
    const ExampleViolation* known = nullptr;
    for (const ExampleViolation& v : kExampleViolations) {
      if (file.filename() == v.file) known = &v;
    }
    std::vector<Issue> errors = WithCode(all, "GM-VAL-040");
    if (known != nullptr) {
      ASSERT_EQ(errors.size(), 1u) << Describe(all);
      EXPECT_TRUE(errors[0].text.starts_with(std::string(known->key) + ": ")) << known->reason;
    } else {
      EXPECT_TRUE(errors.empty()) << Describe(all);
    }
    warnings += WithCode(all, "GM-VAL-041").size();
    unevaluable += WithCode(all, "GM-VAL-042").size();
    for (const Issue& i : WithCode(all, "GM-VAL-042")) ADD_FAILURE() << Describe({i});
    docs.push_back(std::move(parsed).value());
  }
  // Informal cost measurement (printed, never asserted).
  auto run = [&](bool with_invariants) {
    auto start = std::chrono::steady_clock::now();
    int rounds = 20;
    for (int k = 0; k < rounds; ++k) {
      for (const json::Value& d : docs) {
        if (with_invariants) {
          ValidationResult r = ValidateWithInvariants(d);
          (void)r;
        } else {
          std::vector<Issue> r = fhir::Validate(d);
          (void)r;
        }
      }
    }
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    return static_cast<double>(us) / (rounds * docs.size());
  };
  double structural = run(false);
  double full = run(true);
  std::printf(
      "[ cost     ] %zu examples (%zu KiB): structural %.1f us/resource, with invariants "
      "%.1f us/resource; %zu invariant warnings, %zu unevaluable\n",
      docs.size(), bytes / 1024, structural, full, warnings, unevaluable);
}

}  // namespace
}  // namespace gm::validation
