#include "search/ucum.h"

#include <gtest/gtest.h>

namespace gm::search {
namespace {

// Canonical unit and factor, with the factor compared to 1e-12 relative.
void ExpectCanonical(const std::string& code, const std::string& unit, double factor) {
  std::optional<UcumCanonical> c = CanonicalUnit(code);
  ASSERT_TRUE(c.has_value()) << code;
  EXPECT_EQ(c->unit, unit) << code;
  EXPECT_NEAR(c->factor, factor, std::abs(factor) * 1e-12) << code;
}

TEST(Ucum, MassVolumeAmountTime) {
  ExpectCanonical("g", "g", 1);
  ExpectCanonical("mg", "g", 1e-3);
  ExpectCanonical("kg", "g", 1e3);
  ExpectCanonical("ug", "g", 1e-6);
  ExpectCanonical("[lb_av]", "g", 453.59237);
  ExpectCanonical("L", "m3", 1e-3);
  ExpectCanonical("mL", "m3", 1e-6);
  ExpectCanonical("dL", "m3", 1e-4);
  ExpectCanonical("mol", "mol", 1);
  ExpectCanonical("mmol", "mol", 1e-3);
  ExpectCanonical("s", "s", 1);
  ExpectCanonical("min", "s", 60);
  ExpectCanonical("h", "s", 3600);
  ExpectCanonical("d", "s", 86400);
  ExpectCanonical("wk", "s", 604800);
  ExpectCanonical("a", "s", 31557600);
  ExpectCanonical("cm", "m", 1e-2);
  ExpectCanonical("[in_i]", "m", 0.0254);
}

TEST(Ucum, ConcentrationsAndCompoundUnits) {
  // 100 mg/dL = 1 g/L = 1000 g/m3.
  ExpectCanonical("mg/dL", "g.m-3", 10);
  ExpectCanonical("g/L", "g.m-3", 1000);
  ExpectCanonical("mmol/L", "m-3.mol", 1);
  ExpectCanonical("umol/L", "m-3.mol", 1e-3);
  ExpectCanonical("mL/L", "1", 1e-3);
  ExpectCanonical("%", "1", 1e-2);
  ExpectCanonical("kg/m2", "g.m-2", 1e3);
  ExpectCanonical("mm[Hg]", "g.m-1.s-2", 133322.387415);
  ExpectCanonical("/min", "s-1", 1.0 / 60);
  ExpectCanonical("10*9/L", "m-3", 1e12);
  ExpectCanonical("mL/min/{1.73_m2}", "m3.s-1", 1e-6 / 60);
  ExpectCanonical("[IU]/L", "m-3.[IU]", 1e3);
  ExpectCanonical("U/L", "m-3.s-1.mol", 1e-6 / 60 * 1e3);
  ExpectCanonical("mg/(kg.d)", "s-1", 1e-6 / 86400);
  ExpectCanonical("{cells}/uL", "m-3", 1e9);
  ExpectCanonical("1", "1", 1);
}

TEST(Ucum, SameAmountInDifferentUnits) {
  auto in_g = [](double v, const char* unit) { return v * CanonicalUnit(unit)->factor; };
  EXPECT_NEAR(in_g(5000, "mg"), in_g(5, "g"), 1e-12);
  EXPECT_NEAR(in_g(0.005, "kg"), in_g(5, "g"), 1e-12);
  EXPECT_EQ(CanonicalUnit("mg")->unit, CanonicalUnit("kg")->unit);
  EXPECT_NE(CanonicalUnit("mg")->unit, CanonicalUnit("mg/dL")->unit);
}

TEST(Ucum, UnknownOrInvalidUnits) {
  for (const char* code : {"", "Cel", "[degF]", "foo", "mg/", "(mg", "m^", "kmin", "dd", "mg{x",
                           "s-", "[lb_av", "m1234"}) {
    EXPECT_FALSE(CanonicalUnit(code).has_value()) << code;
  }
}

}  // namespace
}  // namespace gm::search
