// AuditEvent builder: shape of the Norwegian trust-framework IG, structural
// validity (gm::validation::ValidateWithInvariants), no clinician FNR.
//
// Profile validation against no-domain-Trustframework-Auditevent is not done:
// only the IG's FSH sources are available (no StructureDefinition JSON that
// gm::profile could load), so the tests check the profile's rules by hand
// (agent.who 1..1 a PractitionerRole, the patient extension 1..1, purpose of
// use from v3 PurposeOfUse).
#include <openssl/evp.h>

#include <gtest/gtest.h>

#include "audit/event.h"
#include "core/json.h"
#include "validation/invariants.h"

namespace gm::audit {
namespace {

constexpr const char* kClinicianFnr = "13097248022";  // must never appear
constexpr const char* kPatientFnr = "05076600324";

AccessRecord ClinicianRead() {
  AccessRecord r;
  r.actor.kind = ActorKind::kClinician;
  r.actor.name = "August September";
  r.actor.hpr_number = "9144897";
  r.actor.authorization = "LE";
  r.actor.authorization_display = "Lege";
  r.actor.legal_entity_orgnr = "993467049";
  r.actor.legal_entity_name = "Oslo universitetssykehus HF";
  r.actor.department_resh = "705592";
  r.actor.department_name = "Anestesiologi Seksjon RH";
  r.actor.point_of_care_orgnr = "874716782";
  r.actor.point_of_care_name = "OUS Rikshospitalet";
  r.actor.client_id = "dips-arena";
  r.actor.client_name = "DIPS Arena";
  r.actor.client_orgnr = "993467049";
  r.actor.token_jti = "jti-123";
  r.care.purpose_of_use = "TREAT";
  r.care.decision_ref_id = "23423255";
  r.care.decision_ref_description = "Innlagt pasient";
  r.care.toa = 1710830705;
  r.patient_id = "p1";
  r.patient_identifier = kPatientFnr;
  r.interaction = "search-type";
  r.resource_type = "Observation";
  r.query = std::string("patient.identifier=urn:oid:2.16.578.1.12.4.1.4.1|") + kPatientFnr;
  r.outcome = Outcome::kAllowed;
  r.time_us = 1'764'000'000'000'000;
  return r;
}

std::string DecodeBase64(const std::string& b64) {
  std::string out(b64.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  while (!out.empty() && out.back() == '\0') out.pop_back();  // padding
  return out;
}

void ExpectValid(const json::Value& ev) {
  auto v = validation::ValidateWithInvariants(ev);
  EXPECT_TRUE(v.status.ok()) << (v.status.issues().empty() ? "" : v.status.issues()[0].text + " @ " +
                                                                      v.status.issues()[0].expression);
}

TEST(AuditEventTest, ClinicianEventHasTrustFrameworkShapeAndValidates) {
  auto e = BuildAuditEvent(ClinicianRead());
  ASSERT_TRUE(e.ok()) << e.status().message();
  const json::Value& ev = e->resource;
  ExpectValid(ev);
  EXPECT_EQ(e->patient_id, "p1");
  EXPECT_EQ(ev.get_string("action"), "R");
  EXPECT_EQ(ev.get_string("outcome"), "0");
  EXPECT_EQ(ev.find("type")->get_string("code"), "rest");
  EXPECT_EQ(ev.find("subtype")->array()[0].get_string("code"), "search-type");
  EXPECT_EQ(ev.find("meta")->find("profile")->array()[0].str(),
            IgUrl("no-domain-Trustframework-Auditevent"));
  // agent.who: the contained PractitionerRole, requestor, with the token's jti only.
  const json::Value& agent = ev.find("agent")->array()[0];
  EXPECT_EQ(agent.find("who")->get_string("reference"), "#practitioner-role");
  EXPECT_TRUE(agent.find("requestor")->as_bool());
  EXPECT_EQ(agent.find("policy")->array()[0].str(), "jti-123");
  // purposeOfEvent from v3 (TREAT).
  const json::Value& coding = ev.find("purposeOfEvent")->array()[0].find("coding")->array()[0];
  EXPECT_EQ(coding.get_string("code"), "TREAT");
  EXPECT_EQ(coding.get_string("system"), "http://terminology.hl7.org/CodeSystem/v3-ActReason");
  // Extensions: patient (→ contained Patient with FNR) and care relation metadata.
  const json::Value& exts = *ev.find("extension");
  ASSERT_EQ(exts.size(), 2u);
  EXPECT_EQ(exts.array()[0].get_string("url"), IgUrl("auditevent-patient-extension"));
  EXPECT_EQ(exts.array()[0].find("valueReference")->get_string("reference"), "#patient");
  EXPECT_EQ(exts.array()[1].get_string("url"), IgUrl("auditevent-carerelation-metadata-extension"));
  EXPECT_EQ(exts.array()[1].find("extension")->size(), 4u);
  // Entities: the patient and the query (base64 of the query string).
  const json::Value& ents = *ev.find("entity");
  ASSERT_EQ(ents.size(), 2u);
  EXPECT_EQ(ents.array()[0].find("what")->get_string("reference"), "Patient/p1");
  EXPECT_EQ(DecodeBase64(std::string(ents.array()[1].get_string("query"))), ClinicianRead().query);
  // The HPR number is there, the clinician's FNR system is used only for the patient.
  std::string text = json::Write(ev);
  EXPECT_NE(text.find("9144897"), std::string::npos);
  EXPECT_EQ(text.find(kClinicianFnr), std::string::npos);
  const json::Value* pract = nullptr;
  for (const json::Value& c : ev.find("contained")->array())
    if (c.get_string("resourceType") == "Practitioner") pract = &c;
  ASSERT_NE(pract, nullptr);
  ASSERT_EQ(pract->find("identifier")->size(), 1u);
  EXPECT_EQ(pract->find("identifier")->array()[0].get_string("system"),
            "urn:oid:2.16.578.1.12.4.1.4.4");
  // The token itself is not stored: the record only ever had its jti.
}

TEST(AuditEventTest, DeniedFailedBtgSystemAndCitizenEventsValidate) {
  AccessRecord denied = ClinicianRead();
  denied.outcome = Outcome::kDenied;
  denied.outcome_text = "no care relationship";
  denied.interaction = "read";
  denied.resource_id = "o1";
  denied.query.clear();
  auto d = BuildAuditEvent(denied);
  ASSERT_TRUE(d.ok());
  ExpectValid(d->resource);
  EXPECT_EQ(d->resource.get_string("outcome"), "4");
  EXPECT_EQ(d->resource.find("entity")->array()[1].find("what")->get_string("reference"),
            "Observation/o1");

  AccessRecord btg = ClinicianRead();
  btg.break_the_glass = true;
  btg.care.purpose_of_use = "ETREAT";
  btg.outcome = Outcome::kFailed;
  auto b = BuildAuditEvent(btg);
  ASSERT_TRUE(b.ok());
  ExpectValid(b->resource);
  EXPECT_EQ(b->resource.get_string("outcome"), "8");
  EXPECT_EQ(b->resource.find("purposeOfEvent")->array()[0].find("coding")->array()[0].get_string("code"),
            "BTG");
  AccessSummary bs = Summarize(b->resource);
  EXPECT_TRUE(bs.break_the_glass);

  AccessRecord sys;
  sys.actor.kind = ActorKind::kSystem;
  sys.actor.client_id = "apotek-1";
  sys.actor.client_name = "Apotek 1 Storgata";
  sys.actor.client_orgnr = "984661185";
  sys.actor.token_jti = "j2";
  sys.patient_id = "p2";
  sys.interaction = "create";
  sys.resource_type = "MedicationDispense";
  sys.resource_id = "md1";
  sys.time_us = 1'764'000'000'000'000;
  auto s = BuildAuditEvent(sys);
  ASSERT_TRUE(s.ok());
  ExpectValid(s->resource);
  EXPECT_EQ(s->resource.get_string("action"), "C");
  EXPECT_EQ(s->resource.find("meta"), nullptr);  // not a clinician: no IG profile claimed
  AccessSummary ss = Summarize(s->resource);
  EXPECT_EQ(ss.role, "System");
  EXPECT_EQ(ss.who, "Apotek 1 Storgata");
  EXPECT_EQ(ss.organisation, "984661185");

  AccessRecord cit = sys;
  cit.actor.kind = ActorKind::kCitizen;
  cit.actor.person_reference = "RelatedPerson/r1";
  cit.actor.name = "Kari Nordmann";
  cit.actor.relationship = "foresatt";
  cit.interaction = "read";
  auto c = BuildAuditEvent(cit);
  ASSERT_TRUE(c.ok());
  ExpectValid(c->resource);
  AccessSummary cs = Summarize(c->resource);
  EXPECT_EQ(cs.who, "Kari Nordmann");
  EXPECT_EQ(cs.role, "Representant (foresatt)");
}

TEST(AuditEventTest, SummaryShowsNameRoleOrganisationBasis) {
  auto e = BuildAuditEvent(ClinicianRead());
  ASSERT_TRUE(e.ok());
  AccessSummary s = Summarize(e->resource);
  EXPECT_EQ(s.who, "August September");
  EXPECT_EQ(s.role, "Lege");
  EXPECT_EQ(s.organisation, "Anestesiologi Seksjon RH, Oslo universitetssykehus HF");
  EXPECT_EQ(s.basis, "TREAT (treatment) — Innlagt pasient");
  EXPECT_FALSE(s.break_the_glass);
  EXPECT_EQ(s.time_us, 1'764'000'000'000'000);
  EXPECT_EQ(s.outcome, 0);
  EXPECT_EQ(s.resource_type, "Observation");
}

TEST(AuditEventTest, OneEventPerPatient) {
  auto events = BuildAuditEvents(ClinicianRead(), {"p1", "p2", "p3"});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const Event& e = (*events)[i];
    EXPECT_EQ(e.patient_id, "p" + std::to_string(i + 1));
    EXPECT_EQ(e.resource.find("entity")->array()[0].find("what")->get_string("reference"),
              "Patient/" + e.patient_id);
    ExpectValid(e.resource);
  }
  // Only the patient whose identifier was given carries it.
  EXPECT_NE(json::Write((*events)[0].resource).find(kPatientFnr), std::string::npos);
  EXPECT_EQ(json::Write((*events)[1].resource).find(kPatientFnr), std::string::npos);
}

TEST(AuditEventTest, RefusesIncompleteRecords) {
  AccessRecord r = ClinicianRead();
  r.patient_id.clear();
  EXPECT_EQ(BuildAuditEvent(r).status().code(), "GM-AUDIT-001");
  r = ClinicianRead();
  r.interaction = "peek";
  EXPECT_EQ(BuildAuditEvent(r).status().code(), "GM-AUDIT-002");
  r = ClinicianRead();
  r.actor.hpr_number.clear();
  EXPECT_EQ(BuildAuditEvent(r).status().code(), "GM-AUDIT-003");
  r = ClinicianRead();
  r.care.purpose_of_use = "HMARKT";
  EXPECT_EQ(BuildAuditEvent(r).status().code(), "GM-AUDIT-004");
  r = ClinicianRead();
  r.actor.kind = ActorKind::kCitizen;
  EXPECT_EQ(BuildAuditEvent(r).status().code(), "GM-AUDIT-005");
  r = ClinicianRead();
  r.time_us = 0;
  EXPECT_EQ(BuildAuditEvent(r).status().code(), "GM-AUDIT-006");
}

}  // namespace
}  // namespace gm::audit
