#include "audit/event.h"

#include <openssl/evp.h>

#include <string_view>

#include "core/time.h"

namespace gm::audit {
namespace {

constexpr const char* kFnrSystem = "urn:oid:2.16.578.1.12.4.1.4.1";
constexpr const char* kDnrSystem = "urn:oid:2.16.578.1.12.4.1.4.2";
constexpr const char* kHprSystem = "urn:oid:2.16.578.1.12.4.1.4.4";
constexpr const char* kOrgnrSystem = "urn:oid:2.16.578.1.12.4.1.4.101";
constexpr const char* kReshSystem = "urn:oid:2.16.578.1.12.4.1.4.102";
constexpr const char* kVolven9060 = "urn:oid:2.16.578.1.12.4.1.1.9060";
constexpr const char* kVolven9151 = "urn:oid:2.16.578.1.12.4.1.1.9151";
constexpr const char* kActReason = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
constexpr const char* kClientIdSystem = "urn:ietf:params:oauth:client-id";

json::Value Coding(std::string_view system, std::string_view code, std::string_view display) {
  json::Value c = json::Value::MakeObject();
  c.set("system", std::string(system));
  c.set("code", std::string(code));
  if (!display.empty()) c.set("display", std::string(display));
  return c;
}

json::Value Concept(json::Value coding) {
  json::Value cc = json::Value::MakeObject();
  json::Value arr = json::Value::MakeArray();
  arr.push_back(std::move(coding));
  cc.set("coding", std::move(arr));
  return cc;
}

json::Value Ident(std::string_view system, std::string_view value) {
  json::Value id = json::Value::MakeObject();
  id.set("system", std::string(system));
  id.set("value", std::string(value));
  return id;
}

json::Value Ref(std::string_view reference, std::string_view display = {}) {
  json::Value r = json::Value::MakeObject();
  r.set("reference", std::string(reference));
  if (!display.empty()) r.set("display", std::string(display));
  return r;
}

json::Value Ext(std::string url, std::string_view value_key, json::Value value) {
  json::Value e = json::Value::MakeObject();
  e.set("url", std::move(url));
  e.set(value_key, std::move(value));
  return e;
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

// restful-interaction code → AuditEvent.action.
std::optional<std::string_view> ActionFor(std::string_view interaction) {
  if (interaction == "create") return "C";
  if (interaction == "update" || interaction == "patch") return "U";
  if (interaction == "delete") return "D";
  if (interaction == "read" || interaction == "vread" || interaction == "search" ||
      interaction == "search-type" || interaction == "search-system" ||
      interaction == "history" || interaction == "history-instance" ||
      interaction == "history-type" || interaction == "history-system")
    return "R";
  if (interaction == "operation" || interaction == "transaction" || interaction == "batch")
    return "E";
  return std::nullopt;
}

std::string_view PurposeDisplay(std::string_view code) {
  if (code == "TREAT") return "treatment";
  if (code == "ETREAT") return "Emergency Treatment";
  if (code == "COC") return "coordination of care";
  if (code == "BTG") return "break the glass";
  return "";
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

Status Invalid(std::string code, std::string text) {
  return Status::Error(ErrorCategory::kInvalid, std::move(code), "invalid", std::move(text));
}

}  // namespace

std::string IgUrl(std::string_view id) {
  return std::string(kIgCanonical) + "/StructureDefinition/" + std::string(id);
}

Result<Event> BuildAuditEvent(const AccessRecord& r) {
  if (r.patient_id.empty()) return Invalid("GM-AUDIT-001", "an audit event needs the patient id");
  auto action = ActionFor(r.interaction);
  if (!action) return Invalid("GM-AUDIT-002", "unknown interaction for an audit event");
  if (r.actor.kind == ActorKind::kClinician && !AllDigits(r.actor.hpr_number))
    return Invalid("GM-AUDIT-003", "a clinician's audit event needs the HPR number");
  if (r.actor.kind == ActorKind::kCitizen && r.actor.person_reference.empty())
    return Invalid("GM-AUDIT-005", "a citizen's audit event needs the person reference");
  if (r.time_us <= 0) return Invalid("GM-AUDIT-006", "an audit event needs its time");
  std::string purpose = r.break_the_glass ? "BTG" : r.care.purpose_of_use;
  if (!purpose.empty() && PurposeDisplay(purpose).empty())
    return Invalid("GM-AUDIT-004", "purpose of use must be TREAT, ETREAT, COC or BTG");

  const Actor& a = r.actor;
  json::Value ev = json::Value::MakeObject();
  ev.set("resourceType", "AuditEvent");
  if (a.kind == ActorKind::kClinician) {
    json::Value meta = json::Value::MakeObject();
    json::Value profiles = json::Value::MakeArray();
    profiles.push_back(IgUrl("no-domain-Trustframework-Auditevent"));
    meta.set("profile", std::move(profiles));
    ev.set("meta", std::move(meta));
  }

  // Contained resources.
  json::Value contained = json::Value::MakeArray();
  {
    json::Value patient = json::Value::MakeObject();
    patient.set("resourceType", "Patient");
    patient.set("id", "patient");
    json::Value ids = json::Value::MakeArray();
    if (!r.patient_identifier.empty()) {
      bool dnr = r.patient_identifier[0] >= '4' && r.patient_identifier[0] <= '7';
      json::Value ident = Ident(dnr ? kDnrSystem : kFnrSystem, r.patient_identifier);
      ids.push_back(std::move(ident));
    } else {
      // The IG wants an identifier: the logical id on this server.
      ids.push_back(Ident("urn:grunnmur:patient-id", r.patient_id));
    }
    patient.set("identifier", std::move(ids));
    contained.push_back(std::move(patient));
  }
  if (a.kind == ActorKind::kClinician) {
    json::Value pract = json::Value::MakeObject();
    pract.set("resourceType", "Practitioner");
    pract.set("id", "practitioner");
    json::Value ids = json::Value::MakeArray();
    ids.push_back(Ident(kHprSystem, a.hpr_number));  // never the FNR
    pract.set("identifier", std::move(ids));
    if (!a.name.empty()) {
      json::Value names = json::Value::MakeArray();
      json::Value n = json::Value::MakeObject();
      n.set("text", a.name);
      names.push_back(std::move(n));
      pract.set("name", std::move(names));
    }
    if (!a.authorization.empty()) {
      json::Value quals = json::Value::MakeArray();
      json::Value q = json::Value::MakeObject();
      q.set("code", Concept(Coding(kVolven9060, a.authorization, a.authorization_display)));
      quals.push_back(std::move(q));
      pract.set("qualification", std::move(quals));
    }
    contained.push_back(std::move(pract));

    // Organisation: the department (part of the legal entity) or the legal entity.
    std::string org_ref;
    if (!a.legal_entity_orgnr.empty() || !a.legal_entity_name.empty()) {
      json::Value le = json::Value::MakeObject();
      le.set("resourceType", "Organization");
      le.set("id", "legal-entity");
      if (!a.legal_entity_orgnr.empty()) {
        json::Value ids2 = json::Value::MakeArray();
        ids2.push_back(Ident(kOrgnrSystem, a.legal_entity_orgnr));
        le.set("identifier", std::move(ids2));
      }
      if (!a.legal_entity_name.empty()) le.set("name", a.legal_entity_name);
      contained.push_back(std::move(le));
      org_ref = "#legal-entity";
    }
    if (!a.department_resh.empty() || !a.department_name.empty()) {
      json::Value dep = json::Value::MakeObject();
      dep.set("resourceType", "Organization");
      dep.set("id", "department");
      if (!a.department_resh.empty()) {
        json::Value ids2 = json::Value::MakeArray();
        ids2.push_back(Ident(kReshSystem, a.department_resh));
        dep.set("identifier", std::move(ids2));
      }
      if (!a.department_name.empty()) dep.set("name", a.department_name);
      if (!org_ref.empty()) dep.set("partOf", Ref(org_ref));
      contained.push_back(std::move(dep));
      org_ref = "#department";
    }
    std::string loc_ref;
    if (!a.point_of_care_orgnr.empty() || !a.point_of_care_name.empty()) {
      json::Value poc = json::Value::MakeObject();
      poc.set("resourceType", "Organization");
      poc.set("id", "point-of-care-org");
      if (!a.point_of_care_orgnr.empty()) {
        json::Value ids2 = json::Value::MakeArray();
        ids2.push_back(Ident(kOrgnrSystem, a.point_of_care_orgnr));
        poc.set("identifier", std::move(ids2));
      }
      if (!a.point_of_care_name.empty()) poc.set("name", a.point_of_care_name);
      contained.push_back(std::move(poc));
      json::Value loc = json::Value::MakeObject();
      loc.set("resourceType", "Location");
      loc.set("id", "point-of-care");
      loc.set("managingOrganization", Ref("#point-of-care-org"));
      contained.push_back(std::move(loc));
      loc_ref = "#point-of-care";
    }
    json::Value role = json::Value::MakeObject();
    role.set("resourceType", "PractitionerRole");
    role.set("id", "practitioner-role");
    role.set("active", true);
    role.set("practitioner", Ref("#practitioner"));
    if (!org_ref.empty()) role.set("organization", Ref(org_ref));
    if (!loc_ref.empty()) {
      json::Value locs = json::Value::MakeArray();
      locs.push_back(Ref(loc_ref));
      role.set("location", std::move(locs));
    }
    contained.push_back(std::move(role));
  }
  ev.set("contained", std::move(contained));

  // Extensions: the patient (1..1), the care relation metadata (0..1).
  json::Value exts = json::Value::MakeArray();
  exts.push_back(Ext(IgUrl("auditevent-patient-extension"), "valueReference", Ref("#patient")));
  if (r.care.toa > 0) {
    json::Value meta = json::Value::MakeObject();
    meta.set("url", IgUrl("auditevent-carerelation-metadata-extension"));
    json::Value sub = json::Value::MakeArray();
    sub.push_back(Ext("decision-ref-id", "valueString", r.care.decision_ref_id.empty()
                                                            ? std::string("-")
                                                            : r.care.decision_ref_id));
    sub.push_back(Ext("decision-ref-description", "valueString",
                      r.care.decision_ref_description.empty() ? std::string("-")
                                                              : r.care.decision_ref_description));
    sub.push_back(Ext("decision-ref-user-selected", "valueBoolean",
                      json::Value(r.care.decision_ref_user_selected)));
    sub.push_back(Ext("toa", "valueUnsignedInt", json::Value(r.care.toa)));
    meta.set("extension", std::move(sub));
    exts.push_back(std::move(meta));
  }
  ev.set("extension", std::move(exts));

  ev.set("type", Coding("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest",
                        "RESTful Operation"));
  {
    json::Value sub = json::Value::MakeArray();
    sub.push_back(Coding("http://hl7.org/fhir/restful-interaction", r.interaction, ""));
    ev.set("subtype", std::move(sub));
  }
  ev.set("action", std::string(*action));
  ev.set("recorded", time::FormatInstant(r.time_us));
  ev.set("outcome", std::to_string(static_cast<int>(r.outcome)));
  if (!r.outcome_text.empty()) ev.set("outcomeDesc", r.outcome_text);

  if (!purpose.empty()) {
    json::Value pe = json::Value::MakeArray();
    json::Value cc = json::Value::MakeObject();
    json::Value codings = json::Value::MakeArray();
    codings.push_back(Coding(kActReason, purpose, PurposeDisplay(purpose)));
    if (!r.care.purpose_detail_code.empty())
      codings.push_back(
          Coding(kVolven9151, r.care.purpose_detail_code, r.care.purpose_detail_display));
    cc.set("coding", std::move(codings));
    pe.push_back(std::move(cc));
    ev.set("purposeOfEvent", std::move(pe));
  }

  // Agents.
  json::Value agents = json::Value::MakeArray();
  bool person = a.kind != ActorKind::kSystem;
  json::Value client_who = json::Value::MakeObject();
  client_who.set("type", "Device");
  client_who.set("identifier", Ident(kClientIdSystem, a.client_id.empty() ? "unknown" : a.client_id));
  if (!a.client_name.empty()) client_who.set("display", a.client_name);
  auto policy = [&](json::Value& agent) {
    if (a.token_jti.empty()) return;
    json::Value p = json::Value::MakeArray();
    p.push_back(a.token_jti);
    agent.set("policy", std::move(p));
  };
  if (person) {
    json::Value ag = json::Value::MakeObject();
    if (a.kind == ActorKind::kClinician) {
      ag.set("type", Concept(Coding("http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                    "IRCP", "information recipient")));
      ag.set("who", Ref("#practitioner-role", a.name));
    } else {
      ag.set("type", Concept(Coding("http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                    "IRCP", "information recipient")));
      ag.set("who", Ref(a.person_reference, a.name));
      if (!a.relationship.empty()) {
        json::Value roles = json::Value::MakeArray();
        json::Value rc = json::Value::MakeObject();
        rc.set("text", a.relationship);
        roles.push_back(std::move(rc));
        ag.set("role", std::move(roles));
      }
    }
    ag.set("requestor", true);
    policy(ag);
    agents.push_back(std::move(ag));
  }
  {
    json::Value ag = json::Value::MakeObject();
    ag.set("type", Concept(Coding("http://dicom.nema.org/resources/ontology/DCM", "110150",
                                  "Application")));
    ag.set("who", std::move(client_who));
    ag.set("requestor", !person);
    if (!person) policy(ag);
    agents.push_back(std::move(ag));
  }
  if (!a.client_orgnr.empty()) {  // the client's organisation (orgnr)
    json::Value ag = json::Value::MakeObject();
    json::Value who = json::Value::MakeObject();
    who.set("type", "Organization");
    who.set("identifier", Ident(kOrgnrSystem, a.client_orgnr));
    ag.set("who", std::move(who));
    ag.set("requestor", false);
    agents.push_back(std::move(ag));
  }
  ev.set("agent", std::move(agents));

  {
    json::Value src = json::Value::MakeObject();
    src.set("site", "grunnmur");
    json::Value observer = json::Value::MakeObject();
    observer.set("display", "grunnmur");
    src.set("observer", std::move(observer));
    json::Value types = json::Value::MakeArray();
    types.push_back(Coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4",
                           "Application Server"));
    src.set("type", std::move(types));
    ev.set("source", std::move(src));
  }

  json::Value entities = json::Value::MakeArray();
  {
    json::Value e = json::Value::MakeObject();
    e.set("what", Ref("Patient/" + r.patient_id));
    e.set("type", Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person"));
    e.set("role", Coding("http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient"));
    entities.push_back(std::move(e));
  }
  if (!r.resource_type.empty() || !r.query.empty()) {
    json::Value e = json::Value::MakeObject();
    if (!r.resource_type.empty() && !r.resource_id.empty())
      e.set("what", Ref(r.resource_type + "/" + r.resource_id));
    e.set("type",
          Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"));
    if (!r.query.empty()) {
      e.set("role", Coding("http://terminology.hl7.org/CodeSystem/object-role", "24", "Query"));
      e.set("query", Base64(r.query));
    } else {
      e.set("role", Coding("http://terminology.hl7.org/CodeSystem/object-role", "4", "Domain Resource"));
    }
    // sev-1: a name or a query, not both; the type goes in description.
    if (!r.resource_type.empty()) e.set("description", r.resource_type);
    entities.push_back(std::move(e));
  }
  ev.set("entity", std::move(entities));

  Event out;
  out.patient_id = r.patient_id;
  out.time_us = r.time_us;
  out.resource = std::move(ev);
  return out;
}

Result<std::vector<Event>> BuildAuditEvents(const AccessRecord& record,
                                            const std::vector<std::string>& patient_ids) {
  std::vector<Event> out;
  out.reserve(patient_ids.size());
  for (const std::string& id : patient_ids) {
    AccessRecord r = record;
    r.patient_id = id;
    if (id != record.patient_id) r.patient_identifier.clear();  // only known for the given one
    GM_ASSIGN_OR_RETURN(Event e, BuildAuditEvent(r));
    out.push_back(std::move(e));
  }
  return out;
}

namespace {

const json::Value* ContainedById(const json::Value& ev, std::string_view id) {
  const json::Value* c = ev.find("contained");
  if (!c || !c->is_array()) return nullptr;
  for (const json::Value& r : c->array())
    if (r.is_object() && r.get_string("id") == id) return &r;
  return nullptr;
}

std::string FirstCodingField(const json::Value* cc, std::string_view field) {
  if (!cc) return {};
  const json::Value* codings = cc->find("coding");
  if (!codings || !codings->is_array() || codings->empty()) return {};
  return std::string(codings->array()[0].get_string(field));
}

}  // namespace

AccessSummary Summarize(const json::Value& ev) {
  AccessSummary s;
  s.action = std::string(ev.get_string("action"));
  if (auto t = time::ParseFhirDateTime(ev.get_string("recorded"))) s.time_us = t->begin_us;
  const std::string outcome(ev.get_string("outcome"));
  s.outcome = AllDigits(outcome) ? std::stoi(outcome) : -1;
  if (const json::Value* sub = ev.find("subtype"); sub && sub->is_array() && !sub->empty())
    s.interaction = std::string(sub->array()[0].get_string("code"));

  // Purpose of use (basis), BTG flag.
  if (const json::Value* pe = ev.find("purposeOfEvent"); pe && pe->is_array() && !pe->empty()) {
    const json::Value& cc = pe->array()[0];
    if (const json::Value* codings = cc.find("coding"); codings && codings->is_array()) {
      for (const json::Value& c : codings->array()) {
        std::string code(c.get_string("code"));
        if (code == "BTG") s.break_the_glass = true;
        if (!s.basis.empty()) s.basis += "; ";
        std::string display(c.get_string("display"));
        s.basis += display.empty() ? code : code + " (" + display + ")";
      }
    }
  }
  if (const json::Value* exts = ev.find("extension"); exts && exts->is_array()) {
    for (const json::Value& e : exts->array()) {
      if (e.get_string("url") != IgUrl("auditevent-carerelation-metadata-extension")) continue;
      if (const json::Value* sub = e.find("extension"); sub && sub->is_array())
        for (const json::Value& x : sub->array())
          if (x.get_string("url") == "decision-ref-description") {
            std::string d(x.get_string("valueString"));
            if (!d.empty() && d != "-") s.basis += (s.basis.empty() ? "" : " — ") + d;
          }
    }
  }

  // Who.
  const json::Value* agents = ev.find("agent");
  const json::Value* requestor = nullptr;
  const json::Value* client = nullptr;
  const json::Value* client_org = nullptr;
  if (agents && agents->is_array()) {
    for (const json::Value& ag : agents->array()) {
      const json::Value* who = ag.find("who");
      if (!who) continue;
      if (const json::Value* rq = ag.find("requestor"); rq && rq->is_bool() && rq->as_bool())
        requestor = &ag;
      std::string type(who->get_string("type"));
      if (type == "Device") client = &ag;
      if (type == "Organization") client_org = &ag;
    }
  }
  auto orgnr_of = [](const json::Value* ag) -> std::string {
    if (!ag) return {};
    const json::Value* who = ag->find("who");
    const json::Value* id = who ? who->find("identifier") : nullptr;
    return id ? std::string(id->get_string("value")) : std::string();
  };
  std::string ref;
  if (requestor)
    if (const json::Value* who = requestor->find("who")) ref = std::string(who->get_string("reference"));
  if (ref == "#practitioner-role") {
    const json::Value* role = ContainedById(ev, "practitioner-role");
    const json::Value* pract = ContainedById(ev, "practitioner");
    if (pract) {
      if (const json::Value* names = pract->find("name"); names && names->is_array() && !names->empty())
        s.who = std::string(names->array()[0].get_string("text"));
      if (const json::Value* q = pract->find("qualification"); q && q->is_array() && !q->empty()) {
        const json::Value* code = q->array()[0].find("code");
        s.role = FirstCodingField(code, "display");
        if (s.role.empty()) s.role = FirstCodingField(code, "code");
      }
    }
    if (s.role.empty()) s.role = "Helsepersonell";
    if (role) {
      if (const json::Value* org = role->find("organization")) {
        std::string oref(org->get_string("reference"));
        const json::Value* o = oref.size() > 1 ? ContainedById(ev, oref.substr(1)) : nullptr;
        // A department: show "department, legal entity".
        if (o) {
          std::string name(o->get_string("name"));
          if (const json::Value* part = o->find("partOf")) {
            std::string pref(part->get_string("reference"));
            const json::Value* le = pref.size() > 1 ? ContainedById(ev, pref.substr(1)) : nullptr;
            if (le && !le->get_string("name").empty())
              name = name.empty() ? std::string(le->get_string("name"))
                                  : name + ", " + std::string(le->get_string("name"));
          }
          if (name.empty())
            if (const json::Value* ids = o->find("identifier"); ids && ids->is_array() && !ids->empty())
              name = std::string(ids->array()[0].get_string("value"));
          s.organisation = name;
        }
      }
    }
  } else if (requestor && requestor->find("who") &&
             requestor->find("who")->get_string("type") != "Device") {
    const json::Value* who = requestor->find("who");
    s.who = std::string(who->get_string("display"));
    std::string r(who->get_string("reference"));
    s.role = r.rfind("RelatedPerson/", 0) == 0 ? "Representant" : "Innbygger";
    if (const json::Value* roles = requestor->find("role"); roles && roles->is_array() && !roles->empty()) {
      std::string text(roles->array()[0].get_string("text"));
      if (!text.empty()) s.role += " (" + text + ")";
    }
  } else {
    s.role = "System";
    if (client) {
      const json::Value* who = client->find("who");
      s.who = std::string(who->get_string("display"));
      if (s.who.empty())
        if (const json::Value* id = who->find("identifier")) s.who = std::string(id->get_string("value"));
    }
  }
  if (s.organisation.empty()) s.organisation = orgnr_of(client_org);

  if (const json::Value* ents = ev.find("entity"); ents && ents->is_array())
    for (const json::Value& e : ents->array())
      if (!e.get_string("description").empty())
        s.resource_type = std::string(e.get_string("description"));
  return s;
}

}  // namespace gm::audit
