// E-resept operations (issue 7): the prescription lifecycle as FHIR operations
// on MedicationRequest, each one state transition (src/eresept/) run inside a
// single store transaction that reads the current version and writes the
// next, so concurrent requests — from two pharmacies, on one node or several
// — are serialised by the store and exactly one of two racing dispensings of
// the last remaining amount succeeds.
//
//   POST [base]/MedicationRequest/$prescribe       body: MedicationRequest
//   POST [base]/MedicationRequest/$dispensable     body: Parameters patient (FNR/DNR), all
//   POST [base]/MedicationRequest/[id]/$lock       Parameters pharmacy?, minutes?
//   POST [base]/MedicationRequest/[id]/$release    Parameters pharmacy?
//   POST [base]/MedicationRequest/[id]/$dispense   Parameters pharmacy?, quantity, final?
//   POST [base]/MedicationRequest/[id]/$recall     Parameters reason (7500)
//   POST [base]/MedicationRequest/[id]/$renew      Parameters prescription? (a MedicationRequest)
//
// Who: prescribing, recall and renewal need health personnel whose HPR
// authorisation is active with prescribing rights, looked up in the registry
// inside the transaction (at the time of prescribing); recall and renewal only
// by the prescription's own prescriber. Locking, releasing and dispensing act
// for the pharmacy of the token (helseid orgnr claims); without a token
// (authentication off, operators) the pharmacy is named in the Parameters.
// Which patients a caller may reach at all is the policy decision point's
// business, decided before these handlers run.
//
// Ordinary writes (create, update, patch, delete, transaction entries) of a
// MedicationRequest carrying the national status, or of a MedicationDispense
// that points at one, are refused (GM-ERX-040, engine.cc) — the state only
// changes here.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/time.h"
#include "eresept/prescription.h"
#include "no/hpr.h"
#include "no/identifiers.h"
#include "rest/engine.h"
#include "rest/eresept_ops.h"
#include "rest/outcome.h"
#include "rest/respond.h"
#include "search/page_token.h"
#include "search/query.h"

namespace gm::rest {

namespace {

using json::Value;

constexpr int64_t kMinuteUs = int64_t{60} * 1000000;
constexpr int64_t kDefaultLockMinutes = 30;
constexpr int64_t kMaxLockMinutes = 24 * 60;

Status Invalid(std::string code, std::string text, std::string expression = {}) {
  return Status::Error(ErrorCategory::kInvalid, std::move(code), "invalid", std::move(text),
                       std::move(expression));
}
Status Forbidden(std::string code, std::string text) {
  return Status::Error(ErrorCategory::kForbidden, std::move(code), "forbidden", std::move(text));
}

// The operation's input: a Parameters resource, or nothing (an empty one).
Result<Value> InputParameters(Call& call) {
  if (call.req.body.empty()) {
    Value p = Value::MakeObject();
    p.set("resourceType", Value("Parameters"));
    return p;
  }
  if (auto kind = ClassifyBody(call.req, false, false); !kind.ok()) return kind.status();
  return ParseResource(call.ctx, call.req.body, "Parameters");
}

const Value* Param(const Value& params, std::string_view name) {
  const Value* list = params.find("parameter");
  if (list == nullptr || !list->is_array()) return nullptr;
  for (const Value& p : list->array()) {
    if (p.get_string("name") == name) return &p;
  }
  return nullptr;
}

std::string ParamText(const Value& params, std::string_view name) {
  const Value* p = Param(params, name);
  if (p == nullptr) return {};
  for (const char* key : {"valueString", "valueCode", "valueId"}) {
    if (const Value* v = p->find(key); v && v->is_string()) return v->str();
  }
  if (const Value* id = p->find("valueIdentifier")) return std::string(id->get_string("value"));
  if (const Value* c = p->find("valueCoding")) return std::string(c->get_string("code"));
  return {};
}

std::optional<double> ParamNumber(const Value& params, std::string_view name) {
  const Value* p = Param(params, name);
  if (p == nullptr) return std::nullopt;
  const Value* v = nullptr;
  for (const char* key : {"valueDecimal", "valueInteger", "valuePositiveInt", "valueUnsignedInt"}) {
    if ((v = p->find(key))) break;
  }
  if (v == nullptr) {
    if (const Value* q = p->find("valueQuantity")) v = q->find("value");
  }
  if (v == nullptr || !v->is_number()) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(v->str().c_str(), &end);
  if (*end != '\0' || !std::isfinite(d)) return std::nullopt;
  return d;
}

bool ParamBool(const Value& params, std::string_view name) {
  const Value* p = Param(params, name);
  const Value* v = p ? p->find("valueBoolean") : nullptr;
  return v != nullptr && v->is_bool() && v->as_bool();
}

// The pharmacy a request acts for: the token's organisation; or, without a
// token, the `pharmacy` parameter. A token naming one pharmacy may not act
// for another.
Result<std::string> PharmacyOf(const Call& call, const Value& params) {
  std::string named = ParamText(params, "pharmacy");
  if (call.principal != nullptr) {
    const std::string& org = !call.principal->orgnr_child.empty() ? call.principal->orgnr_child
                                                                  : call.principal->orgnr_parent;
    if (org.empty()) {
      return Forbidden("GM-ERX-026", "dispensing needs a token issued to a pharmacy (its orgnr)");
    }
    if (!named.empty() && named != org && named != call.principal->orgnr_parent) {
      return Forbidden("GM-ERX-026", "a pharmacy acts only for itself");
    }
    return org;
  }
  if (named.empty()) {
    return Invalid("GM-ERX-022", "name the pharmacy (parameter 'pharmacy', its orgnr)",
                   "Parameters.parameter");
  }
  return named;
}

// ---- Registry facts, read inside the transaction --------------------------

struct Registry {
  const Context& ctx;
  store::Txn& txn;

  Result<std::optional<Value>> Current(const std::string& type, const std::string& id) {
    auto v = txn.Current(type, id);
    if (!v.ok()) return v.status();
    if (!v->has_value() || (*v)->deleted) return std::optional<Value>();
    auto parsed = json::Parse((*v)->json);
    if (!parsed.ok()) return parsed.status();
    return std::optional<Value>(std::move(*parsed));
  }

  // The one current resource of `type` with this identifier, if any.
  Result<std::optional<Value>> ByIdentifier(const std::string& type, std::string_view system,
                                            const std::string& value) {
    std::string criteria = "identifier=" + std::string(system) + "|" + value;
    auto ids = MatchCriteria(ctx, txn, type, criteria, 2);
    if (!ids.ok()) return ids.status();
    if (ids->size() != 1) return std::optional<Value>();
    return Current(type, ids->front());
  }
};

std::string IdentifierValue(const Value& resource, std::string_view system) {
  const Value* ids = resource.find("identifier");
  if (ids == nullptr || !ids->is_array()) return {};
  for (const Value& id : ids->array()) {
    if (id.get_string("system") == system) return std::string(id.get_string("value"));
  }
  return {};
}

// "Type/id" → {type, id}; empty when not a local reference of that type.
std::string LocalId(const Value* ref, std::string_view type) {
  if (ref == nullptr) return {};
  std::string_view r = ref->get_string("reference");
  if (r.size() <= type.size() + 1 || r.substr(0, type.size()) != type || r[type.size()] != '/') return {};
  return std::string(r.substr(type.size() + 1));
}

// HPR facts of a Practitioner (docs/grunndata.md, "Authorisations").
eresept::PrescriberFacts FactsOf(const Value& practitioner) {
  eresept::PrescriberFacts facts;
  for (const auto& a : no::HprAuthorisations(practitioner)) {
    const bool active = a.status == "active";
    facts.authorisation_active = facts.authorisation_active || active;
    facts.prescribing_rights = facts.prescribing_rights || (active && a.prescribing_right);
  }
  return facts;
}

// The Practitioner behind a requester reference (Practitioner/x or
// PractitionerRole/y → its practitioner).
Result<std::optional<Value>> PrescriberOf(Registry& reg, const Value& mr) {
  const Value* requester = mr.find("requester");
  std::string practitioner_id = LocalId(requester, "Practitioner");
  if (practitioner_id.empty()) {
    std::string role_id = LocalId(requester, "PractitionerRole");
    if (role_id.empty()) return std::optional<Value>();
    GM_ASSIGN_OR_RETURN(auto role, reg.Current("PractitionerRole", role_id));
    if (!role) return std::optional<Value>();
    practitioner_id = LocalId(role->find("practitioner"), "Practitioner");
    if (practitioner_id.empty()) return std::optional<Value>();
  }
  return reg.Current("Practitioner", practitioner_id);
}

// Prescribing, recall and renewal: the requester is a Practitioner in HPR with
// an active authorisation and prescribing rights, and — with a token — the
// person the token names.
Status CheckPrescribingRequester(const Call& call, Registry& reg, const Value& mr) {
  GM_ASSIGN_OR_RETURN(auto practitioner, PrescriberOf(reg, mr));
  if (!practitioner) {
    return Status::Error(ErrorCategory::kUnprocessable, "GM-ERX-024", "invalid",
                         "the requester must be a Practitioner or PractitionerRole in the "
                         "health personnel register",
                         "MedicationRequest.requester");
  }
  std::string hpr = IdentifierValue(*practitioner, no::systems::kHpr);
  if (hpr.empty()) {
    return Status::Error(ErrorCategory::kUnprocessable, "GM-ERX-024", "invalid",
                         "the requester has no HPR number", "MedicationRequest.requester");
  }
  if (call.principal != nullptr && call.principal->hpr_number != hpr) {
    return Forbidden("GM-ERX-023",
                     "only the health personnel the token names may prescribe, recall or renew "
                     "as this requester");
  }
  return eresept::CheckPrescriber(FactsOf(*practitioner));
}

// A prescription is bound to a Patient with a fødselsnummer or D-nummer.
Status CheckPatient(Registry& reg, const Value& mr) {
  std::string id = LocalId(mr.find("subject"), "Patient");
  if (id.empty()) {
    return Status::Error(ErrorCategory::kUnprocessable, "GM-ERX-025", "invalid",
                         "a prescription's subject is a Patient", "MedicationRequest.subject");
  }
  GM_ASSIGN_OR_RETURN(auto patient, reg.Current("Patient", id));
  if (!patient || (IdentifierValue(*patient, no::systems::kFnr).empty() &&
                   IdentifierValue(*patient, no::systems::kDnr).empty())) {
    return Status::Error(ErrorCategory::kUnprocessable, "GM-ERX-025", "invalid",
                         "a prescription is bound to a registered patient with a fødselsnummer "
                         "or D-nummer",
                         "MedicationRequest.subject");
  }
  return Status::Ok();
}

Result<std::pair<store::ResourceVersion, Value>> CurrentPrescription(Registry& reg, const std::string& id) {
  auto v = reg.txn.Current("MedicationRequest", id);
  if (!v.ok()) return v.status();
  if (!v->has_value() || (*v)->deleted) {
    return Status::Error(ErrorCategory::kNotFound, "GM-ERX-027", "not-found",
                         "no such prescription");
  }
  auto parsed = json::Parse((*v)->json);
  if (!parsed.ok()) return parsed.status();
  return std::make_pair(**v, std::move(*parsed));
}

// The written versions an operation answers with, as a Parameters resource.
http::Response Answer(Call& call, const std::vector<std::pair<std::string, store::ResourceVersion>>& parts,
                      int status = 200) {
  std::string body = R"({"resourceType":"Parameters","parameter":[)";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) body += ',';
    body += R"({"name":)";
    json::WriteString(parts[i].first, body);
    body += R"(,"resource":)";
    body += parts[i].second.json;
    body += '}';
  }
  body += "]}";
  http::Response r;
  r.status = status;
  r.SetHeader("Content-Type", "application/fhir+json; charset=utf-8");
  auto parsed = json::Parse(body);
  r.body = parsed.ok() ? RenderJson(*parsed, call.format) : body;
  return r;
}

void AfterWrites(const Context& ctx, const std::vector<std::pair<std::string, store::ResourceVersion>>& parts) {
  for (const auto& [name, v] : parts) AfterCommit(ctx, v);
}

// Current resources matching search criteria, read outside any write
// transaction (the listing does not occupy the store's writer).
constexpr size_t kMaxListed = 1000;
Result<store::QueryPage> ReadMatches(const Context& ctx, const std::string& type,
                                     std::string_view criteria, size_t limit) {
  GM_ASSIGN_OR_RETURN(store::Query query, CriteriaQuery(ctx, type, criteria));
  query.limit = limit;
  return ctx.store.Search(query);
}

// ---- The operations --------------------------------------------------------

http::Response Prescribe(Call& call) {
  if (auto kind = ClassifyBody(call.req, false, false); !kind.ok()) {
    return ErrorResponse(kind.status(), call.format.pretty);
  }
  auto mr = ParseResource(call.ctx, call.req.body, "MedicationRequest");
  if (!mr.ok()) return ErrorResponse(mr.status(), call.format.pretty);
  const int64_t now = call.ctx.clock.NowUs();
  if (Status st = eresept::Prescribe(*mr, now); !st.ok()) return ErrorResponse(st, call.format.pretty);
  std::string id = call.ctx.new_id();
  std::vector<std::pair<std::string, store::ResourceVersion>> written;
  Status st = call.ctx.store.Write([&](store::Txn& txn) -> Status {
    written.clear();
    Registry reg{call.ctx, txn};
    GM_RETURN_IF_ERROR(CheckPrescribingRequester(call, reg, *mr));
    GM_RETURN_IF_ERROR(CheckPatient(reg, *mr));
    GM_ASSIGN_OR_RETURN(auto r, DoCreate(call.ctx, txn, *mr, id, WriteGuard::kEresept));
    written.emplace_back("prescription", r.version);
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st, call.format.pretty);
  AfterWrites(call.ctx, written);
  return WriteResponse(call.ctx, call.format, call.prefer, written.front().second, 201);
}

// One transition on one prescription: read, check, apply, write.
template <typename Fn>
http::Response Transition(Call& call, Fn&& fn) {
  std::vector<std::pair<std::string, store::ResourceVersion>> written;
  Status st = call.ctx.store.Write([&](store::Txn& txn) -> Status {
    written.clear();
    Registry reg{call.ctx, txn};
    GM_ASSIGN_OR_RETURN(auto current, CurrentPrescription(reg, call.target.id));
    GM_ASSIGN_OR_RETURN(eresept::Prescription p, eresept::Read(current.second));
    return fn(reg, current.first, current.second, p, written);
  });
  if (!st.ok()) return ErrorResponse(st, call.format.pretty);
  AfterWrites(call.ctx, written);
  return Answer(call, written);
}

Status StoreState(const Context& ctx, store::Txn& txn, const store::ResourceVersion& version,
                  Value mr, const eresept::Prescription& next,
                  std::vector<std::pair<std::string, store::ResourceVersion>>& written) {
  eresept::Write(next, mr);
  GM_ASSIGN_OR_RETURN(auto r, DoUpdate(ctx, txn, "MedicationRequest", version.id, std::move(mr),
                                       version.version, WriteGuard::kEresept));
  written.emplace_back("prescription", r.version);
  return Status::Ok();
}

http::Response Lock(Call& call) {
  auto params = InputParameters(call);
  if (!params.ok()) return ErrorResponse(params.status(), call.format.pretty);
  auto pharmacy = PharmacyOf(call, *params);
  if (!pharmacy.ok()) return ErrorResponse(pharmacy.status(), call.format.pretty);
  int64_t minutes = kDefaultLockMinutes;
  if (auto m = ParamNumber(*params, "minutes")) {
    if (*m < 1 || *m > kMaxLockMinutes || std::floor(*m) != *m) {
      return ErrorResponse(Invalid("GM-ERX-022", "minutes must be a whole number from 1 to 1440",
                                   "Parameters.parameter"),
                           call.format.pretty);
    }
    minutes = static_cast<int64_t>(*m);
  }
  const int64_t now = call.ctx.clock.NowUs();
  return Transition(call, [&](Registry& reg, const store::ResourceVersion& v, Value& mr,
                              const eresept::Prescription& p, auto& written) -> Status {
    GM_ASSIGN_OR_RETURN(auto next, eresept::LockFor(p, *pharmacy, now, minutes * kMinuteUs));
    return StoreState(call.ctx, reg.txn, v, std::move(mr), next, written);
  });
}

http::Response Release(Call& call) {
  auto params = InputParameters(call);
  if (!params.ok()) return ErrorResponse(params.status(), call.format.pretty);
  auto pharmacy = PharmacyOf(call, *params);
  if (!pharmacy.ok()) return ErrorResponse(pharmacy.status(), call.format.pretty);
  const int64_t now = call.ctx.clock.NowUs();
  return Transition(call, [&](Registry& reg, const store::ResourceVersion& v, Value& mr,
                              const eresept::Prescription& p, auto& written) -> Status {
    GM_ASSIGN_OR_RETURN(auto next, eresept::Release(p, *pharmacy, now));
    return StoreState(call.ctx, reg.txn, v, std::move(mr), next, written);
  });
}

// The MedicationDispense a dispensing report stores.
Value DispenseRecord(const store::ResourceVersion& v, const Value& mr, const std::string& pharmacy,
                     const std::optional<double>& quantity, const std::string& unit, int64_t now) {
  Value md = Value::MakeObject();
  md.set("resourceType", Value("MedicationDispense"));
  md.set("status", Value("completed"));
  if (const Value* m = mr.find("medicationCodeableConcept")) md.set("medicationCodeableConcept", *m);
  if (const Value* m = mr.find("medicationReference")) md.set("medicationReference", *m);
  if (const Value* s = mr.find("subject")) md.set("subject", *s);
  Value performer = Value::MakeObject();
  Value actor = Value::MakeObject();
  Value ident = Value::MakeObject();
  ident.set("system", Value(no::systems::kOrgnr));
  ident.set("value", Value(pharmacy));
  actor.set("identifier", std::move(ident));
  actor.set("type", Value("Organization"));
  performer.set("actor", std::move(actor));
  md.set("performer", Value(json::Array{std::move(performer)}));
  Value auth = Value::MakeObject();
  auth.set("reference", Value("MedicationRequest/" + v.id));
  md.set("authorizingPrescription", Value(json::Array{std::move(auth)}));
  if (quantity) {
    Value q = Value::MakeObject();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", *quantity);
    q.set("value", Value::Number(buf));
    if (!unit.empty()) q.set("unit", Value(unit));
    md.set("quantity", std::move(q));
  }
  md.set("whenHandedOver", Value(time::FormatInstant(now)));
  return md;
}

http::Response Dispense(Call& call) {
  auto params = InputParameters(call);
  if (!params.ok()) return ErrorResponse(params.status(), call.format.pretty);
  auto pharmacy = PharmacyOf(call, *params);
  if (!pharmacy.ok()) return ErrorResponse(pharmacy.status(), call.format.pretty);
  std::optional<double> quantity = ParamNumber(*params, "quantity");
  bool final = ParamBool(*params, "final");
  const int64_t now = call.ctx.clock.NowUs();
  std::string dispense_id = call.ctx.new_id();
  return Transition(call, [&](Registry& reg, const store::ResourceVersion& v, Value& mr,
                              const eresept::Prescription& p, auto& written) -> Status {
    if (p.quantity_remaining && !quantity) {
      return Invalid("GM-ERX-017", "report the dispensed quantity (parameter 'quantity')",
                     "Parameters.parameter");
    }
    GM_ASSIGN_OR_RETURN(auto next, eresept::Dispense(p, {*pharmacy, quantity.value_or(0), final}, now));
    Value record = DispenseRecord(v, mr, *pharmacy, p.quantity_remaining ? quantity : std::nullopt,
                                  p.unit, now);
    GM_RETURN_IF_ERROR(StoreState(call.ctx, reg.txn, v, std::move(mr), next, written));
    GM_ASSIGN_OR_RETURN(auto r, DoCreate(call.ctx, reg.txn, std::move(record), dispense_id,
                                         WriteGuard::kEresept));
    written.emplace_back("dispense", r.version);
    return Status::Ok();
  });
}

http::Response Recall(Call& call) {
  auto params = InputParameters(call);
  if (!params.ok()) return ErrorResponse(params.status(), call.format.pretty);
  auto reason = eresept::ParseRecallReason(ParamText(*params, "reason"));
  if (!reason) {
    return ErrorResponse(Invalid("GM-ERX-028",
                                 "a recall gives its reason from kodeverk 7500 (1 Forny, 2 Forny "
                                 "med endring, 3 Seponering, 4 Annet)",
                                 "Parameters.parameter"),
                         call.format.pretty);
  }
  const int64_t now = call.ctx.clock.NowUs();
  return Transition(call, [&](Registry& reg, const store::ResourceVersion& v, Value& mr,
                              const eresept::Prescription& p, auto& written) -> Status {
    GM_RETURN_IF_ERROR(CheckPrescribingRequester(call, reg, mr));
    GM_ASSIGN_OR_RETURN(auto next, eresept::Recall(p, *reason, now));
    return StoreState(call.ctx, reg.txn, v, std::move(mr), next, written);
  });
}

http::Response Renew(Call& call) {
  auto params = InputParameters(call);
  if (!params.ok()) return ErrorResponse(params.status(), call.format.pretty);
  std::optional<Value> replacement;
  if (const Value* p = Param(*params, "prescription")) {
    const Value* r = p->find("resource");
    if (r == nullptr || r->get_string("resourceType") != "MedicationRequest") {
      return ErrorResponse(Invalid("GM-ERX-029", "parameter 'prescription' carries a MedicationRequest",
                                   "Parameters.parameter"),
                           call.format.pretty);
    }
    replacement = *r;
  }
  const int64_t now = call.ctx.clock.NowUs();
  std::string new_id = call.ctx.new_id();
  return Transition(call, [&](Registry& reg, const store::ResourceVersion& v, Value& mr,
                              const eresept::Prescription& p, auto& written) -> Status {
    GM_RETURN_IF_ERROR(CheckPrescribingRequester(call, reg, mr));
    // The new prescription: the given one, or a copy of the old with a fresh
    // validity period of the same length starting now.
    Value renewed = replacement ? *replacement : mr;
    renewed.erase("id");
    renewed.erase("meta");
    renewed.erase("statusReason");
    if (!replacement) {
      Value* dr = renewed.find("dispenseRequest");
      Value* vp = dr ? dr->find("validityPeriod") : nullptr;
      auto start = vp ? time::ParseFhirDateTime(vp->get_string("start")) : std::nullopt;
      auto end = vp ? time::ParseFhirDateTime(vp->get_string("end")) : std::nullopt;
      if (vp != nullptr && start && end && end->end_us > start->begin_us) {
        int64_t length = end->end_us - start->begin_us;
        std::string s = time::FormatInstant(now), e = time::FormatInstant(now + length);
        vp->set("start", Value(s.substr(0, 10)));
        vp->set("end", Value(e.substr(0, 10)));
      }
    }
    Value prior = Value::MakeObject();
    prior.set("reference", Value("MedicationRequest/" + v.id));
    renewed.set("priorPrescription", std::move(prior));
    renewed.set("authoredOn", Value(time::FormatInstant(now)));
    GM_RETURN_IF_ERROR(eresept::Prescribe(renewed, now));
    GM_RETURN_IF_ERROR(CheckPrescribingRequester(call, reg, renewed));
    GM_RETURN_IF_ERROR(CheckPatient(reg, renewed));
    if (renewed.get_string("subject") != mr.get_string("subject") &&
        LocalId(renewed.find("subject"), "Patient") != LocalId(mr.find("subject"), "Patient")) {
      return Invalid("GM-ERX-029", "a renewal is for the same patient", "MedicationRequest.subject");
    }
    auto reason = replacement ? eresept::RecallReason::kRenewWithChange : eresept::RecallReason::kRenew;
    GM_ASSIGN_OR_RETURN(auto next, eresept::Recall(p, reason, now));
    GM_RETURN_IF_ERROR(StoreState(call.ctx, reg.txn, v, std::move(mr), next, written));
    GM_ASSIGN_OR_RETURN(auto r, DoCreate(call.ctx, reg.txn, std::move(renewed), new_id,
                                         WriteGuard::kEresept));
    written.emplace_back("renewed", r.version);
    return Status::Ok();
  });
}

// A pharmacy's list of a patient's prescriptions: E and U by default, all
// (also R, T and F) with all=true; each with its status as of now (a lapsed
// lock shows E, an ended validity F).
http::Response Dispensable(Call& call) {
  auto params = InputParameters(call);
  if (!params.ok()) return ErrorResponse(params.status(), call.format.pretty);
  std::string person = ParamText(*params, "patient");
  bool all = ParamBool(*params, "all");
  if (person.empty()) {
    return ErrorResponse(Invalid("GM-ERX-022", "name the patient (parameter 'patient': FNR or D-nummer)",
                                 "Parameters.parameter"),
                         call.format.pretty);
  }
  const int64_t now = call.ctx.clock.NowUs();
  std::vector<Value> found;
  Status st = [&]() -> Status {
    std::string patient_id;
    for (std::string_view system : {no::systems::kFnr, no::systems::kDnr}) {
      GM_ASSIGN_OR_RETURN(auto page, ReadMatches(call.ctx, "Patient",
                                                 "identifier=" + std::string(system) + "|" + person, 2));
      if (page.resources.size() == 1) patient_id = page.resources.front().id;
    }
    if (patient_id.empty()) return Status::Ok();  // nobody: an empty list, like a search
    if (!call.patient_scope.empty() &&
        std::find(call.patient_scope.begin(), call.patient_scope.end(), patient_id) ==
            call.patient_scope.end()) {
      return Status::Ok();
    }
    GM_ASSIGN_OR_RETURN(auto page, ReadMatches(call.ctx, "MedicationRequest",
                                               "subject=Patient/" + patient_id, kMaxListed));
    for (const store::ResourceVersion& v : page.resources) {
      auto mr = json::Parse(v.json);
      if (!mr.ok()) return mr.status();
      auto p = eresept::Read(*mr);
      if (!p.ok()) continue;  // not an e-prescription
      eresept::Prescription shown = *p;
      shown.status = eresept::EffectiveStatus(*p, now);
      if (!all && shown.status != eresept::Status7408::kE && shown.status != eresept::Status7408::kU) continue;
      if (shown.status != p->status) eresept::Write(shown, *mr);
      found.push_back(std::move(*mr));
    }
    return Status::Ok();
  }();
  if (!st.ok()) return ErrorResponse(st, call.format.pretty);
  BundleWriter bundle("searchset", call.format);
  bundle.SetTotal(static_cast<int64_t>(found.size()));
  for (const Value& mr : found) {
    std::string text = json::Write(mr);
    bundle.AddEntry(call.ctx.options.base_url + "/MedicationRequest/" + std::string(mr.get_string("id")),
                    text, nullptr, nullptr, nullptr);
  }
  http::Response r;
  r.status = 200;
  r.SetHeader("Content-Type", "application/fhir+json; charset=utf-8");
  r.body = bundle.Finish();
  return r;
}

// ---- PLL: the patient's medication list ------------------------------------
//
// One List per patient (code kPllSystem|PLL, subject the Patient), versioned
// by the store. Reading it through $medication-list answers with the list
// and a read receipt (header X-PLL-Receipt): the list's id and version, the
// reader's HPR number and the time, sealed by the server (the same AES-GCM
// sealing as page tokens, so it is tamper-proof and works on any node that
// shares the data key). A change ($medication-list-update) must carry a
// receipt of the current version, read by the same doctor within the last
// 4 hours (eresept::CheckPllChange); only doctors (an active HPR
// authorisation as lege, LE) change the list. Ordinary writes of a PLL List
// are refused (GM-ERX-040).

using eresept::kPllSystem;
constexpr const char* kReceiptPath = "pll-receipt";

// Makes `list` the patient's PLL: its code and subject (whatever the sender wrote).
void MarkAsPll(Value& list, const std::string& patient_id) {
  Value coding = Value::MakeObject();
  coding.set("system", Value(kPllSystem));
  coding.set("code", Value("PLL"));
  coding.set("display", Value("Pasientens legemiddelliste"));
  Value code = Value::MakeObject();
  code.set("coding", Value(json::Array{std::move(coding)}));
  list.set("code", std::move(code));
  Value subject = Value::MakeObject();
  subject.set("reference", Value("Patient/" + patient_id));
  list.set("subject", std::move(subject));
}

std::string PatientCriteria(const std::string& patient_id) {
  return "subject=Patient/" + patient_id + "&code=" + std::string(kPllSystem) + "|PLL";
}

// Is the principal a doctor in HPR (active LE authorisation)? Returns the HPR number.
Result<std::string> DoctorHpr(const Call& call, Registry& reg) {
  if (call.principal == nullptr || call.principal->hpr_number.empty()) {
    return Forbidden("GM-ERX-034", "only doctors change the medication list (the token names no "
                                   "health personnel)");
  }
  GM_ASSIGN_OR_RETURN(auto practitioner,
                      reg.ByIdentifier("Practitioner", no::systems::kHpr, call.principal->hpr_number));
  bool doctor = false;
  if (practitioner) {
    for (const auto& a : no::HprAuthorisations(*practitioner)) {
      doctor = doctor || (a.code == "LE" && a.status == "active");
    }
  }
  if (!doctor) {
    return Forbidden("GM-ERX-034", "only doctors with an active authorisation change the "
                                   "medication list");
  }
  return call.principal->hpr_number;
}

http::Response MedicationList(Call& call) {
  const std::string& patient_id = call.target.id;
  if (!call.patient_scope.empty() &&
      std::find(call.patient_scope.begin(), call.patient_scope.end(), patient_id) ==
          call.patient_scope.end()) {
    return ErrorResponse(Status::Error(ErrorCategory::kNotFound, "GM-REST-040", "not-found",
                                       "resource not found"),
                         call.format.pretty);
  }
  auto patient = call.ctx.store.Read("Patient", patient_id);
  if (!patient.ok()) return ErrorResponse(patient.status(), call.format.pretty);
  if (!patient->has_value() || (*patient)->deleted) {
    return ErrorResponse(Status::Error(ErrorCategory::kNotFound, "GM-REST-040", "not-found",
                                       "resource not found"),
                         call.format.pretty);
  }
  auto page = ReadMatches(call.ctx, "List", PatientCriteria(patient_id), 2);
  if (!page.ok()) return ErrorResponse(page.status(), call.format.pretty);
  http::Response r;
  std::string list_id;
  int64_t version = 0;
  if (page->resources.empty()) {
    // No list yet: an empty one (version 0) the first change creates.
    Value empty = Value::MakeObject();
    empty.set("resourceType", Value("List"));
    empty.set("status", Value("current"));
    empty.set("mode", Value("working"));
    MarkAsPll(empty, patient_id);
    r.status = 200;
    r.SetHeader("Content-Type", "application/fhir+json; charset=utf-8");
    r.body = RenderJson(empty, call.format);
  } else {
    const store::ResourceVersion& v = page->resources.front();
    list_id = v.id;
    version = v.version;
    r = ResourceResponse(call.ctx, call.format, v);
  }
  if (call.principal != nullptr && !call.principal->hpr_number.empty() && call.ctx.page_tokens) {
    search::PageState receipt;
    receipt.path = kReceiptPath;
    receipt.params = {{"patient", patient_id},
                      {"list", list_id},
                      {"version", std::to_string(version)},
                      {"hpr", call.principal->hpr_number},
                      {"at", std::to_string(call.ctx.clock.NowUs())}};
    r.SetHeader("X-PLL-Receipt", call.ctx.page_tokens->Seal(receipt));
  }
  return r;
}

http::Response MedicationListUpdate(Call& call) {
  const std::string& patient_id = call.target.id;
  if (auto kind = ClassifyBody(call.req, false, false); !kind.ok()) {
    return ErrorResponse(kind.status(), call.format.pretty);
  }
  auto list = ParseResource(call.ctx, call.req.body, "List");
  if (!list.ok()) return ErrorResponse(list.status(), call.format.pretty);
  if (call.ctx.page_tokens == nullptr) {
    return ErrorResponse(Status::Error(ErrorCategory::kUnavailable, "GM-ERX-035", "exception",
                                       "this server cannot check medication-list read receipts"),
                         call.format.pretty);
  }
  std::string_view header = call.req.Header("x-pll-receipt");
  auto receipt = call.ctx.page_tokens->Unseal(header);
  auto get = [&](const std::string& key) -> std::string {
    if (!receipt.ok()) return {};
    for (const auto& [k, v] : receipt->params) {
      if (k == key) return v;
    }
    return {};
  };
  if (header.empty() || !receipt.ok() || receipt->path != kReceiptPath || get("patient") != patient_id) {
    return ErrorResponse(Invalid("GM-ERX-030",
                                 "a change to the medication list carries the read receipt "
                                 "(X-PLL-Receipt) of the version the sender read"),
                         call.format.pretty);
  }
  const std::string version_text = get("version");
  const int64_t read_version = version_text.empty() ? -1 : std::strtoll(version_text.c_str(), nullptr, 10);
  const int64_t read_at = std::strtoll(get("at").c_str(), nullptr, 10);
  const int64_t now = call.ctx.clock.NowUs();
  std::string new_id = call.ctx.new_id();
  std::vector<std::pair<std::string, store::ResourceVersion>> written;
  Status st = call.ctx.store.Write([&](store::Txn& txn) -> Status {
    written.clear();
    Registry reg{call.ctx, txn};
    GM_ASSIGN_OR_RETURN(std::string hpr, DoctorHpr(call, reg));
    if (hpr != get("hpr")) {
      return Forbidden("GM-ERX-036", "the read receipt belongs to another reader");
    }
    GM_ASSIGN_OR_RETURN(auto patient, reg.Current("Patient", patient_id));
    if (!patient) {
      return Status::Error(ErrorCategory::kNotFound, "GM-REST-040", "not-found", "resource not found");
    }
    auto ids = MatchCriteria(call.ctx, txn, "List", PatientCriteria(patient_id), 2);
    if (!ids.ok()) return ids.status();
    std::string id = ids->empty() ? new_id : ids->front();
    int64_t current_version = 0;
    if (!ids->empty()) {
      auto cur = txn.Current("List", id);
      if (!cur.ok()) return cur.status();
      current_version = *cur ? (*cur)->version : 0;
    }
    if (get("list") != (ids->empty() ? std::string() : id)) {
      return Status::Error(ErrorCategory::kConflict, "GM-ERX-031", "conflict",
                           "the medication list has changed since it was read; read it again");
    }
    // Version 0 is "no list yet": the first change creates it.
    GM_RETURN_IF_ERROR(eresept::CheckPllChange(current_version, read_version, read_at, now));
    Value body = *list;
    body.set("id", Value(id));
    body.erase("meta");
    MarkAsPll(body, patient_id);
    GM_ASSIGN_OR_RETURN(auto r, DoUpdate(call.ctx, txn, "List", id, std::move(body),
                                         current_version == 0 ? std::nullopt : std::optional<int64_t>(current_version),
                                         WriteGuard::kEresept));
    written.emplace_back("list", r.version);
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st, call.format.pretty);
  AfterWrites(call.ctx, written);
  return WriteResponse(call.ctx, call.format, call.prefer, written.front().second,
                       written.front().second.version == 1 ? 201 : 200);
}

}  // namespace

bool IsEreseptOperation(const Target& target) {
  if (target.type == "Patient" && target.route == Route::kInstanceOperation) {
    return target.operation == "medication-list" || target.operation == "medication-list-update";
  }
  if (target.type != "MedicationRequest") return false;
  const std::string& op = target.operation;
  if (target.route == Route::kTypeOperation) return op == "prescribe" || op == "dispensable";
  if (target.route == Route::kInstanceOperation) {
    return op == "lock" || op == "release" || op == "dispense" || op == "recall" || op == "renew";
  }
  return false;
}

http::Response HandleEreseptOperation(Call& call) {
  if (call.target.operation == "medication-list" &&
      (call.req.method == "GET" || call.req.method == "HEAD" || call.req.method == "POST")) {
    return MedicationList(call);
  }
  if (call.req.method != "POST") {
    return ErrorResponse(Status::Error(ErrorCategory::kMethodNotAllowed, "GM-REST-004", "not-supported",
                                       "e-resept operations are invoked with POST"),
                         call.format.pretty);
  }
  const std::string& op = call.target.operation;
  if (op == "medication-list-update") return MedicationListUpdate(call);
  if (op == "prescribe") return Prescribe(call);
  if (op == "dispensable") return Dispensable(call);
  if (op == "lock") return Lock(call);
  if (op == "release") return Release(call);
  if (op == "dispense") return Dispense(call);
  if (op == "recall") return Recall(call);
  return Renew(call);
}

}  // namespace gm::rest
