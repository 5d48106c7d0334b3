#include "fhir/model.h"

#include <gtest/gtest.h>

namespace gm::fhir {
namespace {

TEST(Model, LoadsEmbeddedR4) {
  const Model& m = Model::R4();
  EXPECT_EQ(m.version(), "4.0.1");
  EXPECT_TRUE(m.IsResourceType("Patient"));
  EXPECT_TRUE(m.IsResourceType("Observation"));
  EXPECT_FALSE(m.IsResourceType("DomainResource"));  // abstract
  EXPECT_FALSE(m.IsResourceType("HumanName"));
  EXPECT_FALSE(m.IsResourceType("Foo"));
  // R4's concrete resource types, plus SubscriptionStatus which the definitions
  // package back-ports from R4B.
  EXPECT_EQ(m.ResourceTypes().size(), 147u);
}

TEST(Model, ElementsAndChoices) {
  const Model& m = Model::R4();
  const TypeDef* obs = m.Type("Observation");
  ASSERT_NE(obs, nullptr);
  auto match = obs->Find("valueQuantity");
  ASSERT_NE(match.element, nullptr);
  EXPECT_TRUE(match.element->choice);
  EXPECT_EQ(match.type->code, "Quantity");
  auto s = obs->Find("valueString");
  ASSERT_NE(s.type, nullptr);
  EXPECT_EQ(s.type->code, "string");
  EXPECT_EQ(obs->Find("value").element, nullptr);
  EXPECT_EQ(obs->Find("valueFoo").element, nullptr);
  const ElementDef* status = obs->Child("status");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->min, 1);
  EXPECT_FALSE(status->array);
  EXPECT_TRUE(status->summary);
  EXPECT_TRUE(status->modifier);
  const ElementDef* component = obs->Child("component");
  ASSERT_NE(component, nullptr);
  ASSERT_NE(component->type, nullptr);
  EXPECT_EQ(component->type->name, "Observation.component");
  EXPECT_NE(component->type->Find("valueQuantity").element, nullptr);
}

TEST(Model, ContentReferenceAndPrimitives) {
  const Model& m = Model::R4();
  const TypeDef* item = m.Type("Questionnaire")->Child("item")->type;
  ASSERT_NE(item, nullptr);
  const ElementDef* nested = item->Child("item");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->type, item);
  const TypeDef* dt = m.Type("dateTime");
  ASSERT_NE(dt, nullptr);
  EXPECT_TRUE(dt->IsPrimitive());
  EXPECT_EQ(dt->system_type, "System.DateTime");
  EXPECT_FALSE(dt->regex.empty());
  const TypeDef* name = m.Type("HumanName");
  ASSERT_NE(name->Child("given"), nullptr);
  EXPECT_TRUE(name->Child("given")->array);
  EXPECT_EQ(name->Child("given")->type, m.Type("string"));
}

TEST(Model, SearchParamsAndCompartment) {
  const Model& m = Model::R4();
  const SearchParamDef* id = m.SearchParam("Patient", "identifier");
  ASSERT_NE(id, nullptr);
  EXPECT_EQ(id->type, "token");
  EXPECT_NE(m.SearchParam("Patient", "_id"), nullptr);
  EXPECT_NE(m.SearchParam("Patient", "_text"), nullptr);
  EXPECT_EQ(m.SearchParam("Binary", "_text"), nullptr);  // Binary is not a DomainResource
  const SearchParamDef* cvq = m.SearchParam("Observation", "code-value-quantity");
  ASSERT_NE(cvq, nullptr);
  EXPECT_EQ(cvq->components.size(), 2u);
  const auto* obs = m.PatientCompartmentParams("Observation");
  ASSERT_NE(obs, nullptr);
  EXPECT_NE(std::find(obs->begin(), obs->end(), "subject"), obs->end());
  EXPECT_EQ(m.PatientCompartmentParams("Organization"), nullptr);
  EXPECT_TRUE(m.IsA("Patient", "DomainResource"));
  EXPECT_TRUE(m.IsA("Patient", "Resource"));
  EXPECT_FALSE(m.IsA("Bundle", "DomainResource"));
}

TEST(Model, RequiredBindingCodes) {
  const Model& m = Model::R4();
  const auto* g = m.ValueSetCodes("http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->size(), 4u);
}

}  // namespace
}  // namespace gm::fhir
