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

}  // namespace
}  // namespace gm::search
