// The policy decision point, pure: facts in, decision out (docs/trust.md).
#include "trust/pdp.h"

#include <gtest/gtest.h>

namespace gm::trust {
namespace {

constexpr int64_t kNow = 1'790'000'000;
constexpr const char* kChildPid = "01010112345";
constexpr const char* kParentPid = "02028012345";
constexpr const char* kPatientPid = "03037012345";

using Kind = CitizenControl::Kind;

DecisionInput Clinician(std::string type = "Observation") {
  DecisionInput in;
  in.caller.mode = PdpMode::kClinician;
  in.caller.hpr_number = "1001";
  in.caller.orgnrs = {"974633574"};
  in.clinician.found = true;
  in.clinician.authorizations = {{"LE", "active"}};
  in.patient.patient_id = "p1";
  in.patient.pid = kPatientPid;
  in.patient.age = 40;
  in.resource_type = std::move(type);
  in.now_s = kNow;
  return in;
}

void Attest(DecisionInput& in, std::string purpose, int64_t age_s = 60) {
  in.caller.attested_purpose = std::move(purpose);
  in.caller.attested_patients = {kPatientPid};
  in.caller.attested_toa = kNow - age_s;
  in.caller.attested_hpr = "1001";
  in.caller.attested_authorization = "LE";
}

DecisionInput Citizen(std::string pid, int patient_age, std::string type = "Observation") {
  DecisionInput in;
  in.caller.mode = PdpMode::kCitizen;
  in.caller.pid = std::move(pid);
  in.patient.patient_id = "c1";
  in.patient.pid = kChildPid;
  in.patient.age = patient_age;
  in.requester.age = 40;
  in.resource_type = std::move(type);
  in.now_s = kNow;
  return in;
}

DecisionInput ParentOf(int child_age, std::string type = "Observation") {
  DecisionInput in = Citizen(kParentPid, child_age, std::move(type));
  in.patient.requester_has_parental_responsibility = true;
  in.patient.parent_shares_address = true;
  return in;
}

// ---- Health personnel ----------------------------------------------------

TEST(PdpClinician, NoRelationshipIsDenied) {
  Decision d = Decide(Clinician());
  EXPECT_FALSE(d.permit);
  EXPECT_EQ(d.code, "GM-PDP-020");
  EXPECT_EQ(d.basis, Basis::kNone);
}

TEST(PdpClinician, EachAttestedPurposeGivesItsBasis) {
  const std::pair<const char*, Basis> cases[] = {{"TREAT", Basis::kTreat},
                                                 {"ETREAT", Basis::kEtreat},
                                                 {"COC", Basis::kCoc},
                                                 {"BTG", Basis::kBreakTheGlass}};
  for (const auto& [purpose, basis] : cases) {
    DecisionInput in = Clinician();
    Attest(in, purpose);
    Decision d = Decide(in);
    EXPECT_TRUE(d.permit) << purpose;
    EXPECT_EQ(d.basis, basis) << purpose;
    EXPECT_EQ(d.break_the_glass, basis == Basis::kBreakTheGlass) << purpose;
  }
}

TEST(PdpClinician, UnknownPurposeIsNoRelationship) {
  DecisionInput in = Clinician();
  Attest(in, "HRESCH");
  EXPECT_EQ(Decide(in).code, "GM-PDP-020");
}

TEST(PdpClinician, AttestationExpiresAfterSixtyMinutes) {
  DecisionInput in = Clinician();
  Attest(in, "TREAT", kAttestationMaxAgeS);
  EXPECT_TRUE(Decide(in).permit);
  Attest(in, "TREAT", kAttestationMaxAgeS + 1);
  Decision d = Decide(in);
  EXPECT_FALSE(d.permit);
  EXPECT_EQ(d.code, "GM-PDP-021");
  EXPECT_EQ(d.reason, "attestation_has_expired");
  // An attestation from the future (beyond leeway) is not valid either.
  Attest(in, "TREAT", -60);
  EXPECT_EQ(Decide(in).code, "GM-PDP-021");
}

TEST(PdpClinician, ExpiredAttestationButRegisteredRelationshipPermits) {
  DecisionInput in = Clinician();
  Attest(in, "TREAT", 2 * kAttestationMaxAgeS);
  in.patient.fastlege_hprs = {"1001"};
  Decision d = Decide(in);
  EXPECT_TRUE(d.permit);
  EXPECT_EQ(d.basis, Basis::kFastlege);
}

TEST(PdpClinician, AttestationForAnotherPatientDoesNotCount) {
  DecisionInput in = Clinician();
  Attest(in, "TREAT");
  in.caller.attested_patients = {"99999999999"};
  EXPECT_EQ(Decide(in).code, "GM-PDP-020");
}

TEST(PdpClinician, FastlegeAndCareOrganisationAreRegisteredRelationships) {
  DecisionInput gp = Clinician();
  gp.patient.fastlege_hprs = {"1001"};
  EXPECT_EQ(Decide(gp).basis, Basis::kFastlege);
  DecisionInput other_gp = Clinician();
  other_gp.patient.fastlege_hprs = {"2002"};
  EXPECT_FALSE(Decide(other_gp).permit);
  DecisionInput hospital = Clinician();
  hospital.patient.care_orgnrs = {"974633574"};
  EXPECT_EQ(Decide(hospital).basis, Basis::kCareRelation);
  DecisionInput elsewhere = Clinician();
  elsewhere.patient.care_orgnrs = {"111111111"};
  EXPECT_FALSE(Decide(elsewhere).permit);
}

TEST(PdpClinician, HprMustBeFoundActiveAndMatchTheAttestation) {
  DecisionInput missing = Clinician();
  Attest(missing, "TREAT");
  missing.clinician.found = false;
  EXPECT_EQ(Decide(missing).code, "GM-PDP-010");

  for (const char* status : {"suspended", "revoked"}) {
    DecisionInput in = Clinician();
    Attest(in, "BTG");  // not even in an emergency
    in.clinician.authorizations = {{"LE", status}};
    EXPECT_EQ(Decide(in).code, "GM-PDP-011") << status;
  }

  DecisionInput nurse_claims_doctor = Clinician();
  Attest(nurse_claims_doctor, "TREAT");
  nurse_claims_doctor.clinician.authorizations = {{"SP", "active"}};
  EXPECT_EQ(Decide(nurse_claims_doctor).code, "GM-PDP-012");

  DecisionInput other_hpr = Clinician();
  Attest(other_hpr, "TREAT");
  other_hpr.caller.attested_hpr = "2002";
  EXPECT_EQ(Decide(other_hpr).code, "GM-PDP-012");

  DecisionInput nurse = Clinician();
  Attest(nurse, "TREAT");
  nurse.caller.attested_authorization = "SP";
  nurse.clinician.authorizations = {{"LE", "revoked"}, {"SP", "active"}};
  EXPECT_TRUE(Decide(nurse).permit);

  DecisionInput no_hpr = Clinician();
  no_hpr.caller.hpr_number.clear();
  EXPECT_EQ(Decide(no_hpr).code, "GM-PDP-001");
}

TEST(PdpClinician, BlokkeringHoldsEvenInAnEmergency) {
  for (const char* purpose : {"TREAT", "BTG"}) {
    DecisionInput in = Clinician();
    Attest(in, purpose);
    in.patient.fastlege_hprs = {"1001"};
    in.patient.controls.push_back({Kind::kBlokkering, {}, "1001", ""});
    Decision d = Decide(in);
    EXPECT_FALSE(d.permit) << purpose;
    EXPECT_EQ(d.code, "GM-PDP-030") << purpose;
  }
  // A block of someone else does not affect this clinician.
  DecisionInput in = Clinician();
  Attest(in, "TREAT");
  in.patient.controls.push_back({Kind::kBlokkering, {}, "2002", ""});
  EXPECT_TRUE(Decide(in).permit);
}

TEST(PdpClinician, ReservationRemovesKjernejournalDataOnly) {
  DecisionInput in = Clinician("AllergyIntolerance");
  Attest(in, "BTG");
  in.patient.controls.push_back({Kind::kReservation, {}, "", ""});
  EXPECT_EQ(Decide(in).code, "GM-PDP-031");
  in.resource_type = "Observation";  // lab results are not kjernejournal data
  EXPECT_TRUE(Decide(in).permit);
  in.resource_type = "*";
  Decision all = Decide(in);
  ASSERT_TRUE(all.permit);
  EXPECT_FALSE(TypeAllowed(all, "AllergyIntolerance"));
  EXPECT_FALSE(TypeAllowed(all, "MedicationRequest"));
  EXPECT_TRUE(TypeAllowed(all, "Observation"));
  EXPECT_TRUE(TypeAllowed(all, "Patient"));
}

TEST(PdpClinician, SperringOpensOnlyWithConsentOrEmergencyAndIsFlagged) {
  DecisionInput in = Clinician("Condition");
  Attest(in, "TREAT");
  in.patient.controls.push_back({Kind::kSperring, {"Condition"}, "", ""});
  Decision closed = Decide(in);
  EXPECT_FALSE(closed.permit);
  EXPECT_EQ(closed.code, "GM-PDP-032");

  in.resource_type = "Observation";  // other parts are not restricted
  Decision other = Decide(in);
  EXPECT_TRUE(other.permit);
  EXPECT_FALSE(other.opened_sperring);

  in.resource_type = "Condition";
  in.caller.declared_consent = true;
  Decision consent = Decide(in);
  EXPECT_TRUE(consent.permit);
  EXPECT_TRUE(consent.opened_sperring);
  EXPECT_FALSE(consent.break_the_glass);

  in.caller.declared_consent = false;
  Attest(in, "BTG");
  Decision btg = Decide(in);
  EXPECT_TRUE(btg.permit);
  EXPECT_TRUE(btg.opened_sperring);
  EXPECT_TRUE(btg.break_the_glass);
}

TEST(PdpClinician, SperringOfAllDeniesEverythingAndPartsAreLeftOutOfEverything) {
  DecisionInput in = Clinician("*");
  Attest(in, "TREAT");
  in.patient.controls.push_back({Kind::kSperring, {"Condition"}, "", ""});
  Decision parts = Decide(in);
  ASSERT_TRUE(parts.permit);
  EXPECT_FALSE(TypeAllowed(parts, "Condition"));
  EXPECT_TRUE(TypeAllowed(parts, "Observation"));
  in.patient.controls = {{Kind::kSperring, {}, "", ""}};
  EXPECT_EQ(Decide(in).code, "GM-PDP-032");
  in.resource_type = "Patient";
  EXPECT_EQ(Decide(in).code, "GM-PDP-032");
}

TEST(PdpClinician, PrescriberBlockRemovesPrescriptionsOfThatPrescriberOnly) {
  DecisionInput in = Clinician("MedicationRequest");
  Attest(in, "TREAT");
  in.patient.controls.push_back({Kind::kPrescriberBlock, {}, "1001", ""});
  EXPECT_EQ(Decide(in).code, "GM-PDP-033");
  in.resource_type = "Condition";
  EXPECT_TRUE(Decide(in).permit);
  in.resource_type = "*";
  Decision all = Decide(in);
  EXPECT_FALSE(TypeAllowed(all, "MedicationDispense"));
  EXPECT_TRUE(TypeAllowed(all, "Condition"));
  in.patient.controls = {{Kind::kPrescriberBlock, {}, "2002", ""}};
  in.resource_type = "MedicationRequest";
  EXPECT_TRUE(Decide(in).permit);
}

TEST(PdpClinician, RegistryDataIsReadableButNotWritable) {
  DecisionInput in = Clinician("Practitioner");
  in.patient_data = false;
  in.clinician.found = false;  // no patient involved: only a valid clinician token
  Decision d = Decide(in);
  EXPECT_TRUE(d.permit);
  EXPECT_EQ(d.basis, Basis::kRegistry);
  in.interaction = PdpInteraction::kUpdate;
  EXPECT_EQ(Decide(in).code, "GM-PDP-060");
}

TEST(PdpClinician, WritesNeedTheSameRelationship) {
  DecisionInput in = Clinician("Condition");
  in.interaction = PdpInteraction::kCreate;
  EXPECT_FALSE(Decide(in).permit);
  Attest(in, "TREAT");
  EXPECT_TRUE(Decide(in).permit);
}

// ---- Citizens ------------------------------------------------------------

TEST(PdpCitizen, OwnRecordReadableAndOwnConsentsWritable) {
  DecisionInput in = Citizen(kChildPid, 30);
  Decision d = Decide(in);
  EXPECT_TRUE(d.permit);
  EXPECT_EQ(d.basis, Basis::kOwnData);
  in.interaction = PdpInteraction::kCreate;
  EXPECT_EQ(Decide(in).code, "GM-PDP-054");
  in.resource_type = "Consent";
  EXPECT_TRUE(Decide(in).permit);
  // Own data even with a confidential address.
  in.patient.confidential_address = true;
  in.interaction = PdpInteraction::kRead;
  EXPECT_TRUE(Decide(in).permit);
}

TEST(PdpCitizen, StrangerIsDenied) {
  DecisionInput in = Citizen("55555555555", 30);
  EXPECT_EQ(Decide(in).code, "GM-PDP-050");
  DecisionInput no_pid = Citizen("", 30);
  EXPECT_EQ(Decide(no_pid).code, "GM-PDP-001");
}

TEST(PdpCitizen, ParentsByAgeOfTheChild) {
  for (int age : {0, 5, 11}) {
    Decision d = Decide(ParentOf(age));
    EXPECT_TRUE(d.permit) << age;
    EXPECT_EQ(d.basis, Basis::kParent) << age;
  }
  for (int age : {12, 15}) {
    EXPECT_EQ(Decide(ParentOf(age, "Observation")).code, "GM-PDP-051") << age;
    EXPECT_EQ(Decide(ParentOf(age, "AllergyIntolerance")).code, "GM-PDP-051") << age;
    EXPECT_TRUE(Decide(ParentOf(age, "Immunization")).permit) << age;
    EXPECT_TRUE(Decide(ParentOf(age, "Patient")).permit) << age;
    Decision all = Decide(ParentOf(age, "*"));
    ASSERT_TRUE(all.permit);
    EXPECT_TRUE(TypeAllowed(all, "Immunization"));
    EXPECT_FALSE(TypeAllowed(all, "Condition"));
  }
  for (int age : {16, 17, 40, -1}) {
    EXPECT_EQ(Decide(ParentOf(age, "Patient")).code, "GM-PDP-051") << age;
  }
}

TEST(PdpCitizen, ParentNeedsASharedAddressAndNoConfidentialAddress) {
  DecisionInput apart = ParentOf(5);
  apart.patient.parent_shares_address = false;
  EXPECT_EQ(Decide(apart).code, "GM-PDP-051");
  DecisionInput child_protected = ParentOf(5);
  child_protected.patient.confidential_address = true;
  EXPECT_EQ(Decide(child_protected).code, "GM-PDP-052");
  DecisionInput parent_protected = ParentOf(5);
  parent_protected.requester.confidential_address = true;
  EXPECT_EQ(Decide(parent_protected).code, "GM-PDP-052");
}

TEST(PdpCitizen, RepresentativesDoNotWrite) {
  DecisionInput in = ParentOf(5, "Consent");
  in.interaction = PdpInteraction::kCreate;
  EXPECT_EQ(Decide(in).code, "GM-PDP-054");
}

TEST(PdpCitizen, PowerOfAttorneyByAges) {
  auto fullmakt = [](int giver_age, int receiver_age) {
    DecisionInput in = Citizen(kParentPid, giver_age);
    in.patient.controls.push_back({Kind::kFullmakt, {}, "", kParentPid});
    in.requester.age = receiver_age;
    return Decide(in);
  };
  EXPECT_EQ(fullmakt(40, 30).basis, Basis::kPowerOfAttorney);
  EXPECT_TRUE(fullmakt(16, 18).permit);
  EXPECT_EQ(fullmakt(15, 30).code, "GM-PDP-053");
  EXPECT_EQ(fullmakt(40, 17).code, "GM-PDP-053");
  // A fullmakt naming someone else gives nothing.
  DecisionInput other = Citizen(kParentPid, 40);
  other.patient.controls.push_back({Kind::kFullmakt, {}, "", "77777777777"});
  EXPECT_EQ(Decide(other).code, "GM-PDP-050");
  // Confidential address on the giver's side.
  DecisionInput hidden = Citizen(kParentPid, 40);
  hidden.patient.controls.push_back({Kind::kFullmakt, {}, "", kParentPid});
  hidden.patient.confidential_address = true;
  EXPECT_EQ(Decide(hidden).code, "GM-PDP-052");
}

TEST(PdpCitizen, RegistriesAreNotOpenToCitizensHere) {
  DecisionInput in = Citizen(kChildPid, 30, "Organization");
  in.patient_data = false;
  EXPECT_EQ(Decide(in).code, "GM-PDP-060");
}

// ---- Systems -------------------------------------------------------------

TEST(PdpSystem, KindsFromScopes) {
  EXPECT_EQ(ClientKindFromScopes({}), ClientKind::kOperator);
  EXPECT_EQ(ClientKindFromScopes({"openid", "grunnmur:kind:pharmacy"}), ClientKind::kPharmacy);
  EXPECT_EQ(ClientKindFromScopes({"grunnmur:kind:lab"}), ClientKind::kLab);
  EXPECT_EQ(ClientKindFromScopes({"grunnmur:kind:ehr"}), ClientKind::kEhr);
  EXPECT_EQ(ClientKindFromScopes({"grunnmur:kind:spaceship"}), ClientKind::kUnknown);
  EXPECT_EQ(ClientKindFromScopes({"grunnmur:kind:lab", "grunnmur:kind:ehr"}), ClientKind::kUnknown);
}

TEST(PdpSystem, TableDecidesPerKind) {
  struct Case {
    ClientKind kind;
    const char* type;
    bool permit;
  };
  const Case cases[] = {
      {ClientKind::kOperator, "Condition", true},   {ClientKind::kEhr, "Condition", true},
      {ClientKind::kPharmacy, "MedicationRequest", true},
      {ClientKind::kPharmacy, "Condition", false},  {ClientKind::kPharmacy, "Observation", false},
      {ClientKind::kLab, "Observation", true},      {ClientKind::kLab, "DiagnosticReport", true},
      {ClientKind::kLab, "MedicationRequest", false}, {ClientKind::kUnknown, "Patient", false},
  };
  for (const auto& c : cases) {
    DecisionInput in;
    in.caller.mode = PdpMode::kSystem;
    in.caller.kind = c.kind;
    in.resource_type = c.type;
    Decision d = Decide(in);
    EXPECT_EQ(d.permit, c.permit) << ClientKindName(c.kind) << " " << c.type;
    if (!c.permit) EXPECT_EQ(d.code, "GM-PDP-040");
  }
  // Writes: a lab writes results, not prescriptions or patients; a pharmacy
  // writes dispensings, not prescriptions.
  auto write = [](ClientKind kind, const char* type) {
    DecisionInput in;
    in.caller.mode = PdpMode::kSystem;
    in.caller.kind = kind;
    in.resource_type = type;
    in.interaction = PdpInteraction::kCreate;
    return Decide(in).permit;
  };
  EXPECT_TRUE(write(ClientKind::kLab, "Observation"));
  EXPECT_TRUE(write(ClientKind::kLab, "DiagnosticReport"));
  EXPECT_FALSE(write(ClientKind::kLab, "Patient"));
  EXPECT_TRUE(write(ClientKind::kPharmacy, "MedicationDispense"));
  EXPECT_FALSE(write(ClientKind::kPharmacy, "MedicationRequest"));
  EXPECT_TRUE(write(ClientKind::kEhr, "Condition"));
  DecisionInput lab_all;
  lab_all.caller.mode = PdpMode::kSystem;
  lab_all.caller.kind = ClientKind::kLab;
  lab_all.resource_type = "*";
  Decision all = Decide(lab_all);
  EXPECT_TRUE(TypeAllowed(all, "Observation"));
  EXPECT_FALSE(TypeAllowed(all, "Condition"));
  lab_all.caller.kind = ClientKind::kUnknown;  // "*" for a kind with no data: denied outright
  EXPECT_EQ(Decide(lab_all).code, "GM-PDP-040");
  // Registry data: every kind reads; only operator/EHR write.
  DecisionInput reg;
  reg.caller.mode = PdpMode::kSystem;
  reg.caller.kind = ClientKind::kPharmacy;
  reg.resource_type = "Organization";
  reg.patient_data = false;
  EXPECT_TRUE(Decide(reg).permit);
  reg.interaction = PdpInteraction::kUpdate;
  EXPECT_EQ(Decide(reg).code, "GM-PDP-060");
  reg.caller.kind = ClientKind::kOperator;
  EXPECT_TRUE(Decide(reg).permit);
}

TEST(PdpTypes, KjernejournalAndPrescriptionTables) {
  EXPECT_TRUE(IsKjernejournalType("AllergyIntolerance"));
  EXPECT_TRUE(IsKjernejournalType("MedicationRequest"));
  EXPECT_FALSE(IsKjernejournalType("Observation"));
  EXPECT_FALSE(IsKjernejournalType("Patient"));
  EXPECT_TRUE(IsPrescriptionType("MedicationDispense"));
  EXPECT_FALSE(IsPrescriptionType("Condition"));
  EXPECT_EQ(BasisName(Basis::kBreakTheGlass), "BTG");
  EXPECT_EQ(BasisName(Basis::kFastlege), "FASTLEGE");
}

}  // namespace
}  // namespace gm::trust
