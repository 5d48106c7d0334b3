// Pasientens prøvesvar access rules: see provesvar_access.h and
// docs/svarrapport-mapping.md ("Access rules").
#include "rest/provesvar_access.h"

#include <algorithm>

#include "core/time.h"
#include "no/identifiers.h"
#include "rest/outcome.h"

namespace gm::rest {

namespace {

constexpr std::string_view kTypes[] = {"DiagnosticReport", "Observation", "Specimen",
                                       "ServiceRequest"};

bool HasLabel(const json::Value& r, std::string_view code) {
  const json::Value* meta = r.find("meta");
  const json::Value* sec = meta ? meta->find("security") : nullptr;
  if (sec == nullptr || !sec->is_array()) return false;
  for (const auto& c : sec->array()) {
    if (c.get_string("system") == kLabelSystem9603 && c.get_string("code") == code) return true;
  }
  return false;
}

// The release clock of a result (microseconds), or nullopt.
std::optional<int64_t> ReleaseClock(std::string_view type, const json::Value& r) {
  std::string_view when = type == "Specimen"         ? r.get_string("receivedTime")
                          : type == "ServiceRequest" ? r.get_string("authoredOn")
                                                     : r.get_string("issued");
  if (when.empty()) return std::nullopt;
  auto range = time::ParseFhirDateTime(when);
  if (!range) return std::nullopt;
  return range->begin_us;
}

Status BadRequest(const std::string& code, const std::string& text) {
  return Status::Error(ErrorCategory::kInvalid, code, "invalid", text);
}

// Form-body parameters that name the patient by identity.
bool IsIdentityParam(std::string_view name) {
  return name == "patient.identifier" || name == "subject.identifier" ||
         name == "patient:identifier" || name == "subject:identifier" ||
         name == "subject:Patient.identifier";
}

// "system|value" or "value" → value.
std::string IdentityValue(std::string_view v) {
  size_t bar = v.find('|');
  return std::string(bar == std::string_view::npos ? v : v.substr(bar + 1));
}

Result<std::vector<std::string>> PatientsWithPid(const Context& ctx, const std::string& pid) {
  store::Query q;
  q.type = "Patient";
  q.limit = 10;
  store::Clause id;
  id.op = store::Clause::Op::kTokenEq;
  id.param = "identifier";
  for (std::string_view system : {no::systems::kFnr, no::systems::kDnr}) {
    id.any_of.push_back(
        store::Clause::Value{.system = std::string(system), .system_given = true, .code = pid});
  }
  q.clauses.push_back(std::move(id));
  GM_ASSIGN_OR_RETURN(store::QueryPage page, ctx.store.Search(q));
  std::vector<std::string> ids;
  for (const auto& v : page.resources) ids.push_back(v.id);
  return ids;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Whether the patients have a result of the searched kind(s) ("*": all four)
// labelled so that it may be hidden from this viewer (errors and an unknown
// scope count as yes).
bool MayHaveHidden(const Context& ctx, const ResultViewer& viewer, const std::string& searched,
                   const std::vector<std::string>& patients) {
  std::string label;
  if (viewer.mode == AccessMode::kPatient) label = "NORU";
  else if (viewer.mode == AccessMode::kUser && !viewer.opens_restricted) label = "NORS";
  if (label.empty()) return false;
  if (patients.empty()) return true;
  for (std::string_view type : kTypes) {
    if (searched != "*" && searched != type) continue;
    store::Query q;
    q.type = std::string(type);
    q.limit = 1;
    store::Clause in;
    in.op = store::Clause::Op::kCompartment;
    for (const auto& p : patients) in.any_of.push_back(store::Clause::Value{.code = p});
    q.clauses.push_back(std::move(in));
    store::Clause sec;
    sec.op = store::Clause::Op::kTokenEq;
    sec.param = "_security";
    sec.any_of.push_back(store::Clause::Value{
        .system = std::string(kLabelSystem9603), .system_given = true, .code = label});
    q.clauses.push_back(std::move(sec));
    auto page = ctx.store.Search(q);
    if (!page.ok() || !page->resources.empty()) return true;
  }
  return false;
}

}  // namespace

bool IsProvesvarType(std::string_view type) {
  return std::find(std::begin(kTypes), std::end(kTypes), type) != std::end(kTypes);
}

bool IsProvesvarSearch(const Target& target, const std::string& method) {
  return method == "POST" && target.route == Route::kTypeSearch && IsProvesvarType(target.type);
}

AccessBasis AccessBasisOf(const http::Request& req) {
  std::string_view v = req.Header("access-basis");
  if (v.empty()) return AccessBasis::kNone;
  if (v == "UNNTAK") return AccessBasis::kUnntak;
  if (v == "SAMTYKKE") return AccessBasis::kSamtykke;
  if (v == "FORHOYET_SAMTYKKE") return AccessBasis::kForhoyetSamtykke;
  if (v == "AKUTT") return AccessBasis::kAkutt;
  return AccessBasis::kUnknown;
}

Status PrepareProvesvarSearch(const Context& ctx, http::Request& req, const Target& target,
                              AccessMode mode) {
  if (!IsProvesvarSearch(target, req.method)) return Status::Ok();
  if (mode == AccessMode::kUser) {
    AccessBasis basis = AccessBasisOf(req);
    if (basis == AccessBasis::kNone || basis == AccessBasis::kUnknown) {
      return BadRequest("GM-PVS-001",
                        "the access-basis header must be one of UNNTAK, SAMTYKKE, "
                        "FORHOYET_SAMTYKKE, AKUTT");
    }
  }
  std::string pid(req.Header("person-id"));
  auto form = ParseForm(req.body);
  if (!form.ok()) return Status::Ok();  // the search handler answers 400
  Params kept;
  for (auto& [name, value] : *form) {
    if (!IsIdentityParam(name)) {
      kept.emplace_back(std::move(name), std::move(value));
      continue;
    }
    std::string v = IdentityValue(value);
    if (!pid.empty() && v != pid) {
      return BadRequest("GM-PVS-002", "the search names two different persons");
    }
    pid = v;
  }
  if (pid.empty()) return Status::Ok();  // an ordinary search (patient=…)
  if (pid.size() != 11 || !AllDigits(pid)) {
    return BadRequest("GM-PVS-002", "person-id must be a fødselsnummer or D-nummer (11 digits)");
  }
  GM_ASSIGN_OR_RETURN(auto ids, PatientsWithPid(ctx, pid));
  if (ids.empty()) {
    return Status::Error(ErrorCategory::kForbidden, "GM-PVS-003", "forbidden",
                         "no patient this caller may see has this person-id");
  }
  // A patient= next to person-id stays: the policy refuses two different
  // patients for clinicians, and the search intersects them for others.
  std::string patients;
  for (const auto& id : ids) patients += (patients.empty() ? "" : ",") + ("Patient/" + id);
  kept.emplace_back("patient", patients);
  std::string body;
  for (const auto& [name, value] : kept) {
    if (!body.empty()) body += '&';
    body += PercentEncode(name) + "=" + PercentEncode(value);
  }
  req.body = std::move(body);
  // The person is known now: keep it in the header for ApplyAccessBasis.
  bool has_header = false;
  for (auto& [k, v] : req.headers) {
    if (k == "person-id") {
      v = pid;
      has_header = true;
    }
  }
  if (!has_header) req.headers.emplace_back("person-id", pid);
  return Status::Ok();
}

Status CheckRequesterRole(const http::Request& req, const Target& target,
                          const std::string& method, const trust::ClinicianFacts& clinician,
                          std::string& audited_authorization) {
  if (!IsProvesvarSearch(target, method)) return Status::Ok();
  std::string_view role = req.Header("requester-hpr-role");
  if (role.empty()) return Status::Ok();
  for (const auto& a : clinician.authorizations) {
    if (a.status == "active" && a.code == role) {
      audited_authorization = a.code;
      return Status::Ok();
    }
  }
  return Status::Error(ErrorCategory::kForbidden, "GM-PVS-004", "forbidden",
                       "requester-hpr-role is not an active HPR authorisation of this clinician");
}

void ApplyAccessBasis(const http::Request& req, const Target& target, const std::string& method,
                      trust::Caller& caller, int64_t now_s) {
  if (caller.mode != trust::PdpMode::kClinician || !IsProvesvarSearch(target, method)) return;
  switch (AccessBasisOf(req)) {
    case AccessBasis::kSamtykke:
    case AccessBasis::kForhoyetSamtykke:
      caller.declared_consent = true;
      break;
    case AccessBasis::kAkutt: {
      std::string pid(req.Header("person-id"));
      if (pid.empty()) break;
      caller.attested_purpose = "BTG";
      caller.attested_patients = {pid};
      caller.attested_toa = now_s;
      break;
    }
    default:
      break;
  }
}

bool MayViewResult(const ResultViewer& viewer, std::string_view type, const json::Value& r) {
  if (!IsProvesvarType(type)) return true;
  switch (viewer.mode) {
    case AccessMode::kSystem:
      return true;
    case AccessMode::kUser:
      return viewer.opens_restricted || !HasLabel(r, "NORS");
    case AccessMode::kPatient: {
      if (!HasLabel(r, "NORU")) return true;
      auto clock = ReleaseClock(type, r);
      if (!clock) return false;
      const int64_t delay_us = int64_t{viewer.release_delay_days} * 86400 * 1'000'000;
      return viewer.now_us >= *clock + delay_us;
    }
  }
  return false;
}

ResultViewer ViewerFor(const Context& ctx, const RequestPolicy& policy, const http::Request& req,
                       const Target& target) {
  ResultViewer v;
  v.mode = policy.mode;
  v.now_us = ctx.clock.NowUs();
  v.release_delay_days = ctx.options.lab_release_delay_days;
  if (IsProvesvarSearch(target, req.method)) {
    AccessBasis b = AccessBasisOf(req);
    v.opens_restricted = b == AccessBasis::kForhoyetSamtykke || b == AccessBasis::kAkutt;
  }
  for (const auto& d : policy.decisions) {
    if (d.permit && d.break_the_glass) v.opens_restricted = true;
  }
  return v;
}

void FilterResultsForViewer(const Context& ctx, const ResultViewer& viewer, const Target& target,
                            const std::vector<std::string>& patient_scope,
                            http::Response& response) {
  if (viewer.mode == AccessMode::kSystem) return;
  if (response.status < 200 || response.status >= 300 || response.body.empty()) return;
  // What the response can hold (people's searches do not reach out, so a
  // search of another type holds none of these): no parsing for the rest.
  const std::string searched = target.route == Route::kCompartmentSearch
                                   ? (target.compartment_type.empty() ? "*" : target.compartment_type)
                               : target.route == Route::kInstanceOperation
                                   ? (target.operation == "everything" ? "*" : "")
                                   : target.type;
  const bool system_wide = target.route == Route::kSystem || target.route == Route::kSystemSearch ||
                           target.route == Route::kSystemHistory ||
                           target.route == Route::kSystemOperation ||
                           target.route == Route::kTypeOperation;
  if (!system_wide && searched != "*" && !IsProvesvarType(searched)) return;
  auto doc = json::Parse(response.body, json::ParseOptions{.max_depth = 1024});
  if (!doc.ok() || !doc->is_object()) return;
  // The stored version of a resource in the response, judged by the rules.
  // Both the version shown and the current one (labels added or removed
  // later govern the older versions too) must be visible.
  auto stored_ok = [&](const std::string& type,
                       const Result<std::optional<store::ResourceVersion>>& stored) {
    if (!stored.ok() || !stored->has_value()) return false;
    if ((*stored)->deleted || (*stored)->json.empty()) return true;  // nothing to show
    auto r = json::Parse((*stored)->json, json::ParseOptions{.max_depth = 1024});
    return r.ok() && MayViewResult(viewer, type, *r);
  };
  auto visible = [&](const json::Value& shown) {
    std::string type(shown.get_string("resourceType"));
    if (!IsProvesvarType(type)) return true;
    std::string id(shown.get_string("id"));
    if (id.empty()) return false;
    if (!stored_ok(type, ctx.store.Read(type, id))) return false;
    const json::Value* meta = shown.find("meta");
    std::string_view vid = meta ? meta->get_string("versionId") : std::string_view();
    if (vid.empty() || !AllDigits(vid) || vid.size() > 17) return true;
    return stored_ok(type, ctx.store.ReadVersion(type, id, std::stoll(std::string(vid))));
  };
  const std::string rt(doc->get_string("resourceType"));
  if (rt != "Bundle") {
    if (visible(*doc)) return;
    http::Response nf = ErrorResponse(Status::Error(
        ErrorCategory::kNotFound, "GM-REST-060", "not-found",
        "resource " + target.type + "/" + target.id + " is not known"));
    nf.interaction = response.interaction;
    response = std::move(nf);
    return;
  }
  bool changed = false;
  if (json::Value* entries = doc->find("entry"); entries && entries->is_array()) {
    std::vector<bool> hidden;
    for (const auto& e : entries->array()) {
      const json::Value* res = e.find("resource");
      hidden.push_back(res != nullptr && res->is_object() && !visible(*res));
      changed = changed || hidden.back();
    }
    json::Value kept = json::Value::MakeArray();
    if (changed) {
      for (size_t i = 0; i < hidden.size(); ++i) {
        if (!hidden[i]) kept.push_back(std::move(entries->array()[i]));
      }
      if (kept.empty()) doc->erase("entry");
      else *entries = std::move(kept);
    }
  }
  // A total would count what is hidden: people get no total for searches of
  // these types when the patients have results labelled to be hidden from
  // them. Its absence tells that such results exist (not what they are) —
  // which the national service tells clinicians too, so that they can ask
  // for the consent that opens them (docs/svarrapport-mapping.md).
  if (doc->find("total") != nullptr &&
      MayHaveHidden(ctx, viewer, system_wide ? "*" : searched, patient_scope)) {
    doc->erase("total");
    changed = true;
  }
  if (changed) response.body = json::Write(*doc);
}

}  // namespace gm::rest
