// Audit records of access to patient data (issue "Trust", item 4): one FHIR
// R4 AuditEvent per patient touched, in the shape of the Norwegian
// trust-framework IG (hl7.fhir.no.domain.auditevent, profile
// no-domain-Trustframework-Auditevent; sources in
// ../shared/norway/auditevent-ig-fsh/) with the IHE BALP additions (denied and
// failed requests are audited too, the query is recorded, the token only by
// its jti).
//
// Shape of an event made by BuildAuditEvent:
//   type        audit-event-type#rest
//   subtype     restful-interaction#<interaction> (read, search-type, create …)
//   action      C/R/U/D/E;  recorded = AccessRecord::time_us
//   outcome     0 allowed, 4 denied, 8 failed, 12 major failure; outcomeDesc
//               a short reason without health data
//   purposeOfEvent  v3-ActReason TREAT/ETREAT/COC/BTG (BTG when the access
//               was an emergency "break the glass"), optionally a Volven 9151
//               coding (purpose_of_use_details)
//   agent[0]    the person (requestor): a clinician as a contained
//               PractitionerRole → contained Practitioner (HPR number, name,
//               authorisation 9060) + Organization (department or legal
//               entity) + Location (point of care); a citizen or
//               representative as a reference (Patient/…, RelatedPerson/…);
//               agent.policy = the access token's jti (never the token)
//   agent[1]    the client system (Device identifier = client_id) and its
//               organisation (orgnr); requestor only when no person acts
//   source      site "grunnmur", type 4 (application server)
//   extension   auditevent-patient-extension → contained Patient (identifier
//               FNR/DNR of the patient), auditevent-carerelation-metadata-
//               extension (decision_ref id/description/user_selected, toa)
//               when an attestation was given
//   entity[0]   the patient (Patient/<id>, role 1 Patient)
//   entity[1]   the object or query: what = <type>/<id>; query =
//               base64(query string) for searches
//
// Decisions where the IG is silent or conflicts with the brief:
// - The clinician's fødselsnummer is never recorded: AccessRecord has no field
//   for it; the contained Practitioner carries only the HPR number (the IG
//   example also puts the FNR there; we deliberately do not).
// - The query is recorded as received, fødselsnummer included (e.g.
//   `identifier=…|12345678901`): the audit log is itself protected health
//   data (own file, never served except through the citizen view below, which
//   does not show queries), and an audit that hides what was searched for
//   cannot answer "who looked up this person".
// - meta.profile names the IG profile only for clinician events; for citizens
//   and systems agent.who is not a PractitionerRole, which the profile
//   requires, so those events are plain R4 AuditEvents of the same shape.
// - The IG's canonical base is not in the FSH sources; kIgCanonical below is
//   our assumption, in one place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace gm::audit {

inline constexpr const char* kIgCanonical = "http://hl7.no/fhir/ig/auditevent";
std::string IgUrl(std::string_view id);  // kIgCanonical + "/StructureDefinition/" + id

enum class Outcome { kAllowed = 0, kDenied = 4, kFailed = 8, kMajorFailure = 12 };

enum class ActorKind {
  kClinician,  // health personnel (HPR number)
  kCitizen,    // the patient or a representative
  kSystem,     // a client system without a person (system/ scopes)
};

// Who accessed. Holds no fødselsnummer of the person by design.
struct Actor {
  ActorKind kind = ActorKind::kSystem;
  std::string name;            // display name of the person
  // Clinician:
  std::string hpr_number;      // required for kClinician
  std::string authorization;   // kodeverk 9060 code, e.g. "LE"
  std::string authorization_display;  // e.g. "Lege"
  std::string legal_entity_orgnr, legal_entity_name;
  std::string point_of_care_orgnr, point_of_care_name;
  std::string department_resh, department_name;
  // Citizen: "Patient/<id>" or "RelatedPerson/<id>" (a representative).
  std::string person_reference;
  std::string relationship;    // for representatives, e.g. "foresatt"
  // The client system (always known from the token):
  std::string client_id;
  std::string client_name;
  std::string client_orgnr;
  std::string token_jti;       // stored instead of the token
};

// The care relationship as attested (Tillitsrammeverk care_relationship).
struct CareRelation {
  std::string purpose_of_use;  // TREAT | ETREAT | COC | BTG
  std::string purpose_detail_code, purpose_detail_display;  // Volven 9151, optional
  std::string decision_ref_id, decision_ref_description;
  bool decision_ref_user_selected = false;
  int64_t toa = 0;  // time of attestation, Unix seconds; 0 = no attestation
};

// One access to one patient's data.
struct AccessRecord {
  Actor actor;
  CareRelation care;
  bool break_the_glass = false;  // emergency access: purpose BTG, always flagged
  std::string patient_id;        // logical id of the Patient resource (required)
  std::string patient_identifier;  // FNR/DNR of the patient (optional)
  std::string interaction;       // restful-interaction code: read, vread, search-type …
  std::string resource_type;     // e.g. "Observation"
  std::string resource_id;       // empty for searches
  std::string query;             // the query string as received ("" if none)
  Outcome outcome = Outcome::kAllowed;
  std::string outcome_text;      // short reason, no health data
  int64_t time_us = 0;           // when it happened
};

// What the log stores for one event.
struct Event {
  std::string patient_id;
  int64_t time_us = 0;
  json::Value resource;  // the AuditEvent
};

// Builds the AuditEvent. Errors (kInvalid): GM-AUDIT-001 missing patient id,
// GM-AUDIT-002 unknown interaction, GM-AUDIT-003 clinician without HPR number,
// GM-AUDIT-004 purpose of use not TREAT/ETREAT/COC/BTG, GM-AUDIT-005 citizen
// without person reference, GM-AUDIT-006 no time.
Result<Event> BuildAuditEvent(const AccessRecord& record);

// One request touching several patients: one event per patient id (same
// record otherwise). Errors as BuildAuditEvent.
Result<std::vector<Event>> BuildAuditEvents(const AccessRecord& record,
                                            const std::vector<std::string>& patient_ids);

// What the citizen sees of one event (citizen access log): never an FNR.
struct AccessSummary {
  int64_t seq = 0;
  int64_t time_us = 0;
  std::string who;           // name, or the client system's name for systems
  std::string role;          // e.g. "Lege", "Innbygger", "System"
  std::string organisation;  // organisation name (or orgnr when no name)
  std::string basis;         // e.g. "TREAT Treatment — Innlagt pasient"
  bool break_the_glass = false;
  std::string action;        // C/R/U/D/E
  std::string interaction;   // read, search-type …
  std::string resource_type;
  int outcome = 0;
};

// Reads a summary out of a stored event (the log calls this).
AccessSummary Summarize(const json::Value& event);

}  // namespace gm::audit
