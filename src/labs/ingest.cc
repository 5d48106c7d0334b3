// FilterUnchanged and BuildIngestBundle (svarrapport.h): the store-aware half
// of ingestion. Reads only; writing is the transaction's job.
#include <algorithm>
#include <cctype>
#include <set>

#include "labs/svarrapport.h"
#include "store/store.h"

namespace gm::labs {

namespace internal {
void SetFingerprint(json::Value& resource);
}  // namespace internal

namespace {

using json::Value;

Status ReadError(const Status& st) {
  return Status::Error(ErrorCategory::kUnavailable, "GM-LAB-040", "transient",
                       "the store could not be read: " + st.message());
}

Result<std::optional<Value>> Current(store::Store& store, const std::string& type,
                                     const std::string& id) {
  auto v = store.Read(type, id);
  if (!v.ok()) return ReadError(v.status());
  if (!v->has_value() || (*v)->deleted) return std::optional<Value>();
  auto parsed = json::Parse((*v)->json);
  if (!parsed.ok()) return ReadError(parsed.status());
  return std::optional<Value>(std::move(*parsed));
}

std::vector<std::string> Refs(const Value& r, std::string_view key) {
  std::vector<std::string> out;
  if (const Value* list = r.find(key); list && list->is_array()) {
    for (const Value& x : list->array()) {
      std::string ref(x.get_string("reference"));
      if (!ref.empty()) out.push_back(ref);
    }
  }
  return out;
}

Value PutEntry(Value resource) {
  std::string url = std::string(resource.get_string("resourceType")) + "/" +
                    std::string(resource.get_string("id"));
  Value e = Value::MakeObject();
  e.set("resource", std::move(resource));
  e.set("request", Value(json::Object{{"method", Value("PUT")}, {"url", Value(url)}}));
  return e;
}

}  // namespace

Status FilterUnchanged(json::Value& bundle, store::Store& store) {
  Value* entries = bundle.find("entry");
  if (entries == nullptr || !entries->is_array()) return Status::Ok();
  std::set<std::string> in_bundle;
  for (const Value& e : entries->array()) {
    const Value* req = e.find("request");
    if (req && req->get_string("method") == "PUT") in_bundle.insert(std::string(req->get_string("url")));
  }
  std::vector<Value> extra;
  // 1. A report already stored keeps its results and specimens; a cancelled
  //    one cancels the stored observations the message does not repeat.
  for (Value& e : entries->array()) {
    Value* r = e.find("resource");
    if (r == nullptr || r->get_string("resourceType") != "DiagnosticReport") continue;
    GM_ASSIGN_OR_RETURN(auto stored, Current(store, "DiagnosticReport", std::string(r->get_string("id"))));
    if (!stored) continue;
    for (const char* key : {"result", "specimen"}) {
      std::vector<std::string> have = Refs(*r, key);
      Value list = r->find(key) ? *r->find(key) : Value::MakeArray();
      for (const std::string& ref : Refs(*stored, key)) {
        if (std::find(have.begin(), have.end(), ref) != have.end()) continue;
        list.push_back(Value(json::Object{{"reference", Value(ref)}}));
        have.push_back(ref);
      }
      if (!list.empty()) r->set(key, std::move(list));
    }
    if (r->get_string("status") == "cancelled") {
      std::vector<std::string> todo = Refs(*stored, "result");
      std::set<std::string> done;
      while (!todo.empty() && done.size() < 10000) {
        std::string ref = todo.back();
        todo.pop_back();
        if (!done.insert(ref).second || in_bundle.count(ref)) continue;
        if (ref.rfind("Observation/", 0) != 0) continue;
        GM_ASSIGN_OR_RETURN(auto obs, Current(store, "Observation", ref.substr(12)));
        if (!obs) continue;
        for (const std::string& m : Refs(*obs, "hasMember")) todo.push_back(m);
        if (obs->get_string("status") == "cancelled") continue;
        obs->set("status", "cancelled");
        if (Value* meta = obs->find("meta")) {
          meta->erase("versionId");
          meta->erase("lastUpdated");
        }
        internal::SetFingerprint(*obs);
        in_bundle.insert(ref);
        extra.push_back(PutEntry(std::move(*obs)));
      }
    }
    internal::SetFingerprint(*r);
  }
  // 2. Drop what would not change.
  Value kept = Value::MakeArray();
  for (Value& e : entries->array()) {
    const Value* req = e.find("request");
    Value* r = e.find("resource");
    if (req && r && req->get_string("method") == "PUT") {
      GM_ASSIGN_OR_RETURN(auto stored, Current(store, std::string(r->get_string("resourceType")),
                                               std::string(r->get_string("id"))));
      const Value* new_meta = r->find("meta");
      const Value* old_meta = stored ? stored->find("meta") : nullptr;
      if (new_meta && old_meta && new_meta->get_string("source") == old_meta->get_string("source")) {
        continue;
      }
    }
    kept.push_back(std::move(e));
  }
  for (Value& e : extra) kept.push_back(std::move(e));
  bundle.set("entry", std::move(kept));
  return Status::Ok();
}

Result<json::Value> BuildIngestBundle(std::string_view xml, store::Store* store) {
  GM_ASSIGN_OR_RETURN(SvarDocument doc, ParseSvarrapport(xml));
  GM_ASSIGN_OR_RETURN(json::Value bundle, MapToBundle(doc));
  if (store != nullptr) GM_RETURN_IF_ERROR(FilterUnchanged(bundle, *store));
  return bundle;
}

Result<json::Value> IngestRequest(std::string_view content_type, std::string_view body,
                                  store::Store& store) {
  std::string ct(content_type.substr(0, content_type.find(';')));
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  while (!ct.empty() && ct.front() == ' ') ct.erase(0, 1);
  std::transform(ct.begin(), ct.end(), ct.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ct != "application/xml" && ct != "text/xml") {
    return Status::Error(ErrorCategory::kUnsupportedMediaType, "GM-LAB-005", "not-supported",
                         "$svarrapport takes a Svarrapport XML message (Content-Type "
                         "application/xml)");
  }
  return BuildIngestBundle(body, &store);
}

}  // namespace gm::labs
