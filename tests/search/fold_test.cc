#include "search/fold.h"

#include <gtest/gtest.h>

#include "search/query.h"

namespace gm::search {
namespace {

TEST(Fold, NorwegianLetters) {
  EXPECT_EQ(Fold("Sørgård"), "sorgard");
  EXPECT_EQ(Fold("SØRGÅRD"), "sorgard");
  EXPECT_EQ(Fold("sørg"), "sorg");
  EXPECT_EQ(Fold("Ærlend"), "aerlend");
  EXPECT_EQ(Fold("Blåbærsyltetøy"), "blabaersyltetoy");
  EXPECT_EQ(Fold("José Müller"), "jose muller");
  EXPECT_EQ(Fold("plain ASCII"), "plain ascii");
}

Params P(std::initializer_list<std::pair<const char*, const char*>> l) {
  Params p;
  for (auto& [k, v] : l) p.emplace_back(k, v);
  return p;
}

const fhir::Model& M() { return fhir::Model::R4(); }

TEST(ParseSearch, TokenForms) {
  auto r = ParseSearch(M(), "Patient",
                       P({{"identifier", "urn:oid:2.16.578.1.12.4.1.4.1|31129956715,|x,sys|,plain"}}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->query.clauses.size(), 1u);
  const auto& c = r->query.clauses[0];
  EXPECT_EQ(c.op, store::Clause::Op::kTokenEq);
  ASSERT_EQ(c.any_of.size(), 4u);
  EXPECT_EQ(c.any_of[0].system, "urn:oid:2.16.578.1.12.4.1.4.1");
  EXPECT_EQ(c.any_of[0].code, "31129956715");
  EXPECT_TRUE(c.any_of[1].system_given);
  EXPECT_EQ(c.any_of[1].system, "");
  EXPECT_EQ(c.any_of[2].code, "");
  EXPECT_FALSE(c.any_of[3].system_given);
}

TEST(ParseSearch, StringDateNumberReference) {
  auto r = ParseSearch(M(), "Observation",
                       P({{"code:text", "Hemoglobin"}, {"date", "ge2024-03"}, {"value-quantity", "lt5.4|http://unitsofmeasure.org|mmol/L"},
                          {"subject", "Patient/123"}, {"_count", "10"}, {"_sort", "-date"}}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->query.clauses.size(), 4u);
  EXPECT_EQ(r->query.clauses[0].op, store::Clause::Op::kTokenText);
  EXPECT_EQ(r->query.clauses[0].any_of[0].code, "hemoglobin");
  EXPECT_EQ(r->query.clauses[1].any_of[0].cmp, store::Clause::Cmp::kGe);
  const auto& q = r->query.clauses[2].any_of[0];
  EXPECT_EQ(q.cmp, store::Clause::Cmp::kLt);
  // A UCUM unit is searched in canonical units (mmol/L = mol/m3, factor 1).
  EXPECT_EQ(r->query.clauses[2].param, "value-quantity:canonical");
  EXPECT_NEAR(q.lo, 5.35, 1e-9);
  EXPECT_NEAR(q.hi, 5.45, 1e-9);
  EXPECT_EQ(q.code, "m-3.mol");
  EXPECT_EQ(r->query.clauses[3].any_of[0].system, "Patient");
  EXPECT_EQ(r->query.clauses[3].any_of[0].code, "123");
  EXPECT_EQ(r->query.limit, 10u);
  ASSERT_EQ(r->query.sort.size(), 1u);
  EXPECT_TRUE(r->query.sort[0].descending);
}

TEST(ParseSearch, NameIsFolded) {
  auto r = ParseSearch(M(), "Patient", P({{"name", "SØRGÅRD"}, {"family:exact", "Sørgård"}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->query.clauses[0].any_of[0].code, "sorgard");
  EXPECT_EQ(r->query.clauses[1].op, store::Clause::Op::kStringExact);
  EXPECT_EQ(r->query.clauses[1].any_of[0].code, "Sørgård");
}

TEST(ParseSearch, UnknownParametersIgnoredOrStrict) {
  auto lenient = ParseSearch(M(), "Patient", P({{"shoe-size", "42"}}));
  ASSERT_TRUE(lenient.ok());
  EXPECT_EQ(lenient->ignored.size(), 1u);
  EXPECT_TRUE(lenient->query.clauses.empty());
  auto strict = ParseSearch(M(), "Patient", P({{"shoe-size", "42"}}), ParseOptions{.strict = true});
  EXPECT_FALSE(strict.ok());
}

TEST(ParseSearch, Errors) {
  EXPECT_FALSE(ParseSearch(M(), "Observation", P({{"date", "ge2024-13"}})).ok());
  EXPECT_FALSE(ParseSearch(M(), "Observation", P({{"_count", "many"}})).ok());
  EXPECT_FALSE(ParseSearch(M(), "Observation", P({{"value-quantity", "abc"}})).ok());
  EXPECT_FALSE(ParseSearch(M(), "Patient", P({{"_sort", "shoe-size"}})).ok());
  EXPECT_FALSE(ParseSearch(M(), "Patient", P({{"gender:below", "x"}})).ok());
}

TEST(ParseSearch, Includes) {
  auto r = ParseSearch(M(), "Observation",
                       P({{"_include", "Observation:subject"}, {"_revinclude:iterate", "Provenance:target"}}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->includes.size(), 2u);
  EXPECT_FALSE(r->includes[0].reverse);
  EXPECT_EQ(r->includes[0].param, "subject");
  EXPECT_TRUE(r->includes[1].reverse);
  EXPECT_TRUE(r->includes[1].iterate);
  EXPECT_FALSE(ParseSearch(M(), "Observation", P({{"_include", "Observation:status"}})).ok());
}

}  // namespace
}  // namespace gm::search
