// Unit tests of the FHIRPath engine: parser errors, three-valued logic, date
// precision, quantities, the FHIR additions, the public API, hostile input
// and concurrent evaluation.
#include "fhirpath/fhirpath.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace gm::fhirpath {
namespace {

json::Value ParseJson(std::string_view text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << v.status().message();
  return v.ok() ? std::move(v).value() : json::Value();
}

const json::Value& Patient() {
  static const json::Value p = ParseJson(R"({
    "resourceType": "Patient",
    "id": "p1",
    "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "13116900216"}],
    "active": true,
    "name": [
      {"use": "official", "family": "Nordmann", "given": ["Ola", "Jakob"]},
      {"use": "nickname", "given": ["Olly"]}
    ],
    "gender": "male",
    "_birthDate": {"extension": [{"url": "http://example.org/unknown", "valueCode": "unk"}]},
    "managingOrganization": {"reference": "#org1"},
    "contained": [{"resourceType": "Organization", "id": "org1", "name": "Legekontoret"}]
  })");
  return p;
}

const json::Value& Observation() {
  static const json::Value o = ParseJson(R"({
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
    "subject": {"reference": "Patient/p1"},
    "effectiveDateTime": "2024-02-29T08:30:00+01:00",
    "valueQuantity": {"value": 72.50, "unit": "kg", "system": "http://unitsofmeasure.org",
                      "code": "kg"}
  })");
  return o;
}

// Evaluates and returns the results' string forms; fails the test on errors.
std::vector<std::string> Eval(std::string_view expr, const json::Value& input = json::Value(),
                              const EvalOptions& options = {}) {
  std::vector<std::string> out;
  auto e = Expression::Compile(expr);
  EXPECT_TRUE(e.ok()) << expr << ": " << e.status().message();
  if (!e.ok()) return out;
  auto r = e->Evaluate(input, options);
  EXPECT_TRUE(r.ok()) << expr << ": " << r.status().message();
  if (!r.ok()) return out;
  for (const Item& it : *r)
    out.push_back(it.ToString().value_or("<" + std::string(it.type_name()) + ">"));
  return out;
}

using Strings = std::vector<std::string>;

std::string CompileCode(std::string_view expr, CompileOptions options = {}) {
  auto e = Expression::Compile(expr, options);
  return e.ok() ? "ok" : e.status().code();
}

std::string EvalCode(std::string_view expr, const json::Value& input = json::Value(),
                     const EvalOptions& options = {}) {
  auto e = Expression::Compile(expr);
  if (!e.ok()) return "compile:" + e.status().code();
  auto r = e->Evaluate(input, options);
  return r.ok() ? "ok" : r.status().code();
}

CompileOptions LongText() {
  CompileOptions options;
  options.max_length = 1 << 20;
  return options;
}

// ---------------------------------------------------------------- parser

TEST(FhirPathParser, SyntaxErrorsCarryCodeAndPosition) {
  auto e = Expression::Compile("Patient.name.given[");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), "GM-FP-001");
  EXPECT_NE(e.status().message().find("1:20"), std::string::npos) << e.status().message();
  EXPECT_EQ(e.status().category(), ErrorCategory::kInvalid);

  auto multi = Expression::Compile("name\n  .where(use = 'x'))");
  ASSERT_FALSE(multi.ok());
  EXPECT_NE(multi.status().message().find("2:20"), std::string::npos) << multi.status().message();

  EXPECT_EQ(CompileCode("'abc"), "GM-FP-002");
  EXPECT_EQ(CompileCode("1 /* open"), "GM-FP-002");
  EXPECT_EQ(CompileCode("@2020-13-01"), "GM-FP-003");
  EXPECT_EQ(CompileCode("'\\q'"), "GM-FP-003");
  EXPECT_EQ(CompileCode("1 + # 2"), "GM-FP-001");
  EXPECT_EQ(CompileCode("$that"), "GM-FP-001");
  EXPECT_EQ(CompileCode("name."), "GM-FP-001");
  EXPECT_EQ(CompileCode(""), "GM-FP-001");
}

TEST(FhirPathParser, SemanticErrors) {
  EXPECT_EQ(CompileCode("name.frobnicate()"), "GM-FP-010");
  EXPECT_EQ(CompileCode("name.substring()"), "GM-FP-011");
  EXPECT_EQ(CompileCode("iif(true)"), "GM-FP-011");
  EXPECT_EQ(CompileCode("1 is Frob"), "GM-FP-012");
  EXPECT_EQ(CompileCode("name.ofType(HumanNam)"), "GM-FP-012");
  EXPECT_EQ(CompileCode("'x'.matches('(unclosed')"), "GM-FP-023");
  CompileOptions patient{.context_type = "Patient"};
  EXPECT_EQ(CompileCode("Patient.nmae.given", patient), "GM-FP-013");
  EXPECT_EQ(CompileCode("name.given.foo", patient), "GM-FP-013");
  EXPECT_EQ(CompileCode("Patient.name.given", patient), "ok");
  EXPECT_EQ(CompileCode("Patient.birthDate.extension.url", patient), "ok");
  EXPECT_EQ(CompileCode("contained.name", patient), "ok");  // resources are open
  CompileOptions obs{.context_type = "Observation"};
  EXPECT_EQ(CompileCode("Observation.valueQuantity", obs), "GM-FP-013");
  EXPECT_EQ(CompileCode("Observation.value.unit", obs), "ok");
  EXPECT_EQ(CompileCode("(Observation.value as Period).unit", obs), "GM-FP-013");
  // A path for another resource type is empty, not an error (search parameters
  // share expressions across types), except in strict mode.
  EXPECT_EQ(CompileCode("Encounter.status | Patient.gender", patient), "ok");
  CompileOptions strict{.context_type = "Patient", .strict = true};
  EXPECT_EQ(CompileCode("Encounter.status", strict), "GM-FP-014");
  EXPECT_EQ(CompileCode("children().first()", strict), "GM-FP-014");
  EXPECT_EQ(CompileCode("iif('x', 1, 2)", strict), "GM-FP-014");
  EXPECT_EQ(CompileCode("name", CompileOptions{.context_type = "NoSuchType"}), "GM-FP-012");
}

TEST(FhirPathParser, EveryR4SearchParameterCompilesAgainstItsBase) {
  const fhir::Model& model = fhir::Model::R4();
  int compiled = 0;
  for (const std::string& type : model.ResourceTypes()) {
    for (const fhir::SearchParamDef* sp : model.SearchParams(type)) {
      if (sp->expression.empty()) continue;
      auto e = Expression::Compile(sp->expression, {.context_type = type});
      EXPECT_TRUE(e.ok()) << type << "." << sp->code << ": " << e.status().message();
      ++compiled;
    }
  }
  EXPECT_GT(compiled, 1000);
}

TEST(FhirPathParser, FindsTheErrorInR4sOwnInvariant) {
  // cid-0 is inherited from MetadataResource, but ChargeItemDefinition has no name.
  for (const fhir::Constraint& c : fhir::Model::R4().Type("ChargeItemDefinition")->constraints) {
    if (c.key != "cid-0") continue;
    EXPECT_EQ(CompileCode(c.expression, {.context_type = "ChargeItemDefinition"}), "GM-FP-013");
  }
}

TEST(FhirPathParser, LiteralsAndPrecedence) {
  EXPECT_EQ(Eval("2 + 3 * 4"), Strings{"14"});
  EXPECT_EQ(Eval("(2 + 3) * 4"), Strings{"20"});
  EXPECT_EQ(Eval("-2.5.abs()"), Strings{"-2.5"});  // polarity binds looser than invocation
  EXPECT_EQ(Eval("'a\\u00e6\\tb'.length()"), Strings{"4"});
  EXPECT_EQ(Eval("@2015-02-04T14:34:28.123+01:00.toString()"),
            Strings{"2015-02-04T14:34:28.123+01:00"});
  EXPECT_EQ(Eval("@2015T.toString()"), Strings{"2015"});
  EXPECT_EQ(Eval("@T14:34.toString()"), Strings{"14:34"});
  EXPECT_EQ(Eval("4.50 'mg'"), Strings{"4.50 'mg'"});
  EXPECT_EQ(Eval("3 weeks"), Strings{"3 weeks"});
  EXPECT_EQ(Eval("1 | 2 is Integer"), (Strings{"1", "true"}));
  EXPECT_EQ(Eval("`div`", ParseJson(R"({"div": "x"})")), Strings{"x"});
  EXPECT_EQ(Eval("%`ext-patient-birthTime`"),
            Strings{"http://hl7.org/fhir/StructureDefinition/patient-birthTime"});
}

// ---------------------------------------------------------------- logic

TEST(FhirPathLogic, ThreeValuedTruthTables) {
  // Expected values from the FHIRPath specification's tables; "" is empty.
  const char* values[] = {"true", "false", "{}"};
  const char* kAnd[3][3] = {{"true", "false", ""}, {"false", "false", "false"}, {"", "false", ""}};
  const char* kOr[3][3] = {{"true", "true", "true"}, {"true", "false", ""}, {"true", "", ""}};
  const char* kXor[3][3] = {{"false", "true", ""}, {"true", "false", ""}, {"", "", ""}};
  const char* kImplies[3][3] = {{"true", "false", ""}, {"true", "true", "true"}, {"true", "", ""}};
  struct Op {
    const char* name;
    const char* (*table)[3];
  } ops[] = {{"and", kAnd}, {"or", kOr}, {"xor", kXor}, {"implies", kImplies}};
  for (const Op& op : ops) {
    for (int a = 0; a < 3; ++a) {
      for (int b = 0; b < 3; ++b) {
        std::string expr = std::string("(") + values[a] + " " + op.name + " " + values[b] + ")";
        Strings got = Eval(expr);
        Strings want;
        if (*op.table[a][b]) want.push_back(op.table[a][b]);
        EXPECT_EQ(got, want) << expr;
      }
    }
  }
}

TEST(FhirPathLogic, SingletonEvaluationAndNot) {
  EXPECT_EQ(Eval("('x' and true)"), Strings{"true"});
  EXPECT_EQ(Eval("{}.not()"), Strings{});
  EXPECT_EQ(Eval("true.not()"), Strings{"false"});
  EXPECT_EQ(EvalCode("(true | false) and true"), "GM-FP-020");
  EXPECT_EQ(Eval("{} = 1"), Strings{});
  EXPECT_EQ(Eval("{} ~ {}"), Strings{"true"});
  // Short-circuit: the right side is not evaluated.
  EXPECT_EQ(Eval("false and (1 | 2).single()"), Strings{"false"});
  EXPECT_EQ(Eval("true or (1 | 2).single()"), Strings{"true"});
}

// ---------------------------------------------------------------- dates

TEST(FhirPathDates, PartialPrecisionComparison) {
  EXPECT_EQ(Eval("@2012-04 = @2012-04-15"), Strings{});
  EXPECT_EQ(Eval("@2012 < @2013-01-01"), Strings{"true"});  // decided by the year
  EXPECT_EQ(Eval("@2012-04-15 < @2012-04"), Strings{});
  EXPECT_EQ(Eval("@2012-04-15T10:00 = @2012-04-15T10:00:00"), Strings{});
  EXPECT_EQ(Eval("@2012-04-15T10:00:00 = @2012-04-15T10:00:00.000"), Strings{"true"});
  EXPECT_EQ(Eval("@2012-04-15T10:00:00 ~ @2012-04-15T10:00"), Strings{"false"});
  EXPECT_EQ(Eval("@2012-04-15T10:00:00+02:00 = @2012-04-15T08:00:00Z"), Strings{"true"});
  // Without a time zone a dateTime could be anywhere from -12:00 to +14:00.
  EXPECT_EQ(Eval("@2012-04-15T10:00:00Z = @2012-04-15T10:00:00"), Strings{});
  EXPECT_EQ(Eval("@2012-04-15T10:00:00Z < @2012-04-17T10:00:00"), Strings{"true"});
  EXPECT_EQ(Eval("@2012-04-15 = @T10:00"), Strings{"false"});
  EXPECT_EQ(EvalCode("@2012-04-15 < @T10:00"), "GM-FP-021");
}

TEST(FhirPathDates, CalendarArithmetic) {
  EXPECT_EQ(Eval("@2020-01-31 + 1 month"), Strings{"2020-02-29"});
  EXPECT_EQ(Eval("@2020-02-29 + 1 year"), Strings{"2021-02-28"});
  EXPECT_EQ(Eval("@2019-12-31 + 1 day"), Strings{"2020-01-01"});
  EXPECT_EQ(Eval("@2020-03-01 - 1 'd'"), Strings{"2020-02-29"});
  EXPECT_EQ(Eval("@2020-01-01T23:30:00Z + 45 minutes"), Strings{"2020-01-02T00:15:00Z"});
  EXPECT_EQ(Eval("@T23:00 + 2 hours"), Strings{"01:00"});
  EXPECT_EQ(Eval("@2020 + 18 months"), Strings{"2021"});
  EXPECT_EQ(EvalCode("@2020-01-01 + 1 'mo'"), "GM-FP-025");
  EXPECT_EQ(EvalCode("@2020-01-01 + 1 'kg'"), "GM-FP-025");
}

TEST(FhirPathDates, InjectedClock) {
  EvalOptions options;
  // 2024-03-01T12:34:56.789Z
  options.clock = [] {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(1709296496789));
  };
  EXPECT_EQ(Eval("now().toString()", json::Value(), options), Strings{"2024-03-01T12:34:56.789Z"});
  EXPECT_EQ(Eval("today()", json::Value(), options), Strings{"2024-03-01"});
  EXPECT_EQ(Eval("timeOfDay()", json::Value(), options), Strings{"12:34:56.789"});
  options.utc_offset_minutes = 60;
  EXPECT_EQ(Eval("now()", json::Value(), options), Strings{"2024-03-01T13:34:56.789+01:00"});
  EXPECT_EQ(Eval("now() = now()", json::Value(), options), Strings{"true"});
}

TEST(FhirPathDates, Boundaries) {
  EXPECT_EQ(Eval("@2014-02.highBoundary(8)"), Strings{"2014-02-28"});
  EXPECT_EQ(Eval("@2016-02.highBoundary(8)"), Strings{"2016-02-29"});
  EXPECT_EQ(Eval("@2014-02-03.lowBoundary()"), Strings{"2014-02-03T00:00:00.000+14:00"});
  EXPECT_EQ(Eval("2.5.lowBoundary(3)"), Strings{"2.450"});
}

// ---------------------------------------------------------------- values

TEST(FhirPathValues, DecimalsAreExact) {
  EXPECT_EQ(Eval("0.1 + 0.2 = 0.3"), Strings{"true"});
  EXPECT_EQ(Eval("1.10 + 2.205"), Strings{"3.305"});
  EXPECT_EQ(Eval("10 / 4"), Strings{"2.5"});
  EXPECT_EQ(Eval("7 div 2"), Strings{"3"});
  EXPECT_EQ(Eval("-7 mod 3"), Strings{"-1"});
  EXPECT_EQ(Eval("1 / 0"), Strings{});
  EXPECT_EQ(Eval("(2.0).power(0.5).round(4)"), Strings{"1.4142"});
  EXPECT_EQ(Eval("2147483647 * 2147483647 * 2147483647"), Strings{});  // overflow is empty
  EXPECT_EQ(Eval("(-1).power(1000000001)"), Strings{"-1"});
  EXPECT_EQ(Eval("2.power(62)"), Strings{"4611686018427387904"});
  EXPECT_EQ(Eval("2.power(64)"), Strings{});
}

TEST(FhirPathValues, UcumQuantities) {
  EXPECT_EQ(Eval("1 'kg' = 1000 'g'"), Strings{"true"});
  EXPECT_EQ(Eval("1 '[in_i]' = 2.54 'cm'"), Strings{"true"});
  EXPECT_EQ(Eval("10 'mg/dL' = 100 'mg/L'"), Strings{"true"});
  EXPECT_EQ(Eval("120 'mm[Hg]' > 15 'kPa'"), Strings{"true"});
  EXPECT_EQ(Eval("5 'mmol/L' < 5 'mol/m3'"), Strings{"false"});
  EXPECT_EQ(Eval("1 'kg' = 1 'm'"), Strings{});  // not comparable
  EXPECT_EQ(Eval("1 'kg' + 500 'g'"), Strings{"1.5 'kg'"});
  EXPECT_EQ(Eval("1 'kg'.comparable(1 '[lb_av]')"), Strings{"true"});
  EXPECT_EQ(Eval("72.5 'kg'.toQuantity('g')"), Strings{"72500 'g'"});
  EXPECT_EQ(Eval("Observation.value > 70 'kg'", Observation()), Strings{"true"});
  EXPECT_EQ(Eval("Observation.value = 72500 'g'", Observation()), Strings{"true"});
}

TEST(FhirPathValues, Strings) {
  EXPECT_EQ(Eval("'Ærlig Øl på Ås'.upper()"), Strings{"ÆRLIG ØL PÅ ÅS"});
  EXPECT_EQ(Eval("'ÆØÅ'.lower()"), Strings{"æøå"});
  EXPECT_EQ(Eval("'blåbær'.length()"), Strings{"6"});
  EXPECT_EQ(Eval("'blåbær'.substring(2, 3)"), Strings{"åbæ"});
  EXPECT_EQ(Eval("'blåbær'.indexOf('b')"), Strings{"0"});
  EXPECT_EQ(Eval("'blåbær'.indexOf('bær')"), Strings{"3"});
  EXPECT_EQ(Eval("'a,b'.split(',')"), (Strings{"a", "b"}));
  EXPECT_EQ(Eval("'abc123'.replaceMatches('([a-z]+)([0-9]+)', '$2-$1')"), Strings{"123-abc"});
  EXPECT_EQ(Eval("'x'.matches('X')"), Strings{"false"});
}

// ---------------------------------------------------------------- FHIR

TEST(FhirPathFhir, ItemsReferenceTheInputWithTheirTypes) {
  const json::Value& p = Patient();
  auto e = Expression::Compile("Patient.identifier | Patient.name.given | Patient.active",
                               {.context_type = "Patient"});
  ASSERT_TRUE(e.ok());
  auto r = e->Evaluate(p);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 5u);
  EXPECT_EQ((*r)[0].type_name(), "Identifier");
  EXPECT_EQ((*r)[0].node(), &p.find("identifier")->array()[0]);  // not a copy
  EXPECT_EQ((*r)[1].type_name(), "string");
  EXPECT_EQ((*r)[1].type_namespace(), "FHIR");
  EXPECT_EQ((*r)[1].node(), &p.find("name")->array()[0].find("given")->array()[0]);
  EXPECT_EQ((*r)[4].type_name(), "boolean");
  ASSERT_NE((*r)[0].fhir_type(), nullptr);
  EXPECT_EQ((*r)[0].fhir_type()->name, "Identifier");
}

TEST(FhirPathFhir, ChoiceTypes) {
  auto e = Expression::Compile("Observation.value | Observation.effective");
  ASSERT_TRUE(e.ok());
  auto r = e->Evaluate(Observation());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].type_name(), "Quantity");
  EXPECT_EQ((*r)[1].type_name(), "dateTime");
  EXPECT_EQ(Eval("Observation.value.ofType(Quantity).value", Observation()), Strings{"72.50"});
  EXPECT_EQ(Eval("Observation.effective is dateTime", Observation()), Strings{"true"});
  EXPECT_EQ(Eval("Observation.value.as(string)", Observation()), Strings{});
}

TEST(FhirPathFhir, PrimitiveExtensions) {
  const json::Value& p = Patient();
  // birthDate has no value, only an extension: it exists without a value.
  EXPECT_EQ(Eval("Patient.birthDate.exists()", p), Strings{"true"});
  EXPECT_EQ(Eval("Patient.birthDate.hasValue()", p), Strings{"false"});
  EXPECT_EQ(Eval("Patient.birthDate.extension.value", p), Strings{"unk"});
  EXPECT_EQ(Eval("Patient.birthDate.extension('http://example.org/unknown').exists()", p),
            Strings{"true"});
  EXPECT_EQ(Eval("Patient.gender.hasValue()", p), Strings{"true"});
  EXPECT_EQ(Eval("Patient.gender.getValue().is(System.String)", p), Strings{"true"});
  EXPECT_EQ(Eval("Patient.gender.is(code)", p), Strings{"true"});
  EXPECT_EQ(Eval("Patient.gender = 'male'", p), Strings{"true"});
}

TEST(FhirPathFhir, ResolveContainedBundleAndCallback) {
  const json::Value& p = Patient();
  EXPECT_EQ(Eval("Patient.managingOrganization.resolve().name", p), Strings{"Legekontoret"});
  json::Value bundle = ParseJson(R"({"resourceType": "Bundle", "type": "collection", "entry": [
      {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "a", "gender": "female"}},
      {"fullUrl": "http://x/Observation/o", "resource": {"resourceType": "Observation",
        "status": "final", "subject": {"reference": "urn:uuid:1"}}}]})");
  EXPECT_EQ(Eval("Bundle.entry.resource.ofType(Observation).subject.resolve().gender", bundle),
            Strings{"female"});
  json::Value remote = ParseJson(R"({"resourceType": "Patient", "id": "p1", "gender": "other"})");
  EvalOptions options;
  options.resolver = [&](std::string_view ref) -> const json::Value* {
    return ref == "Patient/p1" ? &remote : nullptr;
  };
  EXPECT_EQ(Eval("Observation.subject.resolve().gender", Observation(), options), Strings{"other"});
  EXPECT_EQ(Eval("Observation.subject.resolve() is Patient", Observation(), options),
            Strings{"true"});
  EXPECT_EQ(Eval("Observation.subject.resolve()", Observation()), Strings{});
}

TEST(FhirPathFhir, TerminologyAndConformance) {
  EXPECT_EQ(Eval("Patient.gender.memberOf('http://hl7.org/fhir/ValueSet/administrative-gender')",
                 Patient()),
            Strings{});
  EvalOptions options;
  options.terminology = [](const Item& item, std::string_view vs) -> std::optional<bool> {
    if (vs != "http://hl7.org/fhir/ValueSet/administrative-gender") return std::nullopt;
    return item.ToString() == "male";
  };
  EXPECT_EQ(Eval("Patient.gender.memberOf(%`vs-administrative-gender`)", Patient(), options),
            Strings{"true"});
  EXPECT_EQ(Eval("conformsTo('http://hl7.org/fhir/StructureDefinition/DomainResource')", Patient()),
            Strings{"true"});
  EXPECT_EQ(EvalCode("conformsTo('http://example.org/StructureDefinition/x')", Patient()),
            "GM-FP-026");
}

TEST(FhirPathFhir, VariablesAndResource) {
  EvalOptions options;
  Collection limit;
  limit.AddInteger(2);
  options.variables.emplace_back("limit", limit);
  EXPECT_EQ(Eval("Patient.name.given.take(%limit)", Patient(), options), (Strings{"Ola", "Jakob"}));
  EXPECT_EQ(EvalCode("%nope", Patient()), "GM-FP-022");
  EXPECT_EQ(Eval("%ucum"), Strings{"http://unitsofmeasure.org"});
  // An invariant evaluated on an element, with %resource given by the caller.
  auto e = Expression::Compile("given.first() & ' of ' & %resource.id & ' ' & %context.use");
  ASSERT_TRUE(e.ok());
  const json::Value& name = Patient().find("name")->array()[0];
  EvalOptions on_element;
  on_element.resource = &Patient();
  on_element.input_type = "HumanName";
  auto r = e->Evaluate(name, on_element);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].ToString(), "Ola of p1 official");
}

TEST(FhirPathFhir, ChildrenDescendantsAndTrace) {
  EXPECT_EQ(Eval("Patient.name[1].children()", Patient()), (Strings{"nickname", "Olly"}));
  EXPECT_EQ(Eval("Patient.contained.descendants().count()", Patient()), Strings{"2"});
  EvalOptions options;
  std::vector<std::string> traced;
  options.trace = [&](std::string_view name, const Collection& c) {
    traced.push_back(std::string(name) + ":" + std::to_string(c.size()));
  };
  EXPECT_EQ(Eval("Patient.name.trace('names', given).count()", Patient(), options), Strings{"2"});
  EXPECT_EQ(traced, Strings{"names:3"});
}

TEST(FhirPathFhir, HtmlChecks) {
  json::Value ok = ParseJson(R"({"resourceType": "Patient", "text": {"status": "generated",
      "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Ola</p></div>"}})");
  json::Value bad = ParseJson(R"({"resourceType": "Patient", "text": {"status": "generated",
      "div": "<div><img src=\"x\" onerror=\"alert(1)\"/></div>"}})");
  EXPECT_EQ(Eval("text.div.htmlChecks()", ok), Strings{"true"});
  EXPECT_EQ(Eval("text.div.htmlChecks()", bad), Strings{"false"});
}

// ---------------------------------------------------------------- API

TEST(FhirPathApi, ToJsonAndToBoolean) {
  auto e = Expression::Compile(
      "Patient.identifier.value | 1 | 2.50 | 'x' | @2020-01 | 5 'mg' | true | 1.type()");
  ASSERT_TRUE(e.ok());
  auto r = e->Evaluate(Patient());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(json::Write(ToJson(*r)),
            R"(["13116900216",1,2.50,"x","2020-01",{"value":5,"unit":"mg"},true,)"
            R"({"namespace":"System","name":"Integer"}])");
  auto b = ToBoolean(*r);
  EXPECT_FALSE(b.ok());
  Collection one;
  one.AddBoolean(false);
  EXPECT_EQ(ToBoolean(one).value(), std::optional<bool>(false));
  EXPECT_EQ(ToBoolean(Collection()).value(), std::nullopt);
}

TEST(FhirPathApi, EvaluateOnEarlierResults) {
  // SQL-on-FHIR forEach: evaluate a column expression on each item of a path.
  auto each = Expression::Compile("Patient.name");
  auto column = Expression::Compile("given.first()");
  ASSERT_TRUE(each.ok() && column.ok());
  auto names = each->Evaluate(Patient());
  ASSERT_TRUE(names.ok());
  Strings firsts;
  for (const Item& name : *names) {
    Collection focus;
    focus.Add(name, *names);
    auto r = column->Evaluate(focus);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 1u);
    firsts.push_back(*(*r)[0].ToString());
  }
  EXPECT_EQ(firsts, (Strings{"Ola", "Olly"}));
  EXPECT_EQ(Eval("Patient.getResourceKey()", Patient()), Strings{"p1"});
  EXPECT_EQ(Eval("Observation.subject.getReferenceKey(Patient)", Observation()), Strings{"p1"});
  EXPECT_EQ(Eval("Observation.subject.getReferenceKey(Group)", Observation()), Strings{});
}

TEST(FhirPathApi, LocateFindsTheParentForPatch) {
  json::Value p = Patient();
  auto e = Expression::Compile("Patient.name.where(use = 'nickname').given");
  ASSERT_TRUE(e.ok());
  auto r = e->Evaluate(p);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  auto loc = Locate(p, (*r)[0].node());
  ASSERT_TRUE(loc.has_value());
  EXPECT_TRUE(loc->parent->is_array());
  EXPECT_EQ(loc->index, 0u);
  loc->parent->array().erase(loc->parent->array().begin() + loc->index);
  EXPECT_EQ(p.find("name")->array()[1].find("given")->size(), 0u);
  EXPECT_FALSE(Locate(p, &p).has_value());
}

TEST(FhirPathApi, CollectionBuilders) {
  Collection c;
  EXPECT_TRUE(c.AddDecimal("1.50").ok());
  EXPECT_TRUE(c.AddDate("2020-02").ok());
  EXPECT_TRUE(c.AddQuantity("5 'mg'").ok());
  EXPECT_TRUE(c.AddQuantity("2 weeks").ok());
  EXPECT_EQ(c.AddDate("2020-02-30").code(), "GM-FP-003");
  EXPECT_EQ(c.AddQuantity("5 mg").code(), "GM-FP-003");
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].ToString(), "1.50");
  EXPECT_EQ(c[2].quantity_unit(), "mg");
  EXPECT_EQ(c[3].ToString(), "2 weeks");
}

TEST(FhirPathApi, CacheReturnsCompiledExpressions) {
  ExpressionCache cache;
  auto a = cache.Get("Patient.name.given", {.context_type = "Patient"});
  auto b = cache.Get("Patient.name.given", {.context_type = "Patient"});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(&a->text(), &b->text());  // same compiled program
  EXPECT_EQ(cache.Get("Patient.nmae", {.context_type = "Patient"}).status().code(), "GM-FP-013");
}

// ---------------------------------------------------------------- hostile input

TEST(FhirPathHostile, DeepNestingIsRefused) {
  std::string parens = std::string(100000, '(') + "1" + std::string(100000, ')');
  EXPECT_EQ(CompileCode(parens, LongText()), "GM-FP-005");
  std::string chain = "a";
  for (int k = 0; k < 5000; ++k) chain += ".a";
  EXPECT_EQ(CompileCode(chain), "GM-FP-005");
  std::string unions = "1";
  for (int k = 0; k < 5000; ++k) unions += "|1";
  EXPECT_EQ(CompileCode(unions), "GM-FP-005");
  std::string minus(5000, '-');
  EXPECT_EQ(CompileCode(minus + "1"), "GM-FP-005");
  std::string calls = "1";
  for (int k = 0; k < 5000; ++k) calls = "iif(true," + calls + ",0)";
  EXPECT_EQ(CompileCode(calls, LongText()), "GM-FP-005");
}

TEST(FhirPathHostile, HugeExpressionsAreRefused) {
  std::string big(70 * 1024, ' ');
  big += "1";
  EXPECT_EQ(CompileCode(big), "GM-FP-004");
  // Within the limits a wide expression is fine.
  std::string wide = "0";
  for (int k = 1; k < 150; ++k) wide += " + " + std::to_string(k);
  EXPECT_EQ(Eval(wide), Strings{"11175"});
}

TEST(FhirPathHostile, RegexBombsRunInLinearTime) {
  std::string a(5000, 'a');
  // Catastrophic for backtracking engines; RE2 answers at once.
  EXPECT_EQ(Eval("'" + a + "!'.matches('(a+)+$')"), Strings{"false"});
  EXPECT_EQ(Eval("'" + a + "!'.matches('(a|aa)*b')"), Strings{"false"});
  EXPECT_EQ(Eval("'" + a + "'.replaceMatches('(a*)*', 'x').length() > 0"), Strings{"true"});
  // A pattern from the data, not the expression.
  json::Value evil = ParseJson(R"({"resourceType": "Basic", "id": "(((x+)+)+)+y"})");
  EXPECT_EQ(Eval("'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'.matches(id)", evil), Strings{"false"});
  // Backreferences are not linear-time; they are refused, not run.
  EXPECT_EQ(CompileCode("'aa'.matches('(a)\\\\1')"), "GM-FP-023");
}

TEST(FhirPathHostile, RunawayEvaluationHitsLimits) {
  EvalOptions options;
  options.max_items = 10000;
  EXPECT_EQ(EvalCode("1.repeat($this + 1)", json::Value(), options), "GM-FP-030");
  EXPECT_EQ(EvalCode("(1|2|3|4|5|6|7|8|9|10|11|12|13|14|15|16|17|18|19|20|21|22|23|24|25|26|27|"
                     "28|29|30).aggregate($total & $total, 'ab')"),
            "GM-FP-030");
  options.max_steps = 100000;
  std::string nested = "$this";
  for (int k = 0; k < 12; ++k) nested = "(1|2|3).select(" + nested + ")";
  EXPECT_EQ(EvalCode(nested, json::Value(), options), "GM-FP-030");
}

TEST(FhirPathHostile, ReplacementsCannotOutgrowTheStringLimit) {
  EvalOptions options;
  options.max_string_bytes = 1000;
  std::string a(100, 'a'), b(50, 'b');
  EXPECT_EQ(EvalCode("'" + a + "'.replaceMatches('a', '" + b + "')", json::Value(), options),
            "GM-FP-030");
  EXPECT_EQ(EvalCode("'" + a + "'.replace('a', '" + b + "')", json::Value(), options), "GM-FP-030");
  EXPECT_EQ(Eval("'" + a + "'.replaceMatches('a', 'b').length()", json::Value(), options),
            Strings{"100"});
}

TEST(FhirPathHostile, DeepDataIsWalkedWithoutRecursion) {
  json::Value root = json::Value::MakeObject();
  json::Value* cur = &root;
  for (int k = 0; k < 3000; ++k) cur = &cur->set("a", json::Value::MakeObject());
  cur->set("leaf", json::Value("x"));
  EXPECT_EQ(Eval("descendants().leaf", root), Strings{"x"});
  EXPECT_EQ(Eval("descendants().count()", root), Strings{"3001"});
}

// ---------------------------------------------------------------- threads

TEST(FhirPathConcurrency, OneExpressionManyThreads) {
  auto e = Expression::Compile(
      "Patient.name.where(use = 'official').given.join(' ') & ' ' & "
      "Patient.identifier.where(system.matches('2\\\\.16\\\\.578')).value & ' ' & "
      "(today() > @2000-01-01).toString()",
      {.context_type = "Patient"});
  ASSERT_TRUE(e.ok()) << e.status().message();
  const Expression expr = *e;
  std::atomic<int> good{0}, bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < 500; ++k) {
        auto r = expr.Evaluate(Patient());
        if (r.ok() && r->size() == 1 && (*r)[0].ToString() == "Ola Jakob 13116900216 true") {
          ++good;
        } else {
          ++bad;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 2000);
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace gm::fhirpath
