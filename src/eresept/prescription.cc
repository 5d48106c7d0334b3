#include "eresept/prescription.h"

#include <cmath>
#include <cstdlib>
#include <string_view>

#include "core/time.h"

namespace gm::eresept {

namespace {

using json::Value;

// A dispensed quantity is compared with what remains with this tolerance, so
// that 0.1 + 0.2 tablets of a liquid do not fail on rounding.
constexpr double kQuantityEpsilon = 1e-9;

std::string Url(std::string_view name) { return std::string(kExtensionBase) + std::string(name); }

Status Unreadable(std::string code, std::string text, std::string expression) {
  return Status::Error(ErrorCategory::kUnprocessable, std::move(code), "invalid", std::move(text),
                       std::move(expression));
}

Status Conflict(std::string code, std::string text) {
  return Status::Error(ErrorCategory::kConflict, std::move(code), "conflict", std::move(text));
}

const Value* FindExtension(const Value& parent, std::string_view url) {
  const Value* exts = parent.find("extension");
  if (exts == nullptr || !exts->is_array()) return nullptr;
  for (const Value& e : exts->array()) {
    if (e.is_object() && e.get_string("url") == url) return &e;
  }
  return nullptr;
}

std::optional<int64_t> Integer(const Value* v) {
  if (v == nullptr || !v->is_number()) return std::nullopt;
  char* end = nullptr;
  long long n = std::strtoll(v->str().c_str(), &end, 10);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return n;
}

std::optional<double> Decimal(const Value* v) {
  if (v == nullptr || !v->is_number()) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(v->str().c_str(), &end);
  if (end == nullptr || *end != '\0' || !std::isfinite(d)) return std::nullopt;
  return d;
}

// A decimal as FHIR JSON writes it: no exponent, no trailing zeros.
Value DecimalValue(double d) {
  if (std::fabs(d) < kQuantityEpsilon) d = 0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", d);
  std::string s(buf);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return Value::Number(s);
}

std::optional<int64_t> DateTimeBegin(std::string_view text) {
  auto r = time::ParseFhirDateTime(text);
  if (!r) return std::nullopt;
  return r->begin_us;
}

const char* RecallDisplay(RecallReason r) {
  switch (r) {
    case RecallReason::kRenew: return "Forny";
    case RecallReason::kRenewWithChange: return "Forny med endring";
    case RecallReason::kDiscontinue: return "Seponering";
    case RecallReason::kOther: return "Annet";
  }
  return "Annet";
}

const char* StatusDisplay(Status7408 s) {
  switch (s) {
    case Status7408::kE: return "Ekspederbar";
    case Status7408::kU: return "Under ekspedering";
    case Status7408::kR: return "Avsluttet";
    case Status7408::kT: return "Tilbakekalt";
    case Status7408::kF: return "Foreldet";
  }
  return "";
}

// Why a prescription in a final state cannot take a transition.
Status RefuseFinal(Status7408 s) {
  switch (s) {
    case Status7408::kF:
      return Conflict("GM-ERX-010", "the prescription has expired (7408 F): its validity period has ended");
    case Status7408::kR:
      return Conflict("GM-ERX-011", "the prescription is completed (7408 R): nothing remains to dispense");
    case Status7408::kT:
      return Conflict("GM-ERX-012", "the prescription has been recalled by the prescriber (7408 T)");
    default:
      return Status::Ok();
  }
}

// p without its lock (member by member: copying p and then resetting the
// optional trips a false -Wmaybe-uninitialized in g++ 12).
Prescription Unlocked(const Prescription& p, Status7408 status) {
  Prescription next;
  next.status = status;
  next.dispenses_remaining = p.dispenses_remaining;
  next.quantity_remaining = p.quantity_remaining;
  next.unit = p.unit;
  next.validity_end_us = p.validity_end_us;
  next.dispensed_any = p.dispensed_any;
  next.recalled_under_dispensing = p.recalled_under_dispensing;
  next.recall_reason = p.recall_reason;
  return next;
}

bool IsFinal(Status7408 s) {
  return s == Status7408::kF || s == Status7408::kR || s == Status7408::kT;
}

}  // namespace

const char* Code(Status7408 s) {
  switch (s) {
    case Status7408::kE: return "E";
    case Status7408::kU: return "U";
    case Status7408::kR: return "R";
    case Status7408::kT: return "T";
    case Status7408::kF: return "F";
  }
  return "E";
}

std::optional<Status7408> ParseStatus7408(std::string_view code) {
  if (code == "E") return Status7408::kE;
  if (code == "U") return Status7408::kU;
  if (code == "R") return Status7408::kR;
  if (code == "T") return Status7408::kT;
  if (code == "F") return Status7408::kF;
  return std::nullopt;
}

std::optional<RecallReason> ParseRecallReason(std::string_view code) {
  if (code == "1") return RecallReason::kRenew;
  if (code == "2") return RecallReason::kRenewWithChange;
  if (code == "3") return RecallReason::kDiscontinue;
  if (code == "4") return RecallReason::kOther;
  return std::nullopt;
}

Result<Prescription> Read(const Value& mr) {
  if (!mr.is_object() || mr.get_string("resourceType") != "MedicationRequest") {
    return Unreadable("GM-ERX-001", "not a MedicationRequest", "");
  }
  Prescription p;
  const Value* status = FindExtension(mr, Url("reseptstatus"));
  const Value* coding = status ? status->find("valueCoding") : nullptr;
  auto s = coding ? ParseStatus7408(coding->get_string("code")) : std::nullopt;
  if (!s || coding->get_string("system") != kStatusSystem) {
    return Unreadable("GM-ERX-002",
                      "the MedicationRequest carries no national prescription status (7408); it "
                      "was not created as a prescription",
                      "MedicationRequest.extension");
  }
  p.status = *s;

  const Value* remaining = FindExtension(mr, Url("remaining"));
  auto dispenses = remaining ? Integer(FindExtension(*remaining, "dispenses") != nullptr
                                           ? FindExtension(*remaining, "dispenses")->find("valueInteger")
                                           : nullptr)
                             : std::nullopt;
  if (!dispenses || *dispenses < 0) {
    return Unreadable("GM-ERX-003", "the prescription's remaining dispensings are missing",
                      "MedicationRequest.extension");
  }
  p.dispenses_remaining = *dispenses;
  if (const Value* q = FindExtension(*remaining, "quantity")) {
    const Value* vq = q->find("valueQuantity");
    auto value = vq ? Decimal(vq->find("value")) : std::nullopt;
    if (!value || *value < 0) {
      return Unreadable("GM-ERX-003", "the prescription's remaining quantity is malformed",
                        "MedicationRequest.extension");
    }
    p.quantity_remaining = *value;
    p.unit = std::string(vq->get_string("code").empty() ? vq->get_string("unit") : vq->get_string("code"));
  }

  if (const Value* lock = FindExtension(mr, Url("dispensing-lock"))) {
    Lock l;
    const Value* ph = FindExtension(*lock, "pharmacy");
    const Value* id = ph ? ph->find("valueIdentifier") : nullptr;
    const Value* locked = FindExtension(*lock, "locked");
    const Value* expires = FindExtension(*lock, "expires");
    auto lu = locked ? DateTimeBegin(locked->get_string("valueDateTime")) : std::nullopt;
    auto eu = expires ? DateTimeBegin(expires->get_string("valueDateTime")) : std::nullopt;
    if (id == nullptr || id->get_string("value").empty() || !lu || !eu) {
      return Unreadable("GM-ERX-004", "the prescription's dispensing lock is malformed",
                        "MedicationRequest.extension");
    }
    l.pharmacy = std::string(id->get_string("value"));
    l.locked_us = *lu;
    l.expires_us = *eu;
    p.lock = std::move(l);
  }
  if (const Value* flag = FindExtension(mr, Url("recalled-under-dispensing"))) {
    const Value* b = flag->find("valueBoolean");
    p.recalled_under_dispensing = b != nullptr && b->is_bool() && b->as_bool();
  }
  if (const Value* reason = mr.find("statusReason")) {
    if (const Value* codings = reason->find("coding"); codings && codings->is_array()) {
      for (const Value& c : codings->array()) {
        if (c.get_string("system") == kRecallReasonSystem) {
          p.recall_reason = ParseRecallReason(c.get_string("code"));
        }
      }
    }
  }
  const Value* dr = mr.find("dispenseRequest");
  if (dr != nullptr) {
    if (const Value* vp = dr->find("validityPeriod")) {
      if (auto end = time::ParseFhirDateTime(vp->get_string("end"))) p.validity_end_us = end->end_us;
    }
    int64_t initial = Integer(dr->find("numberOfRepeatsAllowed")).value_or(0) + 1;
    p.dispensed_any = p.dispenses_remaining < initial;
  }
  return p;
}

Status7408 EffectiveStatus(const Prescription& p, int64_t now_us) {
  if (p.status == Status7408::kR || p.status == Status7408::kT || p.status == Status7408::kF) {
    return p.status;
  }
  if (p.validity_end_us != 0 && now_us >= p.validity_end_us) return Status7408::kF;
  if (p.status == Status7408::kU && (!p.lock || now_us >= p.lock->expires_us)) return Status7408::kE;
  return p.status;
}

Status Prescribe(Value& mr, int64_t now_us) {
  if (!mr.is_object() || mr.get_string("resourceType") != "MedicationRequest") {
    return Unreadable("GM-ERX-001", "a prescription is a MedicationRequest", "");
  }
  if (mr.get_string("intent") != "order") {
    return Unreadable("GM-ERX-005", "a prescription has intent 'order'", "MedicationRequest.intent");
  }
  const Value* subject = mr.find("subject");
  if (subject == nullptr || subject->get_string("reference").empty()) {
    return Unreadable("GM-ERX-006", "a prescription names its patient (subject)", "MedicationRequest.subject");
  }
  const Value* requester = mr.find("requester");
  if (requester == nullptr || requester->get_string("reference").empty()) {
    return Unreadable("GM-ERX-007", "a prescription names its prescriber (requester)",
                      "MedicationRequest.requester");
  }
  if (mr.find("medicationCodeableConcept") == nullptr && mr.find("medicationReference") == nullptr) {
    return Unreadable("GM-ERX-008", "a prescription names the medication", "MedicationRequest.medication[x]");
  }
  const Value* dr = mr.find("dispenseRequest");
  const Value* vp = dr ? dr->find("validityPeriod") : nullptr;
  auto end = vp ? time::ParseFhirDateTime(vp->get_string("end")) : std::nullopt;
  if (!end) {
    return Unreadable("GM-ERX-009", "a prescription has a validity period with an end",
                      "MedicationRequest.dispenseRequest.validityPeriod.end");
  }
  if (end->end_us <= now_us) {
    return Unreadable("GM-ERX-009", "the validity period has already ended",
                      "MedicationRequest.dispenseRequest.validityPeriod.end");
  }
  int64_t repeats = 0;
  if (const Value* r = dr->find("numberOfRepeatsAllowed")) {
    auto n = Integer(r);
    if (!n || *n < 0 || *n > 99) {
      return Unreadable("GM-ERX-009", "numberOfRepeatsAllowed must be between 0 and 99",
                        "MedicationRequest.dispenseRequest.numberOfRepeatsAllowed");
    }
    repeats = *n;
  }
  Prescription p;
  p.status = Status7408::kE;
  p.dispenses_remaining = repeats + 1;
  p.validity_end_us = end->end_us;
  if (const Value* q = dr->find("quantity")) {
    auto value = Decimal(q->find("value"));
    if (!value || *value <= 0) {
      return Unreadable("GM-ERX-009", "the quantity to dispense must be positive",
                        "MedicationRequest.dispenseRequest.quantity.value");
    }
    // dispenseRequest.quantity is the amount of one dispensing.
    p.quantity_remaining = *value * static_cast<double>(p.dispenses_remaining);
    p.unit = std::string(q->get_string("code").empty() ? q->get_string("unit") : q->get_string("code"));
  }
  // Whatever the sender put in our own extensions or statusReason is replaced.
  mr.erase("statusReason");
  Write(p, mr);
  return Status::Ok();
}

Status CheckPrescriber(const PrescriberFacts& facts) {
  if (!facts.authorisation_active) {
    return Status::Error(ErrorCategory::kForbidden, "GM-ERX-020", "forbidden",
                         "the prescriber has no active authorisation in the health personnel "
                         "register (HPR)");
  }
  if (!facts.prescribing_rights) {
    return Status::Error(ErrorCategory::kForbidden, "GM-ERX-021", "forbidden",
                         "the prescriber's HPR authorisation carries no prescribing rights");
  }
  return Status::Ok();
}

Result<Prescription> LockFor(const Prescription& p, const std::string& pharmacy, int64_t now_us,
                             int64_t ttl_us) {
  if (pharmacy.empty() || ttl_us <= 0) {
    return Status::Error(ErrorCategory::kInvalid, "GM-ERX-022", "invalid",
                         "a lock needs the pharmacy's organisation number and a positive duration");
  }
  Status7408 eff = EffectiveStatus(p, now_us);
  if (IsFinal(eff)) return RefuseFinal(eff);
  if (eff == Status7408::kU && p.lock->pharmacy != pharmacy) {
    return Conflict("GM-ERX-013", "the prescription is locked for dispensing by another pharmacy");
  }
  Prescription next = p;
  next.status = Status7408::kU;
  // Locking again (same pharmacy) extends the lock from now.
  int64_t since = eff == Status7408::kU ? p.lock->locked_us : now_us;
  next.lock.emplace(Lock{pharmacy, since, now_us + ttl_us});
  return next;
}

Result<Prescription> Release(const Prescription& p, const std::string& pharmacy, int64_t now_us) {
  Status7408 eff = EffectiveStatus(p, now_us);
  if (IsFinal(eff)) return RefuseFinal(eff);
  if (eff != Status7408::kU) {
    return Conflict("GM-ERX-015", "the prescription is not locked for dispensing");
  }
  if (p.lock->pharmacy != pharmacy) {
    return Conflict("GM-ERX-013", "the prescription is locked for dispensing by another pharmacy");
  }
  return Unlocked(p, Status7408::kE);
}

Result<Prescription> Dispense(const Prescription& p, const Dispensing& d, int64_t now_us) {
  Status7408 eff = EffectiveStatus(p, now_us);
  if (IsFinal(eff)) return RefuseFinal(eff);
  if (eff == Status7408::kE) {
    return Conflict("GM-ERX-016",
                    "the prescription must be locked by the dispensing pharmacy first (or its "
                    "lock has lapsed)");
  }
  if (p.lock->pharmacy != d.pharmacy) {
    return Conflict("GM-ERX-013", "the prescription is locked for dispensing by another pharmacy");
  }
  if (p.dispenses_remaining <= 0) {
    return Conflict("GM-ERX-011", "no dispensings remain on the prescription");
  }
  Prescription next = Unlocked(p, p.status);
  if (p.quantity_remaining) {
    if (!(d.quantity > 0) || !std::isfinite(d.quantity)) {
      return Status::Error(ErrorCategory::kInvalid, "GM-ERX-017", "invalid",
                           "a dispensing reports a positive quantity");
    }
    if (d.quantity > *p.quantity_remaining + kQuantityEpsilon) {
      return Conflict("GM-ERX-018", "the dispensed quantity is more than remains on the prescription");
    }
    next.quantity_remaining = *p.quantity_remaining - d.quantity;
  }
  next.dispenses_remaining = p.dispenses_remaining - 1;
  next.dispensed_any = true;
  bool done = d.final || next.dispenses_remaining == 0 ||
              (next.quantity_remaining && *next.quantity_remaining <= kQuantityEpsilon);
  next.status = done ? Status7408::kR : Status7408::kE;
  return next;
}

Result<Prescription> Recall(const Prescription& p, RecallReason reason, int64_t now_us) {
  Status7408 eff = EffectiveStatus(p, now_us);
  if (IsFinal(eff)) return RefuseFinal(eff);
  // A recall under dispensing keeps the lock on record so the pharmacy
  // holding it can be told.
  Prescription next = eff == Status7408::kU ? p : Unlocked(p, p.status);
  next.status = Status7408::kT;
  next.recall_reason = reason;
  next.recalled_under_dispensing = eff == Status7408::kU;
  return next;
}

void Write(const Prescription& p, Value& mr) {
  // FHIR status beside the national one.
  const char* fhir = "active";
  switch (p.status) {
    case Status7408::kE:
    case Status7408::kU: fhir = "active"; break;
    case Status7408::kR: fhir = "completed"; break;
    case Status7408::kT: fhir = p.dispensed_any ? "stopped" : "cancelled"; break;
    case Status7408::kF: fhir = "stopped"; break;
  }
  mr.set("status", Value(fhir));
  if (p.status == Status7408::kT && p.recall_reason) {
    Value coding = Value::MakeObject();
    coding.set("system", Value(kRecallReasonSystem));
    coding.set("code", Value(std::to_string(static_cast<int>(*p.recall_reason))));
    coding.set("display", Value(RecallDisplay(*p.recall_reason)));
    Value reason = Value::MakeObject();
    reason.set("coding", Value(json::Array{std::move(coding)}));
    mr.set("statusReason", std::move(reason));
  } else if (p.status == Status7408::kF) {
    Value reason = Value::MakeObject();
    reason.set("text", Value("Foreldet: the validity period has ended"));
    mr.set("statusReason", std::move(reason));
  }

  // Our extensions are rewritten; anybody else's are kept in order.
  Value kept = Value::MakeArray();
  if (const Value* exts = mr.find("extension"); exts && exts->is_array()) {
    for (const Value& e : exts->array()) {
      std::string_view url = e.is_object() ? e.get_string("url") : std::string_view();
      if (url == Url("reseptstatus") || url == Url("remaining") || url == Url("dispensing-lock") ||
          url == Url("recalled-under-dispensing")) {
        continue;
      }
      kept.push_back(e);
    }
  }
  auto simple = [](const char* url, const char* key, Value v) {
    Value e = Value::MakeObject();
    e.set("url", Value(url));
    e.set(key, std::move(v));
    return e;
  };
  {
    Value coding = Value::MakeObject();
    coding.set("system", Value(kStatusSystem));
    coding.set("code", Value(Code(p.status)));
    coding.set("display", Value(StatusDisplay(p.status)));
    kept.push_back(simple(Url("reseptstatus").c_str(), "valueCoding", std::move(coding)));
  }
  {
    Value parts = Value::MakeArray();
    parts.push_back(simple("dispenses", "valueInteger", Value(p.dispenses_remaining)));
    if (p.quantity_remaining) {
      Value q = Value::MakeObject();
      q.set("value", DecimalValue(*p.quantity_remaining));
      if (!p.unit.empty()) q.set("unit", Value(p.unit));
      parts.push_back(simple("quantity", "valueQuantity", std::move(q)));
    }
    Value e = Value::MakeObject();
    e.set("url", Value(Url("remaining")));
    e.set("extension", std::move(parts));
    kept.push_back(std::move(e));
  }
  if (p.lock && (p.status == Status7408::kU || p.recalled_under_dispensing)) {
    Value id = Value::MakeObject();
    id.set("system", Value("urn:oid:2.16.578.1.12.4.1.4.101"));
    id.set("value", Value(p.lock->pharmacy));
    Value parts = Value::MakeArray();
    parts.push_back(simple("pharmacy", "valueIdentifier", std::move(id)));
    parts.push_back(simple("locked", "valueDateTime", Value(time::FormatInstant(p.lock->locked_us))));
    parts.push_back(simple("expires", "valueDateTime", Value(time::FormatInstant(p.lock->expires_us))));
    Value e = Value::MakeObject();
    e.set("url", Value(Url("dispensing-lock")));
    e.set("extension", std::move(parts));
    kept.push_back(std::move(e));
  }
  if (p.recalled_under_dispensing) {
    kept.push_back(simple(Url("recalled-under-dispensing").c_str(), "valueBoolean", Value(true)));
  }
  mr.set("extension", std::move(kept));
}

bool IsPll(const Value& list) {
  if (!list.is_object() || list.get_string("resourceType") != "List") return false;
  const Value* code = list.find("code");
  const Value* codings = code ? code->find("coding") : nullptr;
  if (codings == nullptr || !codings->is_array()) return false;
  for (const Value& c : codings->array()) {
    if (c.get_string("system") == kPllSystem && c.get_string("code") == "PLL") return true;
  }
  return false;
}

Status CheckPllChange(int64_t current_version, int64_t read_version, int64_t read_at_us,
                      int64_t now_us) {
  if (read_version < 0 || read_at_us <= 0) {
    return Status::Error(ErrorCategory::kInvalid, "GM-ERX-030", "required",
                         "a change to the medication list states which version the sender read "
                         "and when");
  }
  if (read_version != current_version) {
    return Status::Error(ErrorCategory::kConflict, "GM-ERX-031", "conflict",
                         "the medication list has changed since version " +
                             std::to_string(read_version) + " was read (current version " +
                             std::to_string(current_version) + "); read it again");
  }
  if (read_at_us > now_us + 5 * 1000000) {
    return Status::Error(ErrorCategory::kInvalid, "GM-ERX-032", "invalid",
                         "the stated read time of the medication list is in the future");
  }
  if (now_us - read_at_us > kPllReadWindowUs) {
    return Status::Error(ErrorCategory::kConflict, "GM-ERX-033", "conflict",
                         "the medication list was read more than 4 hours ago; read it again "
                         "before changing it");
  }
  return Status::Ok();
}

}  // namespace gm::eresept
