#include "search/fhirpath_indexer.h"

#include <gtest/gtest.h>

#include "core/time.h"
#include "search/query.h"

namespace gm::search {
namespace {

using Kind = store::IndexEntry::Kind;

const FhirPathIndexer& Indexer() {
  static const FhirPathIndexer* indexer = new FhirPathIndexer(fhir::Model::R4());
  return *indexer;
}

std::vector<store::IndexEntry> Of(const Extracted& x, const std::string& param) {
  std::vector<store::IndexEntry> out;
  for (const auto& e : x.index) {
    if (e.param == param) out.push_back(e);
  }
  return out;
}

TEST(FhirPathIndexer, PatientParameters) {
  auto p = json::Parse(R"({"resourceType":"Patient","id":"p1",
    "identifier":[{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"31129956715"}],
    "name":[{"family":"Sørgård","given":["Kari","Ærlend"]}],
    "gender":"female","birthDate":"1999-12-31","active":true,
    "telecom":[{"system":"phone","value":"+4799999999"}],
    "generalPractitioner":[{"reference":"Practitioner/gp1"}]})");
  ASSERT_TRUE(p.ok());
  auto x = Indexer().Extract("Patient", "p1", *p);
  ASSERT_TRUE(x.ok()) << x.status().message();
  auto ids = Of(*x, "identifier");
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(ids[0].kind, Kind::kToken);
  EXPECT_EQ(ids[0].system, "urn:oid:2.16.578.1.12.4.1.4.1");
  EXPECT_EQ(ids[0].code, "31129956715");
  auto family = Of(*x, "family");
  ASSERT_EQ(family.size(), 1u);
  EXPECT_EQ(family[0].text, "sorgard");
  EXPECT_EQ(family[0].code, "Sørgård");
  auto name = Of(*x, "name");
  EXPECT_EQ(name.size(), 3u);  // family and both given names
  auto gender = Of(*x, "gender");
  ASSERT_EQ(gender.size(), 1u);
  EXPECT_EQ(gender[0].code, "female");
  auto birth = Of(*x, "birthdate");
  ASSERT_EQ(birth.size(), 1u);
  EXPECT_EQ(birth[0].begin_us, time::ParseFhirDateTime("1999-12-31")->begin_us);
  EXPECT_EQ(birth[0].end_us - birth[0].begin_us, 86400LL * 1000000);
  auto active = Of(*x, "active");
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].code, "true");
  auto gp = Of(*x, "general-practitioner");
  ASSERT_EQ(gp.size(), 1u);
  EXPECT_EQ(gp[0].system, "Practitioner");
  EXPECT_EQ(gp[0].code, "gp1");
  ASSERT_FALSE(x->compartments.empty());
  EXPECT_EQ(x->compartments[0], "p1");
}

TEST(FhirPathIndexer, ObservationCompartmentsAndValues) {
  auto o = json::Parse(R"({"resourceType":"Observation","status":"final",
    "code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c"}],"text":"HbA1c"},
    "subject":{"reference":"Patient/123"},
    "performer":[{"reference":"Practitioner/9"},{"reference":"Patient/456"}],
    "effectivePeriod":{"start":"2024-03-01","end":"2024-03-02"},
    "valueQuantity":{"value":6.30,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}})");
  ASSERT_TRUE(o.ok());
  auto x = Indexer().Extract("Observation", "o1", *o);
  ASSERT_TRUE(x.ok()) << x.status().message();
  EXPECT_EQ(x->compartments, (std::vector<std::string>{"123", "456"}));
  auto patient = Of(*x, "patient");
  ASSERT_EQ(patient.size(), 1u);  // subject.where(resolve() is Patient)
  EXPECT_EQ(patient[0].code, "123");
  auto code = Of(*x, "code");
  ASSERT_EQ(code.size(), 2u);  // the coding and the text
  EXPECT_EQ(code[0].system, "http://loinc.org");
  EXPECT_EQ(code[0].text, "hemoglobin a1c");
  auto value = Of(*x, "value-quantity");
  ASSERT_EQ(value.size(), 1u);
  EXPECT_EQ(value[0].kind, Kind::kQuantity);
  EXPECT_NEAR(value[0].lo, 6.295, 1e-9);
  EXPECT_NEAR(value[0].hi, 6.305, 1e-9);
  auto date = Of(*x, "date");
  ASSERT_EQ(date.size(), 1u);
  EXPECT_EQ(date[0].begin_us, time::ParseFhirDateTime("2024-03-01")->begin_us);
  EXPECT_EQ(date[0].end_us, time::ParseFhirDateTime("2024-03-02")->end_us);
}

TEST(FhirPathIndexer, TypesOutsideTheCompartmentHaveNoKeys) {
  auto org = json::Parse(R"({"resourceType":"Organization","name":"Sykehuset Innlandet",
    "identifier":[{"system":"urn:oid:2.16.578.1.12.4.1.4.101","value":"983971709"}]})");
  auto x = Indexer().Extract("Organization", "org1", *org);
  ASSERT_TRUE(x.ok());
  EXPECT_TRUE(x->compartments.empty());
  ASSERT_EQ(Of(*x, "name").size(), 1u);
  EXPECT_EQ(Of(*x, "name")[0].text, "sykehuset innlandet");
}

TEST(FhirPathIndexer, EveryDefinedExpressionCompiles) {
  // Every R4 search parameter of a supported type has a usable expression for
  // every base type: none is silently dropped by the indexer.
  size_t checked = 0;
  for (const std::string& type : fhir::Model::R4().ResourceTypes()) {
    for (const fhir::SearchParamDef* def : SupportedParams(fhir::Model::R4(), type)) {
      if (def->expression.empty()) continue;
      auto e = fhirpath::Expression::Compile(def->expression);
      EXPECT_TRUE(e.ok()) << def->code << " on " << type << ": " << e.status().message();
      ++checked;
    }
  }
  EXPECT_GT(checked, 1000u);
}


TEST(FhirPathIndexer, DerivedEntriesForModifiersAndUnits) {
  auto o = json::Parse(R"({"resourceType":"Observation","status":"final",
    "code":{"coding":[{"system":"http://loinc.org","code":"2345-7"}]},
    "subject":{"reference":"Patient/p1",
               "identifier":{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"31129956715"}},
    "valueQuantity":{"value":5000,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"}})");
  ASSERT_TRUE(o.ok());
  auto x = Indexer().Extract("Observation", "o1", *o);
  ASSERT_TRUE(x.ok()) << x.status().message();
  auto ident = Of(*x, "subject:identifier");
  ASSERT_EQ(ident.size(), 1u);
  EXPECT_EQ(ident[0].kind, Kind::kToken);
  EXPECT_EQ(ident[0].system, "urn:oid:2.16.578.1.12.4.1.4.1");
  EXPECT_EQ(ident[0].code, "31129956715");
  auto canonical = Of(*x, "value-quantity:canonical");
  ASSERT_EQ(canonical.size(), 1u);
  EXPECT_EQ(canonical[0].code, "g");
  EXPECT_EQ(canonical[0].system, "http://unitsofmeasure.org");
  EXPECT_NEAR(canonical[0].lo, 4.9995, 1e-12);
  EXPECT_NEAR(canonical[0].hi, 5.0005, 1e-12);
  auto original = Of(*x, "value-quantity");
  ASSERT_EQ(original.size(), 1u);
  EXPECT_EQ(original[0].code, "mg");

  auto p = json::Parse(R"({"resourceType":"Patient",
    "identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203",
                                      "code":"MR"}]},
                   "system":"urn:hospital","value":"446053"}]})");
  auto px = Indexer().Extract("Patient", "p1", *p);
  ASSERT_TRUE(px.ok());
  auto of_type = Of(*px, "identifier:of-type");
  ASSERT_EQ(of_type.size(), 1u);
  EXPECT_EQ(of_type[0].system, "http://terminology.hl7.org/CodeSystem/v2-0203");
  EXPECT_EQ(of_type[0].code, "MR");
  EXPECT_EQ(of_type[0].text, "446053");
}

TEST(FhirPathIndexer, CompositesPairValuesOfOneElement) {
  auto o = json::Parse(R"({"resourceType":"Observation","status":"final",
    "code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}],"text":"Blood pressure"},
    "component":[
      {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},
       "valueQuantity":{"value":140,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}},
      {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},
       "valueQuantity":{"value":60,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]})");
  ASSERT_TRUE(o.ok());
  auto x = Indexer().Extract("Observation", "bp", *o);
  ASSERT_TRUE(x.ok()) << x.status().message();
  auto comp = Of(*x, "component-code-value-quantity");
  ASSERT_EQ(comp.size(), 2u);  // one per component, never 8480-6 with 60
  for (const auto& e : comp) {
    EXPECT_EQ(e.kind, Kind::kComposite);
    ASSERT_EQ(e.components.size(), 2u);
    EXPECT_EQ(e.components[0].kind, Kind::kToken);
    EXPECT_EQ(e.components[1].kind, Kind::kQuantity);
    const double mid = (e.components[1].lo + e.components[1].hi) / 2;
    EXPECT_EQ(e.components[0].code == "8480-6", mid == 140) << e.components[0].code;
  }
  EXPECT_EQ(Of(*x, "component-code-value-quantity:canonical").size(), 2u);
  // combo-: the Observation's own code has no value; the components pair up.
  EXPECT_EQ(Of(*x, "combo-code-value-quantity").size(), 2u);
  EXPECT_TRUE(Of(*x, "code-value-quantity").empty());
}

TEST(FhirPathIndexer, FullTextOfNarrativeAndContent) {
  auto p = json::Parse(R"({"resourceType":"Patient",
    "text":{"status":"generated",
            "div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Ærlend <b>Sørgård</b> &amp; co</p></div>"},
    "name":[{"family":"Sørgård","given":["Ærlend"]}],
    "address":[{"city":"Tromsø"}],
    "managingOrganization":{"reference":"Organization/xyz-123"}})");
  ASSERT_TRUE(p.ok());
  auto x = Indexer().Extract("Patient", "p1", *p);
  ASSERT_TRUE(x.ok());
  auto text = Of(*x, "_text");
  ASSERT_EQ(text.size(), 1u);
  EXPECT_EQ(text[0].kind, Kind::kText);
  EXPECT_NE(text[0].text.find("aerlend sorgard & co"), std::string::npos) << text[0].text;
  auto content = Of(*x, "_content");
  ASSERT_EQ(content.size(), 1u);
  EXPECT_NE(content[0].text.find("tromso"), std::string::npos) << content[0].text;
  EXPECT_EQ(content[0].text.find("xyz-123"), std::string::npos) << "references are not text";
  EXPECT_EQ(content[0].text.find("<p>"), std::string::npos) << "tags are not text";
  EXPECT_EQ(NarrativeText("a<br/>b&lt;c&gt;"), "a b<c>");
}
}  // namespace
}  // namespace gm::search
