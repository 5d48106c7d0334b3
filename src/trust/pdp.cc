#include "trust/pdp.h"

#include <algorithm>
#include <optional>

namespace gm::trust {

namespace {

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

Decision Permit(Basis basis) {
  Decision d;
  d.permit = true;
  d.code = "GM-PDP-000";
  d.reason = "permitted";
  d.basis = basis;
  return d;
}

Decision Deny(std::string code, std::string reason) {
  Decision d;
  d.permit = false;
  d.code = std::move(code);
  d.reason = std::move(reason);
  return d;
}

// What a parent may see of a child aged 12-15 (docs/trust.md).
const std::vector<std::string>& YouthParentTypes() {
  static const std::vector<std::string> kTypes = {"Patient", "Immunization", "Appointment"};
  return kTypes;
}

void Exclude(Decision& d, const std::vector<std::string>& types) {
  for (const auto& t : types) {
    if (!Contains(d.excluded_types, t)) d.excluded_types.push_back(t);
  }
}

const std::vector<std::string>& KjernejournalTypes() {
  static const std::vector<std::string> kTypes = {
      "AllergyIntolerance", "Condition",         "Flag",           "DeviceUseStatement",
      "Procedure",          "MedicationRequest", "MedicationDispense", "MedicationStatement",
      "Immunization",       "Encounter",         "DocumentReference",  "Composition"};
  return kTypes;
}

const std::vector<std::string>& PrescriptionTypes() {
  static const std::vector<std::string> kTypes = {"MedicationRequest", "MedicationDispense",
                                                  "MedicationStatement"};
  return kTypes;
}

Decision DecideCitizen(const DecisionInput& in) {
  const PatientFacts& p = in.patient;
  const Caller& c = in.caller;
  if (c.pid.empty()) return Deny("GM-PDP-001", "no person in the token");
  if (!in.patient_data) {
    return Deny("GM-PDP-060", "citizens reach their own record, not registries, here");
  }
  const bool write = IsWrite(in.interaction);
  if (!p.pid.empty() && p.pid == c.pid) {
    // The citizen manages their own controls (Consent); the rest of the record
    // is written by health personnel and systems.
    if (write && in.resource_type != "Consent") {
      return Deny("GM-PDP-054", "citizens change only their own consents and controls");
    }
    return Permit(Basis::kOwnData);
  }
  const CitizenControl* fullmakt = nullptr;
  for (const auto& ctl : p.controls) {
    if (ctl.kind == CitizenControl::Kind::kFullmakt && !ctl.receiver_pid.empty() &&
        ctl.receiver_pid == c.pid) {
      fullmakt = &ctl;
    }
  }
  const bool parent = p.requester_has_parental_responsibility;
  if (!fullmakt && !parent) return Deny("GM-PDP-050", "not the person and not a representative");
  if (p.confidential_address || in.requester.confidential_address) {
    return Deny("GM-PDP-052", "people with a confidential address neither represent nor are represented");
  }
  if (write) return Deny("GM-PDP-054", "representatives read; they do not change the record");
  if (fullmakt) {
    // Giver over 16, receiver over 18; never more than the giver's own access
    // (which is the whole own record).
    if (p.age >= 16 && in.requester.age >= 18) return Permit(Basis::kPowerOfAttorney);
    if (!parent) return Deny("GM-PDP-053", "power of attorney needs a giver over 16 and a receiver over 18");
  }
  if (p.age < 0 || p.age >= 16) return Deny("GM-PDP-051", "parents do not act for a person from 16");
  if (!p.parent_shares_address) {
    return Deny("GM-PDP-051", "no parent with parental responsibility shares the child's address");
  }
  if (p.age < 12) return Permit(Basis::kParent);
  // 12-15: restricted to administrative data and vaccinations.
  if (in.resource_type == "*") {
    Decision d = Permit(Basis::kParent);
    d.excluded_all_but = true;
    d.excluded_types = YouthParentTypes();
    return d;
  }
  if (Contains(YouthParentTypes(), in.resource_type)) return Permit(Basis::kParent);
  return Deny("GM-PDP-051", "from 12 to 16 parents see only limited data");
}

Decision DecideClinician(const DecisionInput& in) {
  const Caller& c = in.caller;
  if (c.hpr_number.empty()) return Deny("GM-PDP-001", "no HPR number in the token");
  if (!in.patient_data) {
    if (IsWrite(in.interaction)) {
      return Deny("GM-PDP-060", "registry data is changed by the registries' systems");
    }
    return Permit(Basis::kRegistry);
  }
  if (!in.clinician.found) return Deny("GM-PDP-010", "no HPR record for this clinician");
  std::vector<std::string> active;
  for (const auto& a : in.clinician.authorizations) {
    if (a.status == "active") active.push_back(a.code);
  }
  if (active.empty()) return Deny("GM-PDP-011", "no active HPR authorisation");
  if (!c.attested_hpr.empty() && c.attested_hpr != c.hpr_number) {
    return Deny("GM-PDP-012", "the attested HPR number is not the token's");
  }
  if (!c.attested_authorization.empty() && !Contains(active, c.attested_authorization)) {
    return Deny("GM-PDP-012", "the attested authorisation does not match HPR");
  }
  const PatientFacts& p = in.patient;
  for (const auto& ctl : p.controls) {
    if (ctl.kind == CitizenControl::Kind::kBlokkering && ctl.hpr_number == c.hpr_number) {
      return Deny("GM-PDP-030", "the citizen has blocked this clinician");
    }
  }
  // The care relationship.
  Basis basis = Basis::kNone;
  bool expired = false;
  if (!c.attested_purpose.empty() && !p.pid.empty() && Contains(c.attested_patients, p.pid)) {
    const int64_t age = in.now_s - c.attested_toa;
    const bool valid_time = c.attested_toa > 0 && age <= kAttestationMaxAgeS && age >= -5;
    if (!valid_time) {
      expired = true;
    } else if (c.attested_purpose == "TREAT") {
      basis = Basis::kTreat;
    } else if (c.attested_purpose == "ETREAT") {
      basis = Basis::kEtreat;
    } else if (c.attested_purpose == "COC") {
      basis = Basis::kCoc;
    } else if (c.attested_purpose == "BTG") {
      basis = Basis::kBreakTheGlass;
    }
  }
  if (basis == Basis::kNone && Contains(p.fastlege_hprs, c.hpr_number)) basis = Basis::kFastlege;
  if (basis == Basis::kNone) {
    for (const auto& org : c.orgnrs) {
      if (!org.empty() && Contains(p.care_orgnrs, org)) basis = Basis::kCareRelation;
    }
  }
  if (basis == Basis::kNone) {
    return expired ? Deny("GM-PDP-021", "attestation_has_expired")
                   : Deny("GM-PDP-020", "no care relationship with this patient");
  }
  Decision d = Permit(basis);
  d.break_the_glass = basis == Basis::kBreakTheGlass;
  const bool all = in.resource_type == "*";
  const std::string& type = in.resource_type;
  for (const auto& ctl : p.controls) {
    switch (ctl.kind) {
      case CitizenControl::Kind::kPrescriberBlock:
        if (ctl.hpr_number != c.hpr_number) break;
        if (all) Exclude(d, PrescriptionTypes());
        else if (IsPrescriptionType(type)) {
          return Deny("GM-PDP-033", "the citizen has blocked this prescriber from prescriptions");
        }
        break;
      case CitizenControl::Kind::kReservation:
        if (all) Exclude(d, KjernejournalTypes());
        else if (IsKjernejournalType(type)) {
          return Deny("GM-PDP-031", "the citizen has reserved against kjernejournal");
        }
        break;
      case CitizenControl::Kind::kSperring: {
        const bool covers_all = ctl.resource_types.empty();
        const bool covers = covers_all || all || Contains(ctl.resource_types, type);
        if (!covers) break;
        if (d.break_the_glass || c.declared_consent) {
          d.opened_sperring = true;
          break;
        }
        if (all && !covers_all) {
          Exclude(d, ctl.resource_types);
          break;
        }
        return Deny("GM-PDP-032", "restricted by the citizen (sperring)");
      }
      default:
        break;
    }
  }
  return d;
}

Decision DecideSystem(const DecisionInput& in) {
  const std::vector<std::string>& types = IsWrite(in.interaction)
                                              ? WriteTypesForKind(in.caller.kind)
                                              : TypesForKind(in.caller.kind);
  const bool everything = Contains(types, "*");
  if (!in.patient_data) {
    if (IsWrite(in.interaction) && !everything) {
      return Deny("GM-PDP-060", "registry data is changed by the registries' systems");
    }
    return Permit(Basis::kRegistry);
  }
  if (everything) return Permit(Basis::kSystem);
  if (types.empty()) return Deny("GM-PDP-040", "this kind of client does not reach patient data");
  if (in.resource_type == "*") {
    Decision d = Permit(Basis::kSystem);
    d.excluded_all_but = true;
    d.excluded_types = types;
    return d;
  }
  if (Contains(types, in.resource_type)) return Permit(Basis::kSystem);
  return Deny("GM-PDP-040", "this kind of client does not reach this kind of data");
}

}  // namespace

bool IsWrite(PdpInteraction i) {
  return i == PdpInteraction::kCreate || i == PdpInteraction::kUpdate ||
         i == PdpInteraction::kDelete;
}

std::string_view ClientKindName(ClientKind kind) {
  switch (kind) {
    case ClientKind::kOperator: return "operator";
    case ClientKind::kEhr: return "ehr";
    case ClientKind::kPharmacy: return "pharmacy";
    case ClientKind::kLab: return "lab";
    case ClientKind::kUnknown: return "unknown";
  }
  return "operator";
}

ClientKind ClientKindFromScopes(const std::vector<std::string>& other_scopes) {
  // The first kind scope decides; a token naming two different kinds, or an
  // unknown kind, gets no patient data at all (kUnknown).
  std::optional<ClientKind> kind;
  for (const auto& s : other_scopes) {
    std::string_view v = s;
    if (!v.starts_with("grunnmur:kind:")) continue;
    v.remove_prefix(14);
    ClientKind k = v == "ehr"        ? ClientKind::kEhr
                   : v == "pharmacy" ? ClientKind::kPharmacy
                   : v == "lab"      ? ClientKind::kLab
                   : v == "operator" ? ClientKind::kOperator
                                     : ClientKind::kUnknown;
    if (kind && *kind != k) return ClientKind::kUnknown;
    kind = k;
  }
  return kind.value_or(ClientKind::kOperator);
}

const std::vector<std::string>& TypesForKind(ClientKind kind) {
  // docs/trust.md, "Systems". Patient-compartment types each kind reaches;
  // registry data (outside patient compartments) every kind may read.
  static const std::vector<std::string> kAll = {"*"};
  static const std::vector<std::string> kPharmacy = {
      "Patient", "MedicationRequest", "MedicationDispense", "MedicationStatement",
      "MedicationAdministration", "AllergyIntolerance",
      "List"};  // the medication list (PLL), which dispensers read
  static const std::vector<std::string> kLab = {"Patient", "ServiceRequest", "Specimen",
                                                "Observation", "DiagnosticReport"};
  switch (kind) {
    case ClientKind::kOperator:
    case ClientKind::kEhr:
      return kAll;
    case ClientKind::kPharmacy:
      return kPharmacy;
    case ClientKind::kLab:
      return kLab;
    case ClientKind::kUnknown:
      break;
  }
  static const std::vector<std::string> kNone;
  return kNone;
}

const std::vector<std::string>& WriteTypesForKind(ClientKind kind) {
  // What each kind creates, updates and deletes (docs/trust.md).
  static const std::vector<std::string> kAll = {"*"};
  static const std::vector<std::string> kPharmacy = {"MedicationDispense",
                                                     "MedicationAdministration"};
  static const std::vector<std::string> kLab = {"Observation", "DiagnosticReport", "Specimen"};
  static const std::vector<std::string> kNone;
  switch (kind) {
    case ClientKind::kOperator:
    case ClientKind::kEhr:
      return kAll;
    case ClientKind::kPharmacy:
      return kPharmacy;
    case ClientKind::kLab:
      return kLab;
    case ClientKind::kUnknown:
      break;
  }
  return kNone;
}

bool IsKjernejournalType(std::string_view type) { return Contains(KjernejournalTypes(), type); }
bool IsPrescriptionType(std::string_view type) { return Contains(PrescriptionTypes(), type); }

std::string_view BasisName(Basis basis) {
  switch (basis) {
    case Basis::kNone: return "NONE";
    case Basis::kSystem: return "SYSTEM";
    case Basis::kRegistry: return "REGISTRY";
    case Basis::kOwnData: return "OWN";
    case Basis::kParent: return "PARENT";
    case Basis::kPowerOfAttorney: return "FULLMAKT";
    case Basis::kTreat: return "TREAT";
    case Basis::kEtreat: return "ETREAT";
    case Basis::kCoc: return "COC";
    case Basis::kFastlege: return "FASTLEGE";
    case Basis::kCareRelation: return "CARE-RELATION";
    case Basis::kBreakTheGlass: return "BTG";
  }
  return "NONE";
}

Decision Decide(const DecisionInput& in) {
  switch (in.caller.mode) {
    case PdpMode::kSystem: return DecideSystem(in);
    case PdpMode::kClinician: return DecideClinician(in);
    case PdpMode::kCitizen: return DecideCitizen(in);
  }
  return Deny("GM-PDP-001", "unknown caller");
}

bool TypeAllowed(const Decision& d, std::string_view type) {
  if (!d.permit) return false;
  const bool listed = Contains(d.excluded_types, type);
  return d.excluded_all_but ? listed : !listed;
}

}  // namespace gm::trust
