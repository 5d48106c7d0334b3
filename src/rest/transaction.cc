// batch and transaction: POST [base] with a Bundle of type batch or
// transaction — http://hl7.org/fhir/R4/http.html#transaction
//
// Transaction: every entry runs in ONE store transaction (all or nothing), in
// the spec's order — DELETE, POST, PUT, GET — regardless of their order in the
// Bundle; fullUrls (urn:uuid:…, absolute URLs) of created resources and
// conditional references ("Patient?identifier=…") are resolved and rewritten
// in every resource before anything is written. A resource may be touched by
// one entry only. Batch: each entry is processed on its own; failures are
// reported per entry.
#include <map>
#include <set>

#include "core/time.h"
#include "rest/engine.h"
#include "rest/handlers.h"
#include "rest/outcome.h"
#include "rest/respond.h"

namespace gm::rest {

// Rewrites every Reference.reference (and uri values equal to a mapped fullUrl).
void RewriteReferences(json::Value& v, const std::map<std::string, std::string>& map) {
  if (v.is_object()) {
    for (auto& [k, child] : v.object()) {
      if (child.is_string() && (k == "reference" || k == "url" || k.rfind("value", 0) == 0)) {
        auto it = map.find(child.str());
        if (it != map.end()) child = json::Value(it->second);
      } else {
        RewriteReferences(child, map);
      }
    }
  } else if (v.is_array()) {
    for (auto& child : v.array()) RewriteReferences(child, map);
  }
}

namespace {

enum class Method { kGet, kHead, kPost, kPut, kDelete, kPatch };

struct Entry {
  size_t index = 0;
  Method method = Method::kGet;
  std::string full_url;
  std::string type;
  std::string id;
  std::string version;  // GET of a version
  std::string criteria; // query part, for conditional PUT/DELETE
  bool has_query = false;
  json::Value resource;
  bool has_resource = false;
  std::string if_none_exist;
  std::optional<int64_t> if_match;
  std::string new_id;  // pre-assigned id for a create
  bool client_id_create = false;  // a conditional PUT that matched nothing, with the body's id
  // The write prepared outside the store transaction (references rewritten,
  // canonicalised, indexed), when nothing about it depends on the transaction.
  std::optional<PreparedWrite> prepared;
  // Outcome
  bool matched_existing = false;
  int status = 200;
  store::ResourceVersion result;
  bool has_result = false;
};

Status EntryError(size_t index, std::string code, std::string text) {
  return Status::Error(ErrorCategory::kInvalid, std::move(code), "invalid", std::move(text),
                       "Bundle.entry[" + std::to_string(index) + "].request");
}

// Prefixes the location of every issue with the entry it came from.
Status AtEntry(Status st, size_t index) {
  std::string where = "Bundle.entry[" + std::to_string(index) + "]";
  for (Issue& i : st.issues()) {
    i.text = where + ": " + i.text;
    if (!i.expression.empty() && i.expression.rfind("Bundle.", 0) != 0) {
      // "Patient.identifier[0]" inside the entry is "Bundle.entry[n].resource.identifier[0]".
      std::string_view e = i.expression;
      size_t dot = e.find('.');
      bool typed = !e.empty() && e[0] >= 'A' && e[0] <= 'Z';
      if (typed) e = dot == std::string_view::npos ? std::string_view() : e.substr(dot + 1);
      i.expression = e.empty() ? where + ".resource" : where + ".resource." + std::string(e);
    } else if (i.expression.empty()) {
      i.expression = where;
    }
  }
  return st;
}

Result<Method> ParseMethod(std::string_view m) {
  if (m == "GET") return Method::kGet;
  if (m == "HEAD") return Method::kHead;
  if (m == "POST") return Method::kPost;
  if (m == "PUT") return Method::kPut;
  if (m == "DELETE") return Method::kDelete;
  if (m == "PATCH") return Method::kPatch;
  return Status::Error(ErrorCategory::kInvalid, "GM-REST-112", "value", "unknown request method");
}

Result<Entry> PlanEntry(const Context& ctx, const json::Value& e, size_t index) {
  Entry out;
  out.index = index;
  out.full_url = std::string(e.get_string("fullUrl"));
  const json::Value* request = e.find("request");
  if (request == nullptr || !request->is_object()) {
    return EntryError(index, "GM-REST-113", "entry.request is required in a batch or transaction");
  }
  auto method = ParseMethod(request->get_string("method"));
  if (!method.ok()) return EntryError(index, "GM-REST-112", "entry.request.method is missing or unknown");
  out.method = *method;
  std::string url(request->get_string("url"));
  if (url.empty()) return EntryError(index, "GM-REST-114", "entry.request.url is required");
  if (url.rfind(ctx.options.base_url + "/", 0) == 0) url = url.substr(ctx.options.base_url.size());
  size_t q = url.find('?');
  std::string path = url.substr(0, q);
  if (q != std::string::npos) {
    out.has_query = true;
    out.criteria = url.substr(q + 1);
  }
  auto target = ParseTarget(ctx.model, path);
  if (!target.ok()) return AtEntry(target.status(), index);
  out.type = target->type;
  out.id = target->id;
  out.version = target->version;
  if (out.type.empty()) {
    return EntryError(index, "GM-REST-115", "entry.request.url must name a resource type");
  }
  if (const json::Value* r = e.find("resource")) {
    out.resource = *r;
    out.has_resource = true;
  }
  out.if_none_exist = std::string(request->get_string("ifNoneExist"));
  if (std::string_view m = request->get_string("ifMatch"); !m.empty()) {
    out.if_match = ParseETag(m);
    if (!out.if_match) return EntryError(index, "GM-REST-071", "entry.request.ifMatch is not an ETag");
  }
  switch (out.method) {
    case Method::kPost:
      if (!out.has_resource) return EntryError(index, "GM-REST-116", "a POST entry needs a resource");
      if (!out.id.empty() || target->route != Route::kType) {
        return EntryError(index, "GM-REST-117", "a POST entry's url must be a resource type");
      }
      break;
    case Method::kPut:
      if (!out.has_resource) return EntryError(index, "GM-REST-116", "a PUT entry needs a resource");
      if (target->route != Route::kInstance && !(target->route == Route::kType && out.has_query)) {
        return EntryError(index, "GM-REST-118", "a PUT entry's url must be [type]/[id] or [type]?criteria");
      }
      break;
    case Method::kDelete:
      if (target->route != Route::kInstance && !(target->route == Route::kType && out.has_query)) {
        return EntryError(index, "GM-REST-119", "a DELETE entry's url must be [type]/[id] or [type]?criteria");
      }
      break;
    case Method::kGet:
    case Method::kHead:
      if (target->route != Route::kInstance && target->route != Route::kVersion) {
        return EntryError(index, "GM-REST-120",
                          "GET entries support read and vread ([type]/[id], [type]/[id]/_history/[vid])");
      }
      break;
    case Method::kPatch:
      return EntryError(index, "GM-REST-121",
                        "PATCH entries are not supported in batch or transaction; use PUT");
  }
  if (out.has_resource) {
    std::string_view rt = out.resource.get_string("resourceType");
    if (rt != out.type) {
      return AtEntry(Status::Error(ErrorCategory::kInvalid, "GM-REST-034", "invalid",
                                   "the resource's type does not match entry.request.url",
                                   "resourceType"),
                     index);
    }
  }
  return out;
}

std::string StatusText(int status) {
  switch (status) {
    case 200:
      return "200 OK";
    case 201:
      return "201 Created";
    case 204:
      return "204 No Content";
    default:
      return std::to_string(status);
  }
}

// RewriteReferences with the mappings known before the transaction; false
// (v then partly rewritten) if v holds a value that may map to something only
// the transaction can tell (a key in `unresolved`).
bool RewriteKnownReferences(json::Value& v, const std::map<std::string, std::string>& map,
                            const std::set<std::string>& unresolved) {
  if (v.is_object()) {
    for (auto& [k, child] : v.object()) {
      if (child.is_string() && (k == "reference" || k == "url" || k.rfind("value", 0) == 0)) {
        if (unresolved.count(child.str())) return false;
        auto it = map.find(child.str());
        if (it != map.end()) child = json::Value(it->second);
      } else if (!RewriteKnownReferences(child, map, unresolved)) {
        return false;
      }
    }
  } else if (v.is_array()) {
    for (auto& child : v.array()) {
      if (!RewriteKnownReferences(child, map, unresolved)) return false;
    }
  }
  return true;
}

// Collects "Type?criteria" references (conditional references) found in v.
void CollectConditionalRefs(const json::Value& v, const fhir::Model& model,
                            std::set<std::string>& out) {
  if (v.is_object()) {
    for (const auto& [k, child] : v.object()) {
      if (k == "reference" && child.is_string()) {
        const std::string& s = child.str();
        size_t q = s.find('?');
        if (q != std::string::npos && q > 0 && model.IsResourceType(s.substr(0, q))) {
          out.insert(s);
        }
      } else {
        CollectConditionalRefs(child, model, out);
      }
    }
  } else if (v.is_array()) {
    for (const auto& child : v.array()) CollectConditionalRefs(child, model, out);
  }
}

Status NotFoundStatus(const std::string& type, const std::string& id) {
  return Status::Error(ErrorCategory::kNotFound, "GM-REST-060", "not-found",
                       "resource " + type + "/" + id + " is not known");
}

// A person's entry: the policy's verdict (Call::entry_denials); an entry
// without one is not run.
std::optional<Status> EntryDenial(const Call& call, size_t index) {
  if (!call.entries_decided) return std::nullopt;
  if (index >= call.entry_denials.size()) {
    return Status::Error(ErrorCategory::kForbidden, call.person_code, "forbidden",
                         "this entry was not decided by the policy");
  }
  if (!call.entry_denials[index].ok()) return call.entry_denials[index];
  return std::nullopt;
}

// The patients a person's conditional entry is confined to (empty: none).
const std::vector<std::string>& EntryScope(const Call& call, size_t index) {
  static const std::vector<std::string> kNone;
  return index < call.entry_scopes.size() ? call.entry_scopes[index] : kNone;
}

// Executes one planned write/read inside txn. `ids` maps fullUrls already.
// Every write is first checked against the caller's confinement
// (Call::may_write) on what it touches.
Status Execute(const Call& call, store::Txn& txn, Entry& e) {
  const Context& ctx = call.ctx;
  switch (e.method) {
    case Method::kDelete: {
      std::string id = e.id;
      if (e.has_query) {
        auto ids = MatchConfined(ctx, txn, e.type, e.criteria, 2, EntryScope(call, e.index));
        if (!ids.ok()) return ids.status();
        if (ids->size() > 1) {
          return Status::Error(ErrorCategory::kPreconditionFailed, "GM-REST-074",
                               "multiple-matches", "conditional delete matches several resources");
        }
        if (ids->empty()) {
          e.status = 204;
          return Status::Ok();
        }
        id = ids->front();
      }
      GM_RETURN_IF_ERROR(CheckWrite(call, txn, e.type, id, nullptr));
      auto r = DoDelete(ctx, txn, e.type, id, e.if_match);
      if (!r.ok()) return r.status();
      e.status = 204;
      e.result = r->version;
      e.has_result = true;
      return Status::Ok();
    }
    case Method::kPost: {
      if (e.matched_existing) return Status::Ok();
      GM_RETURN_IF_ERROR(CheckWrite(call, txn, e.type, e.prepared ? e.prepared->id : e.new_id,
                                    e.prepared ? &e.prepared->resource : &e.resource));
      auto r = e.prepared ? DoCreatePrepared(ctx, txn, *e.prepared)
                          : DoCreate(ctx, txn, e.resource, e.new_id);
      if (!r.ok()) return r.status();
      e.status = 201;
      e.result = r->version;
      e.has_result = true;
      return Status::Ok();
    }
    case Method::kPut: {
      if (call.no_client_ids) {
        if (e.client_id_create) {
          return Status::Error(ErrorCategory::kForbidden, call.person_code, "forbidden",
                               "a conditional update that matches nothing creates with a "
                               "server-assigned id: leave out the id");
        }
        if (!e.has_query) {
          auto cur = txn.Current(e.type, e.id);
          if (!cur.ok()) return cur.status();
          if (!cur->has_value()) return NotFoundStatus(e.type, e.id);
        }
      }
      GM_RETURN_IF_ERROR(CheckWrite(call, txn, e.type, e.id,
                                    e.prepared ? &e.prepared->resource : &e.resource));
      if (e.prepared) {
        auto r = DoUpdatePrepared(ctx, txn, *e.prepared, e.if_match);
        if (!r.ok()) return r.status();
        e.status = r->status;
        e.result = std::move(r->version);
        e.has_result = true;
        return Status::Ok();
      }
      e.resource.set("id", e.id);
      auto r = DoUpdate(ctx, txn, e.type, e.id, e.resource, e.if_match);
      if (!r.ok()) return r.status();
      e.status = r->status;
      e.result = r->version;
      e.has_result = true;
      return Status::Ok();
    }
    case Method::kGet:
    case Method::kHead: {
      auto cur = txn.Current(e.type, e.id);
      if (!cur.ok()) return cur.status();
      if (!cur->has_value()) return NotFoundStatus(e.type, e.id);
      if ((*cur)->deleted) {
        return Status::Error(ErrorCategory::kGone, "GM-REST-061", "deleted",
                             "resource " + e.type + "/" + e.id + " was deleted");
      }
      if (!e.version.empty() && std::to_string((*cur)->version) != e.version) {
        return Status::Error(ErrorCategory::kNotImplemented, "GM-REST-122", "not-supported",
                             "only the current version can be read inside a transaction");
      }
      e.status = 200;
      e.result = **cur;
      e.has_result = true;
      return Status::Ok();
    }
    case Method::kPatch:
      break;
  }
  return Status::Error(ErrorCategory::kInvalid, "GM-REST-121", "not-supported",
                       "unsupported method in entry");
}

json::Value ResponseJson(const Context& ctx, const Entry& e) {
  json::Value response = json::Value::MakeObject();
  response.set("status", StatusText(e.status));
  if (e.has_result && !e.result.deleted) {
    if (e.method != Method::kGet && e.method != Method::kHead) {
      response.set("location", e.result.type + "/" + e.result.id + "/_history/" +
                                   std::to_string(e.result.version));
    }
    response.set("etag", ETagFor(e.result.version));
    response.set("lastModified", time::FormatInstant(e.result.last_updated_us));
  }
  return response;
}

void AddEntryToBundle(const Context& ctx, const Call& call, BundleWriter& bundle, const Entry& e) {
  json::Value response = ResponseJson(ctx, e);
  bool with_resource = e.has_result && !e.result.deleted &&
                       (e.method == Method::kGet ||
                        call.prefer.ret == PreferReturn::kRepresentation);
  if (call.prefer.ret == PreferReturn::kOperationOutcome && e.method != Method::kGet) {
    response.set("outcome", InformationOutcome("GM-REST-103", StatusText(e.status)));
  }
  std::string full_url = e.has_result ? ResourceUrl(ctx, e.result, false) : std::string();
  bundle.AddEntry(full_url, with_resource ? std::string_view(e.result.json) : std::string_view(),
                  nullptr, nullptr, &response);
}

// Prepares, before the store transaction, the creates and updates whose
// identity and references do not depend on it: a POST without ifNoneExist (its
// id is pre-assigned) or a PUT to [type]/[id], whose references mention no
// fullUrl of an entry with a conditional identity and no conditional
// reference. Their mappings (fullUrl -> Type/id) are the same ones the
// transaction computes, so the prepared resource is what it would write.
void PrepareOutside(const Context& ctx, std::vector<Entry>& entries) {
  auto known_identity = [](const Entry& e) {
    return (e.method == Method::kPost && e.if_none_exist.empty()) ||
           (e.method == Method::kPut && !e.has_query);
  };
  std::map<std::string, std::string> known;  // fullUrl -> Type/id, as step 1 maps them
  std::set<std::string> unresolved;          // keys whose mapping needs the transaction
  for (const Entry& e : entries) {
    if (e.full_url.empty() || (e.method != Method::kPost && e.method != Method::kPut)) continue;
    if (known_identity(e)) {
      known[e.full_url] = e.type + "/" + (e.method == Method::kPost ? e.new_id : e.id);
      unresolved.erase(e.full_url);
    } else {
      known.erase(e.full_url);
      unresolved.insert(e.full_url);
    }
  }
  std::set<std::string> conditional;
  for (const Entry& e : entries) {
    if (e.has_resource) CollectConditionalRefs(e.resource, ctx.model, conditional);
  }
  for (const std::string& ref : conditional) {
    if (!known.count(ref)) unresolved.insert(ref);
  }
  for (Entry& e : entries) {
    e.prepared.reset();
    if (!e.has_resource || !known_identity(e)) continue;
    const std::string& id = e.method == Method::kPost ? e.new_id : e.id;
    if (e.method == Method::kPut && e.resource.get_string("id") != e.id) continue;  // refused later
    json::Value resource = e.resource;
    if (!RewriteKnownReferences(resource, known, unresolved)) continue;
    e.prepared = PrepareWrite(ctx, std::move(resource), e.type, id);
  }
}

http::Response RunTransaction(Call& call, std::vector<Entry>& entries) {
  const Context& ctx = call.ctx;
  for (const Entry& e : entries) {
    // The policy refuses such a transaction before it gets here; this holds
    // should an entry have escaped its decision.
    if (auto denied = EntryDenial(call, e.index)) {
      return ErrorResponse(Status::Error(ErrorCategory::kForbidden, call.person_code, "forbidden",
                                         "the transaction holds an entry this caller may not "
                                         "perform; nothing was written"),
                           call.format.pretty);
    }
  }
  for (Entry& e : entries) {
    if (e.method == Method::kPost || (e.method == Method::kPut && e.has_query)) {
      e.new_id = ctx.new_id();
    }
  }
  PrepareOutside(ctx, entries);
  Status st = ctx.store.Write([&](store::Txn& txn) -> Status {
    std::map<std::string, std::string> ids;  // fullUrl → Type/id
    std::set<std::string> touched;
    auto touch = [&](const Entry& e, const std::string& id) -> Status {
      if (!touched.insert(e.type + "/" + id).second) {
        return AtEntry(Status::Error(ErrorCategory::kInvalid, "GM-REST-123", "invalid",
                                     "the same resource is changed by more than one entry"),
                       e.index);
      }
      return Status::Ok();
    };
    // 1. Resolve identities: conditional creates, conditional updates, plain ids.
    for (Entry& e : entries) {
      e.matched_existing = false;
      if (e.method == Method::kPost) {
        std::string id = e.new_id;
        if (!e.if_none_exist.empty()) {
          auto m = MatchCriteria(ctx, txn, e.type, e.if_none_exist, 2);
          if (!m.ok()) return AtEntry(m.status(), e.index);
          if (m->size() > 1) {
            return AtEntry(Status::Error(ErrorCategory::kPreconditionFailed, "GM-REST-070",
                                         "multiple-matches",
                                         "ifNoneExist matches more than one resource"),
                           e.index);
          }
          if (m->size() == 1) {
            id = m->front();
            e.matched_existing = true;
          }
        }
        e.id = id;
        if (!e.full_url.empty()) ids[e.full_url] = e.type + "/" + id;
        if (!e.matched_existing) GM_RETURN_IF_ERROR(touch(e, id));
      } else if (e.method == Method::kPut) {
        if (e.has_query) {
          auto m = MatchConfined(ctx, txn, e.type, e.criteria, 2, EntryScope(call, e.index));
          if (!m.ok()) return AtEntry(m.status(), e.index);
          if (m->size() > 1) {
            return AtEntry(Status::Error(ErrorCategory::kPreconditionFailed, "GM-REST-072",
                                         "multiple-matches",
                                         "conditional update matches more than one resource"),
                           e.index);
          }
          std::string_view body_id = e.resource.get_string("id");
          e.client_id_create = m->empty() && !body_id.empty();
          e.id = m->size() == 1 ? m->front()
                                : (body_id.empty() ? e.new_id : std::string(body_id));
        } else {
          std::string_view body_id = e.resource.get_string("id");
          if (body_id != e.id) {
            return AtEntry(Status::Error(ErrorCategory::kInvalid, "GM-REST-042", "invalid",
                                         "the resource id does not match entry.request.url",
                                         e.type + ".id"),
                           e.index);
          }
        }
        if (!e.full_url.empty()) ids[e.full_url] = e.type + "/" + e.id;
        GM_RETURN_IF_ERROR(touch(e, e.id));
      } else if (e.method == Method::kDelete && !e.has_query) {
        GM_RETURN_IF_ERROR(touch(e, e.id));
      }
    }
    // 2. Conditional references.
    for (Entry& e : entries) {
      if (!e.has_resource) continue;
      std::set<std::string> refs;
      CollectConditionalRefs(e.resource, ctx.model, refs);
      for (const std::string& ref : refs) {
        if (ids.count(ref)) continue;
        size_t q = ref.find('?');
        std::string type = ref.substr(0, q);
        auto m = MatchCriteria(ctx, txn, type, std::string_view(ref).substr(q + 1), 2);
        if (!m.ok()) return AtEntry(m.status(), e.index);
        if (m->size() != 1) {
          return AtEntry(
              Status::Error(m->empty() ? ErrorCategory::kNotFound
                                       : ErrorCategory::kPreconditionFailed,
                            "GM-REST-124", m->empty() ? "not-found" : "multiple-matches",
                            "conditional reference '" + ref.substr(0, 120) + "' matches " +
                                (m->empty() ? "nothing" : "more than one resource")),
              e.index);
        }
        ids[ref] = type + "/" + m->front();
      }
    }
    // 3. Rewrite references, then validate what will be written.
    for (Entry& e : entries) {
      if (!e.has_resource || e.matched_existing || e.prepared) continue;
      RewriteReferences(e.resource, ids);
    }
    // 4. Execute in the spec's order.
    for (Method phase : {Method::kDelete, Method::kPost, Method::kPut, Method::kGet}) {
      for (Entry& e : entries) {
        Method m = e.method == Method::kHead ? Method::kGet : e.method;
        if (m != phase) continue;
        Status s = Execute(call, txn, e);
        if (!s.ok()) return AtEntry(std::move(s), e.index);
      }
    }
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st, call.format.pretty);
  for (const Entry& e : entries) {
    if (e.has_result && e.method != Method::kGet && !e.matched_existing) AfterCommit(ctx, e.result);
  }
  BundleWriter bundle("transaction-response", call.format);
  for (const Entry& e : entries) AddEntryToBundle(ctx, call, bundle, e);
  http::Response r;
  r.SetHeader("Content-Type", call.format.content_type + "; charset=utf-8");
  r.body = bundle.Finish();
  return r;
}

http::Response RunBatch(Call& call, std::vector<Entry>& entries,
                        std::vector<std::optional<Status>>& plan_errors) {
  const Context& ctx = call.ctx;
  BundleWriter bundle("batch-response", call.format);
  for (size_t i = 0; i < entries.size(); ++i) {
    Entry& e = entries[i];
    std::optional<Status> error = plan_errors[i];
    if (!error) {
      if (auto denied = EntryDenial(call, i)) error = AtEntry(std::move(*denied), i);
    }
    if (!error) {
      if (e.method == Method::kPost) e.new_id = ctx.new_id();
      if (e.method == Method::kPut && e.has_query) e.new_id = ctx.new_id();
      Status st;
      if (e.method == Method::kGet || e.method == Method::kHead) {
        auto v = e.version.empty() ? ctx.store.Read(e.type, e.id)
                                   : ctx.store.ReadVersion(e.type, e.id, std::atoll(e.version.c_str()));
        if (!v.ok()) {
          st = v.status();
        } else if (!v->has_value()) {
          st = NotFoundStatus(e.type, e.id);
        } else if ((*v)->deleted) {
          st = Status::Error(ErrorCategory::kGone, "GM-REST-061", "deleted", "resource was deleted");
        } else {
          e.status = 200;
          e.result = **v;
          e.has_result = true;
        }
      } else {
        st = ctx.store.Write([&](store::Txn& txn) -> Status {
          e.matched_existing = false;
          if (e.method == Method::kPost && !e.if_none_exist.empty()) {
            auto m = MatchCriteria(ctx, txn, e.type, e.if_none_exist, 2);
            if (!m.ok()) return m.status();
            if (m->size() > 1) {
              return Status::Error(ErrorCategory::kPreconditionFailed, "GM-REST-070",
                                   "multiple-matches", "ifNoneExist matches more than one resource");
            }
            if (m->size() == 1) {
              auto cur = txn.Current(e.type, m->front());
              if (!cur.ok()) return cur.status();
              e.matched_existing = true;
              e.status = 200;
              e.result = **cur;
              e.has_result = true;
              return Status::Ok();
            }
          }
          if (e.method == Method::kPut && e.has_query) {
            auto m = MatchConfined(ctx, txn, e.type, e.criteria, 2, EntryScope(call, e.index));
            if (!m.ok()) return m.status();
            if (m->size() > 1) {
              return Status::Error(ErrorCategory::kPreconditionFailed, "GM-REST-072",
                                   "multiple-matches",
                                   "conditional update matches more than one resource");
            }
            std::string_view body_id = e.resource.get_string("id");
            e.client_id_create = m->empty() && !body_id.empty();
            e.id = m->size() == 1 ? m->front() : (body_id.empty() ? e.new_id : std::string(body_id));
          } else if (e.method == Method::kPut && e.resource.get_string("id") != e.id) {
            return Status::Error(ErrorCategory::kInvalid, "GM-REST-042", "invalid",
                                 "the resource id does not match entry.request.url", e.type + ".id");
          }
          return Execute(call, txn, e);
        });
      }
      if (!st.ok()) {
        error = AtEntry(std::move(st), i);
      } else if (e.has_result && e.method != Method::kGet && !e.matched_existing) {
        AfterCommit(ctx, e.result);
      }
    }
    if (error) {
      json::Value response = json::Value::MakeObject();
      response.set("status", std::to_string(HttpStatusFor(error->category())));
      response.set("outcome", OperationOutcomeFor(*error));
      bundle.AddEntry("", "", nullptr, nullptr, &response);
    } else {
      AddEntryToBundle(ctx, call, bundle, e);
    }
  }
  http::Response r;
  r.SetHeader("Content-Type", call.format.content_type + "; charset=utf-8");
  r.body = bundle.Finish();
  return r;
}

}  // namespace

http::Response HandleBundle(Call& call) {
  auto kind = ClassifyBody(call.req, false, false);
  if (!kind.ok()) return ErrorResponse(kind.status(), call.format.pretty);
  // Structure first without validation: a batch validates each entry on its
  // own (one bad entry fails only itself), a transaction validates everything.
  auto bundle = json::Parse(call.req.body,
                            json::ParseOptions{.max_depth = call.ctx.options.max_json_depth});
  if (!bundle.ok()) return ErrorResponse(bundle.status(), call.format.pretty);
  if (!bundle->is_object() || bundle->get_string("resourceType") != "Bundle") {
    return ErrorResponse(Status::Error(ErrorCategory::kInvalid, "GM-REST-110", "invalid",
                                       "POST to the base takes a Bundle of type batch or "
                                       "transaction",
                                       "Bundle"),
                         call.format.pretty);
  }
  std::string_view type = bundle->get_string("type");
  if (type != "batch" && type != "transaction") {
    return ErrorResponse(Status::Error(ErrorCategory::kInvalid, "GM-REST-110", "invalid",
                                       "POST to the base takes a Bundle of type batch or "
                                       "transaction",
                                       "Bundle.type"),
                         call.format.pretty);
  }
  const bool transaction = type == "transaction";
  // The Bundle is the request itself, not content to store: when it is not a
  // valid Bundle the request is malformed (400), whatever the issue says.
  auto as_bad_request = [](Status s) {
    return s.category() == ErrorCategory::kUnprocessable
               ? Status(ErrorCategory::kInvalid, std::move(s.issues()))
               : s;
  };
  {
    // The Bundle itself without its entries' resources; each resource is
    // validated on its own below (all of a write's checks, profiles included).
    json::Value shell = *bundle;
    if (json::Value* list = shell.find("entry"); list && list->is_array()) {
      for (auto& e : list->array()) {
        if (e.is_object()) e.erase("resource");
      }
    }
    Status valid = ValidateResource(call.ctx, shell);
    if (!valid.ok()) return ErrorResponse(as_bad_request(std::move(valid)), call.format.pretty);
  }
  std::vector<Entry> entries;
  std::vector<std::optional<Status>> plan_errors;
  if (const json::Value* list = bundle->find("entry"); list && list->is_array()) {
    if (list->size() > call.ctx.options.max_transaction_entries) {
      return ErrorResponse(
          Status::Error(ErrorCategory::kPayloadTooLarge, "GM-REST-111", "too-costly",
                        "a " + std::string(type) + " may have at most " +
                            std::to_string(call.ctx.options.max_transaction_entries) + " entries"),
          call.format.pretty);
    }
    for (size_t i = 0; i < list->size(); ++i) {
      auto plan = PlanEntry(call.ctx, list->array()[i], i);
      if (plan.ok() && plan->has_resource) {
        Status valid = ValidateResource(call.ctx, plan->resource);
        if (!valid.ok()) plan = AtEntry(std::move(valid), i);
      }
      if (!plan.ok()) {
        if (transaction) return ErrorResponse(plan.status(), call.format.pretty);
        entries.emplace_back();
        plan_errors.emplace_back(plan.status());
        continue;
      }
      entries.push_back(std::move(*plan));
      plan_errors.emplace_back();
    }
  }
  return transaction ? RunTransaction(call, entries) : RunBatch(call, entries, plan_errors);
}

}  // namespace gm::rest
