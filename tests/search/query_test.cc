// ParseSearch: chains, _has, _list, composites, :of-type, reference
// :identifier, canonical quantities, full text, the terminology seam, paging
// parameters, and the errors they give.
#include "search/query.h"

#include <gtest/gtest.h>

#include <map>

namespace gm::search {
namespace {

using Op = store::Clause::Op;

Params P(std::initializer_list<std::pair<const char*, const char*>> l) {
  Params p;
  for (auto& [k, v] : l) p.emplace_back(k, v);
  return p;
}

const fhir::Model& M() { return fhir::Model::R4(); }

ParsedSearch Parse(std::string_view type, Params params, ParseOptions options = {}) {
  auto r = ParseSearch(M(), type, params, options);
  EXPECT_TRUE(r.ok()) << r.status().code() << ": " << r.status().message();
  return r.ok() ? std::move(r).value() : ParsedSearch{};
}

std::string Code(std::string_view type, Params params) {
  auto r = ParseSearch(M(), type, params);
  return r.ok() ? "ok" : r.status().code();
}

TEST(ParseChains, OneLevelWithAndWithoutType) {
  ParsedSearch s = Parse("Observation", P({{"subject:Patient.identifier", "urn:fnr|123"}}));
  ASSERT_EQ(s.query.clauses.size(), 1u);
  const store::Clause& c = s.query.clauses[0];
  EXPECT_EQ(c.op, Op::kChain);
  EXPECT_EQ(c.param, "subject");
  ASSERT_NE(c.sub, nullptr);
  EXPECT_EQ(c.sub->type, "Patient");
  ASSERT_EQ(c.sub->clauses.size(), 1u);
  EXPECT_EQ(c.sub->clauses[0].op, Op::kTokenEq);
  EXPECT_EQ(c.sub->clauses[0].param, "identifier");
  EXPECT_EQ(c.sub->clauses[0].any_of[0].system, "urn:fnr");

  // Without [type]: the subject targets (Patient, Group, Device, Location)
  // that have a "name" parameter.
  ParsedSearch any = Parse("Observation", P({{"subject.name", "Sørgård"}}));
  ASSERT_EQ(any.query.clauses.size(), 1u);
  const store::Query& sub = *any.query.clauses[0].sub;
  EXPECT_TRUE(sub.type.empty());
  EXPECT_EQ(sub.types, (std::vector<std::string>{"Location", "Patient"}));
  EXPECT_EQ(sub.clauses[0].any_of[0].code, "sorgard");
}

TEST(ParseChains, AnyDepthAndModifiersAtTheEnd) {
  ParsedSearch s =
      Parse("Observation", P({{"patient.general-practitioner:Practitioner.name:exact", "Berg"}}));
  ASSERT_EQ(s.query.clauses.size(), 1u);
  const store::Clause& c = s.query.clauses[0];
  EXPECT_EQ(c.op, Op::kChain);
  EXPECT_EQ(c.param, "patient");
  EXPECT_EQ(c.sub->type, "Patient");
  const store::Clause& c2 = c.sub->clauses[0];
  EXPECT_EQ(c2.op, Op::kChain);
  EXPECT_EQ(c2.param, "general-practitioner");
  EXPECT_EQ(c2.sub->type, "Practitioner");
  EXPECT_EQ(c2.sub->clauses[0].op, Op::kStringExact);
  EXPECT_EQ(c2.sub->clauses[0].any_of[0].code, "Berg");

  ParsedSearch missing = Parse("Observation", P({{"subject:Patient.birthdate:missing", "true"}}));
  EXPECT_EQ(missing.query.clauses[0].sub->clauses[0].op, Op::kMissing);
}

TEST(ParseChains, Errors) {
  EXPECT_EQ(Code("Observation", P({{"code.name", "x"}})), "GM-SEARCH-017");
  EXPECT_EQ(Code("Observation", P({{"subject.shoe-size", "x"}})), "GM-SEARCH-017");
  EXPECT_EQ(Code("Observation", P({{"subject:Nonsense.name", "x"}})), "GM-SEARCH-010");
  std::string deep = "subject";
  for (int i = 0; i < 10; ++i) deep += ":Patient.link";
  deep += ":Patient.name";
  EXPECT_EQ(Code("Observation", {{deep, "x"}}), "GM-SEARCH-018");
  // Unknown first link: ignored (reported) like any unknown parameter.
  ParsedSearch s = Parse("Observation", P({{"shoe.name", "x"}}));
  EXPECT_EQ(s.ignored, (std::vector<std::string>{"shoe.name"}));
}

TEST(ParseHas, NestedAndList) {
  ParsedSearch s = Parse(
      "Patient",
      P({{"_has:Observation:patient:_has:DiagnosticReport:result:code", "http://loinc.org|1"}}));
  ASSERT_EQ(s.query.clauses.size(), 1u);
  const store::Clause& c = s.query.clauses[0];
  EXPECT_EQ(c.op, Op::kHas);
  EXPECT_EQ(c.param, "patient");
  EXPECT_EQ(c.sub->type, "Observation");
  const store::Clause& inner = c.sub->clauses[0];
  EXPECT_EQ(inner.op, Op::kHas);
  EXPECT_EQ(inner.param, "result");
  EXPECT_EQ(inner.sub->type, "DiagnosticReport");
  EXPECT_EQ(inner.sub->clauses[0].op, Op::kTokenEq);

  ParsedSearch list = Parse("Observation", P({{"_list", "l1,l2"}}));
  const store::Clause& l = list.query.clauses[0];
  EXPECT_EQ(l.op, Op::kHas);
  EXPECT_EQ(l.param, "item");
  EXPECT_EQ(l.sub->type, "List");
  EXPECT_EQ(l.sub->clauses[0].op, Op::kId);
  EXPECT_EQ(l.sub->clauses[0].any_of.size(), 2u);

  EXPECT_EQ(Code("Patient", P({{"_has:Observation:patient", "x"}})), "GM-SEARCH-019");
  EXPECT_EQ(Code("Patient", P({{"_has:Nothing:patient:code", "x"}})), "GM-SEARCH-019");
  EXPECT_EQ(Code("Patient", P({{"_has:Observation:code:code", "x"}})), "GM-SEARCH-019");
  // Observation.patient can only point at a Patient.
  EXPECT_EQ(Code("Practitioner", P({{"_has:Observation:patient:code", "x"}})), "GM-SEARCH-019");
}

TEST(ParseComposite, CodeValueQuantityInCanonicalUnits) {
  ParsedSearch s = Parse("Observation",
                         P({{"code-value-quantity", "http://loinc.org|2345-7$gt5000|mg"}}));
  ASSERT_EQ(s.query.clauses.size(), 1u);
  const store::Clause& c = s.query.clauses[0];
  EXPECT_EQ(c.op, Op::kComposite);
  EXPECT_EQ(c.param, "code-value-quantity:canonical");
  ASSERT_EQ(c.any_of.size(), 1u);
  ASSERT_EQ(c.any_of[0].components.size(), 2u);
  const store::Clause& code = c.any_of[0].components[0];
  EXPECT_EQ(code.op, Op::kTokenEq);
  EXPECT_EQ(code.any_of[0].code, "2345-7");
  const store::Clause& value = c.any_of[0].components[1];
  EXPECT_EQ(value.op, Op::kNumberRange);
  EXPECT_EQ(value.any_of[0].cmp, store::Clause::Cmp::kGt);
  EXPECT_EQ(value.any_of[0].code, "g");
  EXPECT_NEAR(value.any_of[0].lo, 4.9995, 1e-9);
  EXPECT_NEAR(value.any_of[0].hi, 5.0005, 1e-9);

  // A unit outside the UCUM table is searched as written, on the plain entries.
  ParsedSearch odd = Parse("Observation", P({{"component-code-value-quantity",
                                              "http://loinc.org|8480-6$lt60|urn:units|mmHg"}}));
  EXPECT_EQ(odd.query.clauses[0].param, "component-code-value-quantity");
  EXPECT_EQ(odd.query.clauses[0].any_of[0].components[1].any_of[0].code, "mmHg");
  EXPECT_EQ(odd.query.clauses[0].any_of[0].components[1].any_of[0].system, "urn:units");

  ParsedSearch concepts = Parse("Observation", P({{"code-value-concept", "a|b$c|d,x$y"}}));
  EXPECT_EQ(concepts.query.clauses[0].any_of.size(), 2u);
  // An escaped '$' is part of the value.
  ParsedSearch escaped = Parse("Observation", P({{"code-value-string", "a$b\\$c"}}));
  EXPECT_EQ(escaped.query.clauses[0].any_of[0].components[1].any_of[0].code, "b$c");

  EXPECT_EQ(Code("Observation", P({{"code-value-quantity", "http://loinc.org|x"}})),
            "GM-SEARCH-016");
  EXPECT_EQ(Code("Observation", P({{"code-value-quantity", "a$b$c"}})), "GM-SEARCH-016");
  EXPECT_EQ(Code("Observation", P({{"code-value-quantity", "a$"}})), "GM-SEARCH-016");
  EXPECT_EQ(Code("Observation", P({{"code-value-quantity", "a$five"}})), "GM-SEARCH-014");
}

TEST(ParseQuantity, CanonicalWhenEveryValueHasAKnownUnit) {
  ParsedSearch s = Parse("Observation", P({{"value-quantity", "5|http://unitsofmeasure.org|g"}}));
  const store::Clause& c = s.query.clauses[0];
  EXPECT_EQ(c.param, "value-quantity:canonical");
  EXPECT_EQ(c.any_of[0].code, "g");
  EXPECT_TRUE(c.any_of[0].system.empty());
  ParsedSearch kg = Parse("Observation", P({{"value-quantity", "0.005||kg"}}));
  EXPECT_NEAR(kg.query.clauses[0].any_of[0].lo, 4.5, 1e-9);
  EXPECT_NEAR(kg.query.clauses[0].any_of[0].hi, 5.5, 1e-9);
  // No unit, or a unit of another system: the plain entries.
  EXPECT_EQ(Parse("Observation", P({{"value-quantity", "5"}})).query.clauses[0].param,
            "value-quantity");
  EXPECT_EQ(Parse("Observation", P({{"value-quantity", "5|urn:x|g"}})).query.clauses[0].param,
            "value-quantity");
  EXPECT_EQ(Parse("Observation", P({{"value-quantity", "5||g,5"}})).query.clauses[0].param,
            "value-quantity");
}

TEST(ParseModifiers, OfTypeIdentifierMissingText) {
  ParsedSearch s = Parse(
      "Patient",
      P({{"identifier:of-type", "http://terminology.hl7.org/CodeSystem/v2-0203|MR|446053"}}));
  const store::Clause& c = s.query.clauses[0];
  EXPECT_EQ(c.op, Op::kTokenOfType);
  EXPECT_EQ(c.param, "identifier:of-type");
  EXPECT_EQ(c.any_of[0].system, "http://terminology.hl7.org/CodeSystem/v2-0203");
  EXPECT_EQ(c.any_of[0].code, "MR");
  EXPECT_EQ(c.any_of[0].text, "446053");
  EXPECT_EQ(Code("Patient", P({{"identifier:of-type", "MR|446053"}})), "GM-SEARCH-011");

  ParsedSearch ident = Parse("Observation", P({{"subject:identifier", "urn:fnr|123"}}));
  EXPECT_EQ(ident.query.clauses[0].op, Op::kTokenEq);
  EXPECT_EQ(ident.query.clauses[0].param, "subject:identifier");
  EXPECT_EQ(ident.query.clauses[0].any_of[0].code, "123");

  ParsedSearch missing = Parse("Observation", P({{"code-value-quantity:missing", "false"}}));
  EXPECT_EQ(missing.query.clauses[0].op, Op::kMissing);
  EXPECT_FALSE(missing.query.clauses[0].bool_value);

  ParsedSearch text = Parse("Patient", P({{"_text", "Sørgård Diabetes"}, {"_content", "x,y"}}));
  EXPECT_EQ(text.query.clauses[0].op, Op::kText);
  EXPECT_EQ(text.query.clauses[0].param, "_text");
  EXPECT_EQ(text.query.clauses[0].any_of[0].code, "sorgard diabetes");
  EXPECT_EQ(text.query.clauses[1].param, "_content");
  EXPECT_EQ(text.query.clauses[1].any_of.size(), 2u);
  EXPECT_EQ(Code("Patient", P({{"_text", "  "}})), "GM-SEARCH-021");
}

// A terminology that knows one value set and one hierarchy.
class FakeTerminology final : public Terminology {
 public:
  Result<std::vector<CodeRef>> Expand(std::string_view url) const override {
    if (url == "http://example.org/vs/diabetes") {
      return std::vector<CodeRef>{{"http://snomed.info/sct", "44054006"},
                                  {"http://snomed.info/sct", "46635009"}};
    }
    if (url == "http://example.org/vs/empty") return std::vector<CodeRef>{};
    return Status::Error(ErrorCategory::kNotFound, "TEST-404", "not-found", "no such value set");
  }
  Result<std::vector<CodeRef>> Related(std::string_view system, std::string_view code,
                                       Subsumption direction) const override {
    if (direction == Subsumption::kBelow) {
      return std::vector<CodeRef>{{std::string(system), std::string(code)},
                                  {std::string(system), "child"}};
    }
    return std::vector<CodeRef>{{std::string(system), std::string(code)}};
  }
};

TEST(ParseTerminology, NotImplementedWithoutAService) {
  for (const char* mod : {"code:in", "code:not-in", "code:above", "code:below"}) {
    auto r = ParseSearch(M(), "Condition", {{mod, "http://example.org/vs/diabetes"}});
    ASSERT_FALSE(r.ok()) << mod;
    EXPECT_EQ(r.status().category(), ErrorCategory::kNotImplemented) << mod;
    EXPECT_EQ(r.status().code(), "GM-SEARCH-030") << mod;
    EXPECT_NE(r.status().message().find("terminology service"), std::string::npos);
  }
}

TEST(ParseTerminology, ExpandedThroughTheSeam) {
  FakeTerminology terminology;
  ParseOptions options;
  options.terminology = &terminology;
  ParsedSearch in = Parse("Condition", P({{"code:in", "http://example.org/vs/diabetes"}}), options);
  const store::Clause& c = in.query.clauses[0];
  EXPECT_EQ(c.op, Op::kTokenEq);
  ASSERT_EQ(c.any_of.size(), 2u);
  EXPECT_EQ(c.any_of[1].code, "46635009");
  EXPECT_TRUE(c.any_of[1].system_given);
  ParsedSearch not_in =
      Parse("Condition", P({{"code:not-in", "http://example.org/vs/diabetes"}}), options);
  EXPECT_EQ(not_in.query.clauses[0].op, Op::kTokenNot);
  ParsedSearch below =
      Parse("Condition", P({{"code:below", "http://snomed.info/sct|73211009"}}), options);
  EXPECT_EQ(below.query.clauses[0].any_of.size(), 2u);
  ParsedSearch empty = Parse("Condition", P({{"code:in", "http://example.org/vs/empty"}}), options);
  EXPECT_EQ(empty.query.clauses[0].op, Op::kId);  // matches nothing
  // :not-in an empty value set excludes nothing: _id:missing=false, true of every resource.
  ParsedSearch not_in_empty =
      Parse("Condition", P({{"code:not-in", "http://example.org/vs/empty"}}), options);
  EXPECT_EQ(not_in_empty.query.clauses[0].op, Op::kMissing);
  EXPECT_EQ(not_in_empty.query.clauses[0].param, "_id");
  EXPECT_FALSE(not_in_empty.query.clauses[0].bool_value);
  auto unknown = ParseSearch(M(), "Condition", {{"code:in", "http://example.org/vs/x"}}, options);
  EXPECT_EQ(unknown.status().code(), "TEST-404");
}

TEST(ParseResults, PagingTotalSortAndStrictness) {
  ParsedSearch s = Parse("Observation", P({{"_before", "abc"}, {"_total", "accurate"},
                                           {"_sort", "-date,code,_id"}, {"_page", "ignored"}}));
  EXPECT_EQ(s.query.after, "abc");
  EXPECT_EQ(s.query.direction, store::PageDirection::kBackward);
  EXPECT_EQ(s.total, "accurate");
  ASSERT_EQ(s.query.sort.size(), 3u);
  EXPECT_TRUE(s.query.sort[0].descending);
  EXPECT_EQ(s.query.sort[1].param, "code");
  EXPECT_TRUE(s.query.clauses.empty());
  EXPECT_EQ(Code("Observation", P({{"_sort", "code-value-quantity"}})), "GM-SEARCH-004");
  EXPECT_EQ(Code("Observation", P({{"_total", "some"}})), "GM-SEARCH-003");

  ParseOptions strict;
  strict.strict = true;
  auto r = ParseSearch(M(), "Patient", P({{"shoe.name", "x"}}), strict);
  EXPECT_EQ(r.status().code(), "GM-SEARCH-001");
  r = ParseSearch(M(), "Patient", P({{"_filter", "x"}}), strict);
  EXPECT_EQ(r.status().code(), "GM-SEARCH-001");
  ParsedSearch lenient = Parse("Patient", P({{"_filter", "x"}, {"name", ""}}));
  EXPECT_EQ(lenient.ignored, (std::vector<std::string>{"_filter", "name"}));
}

TEST(ParseResults, SystemLevelUsesCommonParametersAndType) {
  ParsedSearch s = Parse("", P({{"_type", "Patient,Practitioner"}, {"name", "berg"}}));
  EXPECT_EQ(s.query.types, (std::vector<std::string>{"Patient", "Practitioner"}));
  ASSERT_EQ(s.query.clauses.size(), 1u);
  EXPECT_EQ(s.query.clauses[0].op, Op::kStringPrefix);
  ParsedSearch tag = Parse("", P({{"_tag", "urn:x|y"}}));
  ASSERT_EQ(tag.query.clauses.size(), 1u);
  EXPECT_EQ(tag.query.clauses[0].param, "_tag");
}

}  // namespace
}  // namespace gm::search
