// The policy decision point (issue "Trust", item 3): ONE function that says
// whether a caller may touch one patient's data of one kind, on what basis,
// and with which obligations. Pure: facts in, decision out. The facts are
// gathered from the store by rest/auth.cc (GatherFacts); the rules are in
// docs/trust.md, which is the reference for what follows.
//
// Reason codes (Decision::code), stable:
//   GM-PDP-000 permit
//   GM-PDP-001 no person or client could be established for the decision
//   GM-PDP-010 clinician: no HPR record for the token's HPR number
//   GM-PDP-011 clinician: no active HPR authorisation (suspended, revoked)
//   GM-PDP-012 clinician: the attested authorisation or HPR number does not
//              match HPR
//   GM-PDP-020 clinician: no care relationship with this patient
//   GM-PDP-021 clinician: the attestation for this patient has expired
//              (attestation_has_expired: older than 60 minutes)
//   GM-PDP-030 blokkering: the citizen has blocked this clinician (holds even
//              in an emergency)
//   GM-PDP-031 reservation: the citizen has no kjernejournal
//   GM-PDP-032 sperring: restricted by the citizen; opens only with declared
//              consent or emergency
//   GM-PDP-033 the citizen has blocked this prescriber from prescriptions
//   GM-PDP-040 system: this kind of client may not reach this kind of data
//   GM-PDP-050 citizen: not the person and not a representative
//   GM-PDP-051 citizen: representation ends at 16 / restricted 12-16
//   GM-PDP-052 citizen: confidential address (kode 6/7) on either side
//   GM-PDP-053 citizen: power of attorney not valid (ages)
//   GM-PDP-054 citizen: citizens do not change this kind of data
//   GM-PDP-060 registry data (outside patient compartments): not for this
//              caller (citizens; changes by clinicians)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gm::trust {

// What is being done with the data.
enum class PdpInteraction { kRead, kSearch, kCreate, kUpdate, kDelete };
bool IsWrite(PdpInteraction i);

// Which rules apply (from the token's scopes, rest/auth.h ModeFor).
enum class PdpMode { kSystem, kClinician, kCitizen };

// A client system's kind (token scope "grunnmur:kind:<kind>", given by the
// operator when registering the client). No kind scope: kOperator (today's
// behaviour: the scopes decide); two different kinds or an unknown one:
// kUnknown, which reaches no patient data.
enum class ClientKind { kOperator, kEhr, kPharmacy, kLab, kUnknown };
std::string_view ClientKindName(ClientKind kind);
ClientKind ClientKindFromScopes(const std::vector<std::string>& other_scopes);
// The resource types a kind may reach ("*" = all). The table of docs/trust.md.
const std::vector<std::string>& TypesForKind(ClientKind kind);
// The resource types a kind may create, update and delete (a subset).
const std::vector<std::string>& WriteTypesForKind(ClientKind kind);

// Kjernejournal data (what a reservation removes), docs/trust.md.
bool IsKjernejournalType(std::string_view type);
// Prescription data (what a prescriber block removes).
bool IsPrescriptionType(std::string_view type);

// Why access was granted.
enum class Basis {
  kNone,
  kSystem,          // a client system by its kind and scopes
  kRegistry,        // data outside any patient compartment (registries, terminology)
  kOwnData,         // the citizen's own record
  kParent,          // parental responsibility, child under 16 (restricted 12-16)
  kPowerOfAttorney, // fullmakt
  kTreat,           // attested TREAT
  kEtreat,          // attested ETREAT
  kCoc,             // attested COC
  kFastlege,        // registered relationship: the patient's fastlege
  kCareRelation,    // registered relationship: active Encounter/EpisodeOfCare/CareTeam at the org
  kBreakTheGlass,   // emergency (BTG)
};
std::string_view BasisName(Basis basis);  // e.g. "TREAT", "FASTLEGE", "BTG", "OWN"

// Citizen controls, from Consent resources of the code system
// http://grunnmur.no/fhir/CodeSystem/citizen-control (docs/trust.md).
struct CitizenControl {
  enum class Kind { kReservation, kSperring, kBlokkering, kPrescriberBlock, kFullmakt };
  Kind kind = Kind::kSperring;
  std::vector<std::string> resource_types;  // sperring of parts; empty = all
  std::string hpr_number;                   // blokkering / prescriber block: the clinician
  std::string receiver_pid;                 // fullmakt: who may act
};

// An HPR authorisation (Practitioner.qualification).
struct HprAuthorization {
  std::string code;    // kodeverk 9060: LE, SP, FA1 …
  std::string status;  // active | suspended | revoked
};

// The caller, as far as the policy needs it (copied from trust::Principal).
struct Caller {
  PdpMode mode = PdpMode::kSystem;
  ClientKind kind = ClientKind::kOperator;
  std::string pid;         // citizen / clinician person id — used for matching only
  std::string hpr_number;  // clinician
  std::vector<std::string> orgnrs;  // orgnr_parent, orgnr_child, attested legal entity / point of care
  // The trust-framework attestation (empty purpose: none).
  std::string attested_purpose;        // TREAT | ETREAT | COC | BTG
  std::string attested_hpr;            // practitioner.hpr_nr ("" = not stated)
  std::string attested_authorization;  // 9060 code ("" = not stated)
  std::vector<std::string> attested_patients;  // FNR/DNR
  int64_t attested_toa = 0;            // Unix seconds
  bool declared_consent = false;       // purpose_of_use_details SAMTYKKE: opens sperring
};

// Facts about the clinician (HPR).
struct ClinicianFacts {
  bool found = false;  // a Practitioner with this HPR number exists
  std::vector<HprAuthorization> authorizations;
};

// Facts about the patient whose data is concerned.
struct PatientFacts {
  std::string patient_id;
  std::string pid;  // FNR/DNR ("" unknown)
  int age = -1;     // whole years; -1 unknown
  bool confidential_address = false;  // kode 6/7
  std::vector<std::string> fastlege_hprs;  // HPR numbers of the GP(s) (generalPractitioner)
  std::vector<std::string> care_orgnrs;    // orgs with an active Encounter/EpisodeOfCare/CareTeam
  std::vector<CitizenControl> controls;
  // Representation, as seen from the requesting citizen:
  bool requester_has_parental_responsibility = false;  // RelatedPerson naming the requester
  // Some parent with parental responsibility shares the child's registered
  // address (the Folkeregister rule for acting for a child).
  bool parent_shares_address = false;
};

// Facts about the requesting citizen (representation).
struct RequesterFacts {
  int age = -1;
  bool confidential_address = false;
};

struct DecisionInput {
  Caller caller;
  PdpInteraction interaction = PdpInteraction::kRead;
  std::string resource_type;  // the kind of data; "*" = every kind ($everything)
  bool patient_data = true;   // false: not in any patient compartment
  PatientFacts patient;       // ignored when !patient_data
  ClinicianFacts clinician;
  RequesterFacts requester;
  int64_t now_s = 0;
};

struct Decision {
  bool permit = false;
  std::string code;    // GM-PDP-NNN
  std::string reason;  // short, no health data, no identifiers
  Basis basis = Basis::kNone;
  // Obligations:
  bool break_the_glass = false;   // flag: emergency access
  bool opened_sperring = false;   // a restriction was opened (consent or emergency): log it
  // For resource_type "*": kinds of data that must be left out (sperring,
  // reservation, prescriber block, 12-16 restriction).
  std::vector<std::string> excluded_types;
  bool excluded_all_but = false;  // true: excluded_types lists the ONLY allowed types
};

// The attestation window (Tillitsrammeverk: 60 minutes).
inline constexpr int64_t kAttestationMaxAgeS = 3600;

Decision Decide(const DecisionInput& input);

// Whether a kind of data is allowed by a decision made for "*".
bool TypeAllowed(const Decision& decision, std::string_view type);

}  // namespace gm::trust
