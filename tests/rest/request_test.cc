#include "rest/request.h"

#include <gtest/gtest.h>

#include "rest/engine.h"
#include "rest/outcome.h"

namespace gm::rest {
namespace {

const fhir::Model& M() { return fhir::Model::R4(); }

TEST(ParseTarget, Routes) {
  EXPECT_EQ(ParseTarget(M(), "/")->route, Route::kSystem);
  EXPECT_EQ(ParseTarget(M(), "/metadata")->route, Route::kMetadata);
  EXPECT_EQ(ParseTarget(M(), "/_history")->route, Route::kSystemHistory);
  EXPECT_EQ(ParseTarget(M(), "/Patient")->route, Route::kType);
  EXPECT_EQ(ParseTarget(M(), "/Patient/_search")->route, Route::kTypeSearch);
  EXPECT_EQ(ParseTarget(M(), "/Patient/_history")->route, Route::kTypeHistory);
  auto v = ParseTarget(M(), "/Patient/p-1/_history/3");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->route, Route::kVersion);
  EXPECT_EQ(v->id, "p-1");
  EXPECT_EQ(v->version, "3");
  auto op = ParseTarget(M(), "/Patient/$validate");
  EXPECT_EQ(op->route, Route::kTypeOperation);
  EXPECT_EQ(op->operation, "validate");
  auto c = ParseTarget(M(), "/Patient/p1/Observation");
  EXPECT_EQ(c->route, Route::kCompartmentSearch);
  EXPECT_EQ(c->compartment_type, "Observation");
}

TEST(ParseTarget, Errors) {
  EXPECT_EQ(ParseTarget(M(), "/Pasient").status().category(), ErrorCategory::kNotFound);
  EXPECT_EQ(ParseTarget(M(), "/DomainResource/1").status().category(), ErrorCategory::kNotFound);
  EXPECT_EQ(ParseTarget(M(), "/Patient/a_b").status().category(), ErrorCategory::kInvalid);
  EXPECT_EQ(ParseTarget(M(), "/Patient/1/2/3/4/5").status().category(), ErrorCategory::kNotFound);
}

TEST(ParseForm, DecodesAndKeepsOrder) {
  auto p = ParseForm("identifier=urn%3Aoid%3A2.16.578.1.12.4.1.4.1%7C31129956715&name=S%C3%B8r+g&x=&&y");
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 4u);
  EXPECT_EQ((*p)[0].second, "urn:oid:2.16.578.1.12.4.1.4.1|31129956715");
  EXPECT_EQ((*p)[1].second, "Sør g");
  EXPECT_EQ((*p)[2].first, "x");
  EXPECT_EQ((*p)[3].first, "y");
  EXPECT_FALSE(ParseForm("a=%zz").ok());
  EXPECT_FALSE(ParseForm("a=%2").ok());
  EXPECT_FALSE(ParseForm("a=%00").ok());
}

TEST(Ids, Validity) {
  EXPECT_TRUE(IsValidId("abc-DEF.123"));
  EXPECT_TRUE(IsValidId(std::string(64, 'a')));
  EXPECT_FALSE(IsValidId(std::string(65, 'a')));
  EXPECT_FALSE(IsValidId(""));
  EXPECT_FALSE(IsValidId("a b"));
  EXPECT_FALSE(IsValidId("a/b"));
}

TEST(ETags, ParseAndFormat) {
  EXPECT_EQ(ParseETag("W/\"3\""), 3);
  EXPECT_EQ(ParseETag("\"12\""), 12);
  EXPECT_EQ(ParseETag("7"), 7);
  EXPECT_FALSE(ParseETag("W/\"x\""));
  EXPECT_FALSE(ParseETag("W/\"0\""));
  EXPECT_EQ(ETagFor(5), "W/\"5\"");
}

TEST(Prefer, Parses) {
  EXPECT_EQ(ParsePrefer("return=minimal").ret, PreferReturn::kMinimal);
  EXPECT_EQ(ParsePrefer("return=OperationOutcome").ret, PreferReturn::kOperationOutcome);
  EXPECT_TRUE(ParsePrefer("handling=strict, return=representation").strict);
  EXPECT_EQ(ParsePrefer("").ret, PreferReturn::kDefault);
}

TEST(Outcome, MapsCategoriesToHttp) {
  EXPECT_EQ(HttpStatusFor(ErrorCategory::kInvalid), 400);
  EXPECT_EQ(HttpStatusFor(ErrorCategory::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(ErrorCategory::kGone), 410);
  EXPECT_EQ(HttpStatusFor(ErrorCategory::kPreconditionFailed), 412);
  EXPECT_EQ(HttpStatusFor(ErrorCategory::kUnprocessable), 422);
  EXPECT_EQ(HttpStatusFor(ErrorCategory::kUnavailable), 503);
  Status s = Status::Error(ErrorCategory::kUnprocessable, "GM-VAL-001", "structure", "bad",
                           "Patient.name[0]");
  json::Value oo = OperationOutcomeFor(s);
  EXPECT_EQ(oo.get_string("resourceType"), "OperationOutcome");
  const json::Value& issue = oo.find("issue")->array()[0];
  EXPECT_EQ(issue.get_string("severity"), "error");
  EXPECT_EQ(issue.get_string("code"), "structure");
  EXPECT_EQ(issue.find("details")->find("coding")->array()[0].get_string("code"), "GM-VAL-001");
  EXPECT_EQ(issue.find("expression")->array()[0].str(), "Patient.name[0]");
}

}  // namespace
}  // namespace gm::rest
