#include "rest/auth.h"
#include "rest/engine.h"
#include "rest/handlers.h"
#include "rest/eresept_ops.h"
#include "no/hpr.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <set>

#include "no/confidentiality.h"
#include "no/identifiers.h"
#include "rest/outcome.h"
#include "rest/provesvar_access.h"

namespace gm::rest {

namespace {

constexpr uint8_t kAll = trust::kCreate | trust::kRead | trust::kUpdate | trust::kDelete |
                         trust::kSearch;

std::string PermissionText(uint8_t p) {
  std::string out;
  static constexpr std::string_view kOrder = "cruds";
  for (size_t i = 0; i < kOrder.size(); ++i) {
    if (p & (1u << i)) out += kOrder[i];
  }
  return out;
}

}  // namespace

Requirement RequirementFor(const Target& t, const std::string& method) {
  const bool get = method == "GET" || method == "HEAD";
  Requirement r;
  r.type = t.type.empty() ? "*" : t.type;
  switch (t.route) {
    case Route::kMetadata:
    case Route::kHealth:
    case Route::kReady:
    case Route::kMetrics:
      r.is_public = true;
      return r;
    case Route::kSystem:
      r.type = "*";
      r.permissions = get ? static_cast<uint8_t>(trust::kSearch) : kAll;  // batch/transaction: anything inside
      return r;
    case Route::kSystemHistory:
      r.type = "*";
      r.permissions = trust::kRead | trust::kSearch;
      return r;
    case Route::kSystemSearch:
      r.type = "*";
      r.permissions = trust::kSearch;
      return r;
    case Route::kType:
      if (get) r.permissions = trust::kSearch;
      else if (method == "POST") r.permissions = trust::kCreate;
      else if (method == "PUT") r.permissions = trust::kUpdate | trust::kSearch;
      else if (method == "DELETE") r.permissions = trust::kDelete | trust::kSearch;
      else r.permissions = kAll;
      return r;
    case Route::kTypeSearch:
    case Route::kCompartmentSearch:
      r.permissions = trust::kSearch;
      // Patient/1/Observation searches Observations (compartment_type "*": all).
      if (t.route == Route::kCompartmentSearch) {
        r.type = t.compartment_type.empty() ? "*" : t.compartment_type;
      }
      return r;
    case Route::kTypeHistory:
      r.permissions = trust::kRead | trust::kSearch;
      return r;
    case Route::kInstance:
      if (get) r.permissions = trust::kRead;
      else if (method == "PUT") r.permissions = trust::kUpdate;
      else if (method == "PATCH") r.permissions = trust::kUpdate;
      else if (method == "DELETE") r.permissions = trust::kDelete;
      else r.permissions = kAll;
      return r;
    case Route::kInstanceHistory:
    case Route::kVersion:
      r.permissions = trust::kRead;
      return r;
    case Route::kTypeOperation:
      // $validate stores nothing and returns no data: any valid token.
      r.permissions = t.operation == "validate" ? 0 : kAll;
      return r;
    case Route::kInstanceOperation:
    case Route::kSystemOperation:
      // $everything reads a whole compartment: read and search on every type.
      r.type = "*";
      r.permissions = trust::kRead | trust::kSearch;
      return r;
  }
  r.permissions = kAll;
  return r;
}

Result<trust::Principal> Authenticate(const Context& ctx, const http::Request& req) {
  std::string_view target = req.target;
  if (size_t q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  std::string url = ctx.options.base_url + std::string(target);
  return ctx.verifier->Verify(trust::RequestAuth{req.Header("authorization"), req.Header("dpop"),
                                                 req.method, url});
}

Status Authorize(const trust::Principal& principal, const Requirement& need) {
  if (need.is_public || need.permissions == 0) return Status::Ok();
  for (uint8_t bit : {trust::kCreate, trust::kRead, trust::kUpdate, trust::kDelete,
                      trust::kSearch}) {
    if (!(need.permissions & bit)) continue;
    if (!principal.scopes.Allows(need.type, static_cast<trust::Permission>(bit))) {
      return Status::Error(ErrorCategory::kForbidden, "GM-AUTH-040", "forbidden",
                           "the token's scopes do not grant '" + PermissionText(bit) + "' on " +
                               (need.type == "*" ? std::string("all types") : need.type));
    }
  }
  return Status::Ok();
}

AccessMode ModeFor(const trust::Principal& principal, const Requirement& need) {
  auto grants = [&](trust::ScopeContext context) {
    for (uint8_t bit : {trust::kCreate, trust::kRead, trust::kUpdate, trust::kDelete,
                        trust::kSearch}) {
      if ((need.permissions & bit) &&
          !principal.scopes.Allows(need.type, static_cast<trust::Permission>(bit), {context})) {
        return false;
      }
    }
    return true;
  };
  if (grants(trust::ScopeContext::kSystem)) return AccessMode::kSystem;
  if (grants(trust::ScopeContext::kUser)) return AccessMode::kUser;
  return AccessMode::kPatient;
}

// ---- The policy (trust/pdp.h): routes, facts, decisions -------------------

namespace {

constexpr std::string_view kControlSystem = "http://grunnmur.no/fhir/CodeSystem/citizen-control";
constexpr std::string_view kParentalResponsibility =
    "http://hl7.no/fhir/CodeSystem/no-basis-parental-responsibility";
constexpr std::string_view kOrgnrSystem = "urn:oid:2.16.578.1.12.4.1.4.101";

bool IsGet(const std::string& m) { return m == "GET" || m == "HEAD"; }

bool IsPatientData(const fhir::Model& model, std::string_view type) {
  return type == "*" || type == "Patient" || model.PatientCompartmentParams(type) != nullptr;
}

trust::PdpMode PdpModeFor(AccessMode mode) {
  switch (mode) {
    case AccessMode::kSystem: return trust::PdpMode::kSystem;
    case AccessMode::kUser: return trust::PdpMode::kClinician;
    case AccessMode::kPatient: return trust::PdpMode::kCitizen;
  }
  return trust::PdpMode::kSystem;
}

bool RestrictedKind(trust::ClientKind kind) {
  return kind != trust::ClientKind::kOperator && kind != trust::ClientKind::kEhr;
}

// purpose_of_use_details code "SAMTYKKE" anywhere in the care relationship:
// the clinician declares the citizen's consent (opens a sperring).
bool DeclaresConsent(const json::Value& raw) {
  auto check = [](const json::Value* v) {
    if (v == nullptr) return false;
    auto one = [](const json::Value& x) {
      return x.is_object() && (x.get_string("code") == "SAMTYKKE");
    };
    if (v->is_array()) {
      for (const auto& x : v->array()) if (one(x)) return true;
      return false;
    }
    return one(*v);
  };
  for (std::string_view key : {"care_relationship", "care_relation"}) {
    if (const json::Value* cr = raw.find(key); cr && cr->is_object()) {
      if (check(cr->find("purpose_of_use_details"))) return true;
    }
  }
  return false;
}

trust::Caller CallerFrom(const trust::Principal& p, AccessMode mode) {
  trust::Caller c;
  c.mode = PdpModeFor(mode);
  c.kind = trust::ClientKindFromScopes(p.scopes.others());
  c.pid = p.pid;
  c.hpr_number = p.hpr_number;
  for (const std::string* org : {&p.orgnr_parent, &p.orgnr_child}) {
    if (!org->empty()) c.orgnrs.push_back(*org);
  }
  if (p.attestation) {
    const trust::Attestation& a = *p.attestation;
    c.attested_purpose = a.purpose_of_use;
    c.attested_hpr = a.practitioner_hpr;
    c.attested_authorization = a.authorization;
    c.attested_patients = a.patients;
    c.attested_toa = a.toa;
    c.declared_consent = DeclaresConsent(a.raw);
    for (const std::string* org : {&a.legal_entity, &a.point_of_care}) {
      if (!org->empty()) c.orgnrs.push_back(*org);
    }
  }
  return c;
}

Status NotFound(const std::string& type, const std::string& id) {
  return Status::Error(ErrorCategory::kNotFound, "GM-REST-060", "not-found",
                       "resource " + type + "/" + id + " is not known");
}

Status ForbiddenFor(AccessMode mode, const std::string& text) {
  const char* code = mode == AccessMode::kUser      ? "GM-AUTH-041"
                     : mode == AccessMode::kPatient ? "GM-AUTH-042"
                                                    : "GM-AUTH-044";
  return Status::Error(ErrorCategory::kForbidden, code, "forbidden", text);
}

Status Denied(AccessMode mode, const trust::Decision& d) {
  return ForbiddenFor(mode, d.code + ": " + d.reason);
}

Result<std::optional<json::Value>> ReadJson(const Context& ctx, const std::string& type,
                                            const std::string& id) {
  if (type.empty() || id.empty()) return std::optional<json::Value>();
  GM_ASSIGN_OR_RETURN(auto v, ctx.store.Read(type, id));
  if (!v || v->deleted) return std::optional<json::Value>();
  auto doc = json::Parse(v->json, json::ParseOptions{.max_depth = 1024});
  if (!doc.ok()) return doc.status();
  return std::optional<json::Value>(std::move(*doc));
}

store::Clause TokenClause(std::string param, std::string_view system, std::string code) {
  store::Clause c;
  c.op = store::Clause::Op::kTokenEq;
  c.param = std::move(param);
  c.any_of.push_back(store::Clause::Value{
      .system = std::string(system), .system_given = !system.empty(), .code = std::move(code)});
  return c;
}

store::Clause CompartmentClause(const std::string& patient_id) {
  store::Clause c;
  c.op = store::Clause::Op::kCompartment;
  c.any_of.push_back(store::Clause::Value{.code = patient_id});
  return c;
}

Result<std::vector<json::Value>> SearchJson(const Context& ctx, store::Query q) {
  GM_ASSIGN_OR_RETURN(store::QueryPage page, ctx.store.Search(q));
  std::vector<json::Value> out;
  for (const auto& v : page.resources) {
    auto doc = json::Parse(v.json, json::ParseOptions{.max_depth = 1024});
    if (doc.ok()) out.push_back(std::move(*doc));
  }
  return out;
}

// Patient ids whose identifier is this FNR/DNR.
Result<std::vector<std::string>> PatientsWithPid(const Context& ctx, const std::string& pid) {
  std::vector<std::string> ids;
  if (pid.empty()) return ids;
  store::Query q;
  q.type = "Patient";
  q.limit = 10;
  store::Clause id;
  id.op = store::Clause::Op::kTokenEq;
  id.param = "identifier";
  for (std::string_view system : {no::systems::kFnr, no::systems::kDnr}) {
    id.any_of.push_back(store::Clause::Value{
        .system = std::string(system), .system_given = true, .code = pid});
  }
  q.clauses.push_back(std::move(id));
  GM_ASSIGN_OR_RETURN(store::QueryPage page, ctx.store.Search(q));
  for (const auto& v : page.resources) ids.push_back(v.id);
  return ids;
}

std::string IdentifierOf(const json::Value& r, std::initializer_list<std::string_view> systems) {
  if (const json::Value* ids = r.find("identifier"); ids && ids->is_array()) {
    for (const auto& i : ids->array()) {
      for (std::string_view s : systems) {
        if (i.get_string("system") == s) return std::string(i.get_string("value"));
      }
    }
  }
  return "";
}

std::string PersonPid(const json::Value& r) {
  return IdentifierOf(r, {no::systems::kFnr, no::systems::kDnr});
}

// Whole years between a FHIR date (YYYY[-MM[-DD]]) and now; -1 if unknown.
int AgeYears(std::string_view birth, int64_t now_us) {
  if (birth.size() < 10) return -1;
  int y = 0, m = 0, d = 0;
  if (std::sscanf(std::string(birth.substr(0, 10)).c_str(), "%d-%d-%d", &y, &m, &d) != 3) return -1;
  time_t now = static_cast<time_t>(now_us / 1'000'000);
  struct tm t{};
  gmtime_r(&now, &t);
  int age = (t.tm_year + 1900) - y;
  if (t.tm_mon + 1 < m || (t.tm_mon + 1 == m && t.tm_mday < d)) --age;
  return age < 0 ? -1 : age;
}

std::string AddressKey(const json::Value& patient) {
  const json::Value* a = patient.find("address");
  if (a == nullptr || !a->is_array() || a->empty()) return "";
  const json::Value& first = a->array()[0];
  std::string key;
  if (const json::Value* lines = first.find("line"); lines && lines->is_array()) {
    for (const auto& l : lines->array()) if (l.is_string()) key += l.str() + "|";
  }
  key += std::string(first.get_string("postalCode")) + "|" + std::string(first.get_string("city"));
  for (char& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return key == "||" ? "" : key;
}

// "PractitionerRole/x", "https://…/PractitionerRole/x" → "x" when of `type`.
std::string RefId(std::string_view ref, std::string_view type) {
  if (size_t h = ref.find("/_history/"); h != std::string_view::npos) ref = ref.substr(0, h);
  size_t slash = ref.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return "";
  std::string_view id = ref.substr(slash + 1);
  std::string_view before = ref.substr(0, slash);
  size_t prev = before.rfind('/');
  std::string_view t = prev == std::string_view::npos ? before : before.substr(prev + 1);
  if (t != type || !IsValidId(id)) return "";
  return std::string(id);
}

bool HasCoding(const json::Value* concept_or_codings, std::string_view system,
               std::string_view code = {}) {
  if (concept_or_codings == nullptr) return false;
  auto in_codings = [&](const json::Value* codings) {
    if (codings == nullptr || !codings->is_array()) return false;
    for (const auto& c : codings->array()) {
      if (c.get_string("system") == system && (code.empty() || c.get_string("code") == code)) {
        return true;
      }
    }
    return false;
  };
  auto in_concept = [&](const json::Value& cc) { return in_codings(cc.find("coding")); };
  if (concept_or_codings->is_array()) {
    for (const auto& cc : concept_or_codings->array()) if (in_concept(cc)) return true;
    return false;
  }
  return in_concept(*concept_or_codings);
}

// The citizen controls stored as Consent resources (docs/trust.md).
std::vector<trust::CitizenControl> ControlsFrom(const std::vector<json::Value>& consents) {
  std::vector<trust::CitizenControl> out;
  for (const auto& c : consents) {
    if (c.get_string("status") != "active") continue;
    const json::Value* cats = c.find("category");
    if (cats == nullptr || !cats->is_array()) continue;
    for (const auto& cat : cats->array()) {
      const json::Value* codings = cat.find("coding");
      if (codings == nullptr || !codings->is_array()) continue;
      for (const auto& coding : codings->array()) {
        if (coding.get_string("system") != kControlSystem) continue;
        std::string_view code = coding.get_string("code");
        trust::CitizenControl ctl;
        if (code == "reservasjon") ctl.kind = trust::CitizenControl::Kind::kReservation;
        else if (code == "sperring") ctl.kind = trust::CitizenControl::Kind::kSperring;
        else if (code == "blokkering") ctl.kind = trust::CitizenControl::Kind::kBlokkering;
        else if (code == "forskriver-blokkering") ctl.kind = trust::CitizenControl::Kind::kPrescriberBlock;
        else if (code == "fullmakt") ctl.kind = trust::CitizenControl::Kind::kFullmakt;
        else continue;
        if (const json::Value* prov = c.find("provision"); prov && prov->is_object()) {
          if (const json::Value* cls = prov->find("class"); cls && cls->is_array()) {
            for (const auto& k : cls->array()) {
              std::string_view t = k.get_string("code");
              if (!t.empty()) ctl.resource_types.emplace_back(t);
            }
          }
          if (const json::Value* actors = prov->find("actor"); actors && actors->is_array()) {
            for (const auto& a : actors->array()) {
              const json::Value* ref = a.find("reference");
              const json::Value* ident = ref ? ref->find("identifier") : nullptr;
              if (ident == nullptr) continue;
              std::string_view sys = ident->get_string("system");
              std::string value(ident->get_string("value"));
              if (sys == no::systems::kHpr) ctl.hpr_number = value;
              if (sys == no::systems::kFnr || sys == no::systems::kDnr) ctl.receiver_pid = value;
            }
          }
        }
        // A block without a named clinician, or a fullmakt without a
        // receiver, names nobody and so changes nothing.
        if ((ctl.kind == trust::CitizenControl::Kind::kBlokkering ||
             ctl.kind == trust::CitizenControl::Kind::kPrescriberBlock) && ctl.hpr_number.empty()) {
          continue;
        }
        if (ctl.kind == trust::CitizenControl::Kind::kFullmakt && ctl.receiver_pid.empty()) continue;
        out.push_back(std::move(ctl));
      }
    }
  }
  return out;
}

// The orgnr of an Organization and of the organisation it is part of.
void AddOrgnrs(const Context& ctx, std::string_view ref, std::vector<std::string>& out,
               int depth = 0) {
  std::string id = RefId(ref, "Organization");
  if (id.empty() || depth > 2) return;
  auto org = ReadJson(ctx, "Organization", id);
  if (!org.ok() || !org->has_value()) return;
  std::string orgnr = IdentifierOf(**org, {kOrgnrSystem});
  if (!orgnr.empty()) out.push_back(orgnr);
  if (const json::Value* part = (*org)->find("partOf")) {
    AddOrgnrs(ctx, part->get_string("reference"), out, depth + 1);
  }
}

Result<trust::ClinicianFacts> GatherClinicianFacts(const Context& ctx, const std::string& hpr,
                                                   std::string& name) {
  trust::ClinicianFacts f;
  if (hpr.empty()) return f;
  store::Query q;
  q.type = "Practitioner";
  q.limit = 2;
  q.clauses.push_back(TokenClause("identifier", no::systems::kHpr, hpr));
  GM_ASSIGN_OR_RETURN(auto found, SearchJson(ctx, q));
  if (found.empty()) return f;
  f.found = true;
  const json::Value& p = found[0];
  if (const json::Value* names = p.find("name"); names && names->is_array() && !names->empty()) {
    const json::Value& n = names->array()[0];
    if (!n.get_string("text").empty()) {
      name = n.get_string("text");
    } else {
      if (const json::Value* given = n.find("given"); given && given->is_array()) {
        for (const auto& g : given->array()) if (g.is_string()) name += g.str() + " ";
      }
      name += n.get_string("family");
    }
  }
  for (const auto& a : no::HprAuthorisations(p)) f.authorizations.push_back({a.code, a.status});
  return f;
}

}  // namespace

Result<std::vector<std::string>> CompartmentsOf(const Context& ctx, const std::string& type,
                                                const std::string& id) {
  GM_ASSIGN_OR_RETURN(auto current, ctx.store.Read(type, id));
  if (!current) return std::vector<std::string>();
  std::string bytes = current->json;
  // A deleted resource: its latest version with content says whose it was.
  for (int64_t v = current->version - 1; bytes.empty() && v >= 1; --v) {
    GM_ASSIGN_OR_RETURN(auto old, ctx.store.ReadVersion(type, id, v));
    if (old && !old->deleted) bytes = old->json;
  }
  if (bytes.empty()) return std::vector<std::string>();
  GM_ASSIGN_OR_RETURN(json::Value doc, json::Parse(bytes, json::ParseOptions{.max_depth = 1024}));
  return ctx.indexer.Compartments(type, id, doc);
}

Result<trust::PatientFacts> GatherPatientFacts(const Context& ctx, const std::string& patient_id,
                                               const trust::Caller& caller, bool /*registered*/) {
  trust::PatientFacts f;
  f.patient_id = patient_id;
  GM_ASSIGN_OR_RETURN(auto patient, ReadJson(ctx, "Patient", patient_id));
  if (!patient) return f;  // unknown: nobody has a relationship with it
  const json::Value& p = *patient;
  f.pid = PersonPid(p);
  f.age = AgeYears(p.get_string("birthDate"), ctx.clock.NowUs());
  f.confidential_address = no::HasConfidentialAddress(p);
  {
    store::Query q;
    q.type = "Consent";
    q.limit = 200;
    q.clauses.push_back(CompartmentClause(patient_id));
    GM_ASSIGN_OR_RETURN(auto consents, SearchJson(ctx, q));
    f.controls = ControlsFrom(consents);
  }
  const bool own = !caller.pid.empty() && caller.pid == f.pid;
  if (caller.mode == trust::PdpMode::kClinician) {
    if (const json::Value* gps = p.find("generalPractitioner"); gps && gps->is_array()) {
      for (const auto& gp : gps->array()) {
        std::string_view ref = gp.get_string("reference");
        std::string prac = RefId(ref, "Practitioner");
        if (std::string role_id = RefId(ref, "PractitionerRole"); !role_id.empty()) {
          GM_ASSIGN_OR_RETURN(auto role, ReadJson(ctx, "PractitionerRole", role_id));
          if (role) {
            if (const json::Value* pr = role->find("practitioner")) {
              prac = RefId(pr->get_string("reference"), "Practitioner");
            }
          }
        }
        if (prac.empty()) continue;
        GM_ASSIGN_OR_RETURN(auto practitioner, ReadJson(ctx, "Practitioner", prac));
        if (!practitioner) continue;
        std::string hpr = IdentifierOf(*practitioner, {no::systems::kHpr});
        if (!hpr.empty()) f.fastlege_hprs.push_back(hpr);
      }
    }
    // Active care at an organisation: Encounter (in progress), EpisodeOfCare
    // (active), CareTeam (active).
    struct Source {
      const char* type;
      std::vector<const char*> statuses;
      const char* org_element;
    };
    const Source sources[] = {
        {"Encounter", {"arrived", "triaged", "in-progress", "onleave"}, "serviceProvider"},
        {"EpisodeOfCare", {"active"}, "managingOrganization"},
        {"CareTeam", {"active"}, "managingOrganization"},
    };
    for (const Source& src : sources) {
      store::Query q;
      q.type = src.type;
      q.limit = 100;
      q.clauses.push_back(CompartmentClause(patient_id));
      store::Clause st;
      st.op = store::Clause::Op::kTokenEq;
      st.param = "status";
      for (const char* s : src.statuses) st.any_of.push_back(store::Clause::Value{.code = s});
      q.clauses.push_back(std::move(st));
      GM_ASSIGN_OR_RETURN(auto found, SearchJson(ctx, q));
      for (const auto& r : found) {
        const json::Value* org = r.find(src.org_element);
        if (org == nullptr) continue;
        if (org->is_array()) {
          for (const auto& o : org->array()) AddOrgnrs(ctx, o.get_string("reference"), f.care_orgnrs);
        } else {
          AddOrgnrs(ctx, org->get_string("reference"), f.care_orgnrs);
        }
      }
    }
  }
  if (caller.mode == trust::PdpMode::kCitizen && !own) {
    store::Query q;
    q.type = "RelatedPerson";
    q.limit = 20;
    q.clauses.push_back(CompartmentClause(patient_id));
    GM_ASSIGN_OR_RETURN(auto related, SearchJson(ctx, q));
    const std::string child_address = AddressKey(p);
    for (const auto& rp : related) {
      if (!HasCoding(rp.find("relationship"), kParentalResponsibility)) continue;
      if (rp.find("active") && rp.find("active")->is_bool() && !rp.find("active")->as_bool()) continue;
      std::string parent_pid = PersonPid(rp);
      if (parent_pid.empty()) continue;
      if (parent_pid == caller.pid) f.requester_has_parental_responsibility = true;
      if (child_address.empty() || f.parent_shares_address) continue;
      GM_ASSIGN_OR_RETURN(auto parent_ids, PatientsWithPid(ctx, parent_pid));
      for (const auto& pid : parent_ids) {
        GM_ASSIGN_OR_RETURN(auto parent, ReadJson(ctx, "Patient", pid));
        if (parent && AddressKey(*parent) == child_address) f.parent_shares_address = true;
      }
    }
  }
  return f;
}

RouteRule RouteRuleFor(const Target& t, const std::string& method, AccessMode mode,
                       bool restricted_kind) {
  const bool get = IsGet(method);
  switch (t.route) {
    case Route::kMetadata:
    case Route::kHealth:
    case Route::kReady:
    case Route::kMetrics:
      return RouteRule::kPublic;
    case Route::kTypeOperation:
    case Route::kSystemOperation:
    case Route::kInstanceOperation:
      if (t.route == Route::kTypeOperation && t.operation == "validate") {
        return RouteRule::kNoData;  // stores nothing, returns no data
      }
      if (t.route == Route::kInstanceOperation && t.type == "Patient" &&
          t.operation == "access-log") {
        return mode == AccessMode::kPatient && get ? RouteRule::kCompartment : RouteRule::kDenied;
      }
      if (t.route == Route::kInstanceOperation && t.type == "Patient" &&
          t.operation == "everything") {
        if (mode == AccessMode::kSystem) {
          return restricted_kind ? RouteRule::kSystemByType : RouteRule::kSystemAsToday;
        }
        return RouteRule::kCompartment;
      }
      // E-resept (rest/eresept.cc, docs/eresept.md): prescribing, recall and
      // renewal are writes of the prescription for its patient; a pharmacy's
      // lock, release and dispensing act on one prescription it reads;
      // $dispensable names its patient in the body (pharmacies and operator
      // systems only); the medication list is the patient's compartment.
      if (IsEreseptOperation(t)) {
        if (mode == AccessMode::kSystem) {
          return restricted_kind ? RouteRule::kSystemByType : RouteRule::kSystemAsToday;
        }
        const std::string& op = t.operation;
        if (mode == AccessMode::kPatient) {
          return op == "medication-list" ? RouteRule::kCompartment : RouteRule::kDenied;
        }
        if (op == "prescribe") return RouteRule::kCreate;
        if (op == "recall" || op == "renew") return RouteRule::kAddressedWrite;
        if (op == "medication-list" || op == "medication-list-update") return RouteRule::kCompartment;
        return RouteRule::kDenied;  // lock, release, dispense, dispensable: pharmacies
      }
      // Every other operation (prøvesvar ingestion, unknown ones): operator
      // and EHR systems as their scopes allow; nobody else until the
      // operation's own issue wires it into the policy (default deny).
      return mode == AccessMode::kSystem && !restricted_kind ? RouteRule::kSystemAsToday
                                                             : RouteRule::kDenied;
    default:
      break;
  }
  if (mode == AccessMode::kSystem) {
    if (!restricted_kind) return RouteRule::kSystemAsToday;
    switch (t.route) {
      case Route::kSystem:
      case Route::kSystemHistory:
      case Route::kSystemSearch:
        return RouteRule::kDenied;
      default:
        return RouteRule::kSystemByType;
    }
  }
  switch (t.route) {
    case Route::kSystem:
      // Batch/transaction: every entry decided as the same request alone.
      return method == "POST" ? RouteRule::kBundle : RouteRule::kDenied;
    case Route::kType:
      if (get) return RouteRule::kPatientSearch;
      if (method == "POST") return RouteRule::kCreate;
      // Conditional update/delete: the criteria must name one patient.
      if (method == "PUT" || method == "DELETE") return RouteRule::kConditionalWrite;
      return RouteRule::kDenied;
    case Route::kTypeSearch:
      return method == "POST" ? RouteRule::kPatientSearch : RouteRule::kDenied;
    case Route::kCompartmentSearch:
      return get ? RouteRule::kCompartment : RouteRule::kDenied;
    case Route::kInstance:
      if (get) return RouteRule::kAddressed;
      // PATCH: decided on the current version; the patched result is
      // checked inside the write (Call::may_write).
      if (method == "PUT" || method == "DELETE" || method == "PATCH") {
        return RouteRule::kAddressedWrite;
      }
      return RouteRule::kDenied;
    case Route::kInstanceHistory:
    case Route::kVersion:
      return get ? RouteRule::kAddressed : RouteRule::kDenied;
    default:
      return RouteRule::kDenied;  // system/type history, system search
  }
}

bool SearchMayReachOut(const trust::Principal* principal, const Target& target,
                       const std::string& method) {
  if (principal == nullptr) return true;
  Requirement need = RequirementFor(target, method);
  if (need.permissions == 0) return true;
  if (ModeFor(*principal, need) != AccessMode::kSystem) return false;
  return !RestrictedKind(trust::ClientKindFromScopes(principal->scopes.others()));
}

namespace {

void ConditionalRefsForPolicy(const json::Value& v, const fhir::Model& model,
                              std::set<std::string>& out) {
  if (v.is_object()) {
    for (const auto& [k, child] : v.object()) {
      if (k == "reference" && child.is_string()) {
        const std::string& s = child.str();
        size_t q = s.find('?');
        if (q != std::string::npos && q > 0 && model.IsResourceType(s.substr(0, q))) out.insert(s);
      } else {
        ConditionalRefsForPolicy(child, model, out);
      }
    }
  } else if (v.is_array()) {
    for (const auto& child : v.array()) ConditionalRefsForPolicy(child, model, out);
  }
}

// A person's batch/transaction: every entry is decided as the same request
// alone (DecideRequest on the entry's method, url and resource). In a
// transaction, references to other entries' fullUrls are first resolved as
// the transaction will resolve them: a PUT [type]/[id] entry is that
// resource; a POST entry is a new resource that is in nobody's record yet (a
// new Patient is not one the caller acts for, so data attached to it is
// refused); a conditional reference that matches exactly one resource now is
// that resource. Whatever the transaction then really writes is checked
// again inside it (Call::may_write). Error: the transaction is refused as a
// whole (one answer, naming neither the entry nor the reason).
Status DecideBundleEntries(const Context& ctx, const trust::Principal& principal, AccessMode mode,
                           const http::Request& req, RequestPolicy& pol,
                           const std::function<void(const std::string&, const trust::Decision&)>& record) {
  auto bundle = json::Parse(req.body, json::ParseOptions{.max_depth = ctx.options.max_json_depth});
  // Not a Bundle of entries: the handler answers 400 (and runs no entry
  // without a verdict).
  if (!bundle.ok() || !bundle->is_object() || bundle->get_string("resourceType") != "Bundle") {
    return Status::Ok();
  }
  std::string_view kind = bundle->get_string("type");
  const bool transaction = kind == "transaction";
  if (kind != "batch" && !transaction) return Status::Ok();
  const json::Value* list = bundle->find("entry");
  if (list == nullptr || !list->is_array() ||
      list->size() > ctx.options.max_transaction_entries) {
    return Status::Ok();
  }
  struct Planned {
    bool ok = false;
    std::string method, url, path, query;
    Target target;
  };
  std::vector<Planned> planned(list->size());
  std::map<std::string, std::string> ids;  // transaction: fullUrl → Type/id
  for (size_t i = 0; i < list->size(); ++i) {
    const json::Value& e = list->array()[i];
    const json::Value* request = e.is_object() ? e.find("request") : nullptr;
    if (request == nullptr || !request->is_object()) continue;
    Planned& p = planned[i];
    p.method = std::string(request->get_string("method"));
    p.url = std::string(request->get_string("url"));
    std::string url = p.url;
    if (url.rfind(ctx.options.base_url + "/", 0) == 0) url = url.substr(ctx.options.base_url.size());
    size_t q = url.find('?');
    p.path = url.substr(0, q);
    if (q != std::string::npos) p.query = url.substr(q + 1);
    if (!p.path.empty() && p.path.front() != '/') p.path = "/" + p.path;
    auto target = ParseTarget(ctx.model, p.path);
    if (!target.ok() || target->type.empty() || target->route == Route::kSystem) continue;
    p.target = std::move(*target);
    p.ok = true;
    std::string full_url(e.get_string("fullUrl"));
    if (!transaction || full_url.empty()) continue;
    if (p.method == "PUT" && p.target.route == Route::kInstance) {
      ids[full_url] = p.target.type + "/" + p.target.id;
    } else if (p.method == "POST") {
      ids[full_url] = p.target.type + "/" + ctx.new_id();  // new: in nobody's record
    }
  }
  if (transaction) {
    std::set<std::string> conditional;
    for (const auto& e : list->array()) {
      if (const json::Value* r = e.is_object() ? e.find("resource") : nullptr) {
        ConditionalRefsForPolicy(*r, ctx.model, conditional);
      }
    }
    for (const std::string& ref : conditional) {
      if (ids.count(ref)) continue;
      size_t q = ref.find('?');
      std::string type = ref.substr(0, q);
      auto query = CriteriaQuery(ctx, type, std::string_view(ref).substr(q + 1));
      if (!query.ok()) continue;  // unresolved: no patient, refused below
      query->limit = 2;
      auto page = ctx.store.Search(*query);
      if (page.ok() && page->resources.size() == 1) ids[ref] = type + "/" + page->resources[0].id;
    }
  }
  bool refused = false;
  pol.entries.resize(list->size());
  for (size_t i = 0; i < list->size(); ++i) {
    RequestPolicy::EntryVerdict& verdict = pol.entries[i];
    const Planned& p = planned[i];
    if (!p.ok) {
      verdict.status = ForbiddenFor(mode, "this entry's request is not one the policy can decide");
      refused = true;
      continue;
    }
    const json::Value& e = list->array()[i];
    http::Request sub;
    sub.method = p.method;
    sub.path = p.path;
    sub.query = p.query;
    sub.target = p.url;
    sub.remote = req.remote;
    sub.request_id = req.request_id;
    if (const json::Value* request = e.find("request")) {
      if (std::string_view ine = request->get_string("ifNoneExist"); !ine.empty()) {
        sub.headers.emplace_back("if-none-exist", std::string(ine));
      }
    }
    if (const json::Value* r = e.find("resource")) {
      json::Value resource = *r;
      if (transaction) RewriteReferences(resource, ids);  // as the transaction will
      sub.body = json::Write(resource);
    }
    auto params = ParseForm(p.query);
    RequestPolicy one = DecideRequest(ctx, principal, mode, p.target, p.method,
                                      params.ok() ? *params : Params{}, sub);
    for (size_t k = 0; k < one.patients.size() && k < one.decisions.size(); ++k) {
      record(one.patients[k], one.decisions[k]);
    }
    for (auto& w : one.write_permits) {
      if (std::find(pol.write_permits.begin(), pol.write_permits.end(), w) ==
          pol.write_permits.end()) {
        pol.write_permits.push_back(std::move(w));
      }
    }
    if (pol.practitioner_name.empty()) pol.practitioner_name = one.practitioner_name;
    verdict.status = one.status;
    verdict.patient_scope = std::move(one.patient_scope);
    if (!verdict.status.ok()) refused = true;
  }
  if (transaction && refused) {
    return ForbiddenFor(mode, "the transaction holds an entry this caller may not perform, or "
                              "one that addresses nothing it may see; nothing was written");
  }
  return Status::Ok();
}

}  // namespace

void ApplyPolicy(const Context& ctx, const RequestPolicy& policy, Call& call) {
  call.patient_scope = policy.patient_scope;
  if (policy.confined_writes) {
    call.no_client_ids = true;
    call.person_code = policy.mode == AccessMode::kPatient ? "GM-AUTH-042" : "GM-AUTH-041";
    const RequestPolicy* pol = &policy;
    const fhir::Model* model = &ctx.model;
    call.may_write = [pol, model](const std::string& type,
                                  const std::vector<std::string>& patients) -> Status {
      if (patients.empty() && IsPatientData(*model, type)) {
        return ForbiddenFor(pol->mode, "the change would leave the resource in no patient's "
                                       "record; nothing was written");
      }
      for (const auto& p : patients) {
        std::pair<std::string, std::string> key{p, type};
        if (std::find(pol->write_permits.begin(), pol->write_permits.end(), key) ==
            pol->write_permits.end()) {
          return ForbiddenFor(pol->mode, "the change would touch a record this request was not "
                                         "decided for; nothing was written");
        }
      }
      return Status::Ok();
    };
  }
  if (policy.rule == RouteRule::kBundle) {
    call.entries_decided = true;
    for (const auto& v : policy.entries) {
      call.entry_denials.push_back(v.status);
      call.entry_scopes.push_back(v.patient_scope);
    }
  }
}

RequestPolicy DecideRequest(const Context& ctx, const trust::Principal& principal,
                            AccessMode mode, const Target& target, const std::string& method,
                            const Params& query_params, const http::Request& req) {
  RequestPolicy pol;
  pol.decided = true;
  pol.mode = mode;
  pol.caller = CallerFrom(principal, mode);
  ApplyAccessBasis(req, target, method, pol.caller, ctx.clock.NowUs() / 1'000'000);
  const bool restricted = mode == AccessMode::kSystem && RestrictedKind(pol.caller.kind);
  pol.rule = RouteRuleFor(target, method, mode, restricted);
  const int64_t now_s = ctx.clock.NowUs() / 1'000'000;
  auto fail = [&](Status st) {
    pol.status = std::move(st);
    return pol;
  };
  const trust::PdpInteraction base_interaction =
      IsGet(method) ? (target.route == Route::kInstance || target.route == Route::kVersion ||
                               target.route == Route::kInstanceHistory
                           ? trust::PdpInteraction::kRead
                           : trust::PdpInteraction::kSearch)
      : method == "DELETE"                             ? trust::PdpInteraction::kDelete
      : method == "PUT" || method == "PATCH"           ? trust::PdpInteraction::kUpdate
      : target.route == Route::kTypeSearch || target.route == Route::kSystemSearch ||
              target.route == Route::kInstanceOperation
          ? trust::PdpInteraction::kSearch
          : trust::PdpInteraction::kCreate;

  // E-resept operations: what they do to the prescription (or the list).
  trust::PdpInteraction interaction = base_interaction;
  std::string op_type = target.type;  // the type the policy decides for
  if (IsEreseptOperation(target)) {
    const std::string& op = target.operation;
    interaction = op == "prescribe"                                             ? trust::PdpInteraction::kCreate
                  : op == "recall" || op == "renew" || op == "medication-list-update" ? trust::PdpInteraction::kUpdate
                                                                                       : trust::PdpInteraction::kSearch;
    if (target.type == "Patient") op_type = "List";
  }

  // Facts, fetched once per request.
  trust::ClinicianFacts clinician;
  trust::RequesterFacts requester;
  std::vector<std::string> own_ids;
  if (mode == AccessMode::kUser && !principal.hpr_number.empty()) {
    auto cf = GatherClinicianFacts(ctx, principal.hpr_number, pol.practitioner_name);
    if (!cf.ok()) return fail(cf.status());
    clinician = std::move(*cf);
    for (const auto& a : clinician.authorizations) {
      if (a.status == "active" && pol.practitioner_authorization.empty()) {
        pol.practitioner_authorization = a.code;
      }
    }
    // Prøvesvar search: the role the clinician states must be theirs (audited as such).
    if (Status role = CheckRequesterRole(req, target, method, clinician,
                                         pol.practitioner_authorization);
        !role.ok()) {
      return fail(role);
    }
  }
  if (mode == AccessMode::kPatient) {
    if (principal.pid.empty()) {
      return fail(ForbiddenFor(mode, "patient scopes need a person (pid) in the token"));
    }
    auto ids = PatientsWithPid(ctx, principal.pid);
    if (!ids.ok()) return fail(ids.status());
    own_ids = std::move(*ids);
    if (own_ids.empty()) return fail(ForbiddenFor(mode, "no patient record belongs to this person"));
    pol.requester_reference = "Patient/" + own_ids.front();
    auto me = ReadJson(ctx, "Patient", own_ids.front());
    if (!me.ok()) return fail(me.status());
    if (*me) {
      requester.age = AgeYears((*me)->get_string("birthDate"), ctx.clock.NowUs());
      requester.confidential_address = no::HasConfidentialAddress(**me);
    }
  }
  auto decide = [&](const std::string& patient_id, const std::string& type,
                    trust::PdpInteraction what) -> Result<trust::Decision> {
    trust::DecisionInput in;
    in.caller = pol.caller;
    in.interaction = what;
    in.resource_type = type;
    in.patient_data = IsPatientData(ctx.model, type);
    in.clinician = clinician;
    in.requester = requester;
    in.now_s = now_s;
    if (in.patient_data && !patient_id.empty()) {
      GM_ASSIGN_OR_RETURN(in.patient, GatherPatientFacts(ctx, patient_id, pol.caller, true));
    }
    return trust::Decide(in);
  };
  // One decision per patient (the audit writes one event per patient): a
  // denial for a patient outweighs a permit for the same patient.
  auto record = [&](const std::string& patient, const trust::Decision& d) {
    for (size_t i = 0; i < pol.patients.size(); ++i) {
      if (pol.patients[i] != patient) continue;
      if (!d.permit && pol.decisions[i].permit) pol.decisions[i] = d;
      return;
    }
    pol.patients.push_back(patient);
    pol.decisions.push_back(d);
  };
  pol.confined_writes = mode != AccessMode::kSystem;
  auto permit_write = [&](const std::string& patient, const std::string& type) {
    std::pair<std::string, std::string> key{patient, type};
    if (std::find(pol.write_permits.begin(), pol.write_permits.end(), key) ==
        pol.write_permits.end()) {
      pol.write_permits.push_back(std::move(key));
    }
  };
  // The patients a search (or conditional criteria) names: patient=,
  // subject= as Patient/X; for Patient: _id=X, identifier=…|FNR.
  // `unnamed`: some value names no known patient.
  auto named_patients = [&](const Params& params, const std::string& type,
                            std::vector<std::string>& named, bool& unnamed) -> Status {
    for (const auto& [name, value] : params) {
      std::string_view n = name;
      const bool ref_param = n == "patient" || n == "subject" || n == "patient:Patient" ||
                             n == "subject:Patient";
      const bool patient_id = type == "Patient" && n == "_id";
      const bool patient_ident = type == "Patient" && n == "identifier";
      if (!ref_param && !patient_id && !patient_ident) continue;
      size_t start = 0;
      while (start <= value.size()) {
        size_t comma = value.find(',', start);
        if (comma == std::string::npos) comma = value.size();
        std::string v = value.substr(start, comma - start);
        start = comma + 1;
        if (patient_ident) {
          size_t bar = v.find('|');
          std::string code = bar == std::string::npos ? v : v.substr(bar + 1);
          GM_ASSIGN_OR_RETURN(auto ids, PatientsWithPid(ctx, code));
          if (ids.empty()) unnamed = true;
          for (auto& i : ids) named.push_back(i);
          continue;
        }
        std::string id = RefId(v, "Patient");
        if (id.empty() && (patient_id || n.starts_with("patient") || n == "subject:Patient") &&
            IsValidId(v)) {
          id = v;
        }
        if (id.empty()) unnamed = true;
        else named.push_back(id);
      }
    }
    std::sort(named.begin(), named.end());
    named.erase(std::unique(named.begin(), named.end()), named.end());
    return Status::Ok();
  };
  // Everything a citizen may act for: own records, children, fullmakt givers.
  auto citizen_candidates = [&]() -> Result<std::vector<std::string>> {
    std::vector<std::string> out = own_ids;
    auto add = [&](const std::string& id) {
      if (!id.empty() && std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
    };
    store::Query rp;
    rp.type = "RelatedPerson";
    rp.limit = 20;
    store::Clause ident;
    ident.op = store::Clause::Op::kTokenEq;
    ident.param = "identifier";
    for (std::string_view system : {no::systems::kFnr, no::systems::kDnr}) {
      ident.any_of.push_back(store::Clause::Value{
          .system = std::string(system), .system_given = true, .code = principal.pid});
    }
    rp.clauses.push_back(std::move(ident));
    GM_ASSIGN_OR_RETURN(auto related, SearchJson(ctx, rp));
    for (const auto& r : related) {
      if (const json::Value* p = r.find("patient")) add(RefId(p->get_string("reference"), "Patient"));
    }
    store::Query fm;
    fm.type = "Consent";
    fm.limit = 100;
    fm.clauses.push_back(TokenClause("category", kControlSystem, "fullmakt"));
    // Indexed: the receiver named by identifier in provision.actor.reference.
    store::Clause receiver;
    receiver.op = store::Clause::Op::kTokenEq;
    receiver.param = "actor:identifier";
    for (std::string_view system : {no::systems::kFnr, no::systems::kDnr}) {
      receiver.any_of.push_back(store::Clause::Value{
          .system = std::string(system), .system_given = true, .code = principal.pid});
    }
    fm.clauses.push_back(std::move(receiver));
    GM_ASSIGN_OR_RETURN(auto consents, SearchJson(ctx, fm));
    for (const auto& c : consents) {
      for (const auto& ctl : ControlsFrom({c})) {
        if (ctl.kind == trust::CitizenControl::Kind::kFullmakt && ctl.receiver_pid == principal.pid) {
          if (const json::Value* p = c.find("patient")) add(RefId(p->get_string("reference"), "Patient"));
        }
      }
    }
    return out;
  };
  auto allowed_types = [&](const trust::Decision& d) {
    std::vector<std::string> out;
    for (const auto& t : ctx.model.ResourceTypes()) {
      if (IsPatientData(ctx.model, t) && trust::TypeAllowed(d, t)) out.push_back(t);
    }
    return out;
  };
  auto has_exclusions = [](const trust::Decision& d) {
    return d.excluded_all_but || !d.excluded_types.empty();
  };
  // The patients of a request body (create / update).
  auto body_compartments = [&](const std::string& type, const std::string& id)
      -> Result<std::vector<std::string>> {
    auto doc = json::Parse(req.body, json::ParseOptions{.max_depth = ctx.options.max_json_depth});
    if (!doc.ok() || !doc->is_object()) return std::vector<std::string>();  // the handler answers 400
    return ctx.indexer.Compartments(type, id.empty() ? "new" : id, *doc);
  };

  switch (pol.rule) {
    case RouteRule::kPublic:
    case RouteRule::kNoData:
    case RouteRule::kSystemAsToday:
      return pol;
    case RouteRule::kDenied: {
      std::string why = mode == AccessMode::kPatient
                            ? "this route is not open to citizens"
                        : mode == AccessMode::kUser
                            ? "clinician requests must concern one identified patient; this "
                              "route is not open to clinicians"
                            : "this kind of client does not use this route";
      if (mode == AccessMode::kPatient && !IsGet(method)) {
        why = "citizens read their own record here; they change only their consents";
      }
      return fail(ForbiddenFor(mode, why));
    }
    case RouteRule::kSystemByType: {
      std::string type = target.type;
      if (target.route == Route::kCompartmentSearch) {
        type = target.compartment_type.empty() ? "*" : target.compartment_type;
      }
      if (target.route == Route::kInstanceOperation) type = "*";
      if (IsEreseptOperation(target)) type = op_type;
      trust::DecisionInput in;
      in.caller = pol.caller;
      in.interaction = interaction;
      in.resource_type = type;
      in.patient_data = IsPatientData(ctx.model, type);
      in.now_s = now_s;
      trust::Decision d = trust::Decide(in);
      if (!d.permit) return fail(Denied(mode, d));
      pol.no_reach = true;
      if (type == "*" && has_exclusions(d)) {
        if (target.route != Route::kInstanceOperation) {
          return fail(ForbiddenFor(mode, "name the type to search in the compartment"));
        }
        pol.everything_types = allowed_types(d);
        if (pol.everything_types.empty()) {
          return fail(ForbiddenFor(mode, "this kind of client does not reach this kind of data"));
        }
      }
      return pol;
    }
    case RouteRule::kAddressed: {
      if (!IsPatientData(ctx.model, target.type)) {
        auto d = decide("", target.type, trust::PdpInteraction::kRead);
        if (!d.ok()) return fail(d.status());
        if (!d->permit) return fail(NotFound(target.type, target.id));
        return pol;
      }
      auto comps = CompartmentsOf(ctx, target.type, target.id);
      if (!comps.ok()) return fail(comps.status());
      if (comps->empty()) return fail(NotFound(target.type, target.id));
      bool ok = true;
      std::vector<std::string> cands;
      if (mode == AccessMode::kPatient) {
        auto found = citizen_candidates();
        if (!found.ok()) return fail(found.status());
        cands = std::move(*found);
      }
      for (const auto& p : *comps) {
        if (mode == AccessMode::kPatient &&
            std::find(cands.begin(), cands.end(), p) == cands.end()) {
          trust::Decision stranger;
          stranger.code = "GM-PDP-050";
          stranger.reason = "not the person and not a representative";
          record(p, stranger);  // audited as denied for that patient
          ok = false;
          continue;
        }
        auto d = decide(p, target.type, trust::PdpInteraction::kRead);
        if (!d.ok()) return fail(d.status());
        record(p, *d);
        if (!d->permit) ok = false;
      }
      if (!ok) return fail(NotFound(target.type, target.id));
      return pol;
    }
    case RouteRule::kAddressedWrite:
    case RouteRule::kCreate: {
      if (!IsPatientData(ctx.model, target.type)) {
        auto d = decide("", target.type, interaction);
        if (!d.ok()) return fail(d.status());
        if (!d->permit) return fail(Denied(mode, *d));
        return pol;
      }
      std::vector<std::string> patients;
      if (pol.rule == RouteRule::kCreate && !req.Header("if-none-exist").empty()) {
        // Its match would search across patients (and tell what exists).
        return fail(ForbiddenFor(mode, "conditional create (If-None-Exist) is open only to "
                                       "operator and EHR systems"));
      }
      if (pol.rule == RouteRule::kAddressedWrite) {
        auto old = CompartmentsOf(ctx, target.type, target.id);
        if (!old.ok()) return fail(old.status());
        // No existence probe (PUT, DELETE, PATCH, and the e-resept instance
        // operations $recall/$renew): an unknown id (persons do not create
        // with ids of their choosing) and an id in a record the caller may
        // not see answer alike, as a read of an unknown id does.
        const bool probe_safe =
            target.route == Route::kInstance || target.route == Route::kInstanceOperation;
        if (probe_safe && old->empty()) return fail(NotFound(target.type, target.id));
        for (const auto& p : probe_safe ? *old : std::vector<std::string>{}) {
          auto d = decide(p, target.type, trust::PdpInteraction::kRead);
          if (!d.ok()) return fail(d.status());
          if (!d->permit) {
            record(p, *d);
            return fail(NotFound(target.type, target.id));
          }
        }
        patients = std::move(*old);
      }
      if (method == "PUT" || (method == "POST" && target.route != Route::kInstanceOperation)) {
        auto fresh = body_compartments(target.type, target.id);
        if (!fresh.ok()) return fail(fresh.status());
        for (auto& p : *fresh) {
          if (std::find(patients.begin(), patients.end(), p) == patients.end()) patients.push_back(p);
        }
      }
      if (patients.empty()) {
        return fail(ForbiddenFor(mode, "the resource does not belong to a patient this caller acts for"));
      }
      bool ok = true;
      trust::Decision first_denial;
      for (const auto& p : patients) {
        auto d = decide(p, target.type, interaction);
        if (!d.ok()) return fail(d.status());
        record(p, *d);
        if (d->permit) permit_write(p, target.type);
        if (!d->permit && ok) {
          ok = false;
          first_denial = *d;
        }
      }
      if (!ok) return fail(Denied(mode, first_denial));
      return pol;
    }
    case RouteRule::kConditionalWrite: {
      const std::string& type = target.type;
      if (!IsPatientData(ctx.model, type)) {
        auto d = decide("", type, interaction);
        if (!d.ok()) return fail(d.status());
        if (!d->permit) return fail(Denied(mode, *d));
        return pol;
      }
      auto criteria = CriteriaQuery(ctx, type, req.query);
      if (!criteria.ok()) return fail(criteria.status());  // 400, as the handler would answer
      for (const auto& c : criteria->clauses) {
        if (c.op == store::Clause::Op::kChain || c.op == store::Clause::Op::kHas) {
          return fail(Status::Error(ErrorCategory::kForbidden, "GM-AUTH-043", "forbidden",
                                    "chains and _has are open only to operator and EHR systems"));
        }
      }
      std::vector<std::string> named;
      bool unnamed_value = false;
      if (Status st = named_patients(query_params, type, named, unnamed_value); !st.ok()) {
        return fail(st);
      }
      if (named.size() != 1 || unnamed_value) {
        return fail(ForbiddenFor(mode, "a conditional update or delete by a person must name "
                                       "exactly one identified patient (patient=, subject=)"));
      }
      std::vector<std::string> patients = named;
      if (method == "PUT") {
        auto fresh = body_compartments(type, "");
        if (!fresh.ok()) return fail(fresh.status());
        for (auto& p : *fresh) {
          if (std::find(patients.begin(), patients.end(), p) == patients.end()) patients.push_back(p);
        }
      }
      for (const auto& p : patients) {
        auto d = decide(p, type, interaction);
        if (!d.ok()) return fail(d.status());
        record(p, *d);
        if (!d->permit) return fail(Denied(mode, *d));
        permit_write(p, type);
      }
      // The match is confined to the named patient's compartment.
      pol.patient_scope = named;
      return pol;
    }
    case RouteRule::kBundle: {
      if (Status st = DecideBundleEntries(ctx, principal, mode, req, pol, record); !st.ok()) {
        return fail(std::move(st));
      }
      return pol;
    }
    case RouteRule::kPatientSearch: {
      const std::string& type = target.type;
      if (!IsPatientData(ctx.model, type)) {
        if (mode == AccessMode::kPatient) {
          pol.patient_scope = own_ids;  // as before: nothing outside the own compartments
          return pol;
        }
        auto d = decide("", type, trust::PdpInteraction::kSearch);
        if (!d.ok()) return fail(d.status());
        if (!d->permit) return fail(Denied(mode, *d));
        pol.no_reach = true;
        return pol;
      }
      // The patients the search names.
      Params params = query_params;
      if (method == "POST" && target.route == Route::kTypeSearch) {
        if (auto form = ParseForm(req.body); form.ok()) {
          params.insert(params.end(), form->begin(), form->end());
        }
      }
      // A follow-up page (`_page` token of a POST _search): decided on the
      // parameters sealed in the token, exactly as the first page was.
      if (std::optional<std::string> token = ParamValue(params, "_page")) {
        auto sealed = SealedSearchParams(ctx, *token);
        if (!sealed.ok()) return fail(sealed.status());
        params = std::move(*sealed);
      }
      std::vector<std::string> named;
      bool unnamed_value = false;
      if (Status st = named_patients(params, type, named, unnamed_value); !st.ok()) {
        return fail(st);
      }
      if (mode == AccessMode::kUser) {
        if (named.size() != 1 || unnamed_value) {
          return fail(ForbiddenFor(mode, "clinician searches must name one identified patient "
                                         "(patient=, subject=, or Patient/X/…)"));
        }
        auto d = decide(named[0], type, trust::PdpInteraction::kSearch);
        if (!d.ok()) return fail(d.status());
        record(named[0], *d);
        if (!d->permit) return fail(Denied(mode, *d));
        pol.patient_scope = named;
        return pol;
      }
      auto cands = citizen_candidates();
      if (!cands.ok()) return fail(cands.status());
      std::vector<std::string> consider;
      for (const auto& c : *cands) {
        if (named.empty() || std::find(named.begin(), named.end(), c) != named.end()) {
          consider.push_back(c);
        }
      }
      for (const auto& c : consider) {
        auto d = decide(c, type, trust::PdpInteraction::kSearch);
        if (!d.ok()) return fail(d.status());
        if (d->permit) {
          record(c, *d);
          pol.patient_scope.push_back(c);
        }
      }
      if (pol.patient_scope.empty()) {
        return fail(ForbiddenFor(mode, "no record this person may see matches the search"));
      }
      return pol;
    }
    case RouteRule::kCompartment: {
      const std::string& x = target.id;
      std::string type = "*";
      if (target.route == Route::kCompartmentSearch && !target.compartment_type.empty()) {
        type = target.compartment_type;
      }
      if (target.operation == "access-log") type = "AuditEvent";
      if (IsEreseptOperation(target)) type = op_type;
      if (mode == AccessMode::kPatient) {
        auto cands = citizen_candidates();
        if (!cands.ok()) return fail(cands.status());
        if (std::find(cands->begin(), cands->end(), x) == cands->end()) {
          trust::Decision stranger;
          stranger.code = "GM-PDP-050";
          stranger.reason = "not the person and not a representative";
          record(x, stranger);  // audited as denied for that patient
          return fail(NotFound("Patient", x));
        }
      }
      auto d = decide(x, type, IsEreseptOperation(target) ? interaction : trust::PdpInteraction::kSearch);
      if (!d.ok()) return fail(d.status());
      record(x, *d);
      if (!d->permit) return fail(NotFound("Patient", x));
      if (type == "*" && has_exclusions(*d)) {
        if (target.route != Route::kInstanceOperation) {
          return fail(ForbiddenFor(mode, "name the type to search in this compartment"));
        }
        pol.everything_types = allowed_types(*d);
        if (pol.everything_types.empty()) return fail(Denied(mode, *d));
      }
      pol.patient_scope = {x};
      return pol;
    }
  }
  return fail(ForbiddenFor(mode, "not decided"));
}

http::Response Unauthorized(const Status& status) {
  http::Response r = ErrorResponse(status);
  r.status = 401;
  std::string error = status.code() == "GM-AUTH-001" ? "" : ", error=\"invalid_token\"";
  r.SetHeader("WWW-Authenticate",
              "DPoP algs=\"ES256 RS256\"" + error + ", Bearer realm=\"grunnmur\"" + error);
  return r;
}

std::optional<http::Response> Discovery(const Context& ctx, const http::Request& req) {
  if (req.path != "/.well-known/openid-configuration" && req.path != "/jwks" &&
      req.path != "/.well-known/jwks.json") {
    return std::nullopt;
  }
  http::Response r;
  r.interaction = "discovery";
  r.SetHeader("Content-Type", "application/json; charset=utf-8");
  r.SetHeader("Cache-Control", "max-age=300");
  if (req.method != "GET" && req.method != "HEAD") {
    return ErrorResponse(Status::Error(ErrorCategory::kMethodNotAllowed, "GM-REST-004",
                                       "not-supported", "only GET is allowed here"));
  }
  if (req.path == "/.well-known/openid-configuration") {
    json::Value d = json::Value::MakeObject();
    d.set("issuer", ctx.issuer);
    d.set("jwks_uri", ctx.options.base_url + "/jwks");
    const std::string& base = ctx.options.base_url;
    d.set("token_endpoint", base + "/token");
    d.set("authorization_endpoint", base + "/authorize");
    d.set("pushed_authorization_request_endpoint", base + "/par");
    d.set("require_pushed_authorization_requests", true);
    d.set("introspection_endpoint", base + "/introspect");
    d.set("userinfo_endpoint", base + "/userinfo");
    auto list = [](std::initializer_list<const char*> items) {
      json::Value a = json::Value::MakeArray();
      for (const char* i : items) a.push_back(i);
      return a;
    };
    d.set("grant_types_supported", list({"client_credentials", "authorization_code"}));
    d.set("response_types_supported", list({"code"}));
    d.set("response_modes_supported", list({"query"}));
    d.set("code_challenge_methods_supported", list({"S256"}));
    d.set("authorization_response_iss_parameter_supported", true);
    d.set("subject_types_supported", list({"public"}));
    json::Value methods = list({"private_key_jwt"});
    d.set("token_endpoint_auth_methods_supported", methods);
    d.set("pushed_authorization_request_endpoint_auth_methods_supported", methods);
    d.set("introspection_endpoint_auth_methods_supported", methods);
    json::Value algs = list({"ES256", "RS256"});
    d.set("dpop_signing_alg_values_supported", algs);
    d.set("token_endpoint_auth_signing_alg_values_supported", algs);
    d.set("introspection_endpoint_auth_signing_alg_values_supported", algs);
    json::Value signing = json::Value::MakeArray();
    if (ctx.keys) signing.push_back(std::string(trust::AlgName(ctx.keys->Current().alg())));
    d.set("id_token_signing_alg_values_supported", signing);
    d.set("authorization_details_types_supported", list({"nhn:tillitsrammeverk:parameters"}));
    d.set("claims_supported",
          list({"sub", "name", "given_name", "family_name", "helseid://claims/identity/pid",
                "helseid://claims/identity/security_level", "helseid://claims/hpr/hpr_number",
                "helseid://claims/client/claims/orgnr_parent",
                "helseid://claims/client/claims/orgnr_child"}));
    d.set("scopes_supported",
          list({"openid", "patient/*.rs", "user/*.cruds", "system/*.cruds"}));
    r.body = json::Write(d);
    return r;
  }
  r.body = ctx.keys ? json::Write(ctx.keys->PublicJwks()) : std::string("{\"keys\":[]}");
  return r;
}

}  // namespace gm::rest
