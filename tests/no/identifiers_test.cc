#include "no/identifiers.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace gm::no {
namespace {

// Every single-digit change (each position, each other digit) of a valid
// number must make it invalid.
template <typename Pred>
void ExpectEveryCorruptionInvalid(const std::string& valid, Pred is_valid) {
  ASSERT_TRUE(is_valid(valid)) << valid;
  for (size_t i = 0; i < valid.size(); ++i) {
    for (char c = '0'; c <= '9'; ++c) {
      if (c == valid[i]) continue;
      std::string bad = valid;
      bad[i] = c;
      EXPECT_FALSE(is_valid(bad)) << "position " << i << " → " << c << ": " << bad;
    }
  }
}

TEST(Fnr, WorkedExampleFromDomainDoc) {
  Problem p;
  auto n = ParsePersonNumber("31129956715", PersonKind::kFnr, &p);
  ASSERT_TRUE(n.has_value()) << ProblemText(p);
  EXPECT_EQ(n->day, 31);
  EXPECT_EQ(n->month, 12);
  EXPECT_EQ(n->year, 1899);  // individnummer 567 with YY 99: 1854–1899
  EXPECT_EQ(n->individnummer, 567);
  EXPECT_EQ(n->sex, Sex::kMale);  // digit 9 = 7, odd
  EXPECT_FALSE(n->synthetic);
  EXPECT_FALSE(n->scheme_2032);
}

TEST(Fnr, NoBasisExamplesWithRealCheckDigits) {
  // From the no-basis RelatedPerson example.
  EXPECT_TRUE(IsValidFnr("05073500186"));
  EXPECT_TRUE(IsValidFnr("04021950128"));
  auto n = ParsePersonNumber("05073500186", PersonKind::kFnr);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->year, 1935);
  EXPECT_EQ(n->sex, Sex::kMale);  // individnummer 001: digit 9 odd (Ærlend)
  // The Espen Eksempel example carries a placeholder.
  Problem p;
  EXPECT_FALSE(ParsePersonNumber("210377xxxxx", PersonKind::kFnr, &p));
  EXPECT_EQ(p, Problem::kFormat);
}

TEST(Fnr, EveryDigitPositionCorrupted) {
  for (const char* v : {"31129956715", "05073500186", "04021950128"}) {
    ExpectEveryCorruptionInvalid(v, [](const std::string& s) { return IsValidFnr(s); });
  }
}

TEST(Fnr, FormatProblems) {
  Problem p;
  for (const char* v : {"", "3112995671", "311299567150", "3112995671a", " 31129956715",
                        "31129956715 ", "3112-995671"}) {
    EXPECT_FALSE(ParsePersonNumber(v, PersonKind::kFnr, &p)) << v;
    EXPECT_EQ(p, Problem::kFormat) << v;
  }
}

TEST(Fnr, CenturyFromIndividnummer) {
  struct Case {
    int year;
    int individ;
  } cases[] = {{1854, 500}, {1899, 749}, {1900, 0},   {1999, 499}, {1940, 900},
               {1999, 999}, {2000, 500}, {2039, 999}, {2010, 750}, {1950, 123}};
  for (const Case& c : cases) {
    // Find a day whose check digits exist.
    bool made = false;
    for (int day = 1; day <= 28 && !made; ++day) {
      auto fnr = MakePersonNumber(PersonKind::kFnr, c.year, 6, day, c.individ);
      if (!fnr) continue;
      made = true;
      auto n = ParsePersonNumber(*fnr, PersonKind::kFnr);
      ASSERT_TRUE(n) << *fnr;
      EXPECT_EQ(n->year, c.year) << *fnr;
      EXPECT_EQ(n->day, day);
      EXPECT_EQ(n->individnummer, c.individ);
    }
    EXPECT_TRUE(made) << c.year;
  }
  // Individnummer that fits no century for its YY: 500–749 with YY 40–53,
  // 750–899 with YY ≥ 40.
  EXPECT_FALSE(MakePersonNumber(PersonKind::kFnr, 1945, 1, 1, 600));
  for (std::string nine : {"010145600", "010150800", "010199850"}) {
    auto v = WithCheckDigits(nine);
    if (!v) continue;
    Problem p;
    EXPECT_FALSE(ParsePersonNumber(*v, PersonKind::kFnr, &p)) << *v;
    EXPECT_EQ(p, Problem::kDate) << *v;
  }
}

TEST(Fnr, InvalidDatesWithCorrectCheckDigits) {
  // 29 Feb exists in 2000 and 1904 but not in 1900 or 1999.
  EXPECT_TRUE(MakePersonNumber(PersonKind::kFnr, 2000, 2, 29, 500) ||
              MakePersonNumber(PersonKind::kFnr, 2000, 2, 29, 501));
  EXPECT_FALSE(MakePersonNumber(PersonKind::kFnr, 1999, 2, 29, 100));
  int checked = 0;
  for (std::string nine : {"290200100", "290200101", "290200102", "320112345", "320112346",
                           "001012345", "001012346", "011312345", "011312346", "010012345",
                           "010012346", "310412345", "310412346"}) {
    auto v = WithCheckDigits(nine);
    if (!v) continue;
    ++checked;
    Problem p;
    EXPECT_FALSE(ParsePersonNumber(*v, PersonKind::kFnr, &p)) << *v;
    EXPECT_EQ(p, Problem::kDate) << *v;
  }
  EXPECT_GE(checked, 5);
}

TEST(Fnr, SexFromNinthDigit) {
  int female = 0, male = 0;
  for (int individ = 0; individ < 40; ++individ) {
    auto v = MakePersonNumber(PersonKind::kFnr, 1980, 5, 17, individ);
    if (!v) continue;
    auto n = ParsePersonNumber(*v, PersonKind::kFnr);
    ASSERT_TRUE(n);
    EXPECT_EQ(n->sex, individ % 2 == 0 ? Sex::kFemale : Sex::kMale) << *v;
    (individ % 2 == 0 ? female : male)++;
  }
  EXPECT_GT(female, 5);
  EXPECT_GT(male, 5);
}

TEST(Fnr, Scheme2032AcceptsK1RemaindersOneToThree) {
  // Build numbers whose K1 remainder is r (1..3) and whose K2 is correct.
  const int k1w[] = {3, 7, 6, 1, 8, 9, 4, 5, 2};
  const int k2w[] = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
  std::string nine = "150332512";  // 15.03.2032, individnummer 512
  int accepted = 0;
  for (int r = 0; r <= 4; ++r) {
    int s = 0;
    for (int i = 0; i < 9; ++i) s += k1w[i] * (nine[i] - '0');
    // s + k1 ≡ r (mod 11)
    int k1 = ((r - s) % 11 + 11) % 11;
    if (k1 > 9) continue;
    std::string ten = nine + static_cast<char>('0' + k1);
    int s2 = 0;
    for (int i = 0; i < 10; ++i) s2 += k2w[i] * (ten[i] - '0');
    int k2 = (11 - s2 % 11) % 11;
    if (k2 > 9) continue;
    std::string v = ten + static_cast<char>('0' + k2);
    auto n = ParsePersonNumber(v, PersonKind::kFnr);
    if (r <= 3) {
      ASSERT_TRUE(n) << "remainder " << r << ": " << v;
      EXPECT_EQ(n->scheme_2032, r != 0);
      EXPECT_EQ(n->year, 2032);
      if (r != 0) {
        EXPECT_EQ(n->sex, Sex::kUnknown);
      }
      ++accepted;
      ExpectEveryCorruptionInvalid(v, [](const std::string& x) { return IsValidFnr(x); });
    } else {
      EXPECT_FALSE(n) << "remainder " << r << ": " << v;
    }
  }
  EXPECT_GE(accepted, 3);
}

TEST(Dnr, DayPlusForty) {
  auto d = MakePersonNumber(PersonKind::kDnr, 1985, 7, 21, 234);
  if (!d) d = MakePersonNumber(PersonKind::kDnr, 1985, 7, 21, 235);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->substr(0, 2), "61");
  EXPECT_TRUE(IsValidDnr(*d));
  EXPECT_FALSE(IsValidFnr(*d));  // day 61 is no date
  auto n = ParsePersonNumber(*d, PersonKind::kDnr);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->day, 21);
  EXPECT_EQ(n->month, 7);
  EXPECT_EQ(n->year, 1985);
  ExpectEveryCorruptionInvalid(*d, [](const std::string& s) { return IsValidDnr(s); });
  // A plain FNR is not a D-nummer (day ≤ 31 − 40 < 1).
  EXPECT_FALSE(IsValidDnr("31129956715"));
}

TEST(Hnr, MonthPlusForty) {
  std::optional<std::string> h;
  for (int i = 100; !h; ++i) h = MakePersonNumber(PersonKind::kHnr, 1970, 3, 9, i);
  EXPECT_EQ(h->substr(2, 2), "43");
  EXPECT_TRUE(IsValidHnr(*h));
  EXPECT_FALSE(IsValidFnr(*h));
  ExpectEveryCorruptionInvalid(*h, [](const std::string& s) { return IsValidHnr(s); });
}

TEST(Fhn, FirstDigitEightOrNine) {
  int made = 0;
  for (std::string nine : {"812345678", "912345678", "800000001", "987654321", "900000123"}) {
    auto v = WithCheckDigits(nine);
    if (!v) continue;
    ++made;
    EXPECT_TRUE(IsValidFhn(*v)) << *v;
    ExpectEveryCorruptionInvalid(*v, [](const std::string& s) { return IsValidFhn(s); });
  }
  EXPECT_GE(made, 2);
  for (std::string nine : {"712345678", "112345678", "012345678"}) {
    auto v = WithCheckDigits(nine);
    if (!v) continue;
    Problem p;
    EXPECT_FALSE(ParsePersonNumber(*v, PersonKind::kFhn, &p));
    EXPECT_EQ(p, Problem::kPrefix);
  }
}

TEST(Synthetic, TenorMonthPlusEighty) {
  auto s = MakePersonNumber(PersonKind::kFnr, 1990, 11, 2, 345, /*synthetic=*/true);
  if (!s) s = MakePersonNumber(PersonKind::kFnr, 1990, 11, 2, 346, true);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->substr(2, 2), "91");
  auto n = ParsePersonNumber(*s, PersonKind::kFnr);
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->synthetic);
  EXPECT_EQ(n->month, 11);
  ExpectEveryCorruptionInvalid(*s, [](const std::string& x) { return IsValidFnr(x); });
  // Synthetic D-nummer: day + 40 and month + 80.
  auto d = MakePersonNumber(PersonKind::kDnr, 2001, 1, 30, 600, true);
  if (!d) d = MakePersonNumber(PersonKind::kDnr, 2001, 1, 30, 601, true);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->substr(0, 4), "7081");
  EXPECT_TRUE(IsValidDnr(*d));
}

TEST(Fnr, ManyGeneratedNumbersValidAndDistinct) {
  std::set<std::string> seen;
  for (int year : {1920, 1955, 1988, 2005, 2024}) {
    for (int day = 1; day <= 28; day += 3) {
      for (auto [lo, hi] : IndividnummerRanges(year)) {
        for (int i = lo; i <= hi; i += 37) {
          auto v = MakePersonNumber(PersonKind::kFnr, year, 4, day, i);
          if (!v) continue;
          EXPECT_TRUE(IsValidFnr(*v)) << *v;
          EXPECT_TRUE(seen.insert(*v).second) << *v;
          auto n = ParsePersonNumber(*v, PersonKind::kFnr);
          EXPECT_EQ(n->year, year);
        }
      }
    }
  }
  EXPECT_GT(seen.size(), 300u);
}

TEST(Orgnr, WorkedExampleAndCorruptions) {
  EXPECT_TRUE(IsValidOrgnr("123456785"));
  ExpectEveryCorruptionInvalid("123456785", [](const std::string& s) { return IsValidOrgnr(s); });
  auto o = MakeOrgnr(98765432);
  if (o) {
    EXPECT_TRUE(IsValidOrgnr(*o));
    ExpectEveryCorruptionInvalid(*o, [](const std::string& s) { return IsValidOrgnr(s); });
  }
  EXPECT_EQ(MakeOrgnr(12345678).value_or(""), "123456785");
  for (const char* v : {"", "12345678", "1234567850", "12345678x", "123 45678"}) {
    EXPECT_EQ(Check(IdSystem::kOrgnr, v), Problem::kFormat) << v;
  }
  // A check digit of 10 makes every number with those 8 digits invalid.
  int ten = 0;
  for (int f = 10000000; f < 10000200; ++f) {
    if (MakeOrgnr(f)) continue;
    ++ten;
    std::string base = std::to_string(f);
    for (char c = '0'; c <= '9'; ++c) EXPECT_FALSE(IsValidOrgnr(base + c));
  }
  EXPECT_GT(ten, 0);
}

TEST(Integers, HprHerReshAko) {
  for (IdSystem s : {IdSystem::kHpr, IdSystem::kHerId, IdSystem::kResh, IdSystem::kAko}) {
    EXPECT_EQ(Check(s, "720"), Problem::kNone);
    EXPECT_EQ(Check(s, "565501872"), Problem::kNone);
    EXPECT_EQ(Check(s, "1"), Problem::kNone);
    EXPECT_EQ(Check(s, "0"), Problem::kRange);
    EXPECT_EQ(Check(s, "0720"), Problem::kRange);
    EXPECT_EQ(Check(s, "1234567890"), Problem::kRange);
    EXPECT_EQ(Check(s, ""), Problem::kFormat);
    EXPECT_EQ(Check(s, "12a"), Problem::kFormat);
    EXPECT_EQ(Check(s, "-12"), Problem::kFormat);
  }
  EXPECT_EQ(Check(IdSystem::kDuf, "123456789012"), Problem::kNone);
  EXPECT_EQ(Check(IdSystem::kDuf, "12345678901"), Problem::kFormat);
}

TEST(Systems, CanonicalAndVariants) {
  EXPECT_EQ(CanonicalSystem("urn:oid:2.16.578.1.12.4.1.4.1").value_or(""),
            "urn:oid:2.16.578.1.12.4.1.4.1");
  EXPECT_EQ(CanonicalSystem("2.16.578.1.12.4.1.4.1").value_or(""), "urn:oid:2.16.578.1.12.4.1.4.1");
  EXPECT_EQ(CanonicalSystem("http://hl7.no/fhir/NamingSystem/FNR").value_or(""),
            "urn:oid:2.16.578.1.12.4.1.4.1");
  EXPECT_EQ(CanonicalSystem("http://hl7.no/fhir/NamingSystem/DNR").value_or(""),
            "urn:oid:2.16.578.1.12.4.1.4.2");
  EXPECT_EQ(CanonicalSystem("urn:oid:2.16.578.1.12.4.1.2.101").value_or(""),
            "urn:oid:2.16.578.1.12.4.1.4.101");
  EXPECT_EQ(CanonicalSystem("urn:oid:2.16.578.1.12.4.1.4.1026").value_or(""),
            "urn:oid:2.16.578.1.12.4.1.4.102");
  EXPECT_EQ(CanonicalSystem("http://hl7.no/fhir/NamingSystem/HERid").value_or(""),
            "urn:oid:2.16.578.1.12.4.1.2");
  EXPECT_EQ(CanonicalSystem("http://hl7.no/fhir/NamingSystem/HPR").value_or(""),
            "urn:oid:2.16.578.1.12.4.1.4.4");
  EXPECT_EQ(CanonicalSystem("HNR").value_or(""), "HNR");
  EXPECT_EQ(CanonicalSystem("urn:oid:2.16.578.1.12.4.1.4.107").value_or(""),
            "urn:oid:2.16.578.1.12.4.1.4.107");
  EXPECT_FALSE(CanonicalSystem("urn:oid:2.16.578.1.12.4.1.1.7110"));
  EXPECT_FALSE(CanonicalSystem("http://hl7.org/fhir/sid/us-ssn"));
  EXPECT_FALSE(CanonicalSystem("URN:OID:2.16.578.1.12.4.1.4.1"));  // URIs are case-sensitive
  EXPECT_FALSE(CanonicalSystem(""));
  for (IdSystem s : {IdSystem::kFnr, IdSystem::kDnr, IdSystem::kFhn, IdSystem::kHnr,
                     IdSystem::kHpr, IdSystem::kDuf, IdSystem::kOrgnr, IdSystem::kResh,
                     IdSystem::kAko, IdSystem::kHerId}) {
    EXPECT_EQ(IdentifySystem(CanonicalUri(s)), s);
    EXPECT_FALSE(DisplayName(s).empty());
  }
}

}  // namespace
}  // namespace gm::no
