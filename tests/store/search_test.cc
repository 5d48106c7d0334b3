// Search: every Clause op with exact expected ids, sorting, keyset paging
// under concurrent inserts, and query plans that use the indexes.
#include <chrono>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "store_test_util.h"

namespace gm::store::testing {
namespace {

using Op = Clause::Op;
using Cmp = Clause::Cmp;
using V = std::vector<std::string>;

int64_t Day(int y, unsigned m, unsigned d) {
  using namespace std::chrono;
  return duration_cast<microseconds>(
             sys_days(year_month_day(year(y), month(m), day(d))).time_since_epoch())
      .count();
}
constexpr int64_t kHour = 3'600'000'000;
constexpr int64_t kMinute = 60'000'000;
constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kT = 1'700'000'000'000'000;
const std::string kLoinc = "http://loinc.org";
const std::string kSnomed = "http://snomed.info/sct";
const std::string kUcum = "http://unitsofmeasure.org";

Clause::Value Code(std::string code) { return CodeValue(std::move(code)); }
Clause::Value SysCode(std::string system, std::string code) {
  return CodeValue(std::move(code), std::move(system), true);
}
Clause::Value DateV(Cmp cmp, int64_t b, int64_t e) {
  Clause::Value v;
  v.begin_us = b;
  v.end_us = e;
  v.cmp = cmp;
  return v;
}
Clause::Value Num(Cmp cmp, double lo, double hi) {
  Clause::Value v;
  v.lo = lo;
  v.hi = hi;
  v.cmp = cmp;
  return v;
}
Clause::Value Qty(Cmp cmp, double lo, double hi, std::string system, std::string code) {
  Clause::Value v = Num(cmp, lo, hi);
  v.system = std::move(system);
  v.code = std::move(code);
  return v;
}
Clause Cl(Op op, std::string param, std::vector<Clause::Value> values) {
  Clause c;
  c.op = op;
  c.param = std::move(param);
  c.any_of = std::move(values);
  return c;
}
Clause Missing(std::string param, bool missing) {
  Clause c;
  c.op = Op::kMissing;
  c.param = std::move(param);
  c.bool_value = missing;
  return c;
}
Query Q(std::string type, std::vector<Clause> clauses) {
  Query q;
  q.type = std::move(type);
  q.clauses = std::move(clauses);
  q.limit = 1000;
  return q;
}

class SearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sqlite::SqliteInternalOptions internal;
    internal.now_us = [] { return Day(2031, 3, 15); };
    s_ = OpenStore(dir_.path(), internal);
    ASSERT_NE(s_, nullptr);
    const int64_t d20200101 = Day(2020, 1, 1);
    std::vector<PutRequest> puts = {
        MakePut(
            "Observation", "o1", 1, kT + 1,
            {Token("code", kLoinc, "1111", "body weight"), Date("date", d20200101, Day(2020, 1, 2)),
             Quantity("value-quantity", 69.5, 70.5, kUcum, "kg"),
             Reference("subject", "Patient", "p1"), String("note", "sorgard", "Sørgård")},
            {"p1"}),
        MakePut("Observation", "o2", 1, kT + 2,
                {Token("code", kLoinc, "2222", "body height"),
                 Date("date", d20200101 + 10 * kHour, d20200101 + 10 * kHour + kSecond),
                 Quantity("value-quantity", 99.5, 100.5, kUcum, "kg"),
                 Reference("subject", "Patient", "p2")},
                {"p2"}),
        MakePut("Observation", "o3", 1, kT + 3,
                {Token("code", kSnomed, "1111"), Date("date", Day(2020, 6, 1), Day(2020, 7, 1)),
                 Quantity("value-quantity", 4.5, 5.5, kUcum, "mg"),
                 Reference("subject", "Patient", "p1")},
                {"p1"}),
        MakePut("Observation", "o4", 1, kT + 4,
                {Token("code", "", "3333"), Date("date", Day(2021, 3, 15), Day(2021, 3, 16)),
                 Quantity("value-quantity", 99.5, 100.5, kUcum, "mg")}),
        MakePut("Observation", "o5", 1, kT + 5, {Token("code", kLoinc, "1111")}, {"p1"}),
        MakeDelete("Observation", "o5", 2, kT + 5),
        MakePut("Observation", "o6", 1, kT + 5, {Token("code", kLoinc, "1111")}),
        MakePut("Observation", "o6", 2, kT + 6, {Token("code", kLoinc, "4444")}),
        MakePut("Observation", "o7", 1, kT + 7,
                {Date("date", Day(2019, 12, 31), d20200101 + 12 * kHour),
                 Reference("subject", "Patient", "9", "http://other.example/fhir/Patient/9")}),
        MakePut("Patient", "p1", 1, kT + 10,
                {String("name", "sorgard", "Sørgård"), String("name", "kari", "Kari"),
                 Token("gender", "http://hl7.org/fhir/administrative-gender", "female")},
                {"p1"}),
        MakePut("Patient", "p2", 1, kT + 11,
                {String("name", "sorensen", "Sørensen"),
                 Token("gender", "http://hl7.org/fhir/administrative-gender", "male")},
                {"p2"}),
        MakePut("Patient", "p3", 1, kT + 12, {String("name", "anders", "Anders")}, {"p3"}),
        MakePut("Patient", "p4", 1, kT + 9,
                {Token("gender", "http://hl7.org/fhir/administrative-gender", "female")}, {"p4"}),
        MakePut("RiskAssessment", "ra1", 1, kT, {Number("probability", 0.75, 0.85)}),
        MakePut("RiskAssessment", "ra2", 1, kT, {Number("probability", 99.5, 100.5)}),
        MakePut("RiskAssessment", "ra3", 1, kT, {Number("probability", 99.995, 100.005)}),
        MakePut("RiskAssessment", "ra4", 1, kT, {Number("probability", 100.5, 101.5)}),
        MakePut("RiskAssessment", "ra5", 1, kT, {Number("probability", 49.5, 50.5)}),
        MakePut("ValueSet", "vs1", 1, kT, {Uri("url", "http://acme.org/fhir")}),
        MakePut("ValueSet", "vs2", 1, kT, {Uri("url", "http://acme.org/fhir/ValueSet/123")}),
        MakePut("ValueSet", "vs3", 1, kT, {Uri("url", "http://acme.org/fhir/ValueSet/1234")}),
        MakePut("ValueSet", "vs4", 1, kT, {Uri("url", "http://other.org/x")}),
        MakePut("ValueSet", "vs5", 1, kT,
                {Uri("url", "http://acme.org/fhir/ValueSet/123/_history/5")}),
    };
    Status st = s_->Write([&](Txn& txn) {
      for (const PutRequest& p : puts) GM_RETURN_IF_ERROR(txn.Put(p));
      return Status::Ok();
    });
    ASSERT_TRUE(st.ok()) << st.message();
  }

  V Find(const Query& q) {
    auto r = s_->Search(q);
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok()) return {"<error>"};
    return Sorted(Ids(r->resources));
  }
  // Ids in result order, following `next` through all pages.
  V FindAllPages(Query q) {
    V out;
    for (int i = 0; i < 1000; ++i) {
      auto r = s_->Search(q);
      EXPECT_TRUE(r.ok()) << r.status().message();
      if (!r.ok()) break;
      for (auto& id : Ids(r->resources)) out.push_back(id);
      if (r->next.empty()) break;
      q.after = r->next;
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<sqlite::SqliteStore> s_;
};

TEST_F(SearchTest, TokenWithAndWithoutSystem) {
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kTokenEq, "code", {Code("1111")})})), (V{"o1", "o3"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kTokenEq, "code", {SysCode(kLoinc, "1111")})})),
            (V{"o1"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kTokenEq, "code", {SysCode("", "3333")})})), (V{"o4"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kTokenEq, "code", {SysCode("", "1111")})})), (V{}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kTokenEq, "code", {SysCode(kLoinc, "")})})),
            (V{"o1", "o2", "o6"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kTokenEq, "code", {Code("1111"), Code("2222")})})),
            (V{"o1", "o2", "o3"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kTokenEq, "code", {Code("4444")})})), (V{"o6"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kTokenEq, "code", {Code("9999")})})), (V{}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kTokenEq, "nosuchparam", {Code("1111")})})), (V{}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kTokenEq, "gender", {Code("female")})})), (V{"p1", "p4"}));
  auto bad = s_->Search(Q("Observation", {Cl(Op::kTokenEq, "code", {Code("")})}));
  EXPECT_EQ(bad.status().code(), "GM-STORE-031");
}

TEST_F(SearchTest, TokenNotAndText) {
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kTokenNot, "code", {Code("1111")})})),
            (V{"o2", "o4", "o6", "o7"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kTokenNot, "code", {SysCode(kLoinc, "1111")})})),
            (V{"o2", "o3", "o4", "o6", "o7"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kTokenNot, "code", {Code("1111"), Code("2222")})})),
            (V{"o4", "o6", "o7"}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kTokenNot, "gender", {Code("female")})})), (V{"p2", "p3"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kTokenText, "code", {Code("body")})})), (V{"o1", "o2"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kTokenText, "code", {Code("body w")})})), (V{"o1"}));
}

TEST_F(SearchTest, StringPrefixExactContains) {
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kStringPrefix, "name", {Code("sor")})})), (V{"p1", "p2"}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kStringPrefix, "name", {Code("sorg")})})), (V{"p1"}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kStringPrefix, "name", {Code("kar")})})), (V{"p1"}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kStringPrefix, "name", {Code("and"), Code("sore")})})),
            (V{"p2", "p3"}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kStringPrefix, "name", {Code("x")})})), (V{}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kStringExact, "name", {Code("Sørgård")})})), (V{"p1"}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kStringExact, "name", {Code("sørgård")})})), (V{}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kStringExact, "name", {Code("Sør")})})), (V{}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kStringContains, "name", {Code("ens")})})), (V{"p2"}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kStringContains, "name", {Code("ar")})})), (V{"p1"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kStringPrefix, "note", {Code("sorgard")})})), (V{"o1"}));
}

TEST_F(SearchTest, DatesWithPrecisionAndPrefixes) {
  const int64_t y2020 = Day(2020, 1, 1), y2021 = Day(2021, 1, 1);
  const int64_t d1 = Day(2020, 1, 1), d2 = Day(2020, 1, 2);
  auto date = [&](Cmp cmp, int64_t b, int64_t e) {
    return Find(Q("Observation", {Cl(Op::kDateRange, "date", {DateV(cmp, b, e)})}));
  };
  EXPECT_EQ(date(Cmp::kEq, d1, d2), (V{"o1", "o2"}));
  EXPECT_EQ(date(Cmp::kEq, y2020, y2021), (V{"o1", "o2", "o3"}));
  EXPECT_EQ(date(Cmp::kEq, d1 + 10 * kHour, d1 + 10 * kHour + kMinute), (V{"o2"}));
  EXPECT_EQ(date(Cmp::kEq, d1 + 11 * kHour, d1 + 11 * kHour + kMinute), (V{}));
  EXPECT_EQ(date(Cmp::kNe, y2020, y2021), (V{"o4", "o7"}));
  EXPECT_EQ(date(Cmp::kGt, y2020, y2021), (V{"o4"}));
  EXPECT_EQ(date(Cmp::kLt, y2020, y2021), (V{"o7"}));
  EXPECT_EQ(date(Cmp::kGe, y2020, y2021), (V{"o1", "o2", "o3", "o4"}));
  EXPECT_EQ(date(Cmp::kLe, d1, d2), (V{"o1", "o2", "o7"}));
  EXPECT_EQ(date(Cmp::kSa, d1, d2), (V{"o3", "o4"}));
  EXPECT_EQ(date(Cmp::kEb, Day(2020, 6, 1), Day(2020, 6, 2)), (V{"o1", "o2", "o7"}));
  // "now" is 2031-03-15: 10% of ten years widens the day by about a year.
  EXPECT_EQ(date(Cmp::kAp, Day(2021, 3, 15), Day(2021, 3, 16)), (V{"o3", "o4"}));
  // OR of values.
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kDateRange, "date",
                                      {DateV(Cmp::kEq, Day(2020, 6, 1), Day(2020, 7, 1)),
                                       DateV(Cmp::kLt, y2020, y2021)})})),
            (V{"o3", "o7"}));
}

TEST_F(SearchTest, NumberRanges) {
  auto num = [&](Cmp cmp, double lo, double hi) {
    return Find(Q("RiskAssessment", {Cl(Op::kNumberRange, "probability", {Num(cmp, lo, hi)})}));
  };
  EXPECT_EQ(num(Cmp::kEq, 99.5, 100.5), (V{"ra2", "ra3"}));     // 100
  EXPECT_EQ(num(Cmp::kEq, 99.995, 100.005), (V{"ra3"}));        // 100.00
  EXPECT_EQ(num(Cmp::kEq, 95, 105), (V{"ra2", "ra3", "ra4"}));  // 1e2
  EXPECT_EQ(num(Cmp::kNe, 99.5, 100.5), (V{"ra1", "ra4", "ra5"}));
  EXPECT_EQ(num(Cmp::kGt, 99.5, 100.5), (V{"ra4"}));
  EXPECT_EQ(num(Cmp::kLt, 99.5, 100.5), (V{"ra1", "ra5"}));
  EXPECT_EQ(num(Cmp::kGe, 99.5, 100.5), (V{"ra2", "ra3", "ra4"}));
  EXPECT_EQ(num(Cmp::kLe, 99.5, 100.5), (V{"ra1", "ra2", "ra3", "ra5"}));
  EXPECT_EQ(num(Cmp::kSa, 99.5, 100.5), (V{"ra4"}));
  EXPECT_EQ(num(Cmp::kEb, 99.5, 100.5), (V{"ra1", "ra5"}));
  EXPECT_EQ(num(Cmp::kAp, 99.5, 100.5), (V{"ra2", "ra3", "ra4"}));  // 90..110
  EXPECT_EQ(num(Cmp::kAp, 0.795, 0.805), (V{"ra1"}));
  EXPECT_EQ(Find(Q("RiskAssessment", {Cl(Op::kNumberRange, "probability",
                                         {Num(Cmp::kEq, 49.5, 50.5), Num(Cmp::kEq, 0.75, 0.85)})})),
            (V{"ra1", "ra5"}));
}

TEST_F(SearchTest, Quantities) {
  auto qty = [&](Clause::Value v) {
    return Find(Q("Observation", {Cl(Op::kNumberRange, "value-quantity", {v})}));
  };
  EXPECT_EQ(qty(Qty(Cmp::kEq, 99.5, 100.5, kUcum, "kg")), (V{"o2"}));
  EXPECT_EQ(qty(Qty(Cmp::kEq, 99.5, 100.5, "", "kg")), (V{"o2"}));
  EXPECT_EQ(qty(Qty(Cmp::kEq, 99.5, 100.5, "", "")), (V{"o2", "o4"}));
  EXPECT_EQ(qty(Qty(Cmp::kEq, 99.5, 100.5, "urn:other", "kg")), (V{}));
  EXPECT_EQ(qty(Qty(Cmp::kGt, 49.5, 50.5, kUcum, "kg")), (V{"o1", "o2"}));
  EXPECT_EQ(qty(Qty(Cmp::kLt, 49.5, 50.5, "", "")), (V{"o3"}));
  EXPECT_EQ(qty(Qty(Cmp::kLe, 69.5, 70.5, "", "kg")), (V{"o1"}));
}

TEST_F(SearchTest, References) {
  auto ref = [&](Clause::Value v) {
    return Find(Q("Observation", {Cl(Op::kReference, "subject", {v})}));
  };
  EXPECT_EQ(ref(SysCode("Patient", "p1")), (V{"o1", "o3"}));
  EXPECT_EQ(ref(Code("p1")), (V{"o1", "o3"}));
  EXPECT_EQ(ref(Code("Patient/p2")), (V{"o2"}));
  EXPECT_EQ(ref(SysCode("Group", "p1")), (V{}));
  EXPECT_EQ(ref(Code("http://other.example/fhir/Patient/9")), (V{"o7"}));
  EXPECT_EQ(ref(SysCode("Patient", "9")), (V{"o7"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kReference, "subject", {Code("p1"), Code("p2")})})),
            (V{"o1", "o2", "o3"}));
}

TEST_F(SearchTest, Uris) {
  auto uri = [&](Op op, std::string v) {
    return Find(Q("ValueSet", {Cl(op, "url", {Code(std::move(v))})}));
  };
  EXPECT_EQ(uri(Op::kUriEq, "http://acme.org/fhir/ValueSet/123"), (V{"vs2"}));
  EXPECT_EQ(uri(Op::kUriBelow, "http://acme.org/fhir/ValueSet/123"), (V{"vs2", "vs5"}));
  EXPECT_EQ(uri(Op::kUriBelow, "http://acme.org/fhir"), (V{"vs1", "vs2", "vs3", "vs5"}));
  EXPECT_EQ(uri(Op::kUriAbove, "http://acme.org/fhir/ValueSet/123/_history/5"),
            (V{"vs1", "vs2", "vs5"}));
  EXPECT_EQ(uri(Op::kUriAbove, "http://acme.org/fhir/ValueSet/1234"), (V{"vs1", "vs3"}));
}

TEST_F(SearchTest, MissingIdLastUpdatedCompartment) {
  EXPECT_EQ(Find(Q("Patient", {Missing("gender", true)})), (V{"p3"}));
  EXPECT_EQ(Find(Q("Patient", {Missing("gender", false)})), (V{"p1", "p2", "p4"}));
  EXPECT_EQ(Find(Q("Patient", {Missing("name", true)})), (V{"p4"}));
  EXPECT_EQ(Find(Q("Patient", {Missing("nosuch", true)})), (V{"p1", "p2", "p3", "p4"}));
  EXPECT_EQ(Find(Q("Patient", {Missing("nosuch", false)})), (V{}));
  EXPECT_EQ(Find(Q("Observation", {Missing("subject", true)})), (V{"o4", "o6"}));

  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kId, "_id", {Code("o1"), Code("o3"), Code("o5")})})),
            (V{"o1", "o3"}));  // o5 is deleted
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kId, "_id", {Code("o1")})})), (V{}));

  auto lu = [&](Cmp cmp, int64_t b, int64_t e) {
    return Find(Q("Observation", {Cl(Op::kLastUpdated, "_lastUpdated", {DateV(cmp, b, e)})}));
  };
  EXPECT_EQ(lu(Cmp::kGe, kT + 3, kT + 4), (V{"o3", "o4", "o6", "o7"}));
  EXPECT_EQ(lu(Cmp::kLt, kT + 3, kT + 4), (V{"o1", "o2"}));
  EXPECT_EQ(lu(Cmp::kEq, kT + 1, kT + 3), (V{"o1", "o2"}));
  EXPECT_EQ(lu(Cmp::kGt, kT + 3, kT + 4), (V{"o4", "o6", "o7"}));
  EXPECT_EQ(lu(Cmp::kLe, kT + 3, kT + 4), (V{"o1", "o2", "o3"}));
  EXPECT_EQ(lu(Cmp::kNe, kT + 1, kT + 6), (V{"o6", "o7"}));

  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kCompartment, "", {Code("p1")})})), (V{"o1", "o3"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kCompartment, "", {Code("p1"), Code("p2")})})),
            (V{"o1", "o2", "o3"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kCompartment, "", {Code("p1")}),
                                   Cl(Op::kTokenEq, "code", {SysCode(kLoinc, "1111")})})),
            (V{"o1"}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kCompartment, "", {Code("p2")})})), (V{"p2"}));
}

TEST_F(SearchTest, ConjunctionsAndSystemLevel) {
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kTokenEq, "code", {SysCode(kLoinc, "")}),
                                   Cl(Op::kDateRange, "date",
                                      {DateV(Cmp::kEq, Day(2020, 1, 1), Day(2021, 1, 1))})})),
            (V{"o1", "o2"}));
  EXPECT_EQ(Find(Q("Observation",
                   {Cl(Op::kReference, "subject", {Code("p1")}),
                    Cl(Op::kTokenNot, "code", {SysCode(kLoinc, "1111")}), Missing("date", false)})),
            (V{"o3"}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kStringPrefix, "name", {Code("s")}),
                               Cl(Op::kTokenEq, "gender", {Code("male")})})),
            (V{"p2"}));

  Query sys = Q("", {Cl(Op::kLastUpdated, "_lastUpdated", {DateV(Cmp::kGe, kT + 7, kT + 8)})});
  EXPECT_EQ(Find(sys), (V{"o7", "p1", "p2", "p3", "p4"}));
  sys.types = {"Patient"};
  EXPECT_EQ(Find(sys), (V{"p1", "p2", "p3", "p4"}));
  Query sys_code = Q("", {Cl(Op::kTokenEq, "code", {Code("1111")})});
  EXPECT_EQ(Find(sys_code), (V{"o1", "o3"}));
  Query sys_id = Q("", {Cl(Op::kId, "_id", {Code("p1"), Code("o1")})});
  EXPECT_EQ(Find(sys_id), (V{"o1", "p1"}));
  sys_id.types = {"Observation", "ValueSet"};
  EXPECT_EQ(Find(sys_id), (V{"o1"}));
}

TEST_F(SearchTest, Sorting) {
  auto sorted = [&](std::string type, std::vector<SortKey> sort, std::vector<Clause> cl = {}) {
    Query q = Q(std::move(type), std::move(cl));
    q.sort = std::move(sort);
    auto r = s_->Search(q);
    EXPECT_TRUE(r.ok()) << r.status().message();
    V all = r.ok() ? Ids(r->resources) : V{"<error>"};
    // The same order, one row per page.
    q.limit = 1;
    EXPECT_EQ(FindAllPages(q), all);
    q.limit = 3;
    EXPECT_EQ(FindAllPages(q), all);
    return all;
  };
  // Multi-valued: min for ascending, max for descending; missing last.
  EXPECT_EQ(sorted("Patient", {{"name", false}}), (V{"p3", "p1", "p2", "p4"}));
  EXPECT_EQ(sorted("Patient", {{"name", true}}), (V{"p1", "p2", "p3", "p4"}));
  EXPECT_EQ(sorted("Patient", {{"_id", true}}), (V{"p4", "p3", "p2", "p1"}));
  EXPECT_EQ(sorted("Patient", {{"_lastUpdated", false}}), (V{"p4", "p1", "p2", "p3"}));
  EXPECT_EQ(sorted("Patient", {{"_lastUpdated", true}}), (V{"p3", "p2", "p1", "p4"}));
  EXPECT_EQ(sorted("Patient", {{"gender", false}, {"_lastUpdated", true}}),
            (V{"p1", "p4", "p2", "p3"}));
  EXPECT_EQ(sorted("Patient", {{"gender", true}, {"_id", false}}), (V{"p2", "p1", "p4", "p3"}));
  EXPECT_EQ(
      sorted("Observation", {{"date", false}}, {Cl(Op::kTokenEq, "code", {SysCode(kLoinc, "")})}),
      (V{"o1", "o2", "o6"}));
  EXPECT_EQ(sorted("Observation", {{"date", true}}), (V{"o4", "o3", "o1", "o7", "o2", "o6"}));
  EXPECT_EQ(sorted("RiskAssessment", {{"probability", true}}),
            (V{"ra4", "ra3", "ra2", "ra5", "ra1"}));  // a tie breaks by rid, descending
  EXPECT_EQ(sorted("Observation", {{"value-quantity", false}}, {Missing("value-quantity", false)}),
            (V{"o3", "o1", "o2", "o4"}));
  EXPECT_EQ(sorted("ValueSet", {{"url", false}}), (V{"vs1", "vs2", "vs5", "vs3", "vs4"}));
  EXPECT_EQ(sorted("Observation", {{"subject", false}, {"_id", false}}),
            (V{"o7", "o1", "o3", "o2", "o4", "o6"}));
  EXPECT_EQ(sorted("Observation", {{"nosuch", false}, {"_id", true}}),
            (V{"o7", "o6", "o4", "o3", "o2", "o1"}));
}

TEST_F(SearchTest, BadCursorIsRejected) {
  Query q = Q("Patient", {});
  q.after = "xyz";
  EXPECT_EQ(s_->Search(q).status().code(), "GM-STORE-030");
  q.limit = 1;
  q.after.clear();
  auto first = s_->Search(q);
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next.empty());
  q.sort = {{"name", false}, {"_id", false}};  // a cursor for another sort
  q.after = first->next;
  EXPECT_EQ(s_->Search(q).status().code(), "GM-STORE-030");
}

TEST_F(SearchTest, TxnMatchSeesTheWriteTransaction) {
  Query q = Q("Observation", {Cl(Op::kTokenEq, "code", {Code("1111")})});
  Status st = s_->Write([&](Txn& txn) {
    auto before = txn.Match(q, 10);
    if (!before.ok()) return before.status();
    EXPECT_EQ(Sorted(*before), (V{"o1", "o3"}));
    auto one = txn.Match(q, 1);
    if (!one.ok()) return one.status();
    EXPECT_EQ(one->size(), 1u);
    GM_RETURN_IF_ERROR(
        txn.Put(MakePut("Observation", "o8", 1, kT, {Token("code", kLoinc, "1111")})));
    auto after = txn.Match(q, 10);
    if (!after.ok()) return after.status();
    EXPECT_EQ(Sorted(*after), (V{"o1", "o3", "o8"}));
    return Status::Error(ErrorCategory::kConflict, "TEST-002", "conflict", "roll back");
  });
  EXPECT_EQ(st.code(), "TEST-002");
  EXPECT_EQ(Find(q), (V{"o1", "o3"}));
}

// The plan of every indexable clause shape starts from an index: the only
// full scan allowed is over the driver's own result set ("SCAN d").
TEST_F(SearchTest, QueryPlansUseIndexes) {
  std::vector<std::pair<std::string, Query>> shapes = {
      {"token", Q("Observation", {Cl(Op::kTokenEq, "code", {SysCode(kLoinc, "1111")})})},
      {"token code only", Q("Observation", {Cl(Op::kTokenEq, "code", {Code("1111")})})},
      {"token system only", Q("Observation", {Cl(Op::kTokenEq, "code", {SysCode(kLoinc, "")})})},
      {"token or", Q("Observation", {Cl(Op::kTokenEq, "code", {Code("1"), Code("2")})})},
      {"token text", Q("Observation", {Cl(Op::kTokenText, "code", {Code("body")})})},
      {"string prefix", Q("Patient", {Cl(Op::kStringPrefix, "name", {Code("sor")})})},
      {"string exact", Q("Patient", {Cl(Op::kStringExact, "name", {Code("Sørgård")})})},
      {"reference", Q("Observation", {Cl(Op::kReference, "subject", {SysCode("Patient", "p1")})})},
      {"reference url",
       Q("Observation", {Cl(Op::kReference, "subject", {Code("http://x.org/Patient/1")})})},
      {"compartment", Q("Observation", {Cl(Op::kCompartment, "", {Code("p1")})})},
      {"uri", Q("ValueSet", {Cl(Op::kUriEq, "url", {Code("http://acme.org/fhir")})})},
      {"uri below", Q("ValueSet", {Cl(Op::kUriBelow, "url", {Code("http://acme.org/fhir")})})},
      {"uri above", Q("ValueSet", {Cl(Op::kUriAbove, "url", {Code("http://acme.org/fhir/a")})})},
      {"id", Q("Observation", {Cl(Op::kId, "_id", {Code("o1")})})},
      {"lastUpdated", Q("Observation", {Cl(Op::kLastUpdated, "", {DateV(Cmp::kGe, kT, kT + 1)})})},
      {"quantity with unit", Q("Observation", {Cl(Op::kNumberRange, "value-quantity",
                                                  {Qty(Cmp::kGt, 1, 2, kUcum, "kg")})})},
      {"quantity",
       Q("Observation", {Cl(Op::kNumberRange, "value-quantity", {Num(Cmp::kEq, 1, 2)})})},
      {"number", Q("RiskAssessment", {Cl(Op::kNumberRange, "probability", {Num(Cmp::kLt, 1, 2)})})},
      {"no clauses", Q("Observation", {})},
      {"only negative", Q("Observation", {Cl(Op::kTokenNot, "code", {Code("1111")})})},
      {"missing", Q("Patient", {Missing("gender", true)})},
      {"combined",
       Q("Observation", {Cl(Op::kCompartment, "", {Code("p1")}),
                         Cl(Op::kTokenEq, "code", {SysCode(kLoinc, "1111")}),
                         Cl(Op::kDateRange, "date", {DateV(Cmp::kGe, 1, 2)}),
                         Cl(Op::kTokenNot, "code", {Code("x")}), Missing("subject", false)})},
  };
  for (Cmp cmp :
       {Cmp::kEq, Cmp::kNe, Cmp::kGt, Cmp::kLt, Cmp::kGe, Cmp::kLe, Cmp::kSa, Cmp::kEb, Cmp::kAp}) {
    shapes.push_back({"date " + std::to_string(int(cmp)),
                      Q("Observation", {Cl(Op::kDateRange, "date", {DateV(cmp, 10, 20)})})});
  }
  const size_t n = shapes.size();
  for (size_t i = 0; i < n; ++i) {
    // Each shape again, sorted and on a later page.
    Query sorted = shapes[i].second;
    sorted.sort = {{"_lastUpdated", true}};
    sorted.limit = 1;
    auto first = s_->Search(sorted);
    ASSERT_TRUE(first.ok()) << shapes[i].first << ": " << first.status().message();
    if (!first->next.empty()) {
      sorted.after = first->next;
      shapes.push_back({shapes[i].first + " sorted, page 2", sorted});
    }
  }
  Query by_lu = Q("Observation", {});
  by_lu.sort = {{"_lastUpdated", false}};
  by_lu.limit = 2;
  by_lu.after = s_->Search(by_lu)->next;
  shapes.push_back({"lastUpdated order page 2", by_lu});

  for (const auto& [name, q] : shapes) {
    auto plan = s_->ExplainSearch(q);
    ASSERT_TRUE(plan.ok()) << name << ": " << plan.status().message();
    ASSERT_FALSE(plan->empty()) << name;
    std::istringstream lines(*plan);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind("SCAN ", 0) != 0) continue;
      EXPECT_EQ(line, "SCAN d") << name << " has a full scan:\n" << *plan;
    }
    EXPECT_EQ(plan->find("SCAN r\n"), std::string::npos) << name;
  }
  // Sorting on a parameter looks up each candidate's own index rows (by rid),
  // never all rows of the parameter: "a patient's observations by code, newest
  // first" costs what the patient has, not what the database has.
  for (bool descending : {true, false}) {
    Query by_date = Q("Observation", {Cl(Op::kCompartment, "", {Code("p1")}),
                                      Cl(Op::kTokenEq, "code", {SysCode(kLoinc, "1111")})});
    by_date.sort = {{"date", descending}, {"code", false}};
    auto sort_plan = s_->ExplainSearch(by_date);
    ASSERT_TRUE(sort_plan.ok()) << sort_plan.status().message();
    EXPECT_NE(sort_plan->find("INDEX idx_date_rid (rid=?"), std::string::npos) << *sort_plan;
    EXPECT_NE(sort_plan->find("INDEX idx_token_rid (rid=?"), std::string::npos) << *sort_plan;
    EXPECT_EQ(sort_plan->find("idx_date_end"), std::string::npos) << *sort_plan;
    std::istringstream lines(*sort_plan);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind("SCAN ", 0) == 0) EXPECT_EQ(line, "SCAN d") << *sort_plan;
    }
  }
  // The ordered listing walks the (type, last_updated) index without sorting.
  auto plan = s_->ExplainSearch(by_lu);
  ASSERT_TRUE(plan.ok());
  EXPECT_NE(plan->find("USING INDEX resource_type_lu"), std::string::npos) << *plan;
  EXPECT_EQ(plan->find("TEMP B-TREE"), std::string::npos) << *plan;
}

// Keyset paging while other threads insert matching resources: every resource
// that existed before paging started is seen exactly once, nothing twice, and
// the page sequence respects the sort order.
TEST(SearchPaging, StableUnderConcurrentInserts) {
  TempDir dir;
  auto s = OpenStore(dir.path());
  std::set<std::string> before;
  Status st = s->Write([&](Txn& txn) {
    for (int i = 0; i < 150; ++i) {
      std::string id = "b" + std::to_string(i);
      GM_RETURN_IF_ERROR(txn.Put(
          MakePut("Observation", id, 1, kT + (i * 7919) % 1000,
                  {Token("code", kLoinc, "x"), Date("date", Day(2020, 1, 1) + (i % 40) * kHour,
                                                    Day(2020, 1, 1) + (i % 40) * kHour + 1)})));
      before.insert(id);
    }
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok());
  // Writers insert a bounded number, so that paging terminates.
  std::atomic<int> inserted{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 3; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        std::string id = "n" + std::to_string(t) + "-" + std::to_string(i);
        if (PutOne(*s, MakePut("Observation", id, 1, kT + (i * 31) % 1200,
                               {Token("code", kLoinc, "x"),
                                Date("date", Day(2020, 1, 1) + (i % 50) * kHour,
                                     Day(2020, 1, 1) + (i % 50) * kHour + 1)}))
                .ok()) {
          ++inserted;
        }
      }
    });
  }
  std::vector<std::vector<SortKey>> sorts = {{},
                                             {{"_lastUpdated", true}},
                                             {{"date", false}},
                                             {{"date", true}, {"_id", false}},
                                             {{"_id", false}}};
  for (const auto& sort : sorts) {
    Query q = Q("Observation", {Cl(Op::kTokenEq, "code", {SysCode(kLoinc, "x")})});
    q.sort = sort;
    q.limit = 9;
    std::vector<std::string> seen;
    std::vector<ResourceVersion> rows;
    for (int page = 0; page < 100000; ++page) {
      auto r = s->Search(q);
      ASSERT_TRUE(r.ok()) << r.status().message();
      for (auto& rv : r->resources) {
        seen.push_back(rv.id);
        rows.push_back(rv);
      }
      if (r->next.empty()) break;
      q.after = r->next;
      std::this_thread::yield();
    }
    std::set<std::string> unique(seen.begin(), seen.end());
    EXPECT_EQ(unique.size(), seen.size()) << "duplicates";
    for (const std::string& id : before) EXPECT_EQ(unique.count(id), 1u) << id;
    if (!sort.empty() && sort[0].param == "_lastUpdated") {
      for (size_t i = 1; i < rows.size(); ++i) {
        EXPECT_GE(rows[i - 1].last_updated_us, rows[i].last_updated_us);
      }
    }
    if (sort.size() == 1 && sort[0].param == "_id") {
      for (size_t i = 1; i < rows.size(); ++i) EXPECT_LT(rows[i - 1].id, rows[i].id);
    }
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(inserted.load(), 450);
}


// ---- Chains, _has, composites, :of-type, full text, backward paging, counts,
// reindex ---------------------------------------------------------------------

IndexEntry Composite(std::string param, IndexEntry a, IndexEntry b) {
  IndexEntry e;
  e.kind = IndexEntry::Kind::kComposite;
  e.param = std::move(param);
  e.components = {std::move(a), std::move(b)};
  return e;
}
IndexEntry Text(std::string param, std::string folded) {
  IndexEntry e;
  e.kind = IndexEntry::Kind::kText;
  e.param = std::move(param);
  e.text = std::move(folded);
  return e;
}
Clause Sub(Op op, std::string param, Query sub) {
  Clause c;
  c.op = op;
  c.param = std::move(param);
  c.sub = std::make_shared<const Query>(std::move(sub));
  return c;
}
Clause::Value Parts(std::vector<Clause> components) {
  Clause::Value v;
  v.components = std::move(components);
  return v;
}
Clause::Value OfType(std::string system, std::string code, std::string value) {
  Clause::Value v = SysCode(std::move(system), std::move(code));
  v.text = std::move(value);
  return v;
}

class SearchJoinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    s_ = OpenStore(dir_.path());
    ASSERT_NE(s_, nullptr);
    const std::string v2 = "http://terminology.hl7.org/CodeSystem/v2-0203";
    std::vector<PutRequest> puts = {
        MakePut("Practitioner", "dr1", 1, kT, {String("name", "berg", "Berg")}),
        MakePut("Practitioner", "dr2", 1, kT, {String("name", "dahl", "Dahl")}),
        MakePut("Organization", "org1", 1, kT, {String("name", "legekontoret", "Legekontoret")}),
        MakePut("Patient", "pa", 1, kT + 1,
                {String("name", "sorgard", "Sørgård"), Token("identifier", "urn:fnr", "123"),
                 Token("identifier:of-type", v2, "NH", "123"),
                 Reference("general-practitioner", "Practitioner", "dr1"),
                 Reference("organization", "Organization", "org1"),
                 Text("_text", "sorgard har diabetes type 2"),
                 Text("_content", "sorgard kari diabetes oslo")},
                {"pa"}),
        MakePut("Patient", "pb", 1, kT + 2,
                {String("name", "hansen", "Hansen"), Token("identifier", "urn:fnr", "456"),
                 Token("identifier:of-type", v2, "MR", "456"),
                 Reference("general-practitioner", "Practitioner", "dr2"),
                 Text("_content", "hansen bergen astma")},
                {"pb"}),
        MakePut("Observation", "ob1", 1, kT + 3,
                {Token("code", kLoinc, "A"), Reference("subject", "Patient", "pa"),
                 Token("subject:identifier", "urn:fnr", "123"),
                 Composite("code-value-quantity", Token("", kLoinc, "A"),
                           Quantity("", 4.5, 5.5, kUcum, "g"))},
                {"pa"}),
        MakePut("Observation", "ob2", 1, kT + 4,
                {Token("code", kLoinc, "BP"), Reference("subject", "Patient", "pb"),
                 Composite("component-code-value-quantity", Token("", kLoinc, "SYS"),
                           Quantity("", 139.5, 140.5, kUcum, "mm[Hg]")),
                 Composite("component-code-value-quantity", Token("", kLoinc, "DIA"),
                           Quantity("", 59.5, 60.5, kUcum, "mm[Hg]"))},
                {"pb"}),
        MakePut("Observation", "ob3", 1, kT + 5,
                {Token("code", kLoinc, "B"), Reference("subject", "Patient", "pa"),
                 Composite("code-value-date", Token("", kLoinc, "B"),
                           Date("", Day(2024, 3, 5), Day(2024, 3, 6)))},
                {"pa"}),
        MakePut("DiagnosticReport", "dr-1", 1, kT + 6,
                {Token("code", kLoinc, "PANEL"), Reference("result", "Observation", "ob3"),
                 Reference("subject", "Patient", "pa")},
                {"pa"}),
        MakePut("List", "l1", 1, kT + 7,
                {Reference("item", "Patient", "pb"), Reference("item", "Observation", "ob3")}),
    };
    Status st = s_->Write([&](Txn& txn) {
      for (const PutRequest& p : puts) GM_RETURN_IF_ERROR(txn.Put(p));
      return Status::Ok();
    });
    ASSERT_TRUE(st.ok()) << st.message();
  }

  V Find(const Query& q) {
    auto r = s_->Search(q);
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok()) return {"<error>"};
    return Sorted(Ids(r->resources));
  }

  TempDir dir_;
  std::unique_ptr<sqlite::SqliteStore> s_;
};

TEST_F(SearchJoinTest, ChainsOfAnyDepth) {
  // Observation?subject.name=sorg
  Query name = Q("Patient", {Cl(Op::kStringPrefix, "name", {Code("sorg")})});
  EXPECT_EQ(Find(Q("Observation", {Sub(Op::kChain, "subject", name)})), (V{"ob1", "ob3"}));
  // Observation?subject:Patient.identifier=urn:fnr|456
  Query ident = Q("Patient", {Cl(Op::kTokenEq, "identifier", {SysCode("urn:fnr", "456")})});
  EXPECT_EQ(Find(Q("Observation", {Sub(Op::kChain, "subject", ident)})), (V{"ob2"}));
  // Observation?subject.general-practitioner.name=dahl (two levels)
  Query gp = Q("Practitioner", {Cl(Op::kStringPrefix, "name", {Code("dahl")})});
  Query pat = Q("Patient", {Sub(Op::kChain, "general-practitioner", gp)});
  EXPECT_EQ(Find(Q("Observation", {Sub(Op::kChain, "subject", pat)})), (V{"ob2"}));
  // Combined with a direct clause, and a chain that matches nothing.
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kTokenEq, "code", {Code("B")}),
                                   Sub(Op::kChain, "subject", name)})),
            (V{"ob3"}));
  Query nobody = Q("Patient", {Cl(Op::kStringPrefix, "name", {Code("zz")})});
  EXPECT_EQ(Find(Q("Observation", {Sub(Op::kChain, "subject", nobody)})), (V{}));
  // A chain through a parameter nothing has.
  EXPECT_EQ(Find(Q("Observation", {Sub(Op::kChain, "performer", name)})), (V{}));
  // The target type set of a chain without [type].
  Query any_named = Q("", {Cl(Op::kStringPrefix, "name", {Code("berg")})});
  any_named.types = {"Practitioner", "Organization"};
  EXPECT_EQ(Find(Q("Patient", {Sub(Op::kChain, "general-practitioner", any_named)})), (V{"pa"}));
  // Reference :identifier is a token search on "<param>:identifier".
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kTokenEq, "subject:identifier",
                                      {SysCode("urn:fnr", "123")})})),
            (V{"ob1"}));
}

TEST_F(SearchJoinTest, ReverseChainsNest) {
  // Patient?_has:Observation:subject:code=A
  Query obs_a = Q("Observation", {Cl(Op::kTokenEq, "code", {Code("A")})});
  EXPECT_EQ(Find(Q("Patient", {Sub(Op::kHas, "subject", obs_a)})), (V{"pa"}));
  Query obs_any = Q("Observation", {Cl(Op::kTokenEq, "code", {SysCode(kLoinc, "")})});
  EXPECT_EQ(Find(Q("Patient", {Sub(Op::kHas, "subject", obs_any)})), (V{"pa", "pb"}));
  // Patient?_has:Observation:subject:_has:DiagnosticReport:result:code=PANEL
  Query report = Q("DiagnosticReport", {Cl(Op::kTokenEq, "code", {Code("PANEL")})});
  Query obs_reported = Q("Observation", {Sub(Op::kHas, "result", report)});
  EXPECT_EQ(Find(Q("Patient", {Sub(Op::kHas, "subject", obs_reported)})), (V{"pa"}));
  // _has as a probe next to a driver.
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kStringPrefix, "name", {Code("hans")}),
                               Sub(Op::kHas, "subject", obs_a)})),
            (V{}));
  // _list=l1 is _has:List:item:_id=l1.
  Query list = Q("List", {Cl(Op::kId, "_id", {Code("l1")})});
  EXPECT_EQ(Find(Q("Patient", {Sub(Op::kHas, "item", list)})), (V{"pb"}));
  EXPECT_EQ(Find(Q("Observation", {Sub(Op::kHas, "item", list)})), (V{"ob3"}));
  // A chain inside a _has: Practitioner?_has:Patient:general-practitioner:name=...
  Query pat = Q("Patient", {Cl(Op::kStringPrefix, "name", {Code("sor")})});
  EXPECT_EQ(Find(Q("Practitioner", {Sub(Op::kHas, "general-practitioner", pat)})), (V{"dr1"}));
}

TEST_F(SearchJoinTest, CompositesMatchWithinOneElement) {
  auto cvq = [](std::string code, Cmp cmp, double lo, double hi, std::string unit) {
    return Parts({Cl(Op::kTokenEq, "code", {SysCode(kLoinc, std::move(code))}),
                  Cl(Op::kNumberRange, "value", {Qty(cmp, lo, hi, "", std::move(unit))})});
  };
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kComposite, "code-value-quantity",
                                      {cvq("A", Cmp::kEq, 4.5, 5.5, "g")})})),
            (V{"ob1"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kComposite, "code-value-quantity",
                                      {cvq("A", Cmp::kGt, 9.5, 10.5, "g")})})),
            (V{}));
  // SYS 140 and DIA 60 are in one Observation, but not in one component.
  auto comp = [&](std::string code, Cmp cmp, double lo, double hi) {
    return Find(Q("Observation", {Cl(Op::kComposite, "component-code-value-quantity",
                                     {cvq(std::move(code), cmp, lo, hi, "mm[Hg]")})}));
  };
  EXPECT_EQ(comp("SYS", Cmp::kGt, 129.5, 130.5), (V{"ob2"}));
  EXPECT_EQ(comp("SYS", Cmp::kLt, 99.5, 100.5), (V{}));
  EXPECT_EQ(comp("DIA", Cmp::kLt, 99.5, 100.5), (V{"ob2"}));
  EXPECT_EQ(comp("DIA", Cmp::kGt, 99.5, 100.5), (V{}));
  // Composite with a date component, and OR of two composite values.
  Clause::Value b_in_march = Parts({Cl(Op::kTokenEq, "code", {Code("B")}),
                                    Cl(Op::kDateRange, "value",
                                       {DateV(Cmp::kEq, Day(2024, 3, 1), Day(2024, 4, 1))})});
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kComposite, "code-value-date", {b_in_march})})),
            (V{"ob3"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kComposite, "code-value-quantity",
                                      {cvq("A", Cmp::kEq, 4.5, 5.5, "g"),
                                       cvq("Z", Cmp::kEq, 4.5, 5.5, "g")})})),
            (V{"ob1"}));
  // :missing works on composites too.
  EXPECT_EQ(Find(Q("Observation", {Missing("code-value-quantity", false)})), (V{"ob1"}));
}

TEST_F(SearchJoinTest, OfTypeAndFullText) {
  const std::string v2 = "http://terminology.hl7.org/CodeSystem/v2-0203";
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kTokenOfType, "identifier:of-type",
                                  {OfType(v2, "NH", "123")})})),
            (V{"pa"}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kTokenOfType, "identifier:of-type",
                                  {OfType(v2, "MR", "123")})})),
            (V{}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kText, "_text", {Code("diab")})})), (V{"pa"}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kText, "_text", {Code("diabetes type")})})), (V{"pa"}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kText, "_text", {Code("diabetes astma")})})), (V{}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kText, "_text", {Code("astma")})})), (V{}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kText, "_content", {Code("astma")})})), (V{"pb"}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kText, "_content", {Code("astma"), Code("oslo")})})),
            (V{"pa", "pb"}));
  // Words are quoted: FTS syntax in the query is only text.
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kText, "_content", {Code("\"oslo\" OR NEAR(x")})})), (V{}));
  EXPECT_EQ(Find(Q("Patient", {Cl(Op::kText, "_text", {Code("diab")}),
                               Cl(Op::kStringPrefix, "name", {Code("sor")})})),
            (V{"pa"}));
}

TEST_F(SearchJoinTest, CountsAndBackwardPages) {
  Query all = Q("Observation", {});
  EXPECT_EQ(*s_->Count(all, INT64_MAX), 3);
  EXPECT_EQ(*s_->Count(all, 2), 2);
  Query name = Q("Patient", {Cl(Op::kStringPrefix, "name", {Code("sorg")})});
  EXPECT_EQ(*s_->Count(Q("Observation", {Sub(Op::kChain, "subject", name)}), 100), 2);
  EXPECT_EQ(*s_->Count(Q("Observation", {Cl(Op::kTokenEq, "code", {Code("none")})}), 100), 0);
  EXPECT_EQ(*s_->Count(Q("Observation", {Cl(Op::kTokenEq, "nosuch", {Code("x")})}), 100), 0);

  // Forward one by one, then back from the end: the same rows in reverse.
  Query q = Q("", {});
  q.limit = 2;
  q.sort = {{"_id", true}};
  V forward;
  std::vector<std::string> previous;
  for (int i = 0; i < 20; ++i) {
    auto page = s_->Search(q);
    ASSERT_TRUE(page.ok()) << page.status().message();
    EXPECT_EQ(page->previous.empty(), i == 0);
    for (auto& id : Ids(page->resources)) forward.push_back(id);
    previous.push_back(page->previous);
    if (page->next.empty()) break;
    q.after = page->next;
  }
  ASSERT_EQ(forward.size(), 10u);
  EXPECT_EQ(forward.front(), "pb");
  // From the last page walk back with `previous` links.
  V backward;
  Query b = q;
  b.direction = PageDirection::kBackward;
  b.after = previous.back();
  for (int i = 0; i < 20 && !b.after.empty(); ++i) {
    auto page = s_->Search(b);
    ASSERT_TRUE(page.ok()) << page.status().message();
    ASSERT_FALSE(page->next.empty());
    V ids = Ids(page->resources);
    backward.insert(backward.begin(), ids.begin(), ids.end());
    b.after = page->previous;
  }
  V expected(forward.begin(), forward.end() - 2);  // all but the last page (size 2)
  EXPECT_EQ(backward, expected);
  Query no_cursor = Q("Patient", {});
  no_cursor.direction = PageDirection::kBackward;
  EXPECT_EQ(s_->Search(no_cursor).status().code(), "GM-STORE-030");
}

TEST_F(SearchJoinTest, ReindexReplacesIndexAndCompartments) {
  Query by_code = Q("Observation", {Cl(Op::kTokenEq, "code", {Code("A")})});
  Query new_code = Q("Observation", {Cl(Op::kTokenEq, "code", {Code("A2")})});
  ASSERT_EQ(Find(by_code), (V{"ob1"}));
  PutRequest re = MakePut("Observation", "ob1", 1, kT + 3,
                          {Token("code", kLoinc, "A2"), Text("_content", "reindexed words")},
                          {"pb"});
  Status st = s_->Write([&](Txn& txn) { return txn.Reindex(re); });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Find(by_code), (V{}));
  EXPECT_EQ(Find(new_code), (V{"ob1"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kText, "_content", {Code("reindex")})})), (V{"ob1"}));
  EXPECT_EQ(Find(Q("Observation", {Cl(Op::kCompartment, "", {Code("pb")})})), (V{"ob1", "ob2"}));
  EXPECT_EQ(Find(Q("Observation", {Missing("code-value-quantity", false)})), (V{}));
  // The resource itself is unchanged: same version, same bytes.
  auto read = s_->Read("Observation", "ob1");
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->version, 1);
  EXPECT_EQ((*read)->json, Json("Observation", "ob1", 1));

  // A stale version is a conflict that stages nothing and fails nothing.
  PutRequest stale = re;
  stale.resource.version = 7;
  bool conflict = false;
  st = s_->Write([&](Txn& txn) {
    Status s = txn.Reindex(stale);
    conflict = s.code() == "GM-STORE-012";
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(conflict);
  EXPECT_EQ(Find(new_code), (V{"ob1"}));
}

// The plans of chains, _has, composites, :of-type and full text start from an
// index: the only scans allowed are of the driver's own result (a subquery
// "d..." or "s..."), and an FTS5 MATCH.
TEST_F(SearchJoinTest, JoinPlansUseIndexes) {
  const std::string v2 = "http://terminology.hl7.org/CodeSystem/v2-0203";
  Query name = Q("Patient", {Cl(Op::kStringPrefix, "name", {Code("sorg")})});
  Query ident = Q("Patient", {Cl(Op::kTokenEq, "identifier", {SysCode("urn:fnr", "456")})});
  Query gp = Q("Practitioner", {Cl(Op::kStringPrefix, "name", {Code("dahl")})});
  Query obs_a = Q("Observation", {Cl(Op::kTokenEq, "code", {Code("A")})});
  Query report = Q("DiagnosticReport", {Cl(Op::kTokenEq, "code", {Code("PANEL")})});
  Clause::Value cvq = Parts({Cl(Op::kTokenEq, "code", {SysCode(kLoinc, "A")}),
                             Cl(Op::kNumberRange, "value", {Qty(Cmp::kGt, 1, 2, "", "g")})});
  std::vector<std::pair<std::string, Query>> shapes = {
      {"chain", Q("Observation", {Sub(Op::kChain, "subject", name)})},
      {"chain identifier", Q("Observation", {Sub(Op::kChain, "subject", ident)})},
      {"chain two levels",
       Q("Observation",
         {Sub(Op::kChain, "subject", Q("Patient", {Sub(Op::kChain, "general-practitioner", gp)}))})},
      {"chain as probe", Q("Observation", {Cl(Op::kTokenEq, "code", {SysCode(kLoinc, "A")}),
                                           Sub(Op::kChain, "subject", name)})},
      {"has", Q("Patient", {Sub(Op::kHas, "subject", obs_a)})},
      {"has nested",
       Q("Patient", {Sub(Op::kHas, "subject", Q("Observation", {Sub(Op::kHas, "result", report)}))})},
      {"has as probe", Q("Patient", {Cl(Op::kTokenEq, "identifier", {SysCode("urn:fnr", "123")}),
                                     Sub(Op::kHas, "subject", obs_a)})},
      {"list", Q("Patient", {Sub(Op::kHas, "item", Q("List", {Cl(Op::kId, "_id", {Code("l1")})}))})},
      {"composite", Q("Observation", {Cl(Op::kComposite, "code-value-quantity", {cvq})})},
      {"of-type", Q("Patient", {Cl(Op::kTokenOfType, "identifier:of-type",
                                   {OfType(v2, "NH", "123")})})},
      {"text", Q("Patient", {Cl(Op::kText, "_text", {Code("diab")})})},
      {"text as probe", Q("Patient", {Cl(Op::kTokenEq, "identifier", {SysCode("urn:fnr", "123")}),
                                      Cl(Op::kText, "_content", {Code("oslo")})})},
  };
  for (auto& [shape, q] : shapes) {
    auto plan = s_->ExplainSearch(q);
    ASSERT_TRUE(plan.ok()) << shape << ": " << plan.status().message();
    ASSERT_FALSE(plan->empty()) << shape;
    std::istringstream lines(*plan);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind("SCAN ", 0) != 0) continue;
      const bool driver_result = line.size() <= 8 && (line[5] == 'd' || line[5] == 's');
      const bool fts = line.rfind("SCAN ft VIRTUAL TABLE INDEX 0:", 0) == 0 &&
                       line.find('M') != std::string::npos;
      EXPECT_TRUE(driver_result || fts) << shape << " has a full scan:\n" << *plan;
    }
    EXPECT_EQ(plan->find("SCAN r\n"), std::string::npos) << shape;
    EXPECT_EQ(plan->find("SCAN t\n"), std::string::npos) << shape;
  }
  // The chain drives through the target index of idx_reference.
  auto chain = s_->ExplainSearch(shapes[0].second);
  ASSERT_TRUE(chain.ok());
  EXPECT_NE(chain->find("idx_reference_target"), std::string::npos) << *chain;
  // The identifier chain's nested driver is the identifier token index.
  auto by_ident = s_->ExplainSearch(shapes[1].second);
  ASSERT_TRUE(by_ident.ok());
  EXPECT_NE(by_ident->find("idx_token"), std::string::npos) << *by_ident;
  // _has drives from the referring resources' rows; as a probe it looks the
  // target up by the reverse (target) index.
  auto has = s_->ExplainSearch(shapes[4].second);
  ASSERT_TRUE(has.ok());
  EXPECT_NE(has->find("idx_reference_rid"), std::string::npos) << *has;
  auto has_probe = s_->ExplainSearch(shapes[6].second);
  ASSERT_TRUE(has_probe.ok());
  EXPECT_NE(has_probe->find("idx_reference_target"), std::string::npos) << *has_probe;
}

}  // namespace
}  // namespace gm::store::testing
