// E-resept state machine (src/eresept/prescription.h): every transition from
// every national status, the lock's lapse, expiry, quantities, and the PLL
// change rule.
#include "eresept/prescription.h"

#include <gtest/gtest.h>

#include "core/time.h"

namespace gm::eresept {
namespace {

constexpr int64_t kSecond = 1000000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;

// 2026-11-30T10:00:00Z
const int64_t kNow = time::ParseFhirDateTime("2026-11-30T10:00:00Z")->begin_us;

json::Value Request(const std::string& validity_end = "2027-11-30", int repeats = 2,
                    const char* quantity = "30") {
  std::string text = R"({"resourceType":"MedicationRequest","status":"draft","intent":"order",
    "extension":[{"url":"http://example.org/other","valueString":"kept"}],
    "medicationCodeableConcept":{"coding":[{"system":"http://www.whocc.no/atc","code":"C09AA05"}]},
    "subject":{"reference":"Patient/p1"},"requester":{"reference":"PractitionerRole/r1"},
    "dispenseRequest":{"validityPeriod":{"start":"2026-11-30","end":")" +
                     validity_end + R"("},"numberOfRepeatsAllowed":)" + std::to_string(repeats);
  if (quantity != nullptr) {
    text += std::string(R"(,"quantity":{"value":)") + quantity +
            R"(,"unit":"tablett","system":"http://unitsofmeasure.org","code":"{tbl}"})";
  }
  text += "}}";
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok());
  return *v;
}

Prescription Prescribed(int repeats = 2, const char* quantity = "30") {
  json::Value mr = Request("2027-11-30", repeats, quantity);
  EXPECT_TRUE(Prescribe(mr, kNow).ok());
  auto p = Read(mr);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return *p;
}

// Round-trips the state through the resource, as the server does between calls.
Prescription Stored(const Prescription& p) {
  json::Value mr = Request();
  EXPECT_TRUE(Prescribe(mr, kNow).ok());
  Write(p, mr);
  auto back = Read(mr);
  EXPECT_TRUE(back.ok()) << back.status().message();
  return *back;
}

TEST(Prescribe, SetsNationalStatusAndRemainingAndKeepsOtherExtensions) {
  json::Value mr = Request("2027-11-30", 2, "30");
  ASSERT_TRUE(Prescribe(mr, kNow).ok());
  EXPECT_EQ(mr.get_string("status"), "active");
  auto p = Read(mr);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->status, Status7408::kE);
  EXPECT_EQ(p->dispenses_remaining, 3);
  ASSERT_TRUE(p->quantity_remaining.has_value());
  EXPECT_DOUBLE_EQ(*p->quantity_remaining, 90);
  EXPECT_EQ(p->unit, "{tbl}");
  EXPECT_FALSE(p->dispensed_any);
  EXPECT_EQ(p->validity_end_us, time::ParseFhirDateTime("2027-12-01")->begin_us);
  const json::Value* exts = mr.find("extension");
  ASSERT_NE(exts, nullptr);
  EXPECT_EQ(exts->array()[0].get_string("url"), "http://example.org/other");
}

TEST(Prescribe, RefusesIncompleteRequests) {
  struct Case {
    const char* what;
    void (*mutate)(json::Value&);
    const char* code;
  } cases[] = {
      {"intent plan", [](json::Value& v) { v.set("intent", json::Value("plan")); }, "GM-ERX-005"},
      {"no subject", [](json::Value& v) { v.erase("subject"); }, "GM-ERX-006"},
      {"no requester", [](json::Value& v) { v.erase("requester"); }, "GM-ERX-007"},
      {"no medication", [](json::Value& v) { v.erase("medicationCodeableConcept"); }, "GM-ERX-008"},
      {"no validity", [](json::Value& v) { v["dispenseRequest"].erase("validityPeriod"); }, "GM-ERX-009"},
      {"negative repeats",
       [](json::Value& v) { v["dispenseRequest"].set("numberOfRepeatsAllowed", json::Value(-1)); },
       "GM-ERX-009"},
      {"zero quantity",
       [](json::Value& v) { v["dispenseRequest"]["quantity"].set("value", json::Value(0)); },
       "GM-ERX-009"},
  };
  for (const Case& c : cases) {
    json::Value mr = Request();
    c.mutate(mr);
    Status st = Prescribe(mr, kNow);
    EXPECT_FALSE(st.ok()) << c.what;
    EXPECT_EQ(st.code(), c.code) << c.what;
    EXPECT_EQ(st.category(), ErrorCategory::kUnprocessable) << c.what;
  }
  json::Value past = Request("2026-11-29");
  EXPECT_EQ(Prescribe(past, kNow).code(), "GM-ERX-009");
}

TEST(Prescribe, ReplacesStatusTheSenderClaimed) {
  json::Value mr = Request();
  json::Value ext = json::Value::MakeObject();
  ext.set("url", json::Value(std::string(kExtensionBase) + "reseptstatus"));
  json::Value coding = json::Value::MakeObject();
  coding.set("system", json::Value(kStatusSystem));
  coding.set("code", json::Value("R"));
  ext.set("valueCoding", coding);
  mr["extension"].push_back(ext);
  ASSERT_TRUE(Prescribe(mr, kNow).ok());
  EXPECT_EQ(Read(mr)->status, Status7408::kE);
  size_t status_exts = 0;
  for (const auto& e : mr.find("extension")->array()) {
    if (e.get_string("url") == std::string(kExtensionBase) + "reseptstatus") ++status_exts;
  }
  EXPECT_EQ(status_exts, 1u);
}

TEST(Read, RefusesResourcesThatAreNotPrescriptions) {
  EXPECT_EQ(Read(*json::Parse(R"({"resourceType":"Patient"})")).status().code(), "GM-ERX-001");
  EXPECT_EQ(Read(Request()).status().code(), "GM-ERX-002");
}

TEST(Prescriber, NeedsActiveAuthorisationAndPrescribingRights) {
  EXPECT_TRUE(CheckPrescriber({true, true}).ok());
  EXPECT_EQ(CheckPrescriber({false, true}).code(), "GM-ERX-020");
  EXPECT_EQ(CheckPrescriber({true, false}).code(), "GM-ERX-021");
  EXPECT_EQ(CheckPrescriber({false, false}).category(), ErrorCategory::kForbidden);
}

TEST(Lock, LocksForOnePharmacyAndRefusesAnother) {
  Prescription p = Prescribed();
  auto locked = LockFor(p, "111111111", kNow, 30 * kMinute);
  ASSERT_TRUE(locked.ok());
  Prescription s = Stored(*locked);
  EXPECT_EQ(s.status, Status7408::kU);
  ASSERT_TRUE(s.lock.has_value());
  EXPECT_EQ(s.lock->pharmacy, "111111111");
  EXPECT_EQ(s.lock->expires_us, kNow + 30 * kMinute);
  auto other = LockFor(s, "222222222", kNow + kMinute, 30 * kMinute);
  EXPECT_EQ(other.status().code(), "GM-ERX-013");
  EXPECT_EQ(other.status().category(), ErrorCategory::kConflict);
  // The same pharmacy may extend its own lock; the original lock time stays.
  auto again = LockFor(s, "111111111", kNow + kMinute, 30 * kMinute);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->lock->locked_us, kNow);
  EXPECT_EQ(again->lock->expires_us, kNow + 31 * kMinute);
}

TEST(Lock, LapsesAtItsExpiryAndAnotherPharmacyMayThenLock) {
  Prescription s = Stored(*LockFor(Prescribed(), "111111111", kNow, 30 * kMinute));
  EXPECT_EQ(EffectiveStatus(s, kNow + 30 * kMinute - 1), Status7408::kU);
  EXPECT_EQ(EffectiveStatus(s, kNow + 30 * kMinute), Status7408::kE);
  auto other = LockFor(s, "222222222", kNow + 31 * kMinute, 30 * kMinute);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->lock->pharmacy, "222222222");
  // The first pharmacy's lapsed lock no longer lets it dispense.
  EXPECT_EQ(Dispense(s, {"111111111", 30, false}, kNow + 31 * kMinute).status().code(), "GM-ERX-016");
}

TEST(Lock, RefusesBadArguments) {
  EXPECT_EQ(LockFor(Prescribed(), "", kNow, kMinute).status().code(), "GM-ERX-022");
  EXPECT_EQ(LockFor(Prescribed(), "111111111", kNow, 0).status().code(), "GM-ERX-022");
}

TEST(Release, OnlyTheHolderReleases) {
  Prescription s = Stored(*LockFor(Prescribed(), "111111111", kNow, 30 * kMinute));
  EXPECT_EQ(Release(s, "222222222", kNow).status().code(), "GM-ERX-013");
  auto released = Release(s, "111111111", kNow);
  ASSERT_TRUE(released.ok());
  Prescription r = Stored(*released);
  EXPECT_EQ(r.status, Status7408::kE);
  EXPECT_FALSE(r.lock.has_value());
  EXPECT_EQ(Release(r, "111111111", kNow).status().code(), "GM-ERX-015");
}

TEST(Dispense, PartialDispensingsCountDownThenComplete) {
  Prescription p = Prescribed(2, "30");  // 3 dispensings of 30
  for (int i = 0; i < 3; ++i) {
    auto locked = LockFor(p, "111111111", kNow, 30 * kMinute);
    ASSERT_TRUE(locked.ok()) << i;
    auto d = Dispense(Stored(*locked), {"111111111", 30, false}, kNow);
    ASSERT_TRUE(d.ok()) << i << " " << d.status().message();
    p = Stored(*d);
    EXPECT_FALSE(p.lock.has_value());
    EXPECT_EQ(p.dispenses_remaining, 2 - i);
    EXPECT_TRUE(p.dispensed_any);
  }
  EXPECT_EQ(p.status, Status7408::kR);
  EXPECT_EQ(LockFor(p, "111111111", kNow, kMinute).status().code(), "GM-ERX-011");
}

TEST(Dispense, FinalDispensingCompletesEarly) {
  Prescription p = Stored(*LockFor(Prescribed(2, "30"), "111111111", kNow, 30 * kMinute));
  auto d = Dispense(p, {"111111111", 10, true}, kNow);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->status, Status7408::kR);
  json::Value mr = Request();
  ASSERT_TRUE(Prescribe(mr, kNow).ok());
  Write(*d, mr);
  EXPECT_EQ(mr.get_string("status"), "completed");
}

TEST(Dispense, NeverMoreThanRemains) {
  Prescription p = Stored(*LockFor(Prescribed(0, "30"), "111111111", kNow, 30 * kMinute));
  EXPECT_EQ(Dispense(p, {"111111111", 31, false}, kNow).status().code(), "GM-ERX-018");
  EXPECT_EQ(Dispense(p, {"111111111", 0, false}, kNow).status().code(), "GM-ERX-017");
  EXPECT_EQ(Dispense(p, {"111111111", -5, false}, kNow).status().code(), "GM-ERX-017");
  // Less than the whole amount on the last allowed dispensing still completes it.
  auto d = Dispense(p, {"111111111", 20, false}, kNow);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->status, Status7408::kR);
  EXPECT_NEAR(*d->quantity_remaining, 10, 1e-9);
}

TEST(Dispense, QuantityRunsOutBeforeDispensings) {
  Prescription p = Prescribed(4, "10");  // 5 dispensings, 50 in all
  auto d = Dispense(Stored(*LockFor(p, "1", kNow, kMinute)), {"1", 50, false}, kNow);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->status, Status7408::kR);
  EXPECT_EQ(d->dispenses_remaining, 4);
}

TEST(Dispense, UnlimitedQuantityCountsDispensingsOnly) {
  Prescription p = Prescribed(1, nullptr);
  EXPECT_FALSE(p.quantity_remaining.has_value());
  auto d = Dispense(Stored(*LockFor(p, "1", kNow, kMinute)), {"1", 0, false}, kNow);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->status, Status7408::kE);
  EXPECT_EQ(Stored(*d).dispenses_remaining, 1);
}

TEST(Dispense, RequiresTheLockOfTheDispensingPharmacy) {
  Prescription p = Prescribed();
  EXPECT_EQ(Dispense(p, {"111111111", 30, false}, kNow).status().code(), "GM-ERX-016");
  Prescription s = Stored(*LockFor(p, "111111111", kNow, kMinute));
  EXPECT_EQ(Dispense(s, {"222222222", 30, false}, kNow).status().code(), "GM-ERX-013");
}

// The race the store serialises: both pharmacies start from the same stored
// state; whichever transaction runs second sees the first one's result.
TEST(Dispense, SecondOfTwoRacingPharmaciesIsRefused) {
  Prescription p = Prescribed(0, "30");  // one dispensing left
  auto a = LockFor(p, "111111111", kNow, kMinute);
  ASSERT_TRUE(a.ok());
  Prescription after_a = Stored(*a);
  EXPECT_EQ(LockFor(after_a, "222222222", kNow, kMinute).status().code(), "GM-ERX-013");
  auto done = Dispense(after_a, {"111111111", 30, false}, kNow);
  ASSERT_TRUE(done.ok());
  Prescription after = Stored(*done);
  EXPECT_EQ(LockFor(after, "222222222", kNow, kMinute).status().code(), "GM-ERX-011");
  EXPECT_EQ(Dispense(after, {"111111111", 30, false}, kNow).status().code(), "GM-ERX-011");
}

TEST(Recall, FromDispensableAndFromLocked) {
  auto r = Recall(Prescribed(), RecallReason::kDiscontinue, kNow);
  ASSERT_TRUE(r.ok());
  Prescription s = Stored(*r);
  EXPECT_EQ(s.status, Status7408::kT);
  EXPECT_FALSE(s.recalled_under_dispensing);
  ASSERT_TRUE(s.recall_reason.has_value());
  EXPECT_EQ(*s.recall_reason, RecallReason::kDiscontinue);

  Prescription locked = Stored(*LockFor(Prescribed(), "111111111", kNow, kMinute));
  auto r2 = Recall(locked, RecallReason::kRenew, kNow);
  ASSERT_TRUE(r2.ok());
  Prescription s2 = Stored(*r2);
  EXPECT_EQ(s2.status, Status7408::kT);
  EXPECT_TRUE(s2.recalled_under_dispensing);
  ASSERT_TRUE(s2.lock.has_value());  // so the pharmacy holding it can be warned
  EXPECT_EQ(s2.lock->pharmacy, "111111111");
  // A recalled prescription cannot be dispensed, locked, released or recalled again.
  EXPECT_EQ(Dispense(s2, {"111111111", 30, false}, kNow).status().code(), "GM-ERX-012");
  EXPECT_EQ(LockFor(s2, "111111111", kNow, kMinute).status().code(), "GM-ERX-012");
  EXPECT_EQ(Release(s2, "111111111", kNow).status().code(), "GM-ERX-012");
  EXPECT_EQ(Recall(s2, RecallReason::kOther, kNow).status().code(), "GM-ERX-012");
}

TEST(Recall, FhirStatusDependsOnWhetherAnythingWasDispensed) {
  json::Value mr = Request();
  ASSERT_TRUE(Prescribe(mr, kNow).ok());
  Write(*Recall(*Read(mr), RecallReason::kOther, kNow), mr);
  EXPECT_EQ(mr.get_string("status"), "cancelled");
  const json::Value* coding = &mr.find("statusReason")->find("coding")->array()[0];
  EXPECT_EQ(coding->get_string("system"), kRecallReasonSystem);
  EXPECT_EQ(coding->get_string("code"), "4");

  json::Value mr2 = Request();
  ASSERT_TRUE(Prescribe(mr2, kNow).ok());
  auto once = Dispense(*LockFor(*Read(mr2), "1", kNow, kMinute), {"1", 30, false}, kNow);
  ASSERT_TRUE(once.ok());
  Write(*once, mr2);
  Write(*Recall(*Read(mr2), RecallReason::kRenewWithChange, kNow), mr2);
  EXPECT_EQ(mr2.get_string("status"), "stopped");
}

TEST(Expiry, EndOfValidityMakesEverythingRefused) {
  json::Value mr = Request("2026-12-31");
  ASSERT_TRUE(Prescribe(mr, kNow).ok());
  Prescription p = *Read(mr);
  int64_t after = time::ParseFhirDateTime("2027-01-01T00:00:00Z")->begin_us;
  EXPECT_EQ(EffectiveStatus(p, after - 1), Status7408::kE);
  EXPECT_EQ(EffectiveStatus(p, after), Status7408::kF);
  EXPECT_EQ(LockFor(p, "1", after, kMinute).status().code(), "GM-ERX-010");
  EXPECT_EQ(Recall(p, RecallReason::kOther, after).status().code(), "GM-ERX-010");
  // A lock taken before the end does not outlive the prescription.
  json::Value locked_mr = mr;
  Write(*LockFor(p, "1", after - kMinute, kHour), locked_mr);
  Prescription locked = *Read(locked_mr);
  EXPECT_EQ(EffectiveStatus(locked, after), Status7408::kF);
  EXPECT_EQ(Dispense(locked, {"1", 30, false}, after).status().code(), "GM-ERX-010");
  // Completed and recalled prescriptions keep their status after the end.
  Prescription done = p;
  done.status = Status7408::kR;
  EXPECT_EQ(EffectiveStatus(done, after), Status7408::kR);
  // Written as F, FHIR status is stopped with the reason in text.
  p.status = Status7408::kF;
  Write(p, mr);
  EXPECT_EQ(mr.get_string("status"), "stopped");
  EXPECT_EQ(Read(mr)->status, Status7408::kF);
}

TEST(Codes, RoundTrip) {
  for (Status7408 s : {Status7408::kE, Status7408::kU, Status7408::kR, Status7408::kT, Status7408::kF}) {
    EXPECT_EQ(ParseStatus7408(Code(s)), s);
  }
  EXPECT_FALSE(ParseStatus7408("X").has_value());
  EXPECT_EQ(ParseRecallReason("3"), RecallReason::kDiscontinue);
  EXPECT_FALSE(ParseRecallReason("9").has_value());
}

TEST(Pll, ChangeNeedsTheCurrentVersionReadWithinFourHours) {
  EXPECT_TRUE(CheckPllChange(7, 7, kNow - 3 * kHour, kNow).ok());
  EXPECT_TRUE(CheckPllChange(7, 7, kNow - 4 * kHour, kNow).ok());
  EXPECT_EQ(CheckPllChange(7, 7, kNow - 4 * kHour - 1, kNow).code(), "GM-ERX-033");
  EXPECT_EQ(CheckPllChange(8, 7, kNow - kMinute, kNow).code(), "GM-ERX-031");
  EXPECT_EQ(CheckPllChange(8, 7, kNow - kMinute, kNow).category(), ErrorCategory::kConflict);
  EXPECT_EQ(CheckPllChange(7, -1, kNow, kNow).code(), "GM-ERX-030");
  EXPECT_EQ(CheckPllChange(7, 7, 0, kNow).code(), "GM-ERX-030");
  EXPECT_EQ(CheckPllChange(7, 0, kNow, kNow).code(), "GM-ERX-031");
  // No list yet (version 0): the first change creates it.
  EXPECT_TRUE(CheckPllChange(0, 0, kNow - kHour, kNow).ok());
  EXPECT_EQ(CheckPllChange(7, 7, kNow + kHour, kNow).code(), "GM-ERX-032");
}

}  // namespace
}  // namespace gm::eresept
