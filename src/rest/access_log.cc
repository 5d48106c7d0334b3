// The audit of requests (AuditAccess) and the citizen's access log
// (GET Patient/[id]/$access-log). See rest/auth.h and docs/trust.md.
#include <algorithm>
#include <charconv>

#include "audit/event.h"
#include "audit/log.h"
#include "core/time.h"
#include "rest/auth.h"
#include "rest/handlers.h"
#include "rest/outcome.h"

namespace gm::rest {

namespace {

bool IsPatientDataType(const fhir::Model& model, std::string_view type) {
  return type.empty() || type == "*" || type == "Patient" ||
         model.PatientCompartmentParams(type) != nullptr;
}

void AddUnique(std::vector<std::string>& out, const std::vector<std::string>& more) {
  for (const auto& p : more) {
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
}

// "Observation/1/_history/2" or an absolute URL → (type, id).
std::pair<std::string, std::string> SplitLocation(std::string_view loc) {
  if (size_t h = loc.find("/_history/"); h != std::string_view::npos) loc = loc.substr(0, h);
  size_t slash = loc.rfind('/');
  if (slash == std::string_view::npos) return {};
  std::string id(loc.substr(slash + 1));
  std::string_view before = loc.substr(0, slash);
  size_t prev = before.rfind('/');
  std::string type(prev == std::string_view::npos ? before : before.substr(prev + 1));
  return {type, id};
}

Status CompartmentsOfJson(const Context& ctx, const json::Value& resource,
                          std::vector<std::string>& out) {
  std::string type(resource.get_string("resourceType"));
  if (type.empty() || !IsPatientDataType(ctx.model, type)) return Status::Ok();
  std::string id(resource.get_string("id"));
  GM_ASSIGN_OR_RETURN(auto comps, ctx.indexer.Compartments(type, id, resource));
  AddUnique(out, comps);
  return Status::Ok();
}

// The patient compartments of what a response returned (system callers).
Result<std::vector<std::string>> PatientsInResponse(const Context& ctx, const http::Response& r) {
  std::vector<std::string> out;
  if (r.body.empty()) return out;
  auto doc = json::Parse(r.body, json::ParseOptions{.max_depth = 1024});
  if (!doc.ok() || !doc->is_object()) return out;
  if (doc->get_string("resourceType") == "Parameters") {
    // An operation's answer (e-resept): the resources it carries.
    if (const json::Value* params = doc->find("parameter"); params && params->is_array()) {
      for (const auto& p : params->array()) {
        if (const json::Value* res = p.find("resource"); res && res->is_object()) {
          GM_RETURN_IF_ERROR(CompartmentsOfJson(ctx, *res, out));
        }
      }
    }
    return out;
  }
  if (doc->get_string("resourceType") != "Bundle") {
    GM_RETURN_IF_ERROR(CompartmentsOfJson(ctx, *doc, out));
    return out;
  }
  const json::Value* entries = doc->find("entry");
  if (entries == nullptr || !entries->is_array()) return out;
  for (const auto& e : entries->array()) {
    if (const json::Value* res = e.find("resource"); res && res->is_object()) {
      GM_RETURN_IF_ERROR(CompartmentsOfJson(ctx, *res, out));
      continue;
    }
    // Transaction answers without the resource: its location says which.
    if (const json::Value* resp = e.find("response")) {
      auto [type, id] = SplitLocation(resp->get_string("location"));
      if (type.empty() || id.empty() || !ctx.model.IsResourceType(type)) continue;
      if (!IsPatientDataType(ctx.model, type)) continue;
      GM_ASSIGN_OR_RETURN(auto comps, CompartmentsOf(ctx, type, id));
      AddUnique(out, comps);
    }
  }
  return out;
}

std::string_view PurposeFor(trust::Basis basis) {
  switch (basis) {
    case trust::Basis::kTreat:
    case trust::Basis::kFastlege:
    case trust::Basis::kCareRelation:
      return "TREAT";
    case trust::Basis::kEtreat: return "ETREAT";
    case trust::Basis::kCoc: return "COC";
    case trust::Basis::kBreakTheGlass: return "BTG";
    default: return "";
  }
}

audit::Actor ActorFor(const trust::Principal& p, const RequestPolicy& policy,
                      const trust::Decision* d) {
  audit::Actor a;
  a.client_id = p.client_id;
  a.client_name = p.client_id;
  a.client_orgnr = p.orgnr_parent;
  a.token_jti = p.jti;
  switch (policy.mode) {
    case AccessMode::kUser:
      a.kind = audit::ActorKind::kClinician;
      a.name = policy.practitioner_name;
      a.hpr_number = p.hpr_number;
      a.legal_entity_orgnr = p.orgnr_parent;
      a.point_of_care_orgnr = p.orgnr_child;
      if (p.attestation) {
        const trust::Attestation& at = *p.attestation;
        a.authorization = at.authorization;
        if (!at.legal_entity.empty()) a.legal_entity_orgnr = at.legal_entity;
        if (!at.point_of_care.empty()) a.point_of_care_orgnr = at.point_of_care;
        a.department_resh = at.department;
      }
      if (a.authorization.empty()) a.authorization = policy.practitioner_authorization;
      if (a.authorization == "LE") a.authorization_display = "Lege";
      if (a.authorization == "SP") a.authorization_display = "Sykepleier";
      if (a.authorization.starts_with("FA")) a.authorization_display = "Farmasøyt";
      break;
    case AccessMode::kPatient:
      a.kind = audit::ActorKind::kCitizen;
      a.person_reference = policy.requester_reference.empty() ? "Patient/unknown"
                                                              : policy.requester_reference;
      if (d && d->basis == trust::Basis::kParent) a.relationship = "foresatt";
      if (d && d->basis == trust::Basis::kPowerOfAttorney) a.relationship = "fullmakt";
      break;
    case AccessMode::kSystem:
      a.kind = audit::ActorKind::kSystem;
      break;
  }
  return a;
}

}  // namespace

std::string AuditInteraction(const Target& t, const std::string& m) {
  const bool get = m == "GET" || m == "HEAD";
  switch (t.route) {
    case Route::kInstance:
      if (get) return "read";
      if (m == "PUT") return "update";
      if (m == "PATCH") return "patch";
      if (m == "DELETE") return "delete";
      return "";
    case Route::kVersion: return get ? "vread" : "";
    case Route::kInstanceHistory: return "history-instance";
    case Route::kTypeHistory: return "history-type";
    case Route::kSystemHistory: return "history-system";
    case Route::kType:
      if (get) return "search-type";
      if (m == "POST") return "create";
      if (m == "PUT") return "update";
      if (m == "DELETE") return "delete";
      return "";
    case Route::kTypeSearch:
    case Route::kCompartmentSearch:
      return "search-type";
    case Route::kSystemSearch: return "search-system";
    case Route::kSystem: return get ? "search-system" : "transaction";
    case Route::kInstanceOperation:
    case Route::kSystemOperation:
      return "operation";
    case Route::kTypeOperation:
      return t.operation == "validate" ? "" : "operation";  // $validate returns no data
    default:
      return "";
  }
}

Result<std::vector<audit::Event>> AccessEvents(const Context& ctx,
                                               const trust::Principal& principal,
                                               const RequestPolicy& policy, const Target& target,
                                               const http::Request& req,
                                               const std::string& interaction,
                                               const std::vector<std::string>& patients,
                                               audit::Outcome outcome,
                                               const std::string& failure_text) {
  const bool denied = outcome == audit::Outcome::kDenied;
  const bool failed = outcome == audit::Outcome::kFailed || outcome == audit::Outcome::kMajorFailure;
  // The decision made for each patient (in policy order).
  auto decision_for = [&](const std::string& patient) -> const trust::Decision* {
    for (size_t i = 0; i < policy.patients.size() && i < policy.decisions.size(); ++i) {
      if (policy.patients[i] == patient) return &policy.decisions[i];
    }
    return nullptr;
  };
  std::string query = req.query;
  if (req.method == "POST" && (target.route == Route::kTypeSearch || target.route == Route::kSystemSearch)) {
    query += (query.empty() ? "" : "&") + req.body;
  }
  std::vector<audit::Event> events;
  for (size_t i = 0; i < patients.size(); ++i) {
    const trust::Decision* d = decision_for(patients[i]);
    audit::AccessRecord rec;
    rec.actor = ActorFor(principal, policy, d);
    rec.patient_id = patients[i];
    rec.interaction = interaction;
    rec.resource_type = target.route == Route::kCompartmentSearch && !target.compartment_type.empty()
                            ? target.compartment_type
                            : target.type;
    if (target.operation == "access-log") rec.resource_type = "AuditEvent";
    if (target.route == Route::kInstance || target.route == Route::kVersion ||
        target.route == Route::kInstanceHistory) {
      rec.resource_id = target.id;
    }
    rec.query = query;
    rec.time_us = ctx.clock.NowUs();
    // A person's batch: an entry refused for this patient while the others
    // ran is a denial for this patient.
    const bool patient_denied = denied || (d != nullptr && !d->permit);
    rec.outcome = patient_denied ? audit::Outcome::kDenied : outcome;
    if (patient_denied) {
      rec.outcome_text = std::string(policy.status.code());
      if (d && !d->permit) rec.outcome_text = d->code;
    } else if (failed) {
      rec.outcome_text = failure_text;
    } else if (d) {
      rec.outcome_text = std::string(trust::BasisName(d->basis));
      if (d->opened_sperring) rec.outcome_text += "; sperring åpnet";
    }
    if (policy.mode == AccessMode::kUser) {
      std::string_view purpose = d ? PurposeFor(d->basis) : "";
      if (purpose.empty() && principal.attestation) {
        const std::string& p = principal.attestation->purpose_of_use;
        if (p == "TREAT" || p == "ETREAT" || p == "COC" || p == "BTG") purpose = p;
      }
      rec.care.purpose_of_use = std::string(purpose);
      rec.break_the_glass = d && d->break_the_glass;
      if (principal.attestation) {
        rec.care.decision_ref_id = principal.attestation->decision_ref;
        rec.care.toa = principal.attestation->toa;
      }
      if (d && d->basis == trust::Basis::kFastlege) {
        rec.care.decision_ref_description = "registrert relasjon: fastlege";
      } else if (d && d->basis == trust::Basis::kCareRelation) {
        rec.care.decision_ref_description = "registrert relasjon: pågående behandling";
      }
      if (d && d->opened_sperring) {
        rec.care.decision_ref_description +=
            (rec.care.decision_ref_description.empty() ? "" : "; ") + std::string("sperring åpnet");
      }
    }
    auto ev = audit::BuildAuditEvent(rec);
    if (!ev.ok()) return ev.status();
    events.push_back(std::move(*ev));
  }
  return events;
}

Status AuditAccess(const Context& ctx, const trust::Principal& principal,
                   const RequestPolicy& policy, const Target& target, const http::Request& req,
                   const std::string& interaction, const http::Response& response, bool denied,
                   const std::vector<std::string>& already_audited) {
  if (ctx.audit == nullptr || interaction.empty()) return Status::Ok();
  if (policy.rule == RouteRule::kPublic || policy.rule == RouteRule::kNoData) return Status::Ok();
  const bool failed = !denied && response.status >= 400;
  std::vector<std::string> patients = policy.patients;
  auto unavailable = [](const Status& why) {
    return Status::Error(ErrorCategory::kUnavailable, "GM-AUDIT-030", "exception",
                         "the access could not be audited, so no data is returned (" +
                             std::string(why.code()) + ")");
  };
  if (patients.empty() && !denied) {
    const std::string type =
        target.route == Route::kCompartmentSearch ? target.compartment_type : target.type;
    if (!IsPatientDataType(ctx.model, type)) return Status::Ok();
    if (!failed) {
      auto found = PatientsInResponse(ctx, response);
      if (!found.ok()) return unavailable(found.status());
      patients = std::move(*found);
    } else if (!target.id.empty() && !target.type.empty() && target.route != Route::kCompartmentSearch &&
               (target.route != Route::kInstanceOperation || target.type == "MedicationRequest")) {
      auto comps = CompartmentsOf(ctx, target.type, target.id);
      if (comps.ok()) patients = std::move(*comps);
    } else if (target.type == "Patient" && !target.id.empty()) {
      patients = {target.id};
    }
  }
  std::erase_if(patients, [&](const std::string& p) {
    return std::find(already_audited.begin(), already_audited.end(), p) != already_audited.end();
  });
  if (patients.empty()) return Status::Ok();
  const audit::Outcome outcome = denied   ? audit::Outcome::kDenied
                                 : failed ? audit::Outcome::kFailed
                                          : audit::Outcome::kAllowed;
  const std::string failure = failed ? "HTTP " + std::to_string(response.status) : std::string();
  auto events = AccessEvents(ctx, principal, policy, target, req, interaction, patients, outcome,
                             failure);
  if (!events.ok()) return unavailable(events.status());
  auto appended = ctx.audit->Append(std::move(*events));
  if (!appended.ok()) return unavailable(appended.status());
  return Status::Ok();
}

http::Response HandleAccessLog(Call& call) {
  const Context& ctx = call.ctx;
  const bool pretty = call.format.pretty;
  if (ctx.audit == nullptr) {
    return ErrorResponse(Status::Error(ErrorCategory::kUnavailable, "GM-AUDIT-031", "exception",
                                       "this server keeps no audit log"),
                         pretty);
  }
  size_t limit = 50;
  int64_t before = 0;
  for (const auto& [k, v] : call.params) {
    if (k == "_count" || k == "_before") {
      int64_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || p != v.data() + v.size() || n < 0) {
        return ErrorResponse(Status::Error(ErrorCategory::kInvalid, "GM-AUDIT-032", "invalid",
                                           k + " must be a whole number"),
                             pretty);
      }
      if (k == "_count") limit = static_cast<size_t>(std::clamp<int64_t>(n, 1, 500));
      else before = n;
    }
  }
  auto page = ctx.audit->EventsForPatient(call.target.id, limit, before);
  if (!page.ok()) return ErrorResponse(page.status(), pretty);
  json::Value bundle = json::Value::MakeObject();
  bundle.set("resourceType", "Bundle");
  bundle.set("type", "searchset");
  json::Value links = json::Value::MakeArray();
  const std::string self = ctx.options.base_url + "/Patient/" + call.target.id + "/$access-log";
  json::Value self_link = json::Value::MakeObject();
  self_link.set("relation", "self");
  self_link.set("url", self + "?_count=" + std::to_string(limit) +
                           (before ? "&_before=" + std::to_string(before) : std::string()));
  links.push_back(std::move(self_link));
  if (page->next_before > 0) {
    json::Value next = json::Value::MakeObject();
    next.set("relation", "next");
    next.set("url", self + "?_count=" + std::to_string(limit) +
                        "&_before=" + std::to_string(page->next_before));
    links.push_back(std::move(next));
  }
  bundle.set("link", std::move(links));
  json::Value entries = json::Value::MakeArray();
  for (const audit::AccessSummary& s : page->entries) {
    // A reduced AuditEvent: who, role, organisation, basis, time, what kind
    // of data, outcome. Never a fødselsnummer, a query or a token id.
    json::Value ev = json::Value::MakeObject();
    ev.set("resourceType", "AuditEvent");
    ev.set("id", std::to_string(s.seq));
    json::Value type = json::Value::MakeObject();
    type.set("system", "http://terminology.hl7.org/CodeSystem/audit-event-type");
    type.set("code", "rest");
    ev.set("type", std::move(type));
    if (!s.interaction.empty()) {
      json::Value sub = json::Value::MakeObject();
      sub.set("system", "http://hl7.org/fhir/restful-interaction");
      sub.set("code", s.interaction);
      json::Value subs = json::Value::MakeArray();
      subs.push_back(std::move(sub));
      ev.set("subtype", std::move(subs));
    }
    if (!s.action.empty()) ev.set("action", s.action);
    ev.set("recorded", time::FormatInstant(s.time_us));
    ev.set("outcome", std::to_string(s.outcome));
    json::Value purposes = json::Value::MakeArray();
    json::Value basis = json::Value::MakeObject();
    if (s.break_the_glass) {
      json::Value coding = json::Value::MakeObject();
      coding.set("system", "http://terminology.hl7.org/CodeSystem/v3-ActReason");
      coding.set("code", "BTG");
      coding.set("display", "break the glass");
      json::Value codings = json::Value::MakeArray();
      codings.push_back(std::move(coding));
      basis.set("coding", std::move(codings));
    }
    basis.set("text", s.basis.empty() ? std::string(s.break_the_glass ? "Nødrett" : "-") : s.basis);
    purposes.push_back(std::move(basis));
    ev.set("purposeOfEvent", std::move(purposes));
    json::Value agents = json::Value::MakeArray();
    json::Value person = json::Value::MakeObject();
    json::Value who = json::Value::MakeObject();
    who.set("display", s.who.empty() ? std::string("-") : s.who);
    person.set("who", std::move(who));
    json::Value role = json::Value::MakeObject();
    role.set("text", s.role.empty() ? std::string("-") : s.role);
    json::Value roles = json::Value::MakeArray();
    roles.push_back(std::move(role));
    person.set("role", std::move(roles));
    person.set("requestor", true);
    agents.push_back(std::move(person));
    if (!s.organisation.empty()) {
      json::Value org = json::Value::MakeObject();
      json::Value org_who = json::Value::MakeObject();
      org_who.set("display", s.organisation);
      org.set("who", std::move(org_who));
      org.set("requestor", false);
      agents.push_back(std::move(org));
    }
    ev.set("agent", std::move(agents));
    json::Value source = json::Value::MakeObject();
    json::Value observer = json::Value::MakeObject();
    observer.set("display", "grunnmur");
    source.set("observer", std::move(observer));
    ev.set("source", std::move(source));
    json::Value entity = json::Value::MakeObject();
    json::Value what = json::Value::MakeObject();
    what.set("reference", "Patient/" + call.target.id);
    entity.set("what", std::move(what));
    if (!s.resource_type.empty()) entity.set("description", s.resource_type);
    json::Value entities = json::Value::MakeArray();
    entities.push_back(std::move(entity));
    ev.set("entity", std::move(entities));
    json::Value entry = json::Value::MakeObject();
    entry.set("fullUrl", ctx.options.base_url + "/AuditEvent/" + std::to_string(s.seq));
    entry.set("resource", std::move(ev));
    json::Value search = json::Value::MakeObject();
    search.set("mode", "match");
    entry.set("search", std::move(search));
    entries.push_back(std::move(entry));
  }
  bundle.set("entry", std::move(entries));
  http::Response r;
  r.status = 200;
  r.SetHeader("Content-Type", "application/fhir+json; charset=utf-8");
  r.SetHeader("Cache-Control", "no-store");
  r.body = json::Write(bundle, json::WriteOptions{.pretty = pretty});
  return r;
}

}  // namespace gm::rest
