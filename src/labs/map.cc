// Svarrapport → NILAR FHIR. See svarrapport.h and docs/svarrapport-mapping.md.
#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "labs/svarrapport.h"
#include "no/identifiers.h"

namespace gm::labs {

namespace internal {
void SetFingerprint(json::Value& resource);
}  // namespace internal

namespace {

using json::Value;

constexpr std::string_view kVolvenOid = "2.16.578.1.12.4.1.1.";
constexpr std::string_view kKodeverk = "http://ehelse.no/fhir/CodeSystem/no-kodeverk-";

// ------------------------------------------------------------------ helpers

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string IdFor(std::string_view prefix, std::string_view key) {
  return std::string(prefix) + "-" + Sha256Hex(key).substr(0, 32);
}

std::string UuidFor(std::string_view key) {
  std::string h = Sha256Hex(key);
  return "urn:uuid:" + h.substr(0, 8) + "-" + h.substr(8, 4) + "-4" + h.substr(13, 3) + "-a" +
         h.substr(17, 3) + "-" + h.substr(20, 12);
}

std::string Profile(std::string_view name) { return std::string(kNilarBase) + std::string(name); }

// A code system canonical for a KITH OID.
std::string SystemFor(std::string_view oid) {
  if (oid.empty()) return {};
  if (oid.rfind(kVolvenOid, 0) == 0) {
    std::string n(oid.substr(kVolvenOid.size()));
    if (n == "7280") return std::string(kKodeverk) + "7280-nlk";
    if (n == "7270") return std::string(kKodeverk) + "7270-ncrp";
    if (n == "7010") return std::string(kKodeverk) + "7010-norpat";
    return std::string(kKodeverk) + n;
  }
  if (oid == "2.16.840.1.113883.6.1") return "http://loinc.org";
  if (oid == "2.16.840.1.113883.6.8") return "http://unitsofmeasure.org";
  if (oid.rfind("urn:", 0) == 0 || oid.rfind("http", 0) == 0) return std::string(oid);
  return "urn:oid:" + std::string(oid);
}

// A Coding from a KITH CV/CS element (V, S, DN, OT); `system` for CS codes.
std::optional<Value> CodingOf(const XmlNode* n, std::string_view cs_system = {}) {
  if (n == nullptr) return std::nullopt;
  std::string v = n->attr("V");
  if (v.empty()) return std::nullopt;
  Value c = Value::MakeObject();
  std::string system = SystemFor(n->attr("S"));
  if (system.empty()) system = std::string(cs_system);
  if (!system.empty()) c.set("system", system);
  c.set("code", v);
  std::string dn = n->attr("DN");
  if (dn.empty()) dn = n->attr("OT");
  if (!dn.empty()) c.set("display", dn);
  return c;
}

std::optional<Value> ConceptOf(const XmlNode* n, std::string_view cs_system = {}) {
  auto c = CodingOf(n, cs_system);
  if (!c) return std::nullopt;
  Value cc = Value::MakeObject();
  Value list = Value::MakeArray();
  list.push_back(*c);
  cc.set("coding", std::move(list));
  std::string ot = n->attr("OT");
  if (!ot.empty()) cc.set("text", ot);
  return cc;
}

// True when some coding of the CodeableConcept is from one of the Volven
// code systems (canonical suffixes after no-kodeverk-). Used to claim a NILAR
// profile only when its required binding (a whole code system, so decidable
// here) is met: a resource with only local or other codes is stored without
// meta.profile rather than with a claim it does not meet.
bool HasCodingFrom(const Value* cc, std::initializer_list<std::string_view> suffixes) {
  if (cc == nullptr) return false;
  const Value* codings = cc->find("coding");
  if (codings == nullptr) return false;
  for (const Value& c : codings->array()) {
    std::string_view system = c.get_string("system");
    for (std::string_view s : suffixes) {
      if (system == std::string(kKodeverk) + std::string(s)) return true;
    }
  }
  return false;
}

// ------------------------------------------------------------------ dates

int DayOfWeek(int y, int m, int d) {  // 0 = Sunday
  static const int t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
  if (m < 3) y -= 1;
  return (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7;
}

int LastSunday(int y, int m) {
  int d = 31;
  while (DayOfWeek(y, m, d) != 0) --d;
  return d;
}

// Norwegian local time (Europe/Oslo, EU summer-time rules) → UTC offset.
std::string OsloOffset(int y, int mo, int d, int h) {
  bool summer = false;
  if (mo > 3 && mo < 10) summer = true;
  if (mo == 3) {
    int ls = LastSunday(y, 3);
    summer = d > ls || (d == ls && h >= 2);
  }
  if (mo == 10) {
    int ls = LastSunday(y, 10);
    summer = d < ls || (d == ls && h < 3);
  }
  return summer ? "+02:00" : "+01:00";
}

bool Digits(std::string_view s, size_t pos, size_t n) {
  if (s.size() < pos + n) return false;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// A KITH TS value as a FHIR dateTime (instant = true: full precision and
// zone, as instant needs). Times without a zone are Norwegian local time.
std::optional<std::string> FhirTime(std::string_view ts, bool instant = false) {
  while (!ts.empty() && (ts.back() == ' ' || ts.back() == '\n')) ts.remove_suffix(1);
  if (!Digits(ts, 0, 4)) return std::nullopt;
  if (ts.size() == 4 || (ts.size() == 7 && ts[4] == '-' && Digits(ts, 5, 2))) {
    if (!instant) return std::string(ts);
    return std::nullopt;
  }
  if (ts.size() < 10 || ts[4] != '-' || ts[7] != '-' || !Digits(ts, 5, 2) || !Digits(ts, 8, 2)) {
    return std::nullopt;
  }
  int y = std::stoi(std::string(ts.substr(0, 4)));
  int mo = std::stoi(std::string(ts.substr(5, 2)));
  int d = std::stoi(std::string(ts.substr(8, 2)));
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
  if (ts.size() == 10) {
    if (!instant) return std::string(ts);
    return std::string(ts) + "T00:00:00" + OsloOffset(y, mo, d, 0);
  }
  if (ts[10] != 'T' || !Digits(ts, 11, 2) || ts.size() < 16 || ts[13] != ':' ||
      !Digits(ts, 14, 2)) {
    return std::nullopt;
  }
  int h = std::stoi(std::string(ts.substr(11, 2)));
  std::string out(ts.substr(0, 16));
  size_t i = 16;
  if (ts.size() >= 19 && ts[16] == ':' && Digits(ts, 17, 2)) {
    out += ts.substr(16, 3);
    i = 19;
    if (i < ts.size() && ts[i] == '.') {
      size_t j = i + 1;
      while (j < ts.size() && ts[j] >= '0' && ts[j] <= '9') ++j;
      if (j > i + 1) out += ts.substr(i, j - i);
      i = j;
    }
  } else {
    out += ":00";
  }
  std::string_view zone = ts.substr(i);
  if (zone.empty()) {
    out += OsloOffset(y, mo, d, h);
  } else if (zone == "Z" || (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') &&
                             Digits(zone, 1, 2) && zone[3] == ':' && Digits(zone, 4, 2))) {
    out += zone;
  } else {
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> TimeOf(const XmlNode* n, bool instant = false) {
  if (n == nullptr) return std::nullopt;
  return FhirTime(n->attr("V"), instant);
}

// A decimal in FHIR JSON syntax from a lab value ("5,2" → "5.2"), or nullopt.
std::optional<std::string> Decimal(std::string v) {
  std::replace(v.begin(), v.end(), ',', '.');
  if (v.empty()) return std::nullopt;
  size_t i = 0;
  if (v[0] == '-') i = 1;
  if (i >= v.size()) return std::nullopt;
  bool digits = false, dot = false;
  for (; i < v.size(); ++i) {
    if (v[i] >= '0' && v[i] <= '9') {
      digits = true;
    } else if (v[i] == '.' && !dot) {
      dot = true;
    } else {
      return std::nullopt;
    }
  }
  if (!digits || v.back() == '.' || v[v[0] == '-' ? 1 : 0] == '.') return std::nullopt;
  // No leading zeros (JSON): "007" → "7", keep "0.5".
  size_t start = v[0] == '-' ? 1 : 0;
  while (v.size() > start + 1 && v[start] == '0' && v[start + 1] != '.') v.erase(start, 1);
  return v;
}

Value Ext(std::string_view name, std::string_view value_key, Value value) {
  Value e = Value::MakeObject();
  e.set("url", Profile(name));
  e.set(value_key, std::move(value));
  return e;
}

void AddDateExt(Value& exts, std::string_view name, const XmlNode* n) {
  if (auto t = TimeOf(n)) exts.push_back(Ext(name, "valueDateTime", *t));
}

Value Note(std::string text) {
  Value n = Value::MakeObject();
  n.set("text", std::move(text));
  return n;
}

void SetIfNotEmpty(Value& obj, std::string_view key, Value v) {
  if ((v.is_array() || v.is_object()) && v.empty()) return;
  obj.set(key, std::move(v));
}

// ------------------------------------------------------------------ actors

struct OrgId {
  std::string system, value;
};

std::optional<OrgId> OrgIdentifier(const XmlNode* n) {
  if (n == nullptr) return std::nullopt;
  std::string id = n->child_text("Id");
  std::string type = n->child_attr("TypeId", "V");
  if (id.empty()) return std::nullopt;
  if (type == "HER" && no::Check(no::IdSystem::kHerId, id) == no::Problem::kNone) {
    return OrgId{std::string(no::systems::kHerId), id};
  }
  if (type == "ENH" && no::IsValidOrgnr(id)) return OrgId{std::string(no::systems::kOrgnr), id};
  if (type == "RSH" && no::Check(no::IdSystem::kResh, id) == no::Problem::kNone) {
    return OrgId{std::string(no::systems::kResh), id};
  }
  return std::nullopt;  // local ids (LOK, LAV, LOP …) are not registry keys
}

struct Actor {
  std::string org_name;
  std::optional<OrgId> org;
  std::string person_name;
  std::optional<OrgId> person;  // system/value of HPR or HER-id
  std::optional<Value> profession;  // HCProf.Type (9060)
  std::vector<std::string> telecom;
  bool empty() const { return org_name.empty() && person_name.empty() && !org && !person; }
  std::string Key() const {
    std::string k = "org:";
    k += org ? org->system + "|" + org->value : "name:" + org_name;
    k += "|person:";
    k += person ? person->system + "|" + person->value : "name:" + person_name;
    return k;
  }
};

std::optional<OrgId> PersonIdentifier(const XmlNode* n) {
  if (n == nullptr) return std::nullopt;
  std::string id = n->child_text("Id");
  std::string type = n->child_attr("TypeId", "V");
  if (id.empty()) return std::nullopt;
  if (type == "HPR" && no::Check(no::IdSystem::kHpr, id) == no::Problem::kNone) {
    return OrgId{std::string(no::systems::kHpr), id};
  }
  if (type == "HER" && no::Check(no::IdSystem::kHerId, id) == no::Problem::kNone) {
    return OrgId{std::string(no::systems::kHerId), id};
  }
  return std::nullopt;
}

// An HCP element (Inst, Inst/Dept, Inst/HCPerson, HCProf, Address).
Actor ActorOf(const XmlNode* hcp) {
  Actor a;
  if (hcp == nullptr) return a;
  if (const XmlNode* inst = hcp->child("Inst")) {
    a.org_name = inst->child_text("Name");
    a.org = OrgIdentifier(inst);
    if (const XmlNode* dept = inst->child("Dept")) {
      std::string dn = dept->child_text("Name");
      if (!dn.empty() && dn != a.org_name) {
        a.org_name = a.org_name.empty() ? dn : a.org_name + ", " + dn;
      }
      if (auto d = OrgIdentifier(dept)) a.org = d;  // the department's id wins
    }
    if (const XmlNode* p = inst->child("HCPerson")) {
      a.person_name = p->child_text("Name");
      a.person = PersonIdentifier(p);
    }
  }
  if (const XmlNode* prof = hcp->child("HCProf")) {
    if (a.person_name.empty()) a.person_name = prof->child_text("Name");
    if (!a.person) a.person = PersonIdentifier(prof);
    if (auto t = ConceptOf(prof->child("Type"), std::string(kKodeverk) + "9060")) {
      a.profession = *t;
    }
  }
  for (const XmlNode* addr : hcp->all("Address")) {
    for (const XmlNode* t : addr->all("TeleAddress")) {
      std::string v = t->attr("V");
      if (!v.empty()) a.telecom.push_back(v);
    }
  }
  return a;
}

// ------------------------------------------------------------------ status

std::string ReportStatus(std::string_view serv_type, std::string_view status) {
  if (serv_type == "C") return "cancelled";
  if (serv_type == "N") {
    if (status == "S") return "registered";
    if (status == "P") return "preliminary";
    if (status == "F") return "final";
    return "unknown";
  }
  if (serv_type == "M") return status == "A" ? "unknown" : "amended";
  if (serv_type == "A") return status == "A" ? "appended" : "unknown";
  return "unknown";  // H (history) and anything else
}

std::string ObservationStatus(std::string_view serv_type, std::string_view st) {
  if (serv_type == "C") return "cancelled";
  const bool n = serv_type == "N", m = serv_type == "M", h = serv_type == "H",
             a = serv_type == "A";
  if (st.empty() || st == "3" || st == "4") {
    if (m) return "amended";
    return "final";
  }
  if (st == "1") return m || h ? "amended" : "unknown";
  if (st == "2") return m ? "amended" : "preliminary";
  if (st == "5") return n || a ? "registered" : "unknown";
  if (st == "6" || st == "7") return n || m || a ? "registered" : "unknown";
  if (st == "8" || st == "9" || st == "10") return n || a ? "preliminary" : "unknown";
  if (st == "11") return m ? "amended" : (h ? "unknown" : "final");
  if (st == "12") return m ? "amended" : (a ? "preliminary" : "unknown");
  if (st == "13") return m ? "amended" : (h ? "unknown" : "final");
  if (st == "14") return "unknown";
  if (st == "15") return h ? "final" : "registered";
  return "unknown";
}

// 8202 subject area → the NILAR main area (DiagnosticReport.category) and
// the Observation.category code (expertise-vs).
std::string MainArea(std::string_view code) {
  if (code == "PAT" || code == "CYTO" || code == "HIST" || code == "OBDU") return "PAT";
  if (code == "RAD" || code == "RTG" || code == "UL" || code == "NUK" || code == "CT" ||
      code == "MR") {
    return "BLD";
  }
  return "LAB";
}
std::string ExpertiseArea(std::string_view code) {
  static const std::set<std::string, std::less<>> kList = {"CLIN", "MBIO", "MGEN", "FARM",
                                                           "IMTR", "PAT",  "RAD",  "NUK"};
  if (kList.count(code)) return std::string(code);
  if (code == "CYTO" || code == "HIST" || code == "OBDU") return "PAT";
  if (code == "RTG" || code == "UL" || code == "CT" || code == "MR") return "RAD";
  return {};
}

// ------------------------------------------------------------------ the mapper

struct Entry {
  Value resource;
  std::string method;  // PUT or POST
  std::string url;
  std::string if_none_exist;
  std::string full_url;
};

class Mapper {
 public:
  explicit Mapper(const SvarDocument& doc) : doc_(doc), msg_(doc.message) {}

  Result<Value> Run() {
    std::vector<const XmlNode*> reports = msg_.all("ServReport");
    if (reports.empty()) {
      return Status::Error(ErrorCategory::kUnprocessable, "GM-LAB-010", "required",
                           "the message has no ServReport", "/Message/ServReport");
    }
    gen_date_ = FhirTime(msg_.child_attr("GenDate", "V"), true).value_or("");
    msg_id_ = msg_.child_text("MsgId");
    for (size_t i = 0; i < reports.size(); ++i) {
      GM_RETURN_IF_ERROR(MapReport(*reports[i], reports.size() > 1 ? i : SIZE_MAX));
    }
    Value bundle = Value::MakeObject();
    bundle.set("resourceType", "Bundle");
    bundle.set("type", "transaction");
    Value list = Value::MakeArray();
    for (Entry& e : entries_) {
      Value entry = Value::MakeObject();
      if (!e.full_url.empty()) entry.set("fullUrl", e.full_url);
      entry.set("resource", std::move(e.resource));
      Value req = Value::MakeObject();
      req.set("method", e.method);
      req.set("url", e.url);
      if (!e.if_none_exist.empty()) req.set("ifNoneExist", e.if_none_exist);
      entry.set("request", std::move(req));
      list.push_back(std::move(entry));
    }
    bundle.set("entry", std::move(list));
    return bundle;
  }

 private:
  // Conditional create of a registry resource (Patient, Organization,
  // Practitioner); returns its fullUrl. One entry per identity per message.
  std::string Conditional(const std::string& type, const OrgId& id, Value resource) {
    std::string key = type + "|" + id.system + "|" + id.value;
    auto it = conditional_.find(key);
    if (it != conditional_.end()) return it->second;
    std::string full_url = UuidFor("svarrapport-conditional|" + key);
    conditional_[key] = full_url;
    Entry e;
    e.resource = std::move(resource);
    e.method = "POST";
    e.url = type;
    e.if_none_exist = "identifier=" + id.system + "|" + id.value;
    e.full_url = full_url;
    entries_.push_back(std::move(e));
    return full_url;
  }

  void Put(Value resource, const std::string& meta_profile) {
    std::string type(resource.get_string("resourceType"));
    std::string id(resource.get_string("id"));
    if (!put_ids_.insert(type + "/" + id).second) return;  // already in this bundle
    Value meta = Value::MakeObject();
    if (!meta_profile.empty()) {
      Value profiles = Value::MakeArray();
      profiles.push_back(Profile(meta_profile));
      meta.set("profile", std::move(profiles));
    }
    if (const Value* old = resource.find("meta")) {
      for (const auto& [k, v] : old->object()) meta.set(k, v);
    }
    if (!security_.empty() && type != "PractitionerRole" && type != "Communication") {
      meta.set("security", security_);
    }
    resource.set("meta", std::move(meta));
    Entry e;
    e.resource = std::move(resource);
    e.method = "PUT";
    e.url = type + "/" + id;
    entries_.push_back(std::move(e));
  }

  static Value IdentifierOf(const OrgId& id) {
    Value v = Value::MakeObject();
    v.set("system", id.system);
    v.set("value", id.value);
    return v;
  }

  // The PractitionerRole for an actor (and its Organization / Practitioner);
  // returns a Reference, or null when the actor is empty.
  Value RoleRef(const Actor& a) {
    if (a.empty()) return Value();
    std::string id = IdFor("prr", a.Key());
    Value role = Value::MakeObject();
    role.set("resourceType", "PractitionerRole");
    role.set("id", id);
    if (a.person || !a.person_name.empty()) {
      Value p = Value::MakeObject();
      if (a.person) {
        Value prac = Value::MakeObject();
        prac.set("resourceType", "Practitioner");
        Value ids = Value::MakeArray();
        ids.push_back(IdentifierOf(*a.person));
        prac.set("identifier", std::move(ids));
        if (!a.person_name.empty()) {
          Value names = Value::MakeArray();
          names.push_back(Value(json::Object{{"text", Value(a.person_name)}}));
          prac.set("name", std::move(names));
        }
        p.set("reference", Conditional("Practitioner", *a.person, std::move(prac)));
        p.set("identifier", IdentifierOf(*a.person));
      }
      if (!a.person_name.empty()) p.set("display", a.person_name);
      role.set("practitioner", std::move(p));
    }
    if (a.org || !a.org_name.empty()) {
      Value o = Value::MakeObject();
      if (a.org) {
        o.set("reference", OrgRef(a));
        o.set("identifier", IdentifierOf(*a.org));
      }
      if (!a.org_name.empty()) o.set("display", a.org_name);
      role.set("organization", std::move(o));
    }
    if (a.profession) {
      Value codes = Value::MakeArray();
      codes.push_back(*a.profession);
      role.set("code", std::move(codes));
    }
    Value telecom = Value::MakeArray();
    for (const std::string& t : a.telecom) {
      Value cp = Value::MakeObject();
      std::string v = t;
      std::string system = "other";
      if (v.rfind("tel:", 0) == 0) system = "phone", v = v.substr(4);
      else if (v.rfind("fax:", 0) == 0) system = "fax", v = v.substr(4);
      else if (v.rfind("mailto:", 0) == 0) system = "email", v = v.substr(7);
      else if (v.rfind("http", 0) == 0) system = "url";
      if (v.empty()) continue;
      cp.set("system", system);
      cp.set("value", v);
      telecom.push_back(std::move(cp));
    }
    SetIfNotEmpty(role, "telecom", std::move(telecom));
    Put(std::move(role), "nilar-practitioner-role");
    Value ref = Value::MakeObject();
    ref.set("reference", "PractitionerRole/" + id);
    std::string display = a.person_name.empty() ? a.org_name
                          : a.org_name.empty()  ? a.person_name
                                                : a.person_name + ", " + a.org_name;
    if (!display.empty()) ref.set("display", display);
    return ref;
  }

  // fullUrl of the actor's Organization (conditional create), empty when it has no registry id.
  std::string OrgRef(const Actor& a) {
    if (!a.org) return {};
    Value org = Value::MakeObject();
    org.set("resourceType", "Organization");
    Value ids = Value::MakeArray();
    ids.push_back(IdentifierOf(*a.org));
    org.set("identifier", std::move(ids));
    if (!a.org_name.empty()) org.set("name", a.org_name);
    return Conditional("Organization", *a.org, std::move(org));
  }

  Status PatientIdentity(const XmlNode& patient, OrgId& out) {
    std::string off = patient.child_text("OffId");
    std::string type = patient.child_attr("TypeOffId", "V");
    auto reject = [](std::string text) {
      return Status::Error(ErrorCategory::kUnprocessable, "GM-LAB-030", "required",
                           std::move(text) + "; the message is rejected (not guessed)",
                           "/Message/ServReport/Patient/OffId");
    };
    if (off.empty()) return reject("the patient has no OffId (FNR, D-nummer or FHN)");
    no::IdSystem sys;
    if (type == "FNR") sys = no::IdSystem::kFnr;
    else if (type == "DNR") sys = no::IdSystem::kDnr;
    else if (type == "FHN") sys = no::IdSystem::kFhn;
    else if (type.empty() && no::IsValidFnr(off)) sys = no::IdSystem::kFnr;
    else if (type.empty() && no::IsValidDnr(off)) sys = no::IdSystem::kDnr;
    else
      return reject("TypeOffId " + type.substr(0, 8) +
                    " is not a national identity (FNR, DNR or FHN)");
    if (no::Problem p = no::Check(sys, off); p != no::Problem::kNone) {
      return reject("the patient's " + type.substr(0, 8) + " is not valid (" +
                    std::string(no::ProblemText(p)) + ")");
    }
    out = OrgId{std::string(no::CanonicalUri(sys)), off};
    return Status::Ok();
  }

  void CollectSecurity(const XmlNode& n) {
    // Document restrictions (9603, e.g. NORU delayed release / NORS hidden)
    // anywhere in the report, and the requisition's reservations.
    std::string s = n.attr("S");
    if (s == std::string(kVolvenOid) + "9603" || n.name == "Reservation") {
      if (auto c = CodingOf(&n, n.name == "Reservation" ? std::string(kKodeverk) + "3108" : "")) {
        bool seen = false;
        for (const Value& v : security_.array()) seen = seen || v == *c;
        if (!seen) security_.push_back(*c);
      }
    }
    for (const XmlNode& c : n.children) CollectSecurity(c);
  }

  Value SubjectRef() const {
    Value s = Value::MakeObject();
    s.set("reference", patient_url_);
    s.set("identifier", IdentifierOf(patient_id_));
    return s;
  }

  static Value Ref(const std::string& ref) {
    Value r = Value::MakeObject();
    r.set("reference", ref);
    return r;
  }

  struct Obs {
    const XmlNode* node = nullptr;
    std::string path;     // "1", "1.2"
    int nest_parent = -1;  // index of the enclosing ResultItem
    int parent = -1;       // hasMember parent (nesting or RefIdResultItem)
    std::string id;
    std::vector<int> members;
  };

  void CollectObs(const XmlNode& parent, int parent_index, const std::string& prefix,
                  std::vector<Obs>& out) {
    int n = 0;
    for (const XmlNode* ri : parent.all("ResultItem")) {
      Obs o;
      o.node = ri;
      o.path = prefix.empty() ? std::to_string(++n) : prefix + "." + std::to_string(++n);
      o.nest_parent = parent_index;
      std::string path = o.path;  // a copy: `out` grows (and moves) below
      out.push_back(std::move(o));
      CollectObs(*ri, static_cast<int>(out.size()) - 1, path, out);
    }
  }

  Status MapReport(const XmlNode& rep, size_t index) {
    security_ = Value::MakeArray();
    CollectSecurity(rep);
    const XmlNode* patient = rep.child("Patient");
    if (patient == nullptr) {
      return Status::Error(ErrorCategory::kUnprocessable, "GM-LAB-030", "required",
                           "the report has no Patient; the message is rejected",
                           "/Message/ServReport/Patient");
    }
    GM_RETURN_IF_ERROR(PatientIdentity(*patient, patient_id_));
    {
      Value p = Value::MakeObject();
      p.set("resourceType", "Patient");
      Value ids = Value::MakeArray();
      ids.push_back(IdentifierOf(patient_id_));
      p.set("identifier", std::move(ids));
      patient_url_ = Conditional("Patient", patient_id_, std::move(p));
    }
    const XmlNode* req = rep.child("ServReq");
    const XmlNode* provider = rep.child("ServProvider");
    Actor lab = ActorOf(provider ? provider->child("HCP") : nullptr);
    std::string sender = lab.org ? lab.org->system + "|" + lab.org->value : "name:" + lab.org_name;
    std::string area = rep.child_attr("MsgDescr", "V");
    std::string req_key;
    if (req != nullptr) {
      req_key = req->child_text("IdByServProvider");
      if (req_key.empty()) req_key = "req:" + req->child_text("Id");
    }
    if (req_key.empty()) {
      req_key = rep.child_text("ServProvId");
      if (req_key.empty()) req_key = "msg:" + msg_id_;
    }
    std::string report_key = sender + "|" + req_key + "|" + area;
    if (index != SIZE_MAX) report_key += "|#" + std::to_string(index);
    const std::string dr_id = IdFor("dr", report_key);
    const std::string sr_id = IdFor("sr", sender + "|" + req_key);
    const std::string serv_type = rep.child_attr("ServType", "V");
    const std::string dr_status = ReportStatus(serv_type, rep.child_attr("Status", "V"));
    const std::string issue_date = TimeOf(rep.child("IssueDate")).value_or("");

    // Actors: the lab (ServProvider; RelServProv when given), the requester
    // (Patient/ResponsibleHcp; the message's Requester when absent).
    Value lab_role;
    for (const XmlNode* rsp : rep.all("RelServProv")) {
      Actor a = ActorOf(rsp->child("HCP"));
      if (!a.empty()) {
        lab_role = RoleRef(a);
        break;
      }
    }
    if (lab_role.is_null()) lab_role = RoleRef(lab);
    Actor requester;
    for (const XmlNode* r : patient->all("ResponsibleHcp")) {
      requester = ActorOf(r->child("HCP"));
      if (!requester.empty()) break;
    }
    const XmlNode* msg_requester = rep.child("Requester");
    Actor recipient = ActorOf(msg_requester ? msg_requester->child("HCP") : nullptr);
    if (requester.empty()) requester = recipient;
    Value requester_role = RoleRef(requester);

    // Specimens.
    std::vector<std::pair<std::vector<std::string>, std::string>> specimens;  // keys → id
    std::map<std::string, std::string> specimen_time;
    std::vector<std::string> specimen_ids;
    int sn = 0;
    for (const XmlNode* as : patient->all("AnalysedSubject")) {
      ++sn;
      std::string by_lab = as->child_text("IdByServProvider");
      std::string by_req = as->child_text("IdByRequester");
      std::string key = !by_lab.empty() ? sender + "|specimen|" + by_lab
                                        : report_key + "|specimen#" + std::to_string(sn);
      std::string id = IdFor("spec", key);
      Value sp = Value::MakeObject();
      sp.set("resourceType", "Specimen");
      sp.set("id", id);
      Value ext = Value::MakeArray();
      if (const XmlNode* acc = as->child("Accredited")) {
        std::string v = acc->attr("V");
        if (v == "true" || v == "false") ext.push_back(Ext("nilar-accredited", "valueBoolean", v == "true"));
      }
      if (auto c = ConceptOf(as->child("Pretreatment"), std::string(kKodeverk) + "8232")) {
        ext.push_back(Ext("nilar-pretreatment", "valueCodeableConcept", *c));
      }
      if (std::string num = as->child_text("Number"); !num.empty()) {
        if (auto d = Decimal(num); d && d->find('.') == std::string::npos && (*d)[0] != '-') {
          ext.push_back(Ext("nilar-container-count", "valueInteger", Value::Number(*d)));
        }
      }
      for (const XmlNode* sh : as->all("SampleHandling")) {
        std::string t = sh->attr("DN").empty() ? sh->text : sh->attr("DN");
        if (!t.empty()) ext.push_back(Ext("nilar-sample-handling", "valueString", t));
      }
      SetIfNotEmpty(sp, "extension", std::move(ext));
      Value ids = Value::MakeArray();
      std::string accession = by_lab;
      if (!by_lab.empty()) {
        ids.push_back(Value(json::Object{{"system", Value("AnalysedSubjectId")}, {"value", Value(by_lab)}}));
      }
      if (!by_req.empty()) {
        ids.push_back(Value(json::Object{{"system", Value("AnalysedSubjectIdByRequester")},
                                         {"value", Value(by_req)}}));
        if (accession.empty()) accession = by_req;
      }
      if (accession.empty()) accession = req_key + "-" + std::to_string(sn);
      SetIfNotEmpty(sp, "identifier", std::move(ids));
      sp.set("accessionIdentifier",
             Value(json::Object{{"system", Value("AnalysedSubjectId")}, {"value", Value(accession)}}));
      Value type = Value::MakeObject();
      Value codings = Value::MakeArray();
      if (auto c = CodingOf(as->child("TypeCoded"))) codings.push_back(*c);
      if (auto c = CodingOf(as->child("Type"), std::string(kKodeverk) + "8212")) codings.push_back(*c);
      SetIfNotEmpty(type, "coding", std::move(codings));
      if (const XmlNode* t = as->child("Type"); t && !t->text.empty()) type.set("text", t->text);
      SetIfNotEmpty(sp, "type", std::move(type));
      sp.set("subject", SubjectRef());
      if (req != nullptr) {
        Value r = Value::MakeArray();
        r.push_back(Ref("ServiceRequest/" + sr_id));
        sp.set("request", std::move(r));
      }
      Value collection = Value::MakeObject();
      Value cext = Value::MakeArray();
      std::optional<std::string> collected;
      Value notes = Value::MakeArray();
      if (const XmlNode* cs = as->child("CollectedSample")) {
        collected = TimeOf(cs->child("CollectedDate"));
        if (std::string c = cs->child_text("CollectorComment"); !c.empty()) {
          notes.push_back(Note("Prøvetakers kommentar: " + c));
        }
        for (const XmlNode* cc : cs->all("CollectorCommentCoded")) {
          if (auto c = ConceptOf(cc, std::string(kKodeverk) + "8275")) {
            cext.push_back(Ext("nilar-comment", "valueCodeableConcept", *c));
          }
        }
        if (std::string l = cs->child_text("Logistics"); !l.empty()) {
          cext.push_back(Ext("nilar-logistics", "valueString", l));
        }
      }
      if (const XmlNode* sp2 = as->child("CollectedStudyProduct")) {
        if (!collected) collected = TimeOf(sp2->child("ProducedDate"));
        if (std::string t = sp2->child_attr("Type", "DN"); !t.empty()) {
          cext.push_back(Ext("nilar-study-product-type", "valueString", t));
        }
        if (std::string r = sp2->child_text("RefRelatedProd"); !r.empty()) {
          cext.push_back(Ext("nilar-study-product-ref", "valueString", r));
        }
      }
      SetIfNotEmpty(collection, "extension", std::move(cext));
      // collected[x] is required by nilar-specimen; when the lab did not send
      // a collection time, the time the lab received the requisition (an
      // upper bound) is used, else the report's issue date.
      if (!collected && req != nullptr) collected = TimeOf(req->child("ReceiptDate"));
      if (!collected && !issue_date.empty()) collected = issue_date;
      if (collected) collection.set("collectedDateTime", *collected);
      if (std::string method = as->child_attr("SampleCollProc", "V"); !method.empty()) {
        if (auto c = ConceptOf(as->child("SampleCollProc"))) collection.set("method", *c);
      }
      if (std::string site = as->child_text("AnatomicalOrigin"); !site.empty()) {
        collection.set("bodySite", Value(json::Object{{"text", Value(site)}}));
      } else if (auto c = ConceptOf(as->child("AnatomicalOrigin"))) {
        collection.set("bodySite", *c);
      }
      sp.set("collection", std::move(collection));
      if (auto c = ConceptOf(as->child("PreservMaterial"))) {
        Value cont = Value::MakeObject();
        Value adds = Value::MakeArray();
        adds.push_back(Value(json::Object{{"additiveCodeableConcept", *c}}));
        cont.set("additive", std::move(adds));
        Value conts = Value::MakeArray();
        conts.push_back(std::move(cont));
        sp.set("container", std::move(conts));
      }
      for (const XmlNode* c : as->all("Comment")) {
        if (!c->text.empty()) notes.push_back(Note(c->text));
      }
      SetIfNotEmpty(sp, "note", std::move(notes));
      std::vector<std::string> keys;
      if (!by_lab.empty()) keys.push_back(by_lab);
      if (!by_req.empty()) keys.push_back(by_req);
      specimens.emplace_back(keys, id);
      if (collected) specimen_time[id] = *collected;
      specimen_ids.push_back(id);
      const bool conforms = sp.find("type") == nullptr ||
                            HasCodingFrom(sp.find("type"), {"8212", "8216", "8351"});
      Put(std::move(sp), conforms ? "nilar-specimen" : "");
    }
    auto specimen_for = [&](const std::string& ref) -> std::string {
      for (const auto& [keys, id] : specimens) {
        for (const std::string& k : keys) {
          if (k == ref) return id;
        }
      }
      return specimens.size() == 1 ? specimens.front().second : std::string();
    };

    // ServiceRequest.
    if (req != nullptr) {
      Value sr = Value::MakeObject();
      sr.set("resourceType", "ServiceRequest");
      sr.set("id", sr_id);
      Value ext = Value::MakeArray();
      AddDateExt(ext, "nilar-receipt-date", req->child("ReceiptDate"));
      if (auto c = ConceptOf(req->child("PaymentCat"), std::string(kKodeverk) + "4101")) {
        ext.push_back(Ext("nilar-payment-category", "valueCodeableConcept", *c));
      }
      for (const XmlNode* r : req->all("Reservation")) {
        if (auto c = ConceptOf(r, std::string(kKodeverk) + "3108")) {
          ext.push_back(Ext("nilar-reservation", "valueCodeableConcept", *c));
        }
      }
      SetIfNotEmpty(sr, "extension", std::move(ext));
      Value ids = Value::MakeArray();
      if (std::string id = req->child_text("Id"); !id.empty()) {
        ids.push_back(Value(json::Object{{"system", Value("ServReqId")}, {"value", Value(id)}}));
      }
      if (std::string id = req->child_text("IdByServProvider"); !id.empty()) {
        ids.push_back(Value(json::Object{{"system", Value("ServReqIdByServProvider")},
                                         {"value", Value(id)}}));
      }
      SetIfNotEmpty(sr, "identifier", std::move(ids));
      sr.set("status", dr_status == "cancelled"     ? "revoked"
                       : dr_status == "final" || dr_status == "amended" || dr_status == "appended"
                           ? "completed"
                           : "active");
      sr.set("intent", "order");
      if (!area.empty()) {
        Value cats = Value::MakeArray();
        if (auto c = ConceptOf(rep.child("MsgDescr"), std::string(kKodeverk) + "8202")) {
          cats.push_back(*c);
        }
        SetIfNotEmpty(sr, "category", std::move(cats));
      }
      sr.set("subject", SubjectRef());
      if (auto t = TimeOf(req->child("IssueDate"))) sr.set("authoredOn", *t);
      if (!requester_role.is_null()) sr.set("requester", requester_role);
      Value reasons = Value::MakeArray();
      for (const XmlNode* r : req->all("ReasonAsText")) {
        Value cc = Value::MakeObject();
        if (auto c = CodingOf(r->child("Heading"), std::string(kKodeverk) + "8231")) {
          Value l = Value::MakeArray();
          l.push_back(*c);
          cc.set("coding", std::move(l));
        }
        if (std::string t = r->child_text("TextResultValue"); !t.empty()) cc.set("text", t);
        if (!cc.empty()) reasons.push_back(std::move(cc));
      }
      SetIfNotEmpty(sr, "reasonCode", std::move(reasons));
      Value spec_refs = Value::MakeArray();
      for (const std::string& id : specimen_ids) spec_refs.push_back(Ref("Specimen/" + id));
      SetIfNotEmpty(sr, "specimen", std::move(spec_refs));
      Value notes = Value::MakeArray();
      if (std::string c = req->child_text("ReqComment"); !c.empty()) {
        notes.push_back(Note("Rekvirentens kommentar: " + c));
      }
      for (const XmlNode* c : req->all("Comment")) {
        std::string t = c->child_text("TextResultValue");
        if (t.empty()) t = c->child_attr("TextCode", "DN");
        if (!t.empty()) notes.push_back(Note(t));
      }
      SetIfNotEmpty(sr, "note", std::move(notes));
      Put(std::move(sr), "nilar-service-request");
    }

    // Observations.
    std::vector<Obs> obs;
    CollectObs(*patient, -1, "", obs);
    std::map<std::string, int> by_item_id;
    std::set<std::string> duplicate_item_ids;
    for (size_t i = 0; i < obs.size(); ++i) {
      std::string iid = obs[i].node->child_text("IdResultItem");
      if (iid.empty()) continue;
      if (by_item_id.count(iid)) duplicate_item_ids.insert(iid);
      else by_item_id[iid] = static_cast<int>(i);
    }
    for (size_t i = 0; i < obs.size(); ++i) {
      std::string iid = obs[i].node->child_text("IdResultItem");
      std::string key = !iid.empty() && !duplicate_item_ids.count(iid) ? "item:" + iid
                                                                       : "pos:" + obs[i].path;
      obs[i].id = IdFor("obs", report_key + "|" + key);
      obs[i].parent = obs[i].nest_parent;
      if (obs[i].parent < 0) {
        std::string ref = obs[i].node->child_text("RefIdResultItem");
        auto it = by_item_id.find(ref);
        if (!ref.empty() && it != by_item_id.end() && it->second != static_cast<int>(i)) {
          // No cycles: the referenced item must not descend from this one.
          int p = it->second;
          bool cycle = false;
          for (int up = p, guard = 0; up >= 0 && guard < 1000; up = obs[up].parent, ++guard) {
            if (up == static_cast<int>(i)) cycle = true;
          }
          if (!cycle) obs[i].parent = p;
        }
      }
    }
    for (size_t i = 0; i < obs.size(); ++i) {
      if (obs[i].parent >= 0) obs[obs[i].parent].members.push_back(static_cast<int>(i));
    }
    // Codes of each observation and its members (meta.tag of the mother observation).
    std::vector<std::vector<Value>> own_codes(obs.size());
    for (size_t i = 0; i < obs.size(); ++i) {
      const XmlNode* inv = obs[i].node->child("Investigation");
      if (auto c = CodingOf(inv ? inv->child("Id") : nullptr); c && c->find("system")) {
        own_codes[i].push_back(*c);
      }
      if (const XmlNode* tr = obs[i].node->child("TextResult")) {
        for (const XmlNode* tc : tr->all("TextCode")) {
          if (auto c = CodingOf(tc); c && c->find("system")) own_codes[i].push_back(*c);
        }
      }
    }
    std::function<void(int, std::vector<Value>&, int)> gather = [&](int i, std::vector<Value>& out,
                                                                     int depth) {
      for (const Value& c : own_codes[i]) {
        Value tag = Value::MakeObject();
        tag.set("system", *c.find("system"));
        tag.set("code", *c.find("code"));
        if (const Value* d = c.find("display")) tag.set("display", *d);
        if (std::find(out.begin(), out.end(), tag) == out.end()) out.push_back(std::move(tag));
      }
      if (depth > 50) return;
      for (int m : obs[i].members) gather(m, out, depth + 1);
    };

    std::string earliest;
    Value result_refs = Value::MakeArray();
    for (size_t i = 0; i < obs.size(); ++i) {
      const XmlNode& ri = *obs[i].node;
      Value o = Value::MakeObject();
      o.set("resourceType", "Observation");
      o.set("id", obs[i].id);
      std::vector<Value> tags;
      gather(static_cast<int>(i), tags, 0);
      if (!tags.empty()) {
        Value meta = Value::MakeObject();
        Value t = Value::MakeArray();
        for (Value& v : tags) t.push_back(std::move(v));
        meta.set("tag", std::move(t));
        o.set("meta", std::move(meta));
      }
      Value ext = Value::MakeArray();
      ext.push_back(Ext("nilar-diagnostic-report-ref", "valueReference",
                        Ref("DiagnosticReport/" + dr_id)));
      if (const XmlNode* acc = ri.child("Accredited")) {
        std::string v = acc->attr("V");
        if (v == "true" || v == "false") ext.push_back(Ext("nilar-accredited", "valueBoolean", v == "true"));
      }
      std::string item_type = ri.child_attr("ServType", "V");
      if (item_type.empty()) item_type = serv_type;
      if (item_type == "H") ext.push_back(Ext("nilar-history", "valueBoolean", true));
      AddDateExt(ext, "nilar-investigation-date", ri.child("InvDate"));
      AddDateExt(ext, "nilar-status-change-date", ri.child("StatusChangeDate"));
      AddDateExt(ext, "nilar-counter-sign-date", ri.child("CounterSignDate"));
      AddDateExt(ext, "nilar-medical-validation-date", ri.child("MedicalValidationDate"));
      AddDateExt(ext, "nilar-description-date", ri.child("DescrDate"));
      const XmlNode* inv = ri.child("Investigation");
      if (inv != nullptr) {
        if (auto c = ConceptOf(inv->child("Spec"))) {
          ext.push_back(Ext("nilar-specification", "valueCodeableConcept", *c));
        }
      }
      o.set("extension", std::move(ext));
      if (std::string iid = ri.child_text("IdResultItem"); !iid.empty()) {
        Value ids = Value::MakeArray();
        ids.push_back(Value(json::Object{{"system", Value("ResultItemId")}, {"value", Value(iid)}}));
        o.set("identifier", std::move(ids));
      }
      if (req != nullptr) {
        Value b = Value::MakeArray();
        b.push_back(Ref("ServiceRequest/" + sr_id));
        o.set("basedOn", std::move(b));
      }
      o.set("status", ObservationStatus(item_type, ri.child_attr("StatusInvestigation", "V")));
      if (std::string cat = ExpertiseArea(area); !cat.empty()) {
        Value cats = Value::MakeArray();
        cats.push_back(Value(json::Object{
            {"coding", Value(json::Array{Value(json::Object{
                           {"system", Value(std::string(kKodeverk) + "8202")},
                           {"code", Value(cat)}})})}}));
        o.set("category", std::move(cats));
      }
      Value code = Value::MakeObject();
      if (inv != nullptr) {
        if (auto c = CodingOf(inv->child("Id"))) {
          code.set("coding", Value(json::Array{*c}));
          std::string text = inv->child("Id")->attr("OT");
          if (text.empty()) text = inv->child("Id")->attr("DN");
          if (!text.empty()) code.set("text", text);
        }
      }
      if (code.empty()) code.set("text", "(investigation not coded)");
      o.set("code", std::move(code));
      o.set("subject", SubjectRef());
      // effective: the specimen's collection time, else the investigation
      // date, else the report's issue date.
      std::string spec_id = specimen_for(ri.child_text("RefAnalysedSubject"));
      std::string eff;
      if (!spec_id.empty() && specimen_time.count(spec_id)) eff = specimen_time[spec_id];
      if (eff.empty()) eff = TimeOf(ri.child("InvDate")).value_or("");
      if (eff.empty()) eff = issue_date;
      if (!eff.empty()) {
        o.set("effectiveDateTime", eff);
        if (earliest.empty() || eff < earliest) earliest = eff;
      }
      if (!gen_date_.empty()) o.set("issued", gen_date_);
      Value performer = Value::MakeArray();
      for (const XmlNode* rsp : ri.all("RelServProv")) {
        Actor a = ActorOf(rsp->child("HCP"));
        if (!a.empty()) {
          performer.push_back(RoleRef(a));
          break;
        }
      }
      if (performer.empty() && !lab_role.is_null()) performer.push_back(lab_role);
      SetIfNotEmpty(o, "performer", std::move(performer));
      MapValue(ri, o);
      if (auto c = ConceptOf(ri.child("DevResultInd"), std::string(kKodeverk) + "8244")) {
        o.set("interpretation", Value(json::Array{*c}));
      }
      Value notes = Value::MakeArray();
      for (const XmlNode* c : ri.all("Comment")) {
        if (!c->text.empty()) notes.push_back(Note(c->text));
      }
      if (inv != nullptr) {
        for (const XmlNode* c : inv->all("Comment")) {
          if (!c->text.empty()) notes.push_back(Note(c->text));
        }
      }
      for (const XmlNode* c : ri.all("DiagComment")) {
        if (!c->text.empty()) notes.push_back(Note("Diagnostisk kommentar: " + c->text));
      }
      SetIfNotEmpty(o, "note", std::move(notes));
      if (!spec_id.empty()) o.set("specimen", Ref("Specimen/" + spec_id));
      Value ranges = Value::MakeArray();
      for (const XmlNode* r : ri.all("RefInterval")) {
        if (std::string d = r->child_text("Descr"); !d.empty()) {
          ranges.push_back(Value(json::Object{{"text", Value(d)}}));
        }
      }
      SetIfNotEmpty(o, "referenceRange", std::move(ranges));
      Value members = Value::MakeArray();
      for (int m : obs[i].members) members.push_back(Ref("Observation/" + obs[m].id));
      SetIfNotEmpty(o, "hasMember", std::move(members));
      if (obs[i].parent < 0) result_refs.push_back(Ref("Observation/" + obs[i].id));
      const bool conforms =
          HasCodingFrom(o.find("code"), {"7280-nlk", "7270-ncrp", "7010-norpat", "8212", "8219"}) &&
          (o.find("valueCodeableConcept") == nullptr ||
           HasCodingFrom(o.find("valueCodeableConcept"),
                         {"7010-norpat", "7270-ncrp", "8243", "8271", "8340"}));
      Put(std::move(o), conforms ? "nilar-observation" : "");
    }

    // DiagnosticReport.
    Value dr = Value::MakeObject();
    dr.set("resourceType", "DiagnosticReport");
    dr.set("id", dr_id);
    Value ext = Value::MakeArray();
    {
      std::string rd = issue_date.empty() ? gen_date_ : issue_date;
      if (!rd.empty()) ext.push_back(Ext("nilar-report-date", "valueDateTime", rd));
    }
    AddDateExt(ext, "nilar-approval-date", rep.child("ApprDate"));
    for (const XmlNode* c : rep.all("Comment")) {
      std::string t = c->child_text("TextResultValue");
      if (t.empty()) t = c->text;
      if (!t.empty()) {
        ext.push_back(Ext("nilar-comment", "valueAnnotation", Value(json::Object{{"text", Value(t)}})));
      }
    }
    for (const XmlNode* c : rep.all("CodedComment")) {
      if (auto cc = ConceptOf(c)) ext.push_back(Ext("nilar-comment", "valueCodeableConcept", *cc));
    }
    if (!rep.all("RefDoc").empty()) {
      ext.push_back(Ext("nilar-comment", "valueAnnotation",
                        Value(json::Object{{"text", Value("Vedlagt dokument (RefDoc) er ikke "
                                                          "overført til Pasientens prøvesvar")}})));
    }
    for (const XmlNode* inf : patient->all("InfItem")) {
      Value parts = Value::MakeArray();
      auto type = ConceptOf(inf->child("Type"), std::string(kKodeverk) + "8233");
      if (!type) continue;  // the type is required by nilar-inf-item
      parts.push_back(Ext("nilar-inf-item-type", "valueCodeableConcept", *type));
      if (const XmlNode* ob = inf->child("Observation")) {
        if (std::string d = ob->child_text("Description"); !d.empty()) {
          parts.push_back(Ext("nilar-inf-item-descr", "valueString", d));
        }
      }
      AddDateExt(parts, "nilar-inf-item-start", inf->child("StartDateTime"));
      AddDateExt(parts, "nilar-inf-item-end", inf->child("EndDateTime"));
      AddDateExt(parts, "nilar-inf-item-org-time", inf->child("OrgDate"));
      Value e = Value::MakeObject();
      e.set("url", Profile("nilar-inf-item"));
      e.set("extension", std::move(parts));
      ext.push_back(std::move(e));
    }
    dr.set("extension", std::move(ext));
    Value ids = Value::MakeArray();
    if (!msg_id_.empty()) {
      ids.push_back(Value(json::Object{{"use", Value("secondary")},
                                       {"system", Value("MsgId")},
                                       {"value", Value(msg_id_)}}));
    }
    if (std::string sp = rep.child_text("ServProvId"); !sp.empty()) {
      ids.push_back(Value(json::Object{{"system", Value("ServReportId")}, {"value", Value(sp)}}));
    }
    SetIfNotEmpty(dr, "identifier", std::move(ids));
    if (req != nullptr) dr.set("basedOn", Value(json::Array{Ref("ServiceRequest/" + sr_id)}));
    dr.set("status", dr_status);
    dr.set("category",
           Value(json::Array{Value(json::Object{
               {"coding", Value(json::Array{Value(json::Object{
                              {"system", Value(std::string(kKodeverk) + "8202")},
                              {"code", Value(MainArea(area))}})})}})}));
    Value code = Value::MakeObject();
    if (auto c = CodingOf(rep.child("MsgDescr"), std::string(kKodeverk) + "8202")) {
      code.set("coding", Value(json::Array{*c}));
    } else {
      code.set("text", "(subject area not given)");
    }
    dr.set("code", std::move(code));
    dr.set("subject", SubjectRef());
    std::string effective = earliest.empty() ? issue_date : earliest;
    if (effective.empty()) effective = gen_date_;
    if (!effective.empty()) dr.set("effectiveDateTime", effective);
    if (!gen_date_.empty()) dr.set("issued", gen_date_);
    if (!lab_role.is_null()) dr.set("performer", Value(json::Array{lab_role}));
    Value spec_refs = Value::MakeArray();
    for (const std::string& id : specimen_ids) spec_refs.push_back(Ref("Specimen/" + id));
    SetIfNotEmpty(dr, "specimen", std::move(spec_refs));
    SetIfNotEmpty(dr, "result", std::move(result_refs));
    Put(std::move(dr), "nilar-diagnostic-report");

    // The notification to the requesting organisation(s).
    Value recipients = Value::MakeArray();
    std::set<std::string> seen;
    for (const Actor* a : {&requester, &recipient}) {
      std::string ref = OrgRef(*a);
      if (ref.empty() || !seen.insert(ref).second) continue;
      Value r = Ref(ref);
      if (!a->org_name.empty()) r.set("display", a->org_name);
      recipients.push_back(std::move(r));
    }
    if (!recipients.empty()) {
      Value c = Value::MakeObject();
      c.set("resourceType", "Communication");
      c.set("id", IdFor("note", report_key + "|" + msg_id_ + "|notification"));
      if (req != nullptr) c.set("basedOn", Value(json::Array{Ref("ServiceRequest/" + sr_id)}));
      c.set("status", "completed");
      c.set("category",
            Value(json::Array{Value(json::Object{
                {"coding",
                 Value(json::Array{Value(json::Object{
                     {"system",
                      Value("http://terminology.hl7.org/CodeSystem/communication-category")},
                     {"code", Value("notification")}})})}})}));
      c.set("subject", Ref(patient_url_));
      Value about = Value::MakeArray();
      about.push_back(Ref("DiagnosticReport/" + dr_id));
      if (req != nullptr) about.push_back(Ref("ServiceRequest/" + sr_id));
      c.set("about", std::move(about));
      if (!gen_date_.empty()) c.set("sent", gen_date_);
      c.set("recipient", std::move(recipients));
      if (std::string s = OrgRef(lab); !s.empty()) c.set("sender", Ref(s));
      std::string what = dr_status == "cancelled" ? "Prøvesvar kansellert"
                         : serv_type == "M"       ? "Prøvesvar korrigert"
                         : dr_status == "preliminary" || dr_status == "registered"
                             ? "Foreløpig prøvesvar"
                             : "Nytt prøvesvar";
      c.set("topic", Value(json::Object{{"text", Value(what)}}));
      c.set("payload", Value(json::Array{Value(json::Object{
                           {"contentString", Value(what + " (" + dr_status + ")")}})}));
      Put(std::move(c), "");
    }
    return Status::Ok();
  }

  void MapValue(const XmlNode& ri, Value& o) {
    if (const XmlNode* num = ri.child("NumResult")) {
      const XmlNode* v = num->child("NumResultValue");
      std::string raw = v ? v->attr("V") : "";
      auto d = Decimal(raw);
      if (d) {
        Value q = Value::MakeObject();
        q.set("value", Value::Number(*d));
        std::string comp = num->child_attr("ArithmeticComp", "V");
        if (comp == "<" || comp == "<=" || comp == ">=" || comp == ">") q.set("comparator", comp);
        if (std::string u = v->attr("U"); !u.empty()) q.set("unit", u);
        o.set("valueQuantity", std::move(q));
        return;
      }
      if (!raw.empty()) {
        std::string comp = num->child_attr("ArithmeticComp", "V");
        o.set("valueCodeableConcept", Value(json::Object{{"text", Value(comp + raw)}}));
        return;
      }
    }
    if (const XmlNode* iv = ri.child("Interval")) {
      Value range = Value::MakeObject();
      for (const char* side : {"Low", "High"}) {
        const XmlNode* b = iv->child(side);
        if (b == nullptr) continue;
        auto d = Decimal(b->attr("V"));
        if (!d) continue;
        Value q = Value::MakeObject();
        q.set("value", Value::Number(*d));
        if (std::string u = b->attr("U"); !u.empty()) q.set("unit", u);
        range.set(side == std::string("Low") ? "low" : "high", std::move(q));
      }
      if (!range.empty()) {
        o.set("valueRange", std::move(range));
        return;
      }
    }
    if (const XmlNode* dr = ri.child("DateResult")) {
      if (auto t = TimeOf(dr->child("DateResultValue"))) {
        o.set("valueDateTime", *t);
        return;
      }
    }
    if (const XmlNode* tr = ri.child("TextResult")) {
      // A number with a unit and no code is a quantity sent as text.
      std::string unit = tr->child_text("Unit");
      if (!unit.empty() && tr->child("TextCode") == nullptr) {
        if (auto d = Decimal(tr->child_text("TextResultValue"))) {
          Value q = Value::MakeObject();
          q.set("value", Value::Number(*d));
          q.set("unit", unit);
          o.set("valueQuantity", std::move(q));
          return;
        }
      }
      Value cc = Value::MakeObject();
      Value codings = Value::MakeArray();
      for (const XmlNode* tc : tr->all("TextCode")) {
        if (auto c = CodingOf(tc)) codings.push_back(*c);
      }
      if (auto c = CodingOf(tr->child("Heading"), std::string(kKodeverk) + "8243")) {
        codings.push_back(*c);
      }
      SetIfNotEmpty(cc, "coding", std::move(codings));
      std::string text = tr->child_text("TextResultValue");
      if (!text.empty() && !unit.empty()) text += " " + unit;
      if (!text.empty()) cc.set("text", text);
      if (!cc.empty()) o.set("valueCodeableConcept", std::move(cc));
    }
  }

  const SvarDocument& doc_;
  const XmlNode& msg_;
  std::string gen_date_, msg_id_;
  std::vector<Entry> entries_;
  std::map<std::string, std::string> conditional_;
  std::set<std::string> put_ids_;
  Value security_ = Value::MakeArray();
  OrgId patient_id_;
  std::string patient_url_;
};

// The fingerprint of every PUT resource (its content without meta.source).
void Fingerprint(Value& bundle) {
  Value* entries = bundle.find("entry");
  if (entries == nullptr) return;
  for (Value& e : entries->array()) {
    const Value* req = e.find("request");
    if (req == nullptr || req->get_string("method") != "PUT") continue;
    if (Value* r = e.find("resource")) internal::SetFingerprint(*r);
  }
}

}  // namespace

Result<json::Value> MapToBundle(const SvarDocument& doc) {
  Mapper m(doc);
  GM_ASSIGN_OR_RETURN(json::Value bundle, m.Run());
  Fingerprint(bundle);
  return bundle;
}

namespace internal {
void SetFingerprint(json::Value& r) {
  if (json::Value* meta = r.find("meta")) meta->erase("source");
  std::string hash = Sha256Hex(json::Write(r));
  r["meta"].set("source", std::string(kSourcePrefix) + hash);
}
}  // namespace internal

}  // namespace gm::labs
