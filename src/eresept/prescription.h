// E-resept: the prescription's national state and its legal transitions
// (issue 7; domain: docs/national-services.md §7). Pure functions: a
// MedicationRequest's JSON in, the next state (or a refusal) out. The REST
// operations run these inside one store transaction (Store::Write), reading
// the current version and writing the next, so two pharmacies racing for the
// last dispensing are serialised by the store: one transition sees the state
// the other left, and is refused.
//
// The national status (kodeverk 7408) is kept beside the FHIR status:
//   7408  meaning                         MedicationRequest.status
//   E     ekspederbar (dispensable)       active
//   U     under ekspedering (locked)      active  (+ the lock extension)
//   R     avsluttet (completed)           completed
//   T     tilbakekalt (recalled)          cancelled (nothing dispensed) / stopped
//   F     foreldet (expired)              stopped  (statusReason "expired")
// A lock lapses by itself at its expiry; a prescription whose validity period
// has ended is F whatever its stored status says (EffectiveStatus), and any
// transition applied to it stores F.
//
// Extensions (all under kExtensionBase):
//   reseptstatus         valueCoding, system kStatusSystem (7408)
//   dispensing-lock      extension: pharmacy (valueIdentifier, orgnr),
//                        locked (valueDateTime), expires (valueDateTime)
//   remaining            extension: dispenses (valueInteger),
//                        quantity (valueQuantity; absent when not limited)
//   recalled-under-dispensing  valueBoolean (a recall hit a locked prescription:
//                        the pharmacy holding the lock is warned)
// The recall reason (7500) is MedicationRequest.statusReason.
//
// Errors (GM-ERX-0xx): 001–009 the MedicationRequest is not a prescription
// this module can read (422); 010–029 the transition is not allowed in the
// current state (409, conflict) or by this actor (403).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/json.h"
#include "core/status.h"

namespace gm::eresept {

inline constexpr const char* kExtensionBase = "http://grunnmur.no/fhir/StructureDefinition/";
inline constexpr const char* kStatusSystem = "urn:oid:2.16.578.1.12.4.1.1.7408";
inline constexpr const char* kRecallReasonSystem = "urn:oid:2.16.578.1.12.4.1.1.7500";

enum class Status7408 { kE, kU, kR, kT, kF };
const char* Code(Status7408 s);
std::optional<Status7408> ParseStatus7408(std::string_view code);

// Recall reasons, kodeverk 7500.
enum class RecallReason { kRenew = 1, kRenewWithChange = 2, kDiscontinue = 3, kOther = 4 };
std::optional<RecallReason> ParseRecallReason(std::string_view code);

struct Lock {
  std::string pharmacy;  // organisasjonsnummer of the pharmacy
  int64_t locked_us = 0;
  int64_t expires_us = 0;
};

// What the transitions need of a MedicationRequest.
struct Prescription {
  Status7408 status = Status7408::kE;
  std::optional<Lock> lock;            // only meaningful in U
  int64_t dispenses_remaining = 0;     // dispensings still allowed
  std::optional<double> quantity_remaining;  // none: the quantity is not limited
  std::string unit;                    // of the quantity (UCUM code or text)
  int64_t validity_end_us = 0;         // 0: no end given
  bool dispensed_any = false;          // at least one dispensing reported
  bool recalled_under_dispensing = false;
  std::optional<RecallReason> recall_reason;
};

// Reads the state of a stored MedicationRequest (one created by Prescribe).
Result<Prescription> Read(const json::Value& medication_request);

// The status as of `now_us`: F once the validity period has ended (unless
// already R or T), E once a U lock has lapsed.
Status7408 EffectiveStatus(const Prescription& p, int64_t now_us);

// Prescribing: a new MedicationRequest from a prescriber. Fills in the
// national status E and the remaining dispensings/quantity from
// dispenseRequest (numberOfRepeatsAllowed + 1 dispensings; quantity if given);
// requires intent "order", a subject, a requester, a medication, and a
// validity period end not in the past.
Status Prescribe(json::Value& medication_request, int64_t now_us);

// What a prescriber's registry entry says (fetched from HPR by the caller).
struct PrescriberFacts {
  bool authorisation_active = false;   // an active HPR authorisation
  bool prescribing_rights = false;     // rekvisisjonsrett for this kind of drug
};
Status CheckPrescriber(const PrescriberFacts& facts);

// Each returns the next state or why not. `pharmacy` is an orgnr.
Result<Prescription> LockFor(const Prescription& p, const std::string& pharmacy, int64_t now_us,
                             int64_t ttl_us);
Result<Prescription> Release(const Prescription& p, const std::string& pharmacy, int64_t now_us);

struct Dispensing {
  std::string pharmacy;
  double quantity = 0;   // in the prescription's unit; ignored when not limited
  bool final = false;    // avsluttet=ja: nothing more may be dispensed
};
Result<Prescription> Dispense(const Prescription& p, const Dispensing& d, int64_t now_us);

Result<Prescription> Recall(const Prescription& p, RecallReason reason, int64_t now_us);

// Applies `p` to the MedicationRequest: FHIR status, statusReason, extensions.
void Write(const Prescription& p, json::Value& medication_request);

// ---- PLL: the patient's medication list ----------------------------------
// A change names the version of the list the sender read and when; it is
// refused when that version is no longer current (optimistic concurrency) or
// when it was read more than kPllReadWindow ago (SFM Basis' 4-hour rule).
// Version 0 means "the patient has no list yet" (the first change creates it).
// The PLL is a List with code kPllSystem|PLL and the patient as subject.
inline constexpr const char* kPllSystem = "http://grunnmur.no/fhir/CodeSystem/medication-list";
bool IsPll(const json::Value& list);
inline constexpr int64_t kPllReadWindowUs = int64_t{4} * 3600 * 1000000;
Status CheckPllChange(int64_t current_version, int64_t read_version, int64_t read_at_us,
                      int64_t now_us);

}  // namespace gm::eresept
