#include "rest/engine.h"

#include "eresept/prescription.h"

#include <algorithm>
#include <set>
#include <map>
#include <charconv>

#include "core/time.h"
#include "fhir/shape.h"
#include "fhir/validator.h"
#include "validation/invariants.h"
#include "no/check.h"
#include "profile/profile.h"
#include <spdlog/spdlog.h>
#include "rest/request.h"
#include "search/query.h"

namespace gm::rest {

namespace {

Status Invalid(std::string code, std::string type, std::string text, std::string expr = {}) {
  return Status::Error(ErrorCategory::kInvalid, std::move(code), std::move(type), std::move(text),
                       std::move(expr));
}

int64_t TruncateToMs(int64_t us) { return us - (((us % 1000) + 1000) % 1000); }

// Fills id and meta and serialises: the bytes that will be stored.
Result<store::PutRequest> Prepare(const Context& ctx, json::Value& resource,
                                  const std::string& type, const std::string& id,
                                  int64_t version, int64_t last_updated_us) {
  resource.set("id", id);
  json::Value& meta = resource["meta"];
  if (!meta.is_object()) meta = json::Value::MakeObject();
  meta.set("versionId", std::to_string(version));
  meta.set("lastUpdated", time::FormatInstant(last_updated_us));
  // Norwegian identifier systems are stored canonical (OID variants accepted on input).
  no::CanonicalizeIdentifierSystems(resource, ctx.model);
  fhir::Canonicalize(resource, &ctx.model);
  auto extracted = ctx.indexer.Extract(type, id, resource);
  if (!extracted.ok()) return extracted.status();
  store::PutRequest put;
  put.resource.type = type;
  put.resource.id = id;
  put.resource.version = version;
  put.resource.last_updated_us = last_updated_us;
  put.resource.json = json::Write(resource);
  put.index = std::move(extracted->index);
  put.compartments = std::move(extracted->compartments);
  return put;
}

// Prepare in two steps: Shape (everything that does not depend on the
// version and timestamp) and Finish. Shape fills meta.versionId and
// meta.lastUpdated with provisional values so that canonical member order is
// the same as Prepare's; Finish replaces them in place.
void Shape(const Context& ctx, json::Value& resource, const std::string& id) {
  resource.set("id", id);
  json::Value& meta = resource["meta"];
  if (!meta.is_object()) meta = json::Value::MakeObject();
  meta.set("versionId", std::string("0"));
  meta.set("lastUpdated", time::FormatInstant(0));
  no::CanonicalizeIdentifierSystems(resource, ctx.model);
  fhir::Canonicalize(resource, &ctx.model);
}

Status Finish(const Context& ctx, PreparedWrite& p, int64_t version, int64_t last_updated_us) {
  json::Value& meta = p.resource["meta"];
  meta.set("versionId", std::to_string(version));
  meta.set("lastUpdated", time::FormatInstant(last_updated_us));
  auto write_time = ctx.indexer.ExtractWriteTime(p.type, p.id, p.resource);
  if (!write_time.ok()) return write_time.status();
  p.put.index.resize(p.stable_entries);
  for (store::IndexEntry& e : *write_time) p.put.index.push_back(std::move(e));
  p.put.resource.type = p.type;
  p.put.resource.id = p.id;
  p.put.resource.version = version;
  p.put.resource.last_updated_us = last_updated_us;
  p.put.resource.deleted = false;
  p.put.resource.json = json::Write(p.resource);
  return Status::Ok();
}

int64_t NextTimestamp(const Context& ctx, const std::optional<store::ResourceVersion>& current) {
  int64_t now = TruncateToMs(ctx.clock.NowUs());
  if (current && current->last_updated_us >= now) now = current->last_updated_us + 1000;
  return now;
}

// If-Match: the version the client last saw must be the current one.
Status CheckIfMatch(const std::optional<store::ResourceVersion>& cur,
                    std::optional<int64_t> if_match) {
  if (if_match && (!cur || cur->deleted || cur->version != *if_match)) {
    return Status::Error(ErrorCategory::kPreconditionFailed, "GM-REST-043", "conflict",
                         "If-Match version " + std::to_string(*if_match) +
                             " is not the current version");
  }
  return Status::Ok();
}

Status AlreadyExists() {
  return Status::Error(ErrorCategory::kConflict, "GM-REST-040", "duplicate",
                       "a resource with this id already exists");
}

}  // namespace

std::optional<int64_t> ParseETag(std::string_view etag) {
  if (etag.size() >= 2 && etag.substr(0, 2) == "W/") etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  int64_t v = 0;
  auto [p, ec] = std::from_chars(etag.data(), etag.data() + etag.size(), v);
  if (ec != std::errc() || p != etag.data() + etag.size() || v < 1) return std::nullopt;
  return v;
}

std::string ETagFor(int64_t version) { return "W/\"" + std::to_string(version) + "\""; }

validation::ValidationResult Validate(const Context& ctx, const json::Value& resource,
                                      const std::vector<std::string>& extra_profiles) {
  validation::ValidationResult r =
      validation::ValidateWithInvariants(resource, {.model = &ctx.model});
  std::vector<Issue> errors;
  if (!r.status.ok()) {
    for (Issue& i : r.status.issues()) {
      if (i.severity == Severity::kError || i.severity == Severity::kFatal) errors.push_back(i);
    }
  }
  for (Issue& i : no::CheckIdentifiers(resource, ctx.model)) errors.push_back(std::move(i));
  if (ctx.profiles != nullptr) {
    profile::ProfileValidation p =
        profile::CheckProfiles(resource, *ctx.profiles, ctx.model, extra_profiles);
    if (!p.status.ok()) {
      for (Issue& i : p.status.issues()) {
        if (i.severity == Severity::kError || i.severity == Severity::kFatal) errors.push_back(i);
      }
    }
    r.warnings.insert(r.warnings.end(), p.warnings.begin(), p.warnings.end());
  } else if (!extra_profiles.empty()) {
    errors.push_back(Issue{Severity::kError, "not-supported", "GM-PROF-011",
                           "this server has no profiles to validate against", ""});
  }
  // Errors first: the first issue of a refusal is its reason.
  if (errors.empty()) {
    r.status = Status::Ok();
  } else {
    errors.insert(errors.end(), r.warnings.begin(), r.warnings.end());
    r.status = Status(ErrorCategory::kUnprocessable, std::move(errors));
  }
  return r;
}

Status LoadStoredProfiles(const Context& ctx) {
  if (ctx.profiles == nullptr) return Status::Ok();
  // Definitions before the resources that use them: code systems, value
  // sets, then StructureDefinitions (extensions are profiles too).
  for (const char* type : {"CodeSystem", "ValueSet", "StructureDefinition"}) {
    store::Query q;
    q.type = type;
    q.limit = 500;
    while (true) {
      GM_ASSIGN_OR_RETURN(store::QueryPage page, ctx.store.Search(q));
      for (const auto& v : page.resources) AfterCommit(ctx, v);
      if (page.next.empty()) break;
      q.after = page.next;
    }
  }
  return Status::Ok();
}

namespace {

// Registers a stored StructureDefinition, ValueSet or CodeSystem with ctx.profiles.
void RegisterDefinition(const Context& ctx, const store::ResourceVersion& version) {
  if (ctx.profiles == nullptr || version.deleted ||
      !profile::ProfileRegistry::Handles(version.type)) {
    return;
  }
  auto parsed = json::Parse(version.json, json::ParseOptions{.max_depth = 1024});
  if (!parsed.ok()) return;
  // A StructureDefinition that is not a usable constraint profile (a logical
  // model, a base definition) is a legitimate resource: stored, not used.
  Status st = ctx.profiles->AddResource(*parsed);
  if (!st.ok()) {
    spdlog::debug("{}/{} not registered for validation: {}", version.type, version.id,
                  st.code());
  }
}

// (url, version) of a stored definition's JSON; url "" when it has none.
using DefinitionId = std::pair<std::string, std::string>;
DefinitionId IdentityOf(const store::ResourceVersion& v) {
  if (v.deleted) return {};
  auto parsed = json::Parse(v.json, json::ParseOptions{.max_depth = 1024});
  if (!parsed.ok()) return {};
  return {std::string(parsed->get_string("url")), std::string(parsed->get_string("version"))};
}

// A criteria value, percent-encoded (',' too: it would separate alternatives).
std::string EncodeCriteriaValue(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// A definition (url, version) that one stored resource no longer carries:
// registered again from another live stored resource with the same identity
// if there is one, else removed from ctx.profiles.
Status ForgetDefinition(const Context& ctx, const std::string& type, const DefinitionId& id) {
  GM_ASSIGN_OR_RETURN(store::Query q, CriteriaQuery(ctx, type, "url=" + EncodeCriteriaValue(id.first)));
  q.limit = 100;
  GM_ASSIGN_OR_RETURN(store::QueryPage page, ctx.store.Search(q));
  for (const auto& v : page.resources) {
    DefinitionId other = IdentityOf(v);
    // CodeSystems are registered by url alone.
    if (other.first == id.first && (type == "CodeSystem" || other.second == id.second)) {
      RegisterDefinition(ctx, v);
      return Status::Ok();
    }
  }
  if (ctx.profiles->Unregister(type, id.first, id.second)) {
    spdlog::info("{} {}|{} is no longer stored: unregistered", type, id.first, id.second);
  }
  return Status::Ok();
}

// Brings ctx.profiles in line with the stored definition type/id whose
// versions first..last changed (created, updated or deleted): its current
// content is registered, and what versions first-1..last carried under
// another url or version (or at all, when it is deleted now) is forgotten.
Status ReconcileDefinition(const Context& ctx, const std::string& type, const std::string& id,
                           int64_t first, int64_t last) {
  GM_ASSIGN_OR_RETURN(std::optional<store::ResourceVersion> cur, ctx.store.Read(type, id));
  DefinitionId live;
  if (cur && !cur->deleted) {
    live = IdentityOf(*cur);
    RegisterDefinition(ctx, *cur);
    last = std::max(last, cur->version);
  }
  std::set<DefinitionId> stale;
  for (int64_t v = std::max<int64_t>(1, first - 1); v <= last; ++v) {
    if (cur && !cur->deleted && v == cur->version) continue;
    GM_ASSIGN_OR_RETURN(std::optional<store::ResourceVersion> old,
                        ctx.store.ReadVersion(type, id, v));
    if (!old || old->deleted) continue;
    DefinitionId was = IdentityOf(*old);
    if (!was.first.empty() && was != live) stale.insert(std::move(was));
  }
  for (const DefinitionId& d : stale) GM_RETURN_IF_ERROR(ForgetDefinition(ctx, type, d));
  return Status::Ok();
}

}  // namespace

Result<int64_t> RefreshStoredProfiles(const Context& ctx, int64_t since_us) {
  int64_t newest = since_us;
  if (ctx.profiles == nullptr) return newest;
  // The history since since_us (deletions included): every definition
  // created, changed or deleted by any node, reconciled once each.
  for (const char* type : {"CodeSystem", "ValueSet", "StructureDefinition"}) {
    std::map<std::string, std::pair<int64_t, int64_t>> touched;  // id -> first, last version
    store::HistoryQuery h;
    h.type = type;
    h.since_us = since_us;
    h.limit = 500;
    while (true) {
      GM_ASSIGN_OR_RETURN(store::HistoryPage page, ctx.store.History(h));
      for (const auto& v : page.versions) {
        auto [it, added] = touched.try_emplace(v.id, v.version, v.version);
        it->second.first = std::min(it->second.first, v.version);
        it->second.second = std::max(it->second.second, v.version);
        newest = std::max(newest, v.last_updated_us);
      }
      if (page.next.empty()) break;
      h.after = page.next;
    }
    for (const auto& [id, range] : touched) {
      GM_RETURN_IF_ERROR(ReconcileDefinition(ctx, type, id, range.first, range.second));
    }
  }
  return newest;
}

void AfterCommit(const Context& ctx, const store::ResourceVersion& version) {
  if (ctx.profiles == nullptr || !profile::ProfileRegistry::Handles(version.type)) return;
  if (version.deleted || version.version > 1) {
    // An update may change the url or version it is known by, a deletion
    // removes it: what the previous version carried is forgotten at once on
    // this node (other nodes: RefreshStoredProfiles).
    Status st = ReconcileDefinition(ctx, version.type, version.id, version.version, version.version);
    if (!st.ok()) {
      spdlog::warn("{}/{}: definitions not reconciled: {}", version.type, version.id, st.message());
    }
    return;
  }
  RegisterDefinition(ctx, version);
}

Status ValidateResource(const Context& ctx, const json::Value& resource) {
  return Validate(ctx, resource).status;
}

Result<json::Value> ParseResource(const Context& ctx, std::string_view body,
                                  std::string_view expected_type) {
  GM_ASSIGN_OR_RETURN(json::Value resource, ParseResourceUnvalidated(ctx, body, expected_type));
  GM_RETURN_IF_ERROR(ValidateResource(ctx, resource));
  return resource;
}

Result<json::Value> ParseResourceUnvalidated(const Context& ctx, std::string_view body,
                                             std::string_view expected_type) {
  if (body.empty()) return Invalid("GM-REST-030", "required", "the request body is empty");
  auto parsed = json::Parse(body, json::ParseOptions{.max_depth = ctx.options.max_json_depth});
  if (!parsed.ok()) return parsed.status();
  json::Value& resource = *parsed;
  if (!resource.is_object()) {
    return Invalid("GM-REST-031", "structure", "the body must be a JSON object (a FHIR resource)");
  }
  const json::Value* rt = resource.find("resourceType");
  if (rt == nullptr || !rt->is_string()) {
    return Invalid("GM-REST-032", "required", "resourceType is missing", "resourceType");
  }
  if (!ctx.model.IsResourceType(rt->str())) {
    return Invalid("GM-REST-033", "not-supported",
                   "unknown resourceType '" + rt->str().substr(0, 64) + "'", "resourceType");
  }
  if (!expected_type.empty() && rt->str() != expected_type) {
    return Invalid("GM-REST-034", "invalid",
                   "resourceType '" + rt->str() + "' does not match the URL's type '" +
                       std::string(expected_type) + "'",
                   "resourceType");
  }
  return std::move(resource);
}

namespace {

// Does this MedicationRequest JSON carry the national prescription status?
bool IsPrescriptionJson(std::string_view json) {
  static const std::string url = std::string(eresept::kExtensionBase) + "reseptstatus";
  if (json.find(url) == std::string_view::npos) return false;  // cheap common case
  auto v = json::Parse(json);
  return v.ok() && eresept::Read(*v).ok();
}

bool IsPrescription(const json::Value& mr) { return eresept::Read(mr).ok(); }

// A MedicationDispense authorised by an e-prescription?
Result<bool> DispensesPrescription(store::Txn& txn, const json::Value& md) {
  const json::Value* auth = md.find("authorizingPrescription");
  if (auth == nullptr || !auth->is_array()) return false;
  for (const json::Value& ref : auth->array()) {
    std::string_view r = ref.get_string("reference");
    constexpr std::string_view kPrefix = "MedicationRequest/";
    if (r.substr(0, kPrefix.size()) != kPrefix) continue;
    auto mr = txn.Current("MedicationRequest", std::string(r.substr(kPrefix.size())));
    if (!mr.ok()) return mr.status();
    if (mr->has_value() && !(*mr)->deleted && IsPrescriptionJson((*mr)->json)) return true;
  }
  return false;
}

Status GuardPrescription(store::Txn& txn, const std::string& type, const json::Value* next,
                         const std::optional<store::ResourceVersion>& cur, WriteGuard guard) {
  if (guard == WriteGuard::kEresept) return Status::Ok();
  if (type != "MedicationRequest" && type != "MedicationDispense" && type != "List") {
    return Status::Ok();
  }
  bool touches = false;
  if (type == "List") {
    touches = (next != nullptr && eresept::IsPll(*next)) ||
              (cur && !cur->deleted && cur->json.find(eresept::kPllSystem) != std::string::npos &&
               [&] {
                 auto old = json::Parse(cur->json);
                 return old.ok() && eresept::IsPll(*old);
               }());
  } else if (type == "MedicationRequest") {
    touches = (next != nullptr && IsPrescription(*next)) ||
              (cur && !cur->deleted && IsPrescriptionJson(cur->json));
  } else {
    if (next != nullptr) {
      GM_ASSIGN_OR_RETURN(touches, DispensesPrescription(txn, *next));
    }
    if (!touches && cur && !cur->deleted) {
      auto old = json::Parse(cur->json);
      if (old.ok()) {
        GM_ASSIGN_OR_RETURN(touches, DispensesPrescription(txn, *old));
      }
    }
  }
  if (!touches) return Status::Ok();
  return Status::Error(ErrorCategory::kConflict, "GM-ERX-040", "business-rule",
                       "e-prescriptions, their dispensings and the medication list (PLL) change "
                       "only through the e-resept operations ($prescribe, $lock, $release, "
                       "$dispense, $recall, $renew, $medication-list-update)",
                       type);
}

}  // namespace

Result<WriteResult> DoCreate(const Context& ctx, store::Txn& txn, json::Value resource,
                             const std::string& id, WriteGuard guard) {
  std::string type(resource.get_string("resourceType"));
  auto current = txn.Current(type, id);
  if (!current.ok()) return current.status();
  if (current->has_value()) return AlreadyExists();
  GM_RETURN_IF_ERROR(GuardPrescription(txn, type, &resource, *current, guard));
  int64_t ts = NextTimestamp(ctx, std::nullopt);
  auto put = Prepare(ctx, resource, type, id, 1, ts);
  if (!put.ok()) return put.status();
  GM_RETURN_IF_ERROR(txn.Put(*put));
  return WriteResult{std::move(put->resource), 201, false};
}

Result<WriteResult> DoUpdate(const Context& ctx, store::Txn& txn, const std::string& type,
                             const std::string& id, json::Value resource,
                             std::optional<int64_t> if_match, WriteGuard guard) {
  if (!IsValidId(id)) return Invalid("GM-REST-003", "value", "invalid resource id", "id");
  const json::Value* body_id = resource.find("id");
  if (body_id == nullptr || !body_id->is_string()) {
    return Invalid("GM-REST-041", "required", "an update must carry the resource id in the body",
                   type + ".id");
  }
  if (body_id->str() != id) {
    return Invalid("GM-REST-042", "invalid", "the id in the body does not match the URL's id",
                   type + ".id");
  }
  auto current = txn.Current(type, id);
  if (!current.ok()) return current.status();
  const auto& cur = *current;
  GM_RETURN_IF_ERROR(CheckIfMatch(cur, if_match));
  GM_RETURN_IF_ERROR(GuardPrescription(txn, type, &resource, cur, guard));
  int64_t version = cur ? cur->version + 1 : 1;
  bool created = !cur || cur->deleted;
  auto put = Prepare(ctx, resource, type, id, version, NextTimestamp(ctx, cur));
  if (!put.ok()) return put.status();
  GM_RETURN_IF_ERROR(txn.Put(*put));
  return WriteResult{std::move(put->resource), created ? 201 : 200, false};
}

std::optional<PreparedWrite> PrepareWrite(const Context& ctx, json::Value resource,
                                          const std::string& type, const std::string& id) {
  PreparedWrite p;
  p.type = type;
  p.id = id;
  p.resource = std::move(resource);
  Shape(ctx, p.resource, id);
  auto stable = ctx.indexer.ExtractStable(type, id, p.resource);
  if (!stable.ok() || !stable->has_value()) return std::nullopt;
  p.put.index = std::move((*stable)->index);
  p.put.compartments = std::move((*stable)->compartments);
  p.stable_entries = p.put.index.size();
  return p;
}

Result<WriteResult> DoCreatePrepared(const Context& ctx, store::Txn& txn, PreparedWrite& p) {
  auto current = txn.Current(p.type, p.id);
  if (!current.ok()) return current.status();
  if (current->has_value()) return AlreadyExists();
  GM_RETURN_IF_ERROR(GuardPrescription(txn, p.type, &p.resource, *current, WriteGuard::kPublic));
  GM_RETURN_IF_ERROR(Finish(ctx, p, 1, NextTimestamp(ctx, std::nullopt)));
  GM_RETURN_IF_ERROR(txn.Put(p.put));
  store::ResourceVersion stored = p.put.resource;
  return WriteResult{std::move(stored), 201, false};
}

Result<WriteResult> DoUpdatePrepared(const Context& ctx, store::Txn& txn, PreparedWrite& p,
                                     std::optional<int64_t> if_match) {
  const std::string& type = p.type;
  const std::string& id = p.id;
  if (!IsValidId(id)) return Invalid("GM-REST-003", "value", "invalid resource id", "id");
  auto current = txn.Current(type, id);
  if (!current.ok()) return current.status();
  const auto& cur = *current;
  GM_RETURN_IF_ERROR(CheckIfMatch(cur, if_match));
  GM_RETURN_IF_ERROR(GuardPrescription(txn, type, &p.resource, cur, WriteGuard::kPublic));
  int64_t version = cur ? cur->version + 1 : 1;
  bool created = !cur || cur->deleted;
  GM_RETURN_IF_ERROR(Finish(ctx, p, version, NextTimestamp(ctx, cur)));
  GM_RETURN_IF_ERROR(txn.Put(p.put));
  store::ResourceVersion stored = p.put.resource;
  return WriteResult{std::move(stored), created ? 201 : 200, false};
}

Result<WriteResult> DoDelete(const Context& ctx, store::Txn& txn, const std::string& type,
                             const std::string& id, std::optional<int64_t> if_match,
                             WriteGuard guard) {
  auto current = txn.Current(type, id);
  if (!current.ok()) return current.status();
  const auto& cur = *current;
  GM_RETURN_IF_ERROR(GuardPrescription(txn, type, nullptr, cur, guard));
  if (if_match && (!cur || cur->deleted || cur->version != *if_match)) {
    return Status::Error(ErrorCategory::kPreconditionFailed, "GM-REST-043", "conflict",
                         "If-Match version " + std::to_string(*if_match) +
                             " is not the current version");
  }
  if (!cur) {
    return Status::Error(ErrorCategory::kNotFound, "GM-REST-044", "not-found",
                         "resource not found");
  }
  if (cur->deleted) return WriteResult{*cur, 204, false};
  store::PutRequest put;
  put.resource.type = type;
  put.resource.id = id;
  put.resource.version = cur->version + 1;
  put.resource.last_updated_us = NextTimestamp(ctx, cur);
  put.resource.deleted = true;
  GM_RETURN_IF_ERROR(txn.Put(put));
  return WriteResult{std::move(put.resource), 204, false};
}

Result<std::vector<std::string>> MatchCriteria(const Context& ctx, store::Txn& txn,
                                               const std::string& type,
                                               std::string_view criteria, size_t limit) {
  GM_ASSIGN_OR_RETURN(store::Query query, CriteriaQuery(ctx, type, criteria));
  return txn.Match(query, limit);
}

Result<store::Query> CriteriaQuery(const Context& ctx, const std::string& type,
                                   std::string_view criteria) {
  if (!criteria.empty() && criteria.front() == '?') criteria.remove_prefix(1);
  auto params = ParseForm(criteria);
  if (!params.ok()) return params.status();
  if (params->empty()) {
    return Invalid("GM-REST-050", "invalid", "conditional criteria are empty");
  }
  auto parsed = search::ParseSearch(ctx.model, type, *params,
                                    search::ParseOptions{.strict = true});
  if (!parsed.ok()) return parsed.status();
  if (parsed->query.clauses.empty()) {
    return Invalid("GM-REST-051", "invalid", "conditional criteria select no search parameter");
  }
  return std::move(parsed->query);
}

}  // namespace gm::rest
