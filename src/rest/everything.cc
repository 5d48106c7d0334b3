// $everything: GET|POST [base]/Patient/[id]/$everything
// — http://hl7.org/fhir/R4/patient-operation-everything.html
//
// A searchset Bundle of every current resource in the patient's compartment,
// selected by the patient compartment keys the store keeps for each resource
// (the Patient is in its own compartment, so it comes too), in the order they
// were first written. Resources those reference that are in no patient
// compartment at all (Practitioner, Organization, Location, Medication, ...;
// one level, no chains) are added to the page that references them, with
// search.mode "include". Resources of other patients are never included.
//
// Parameters (query string, form body, or a Parameters resource for POST):
//   _since  only resources last changed at or after this instant
//   _type   only these resource types (included resources too)
//   _count  page size; the `next` link carries the keyset cursor (_cursor)
// `start` and `end` (a clinical date window) are not supported yet and are
// reported as ignored, like unknown parameters (refused with Prefer:
// handling=strict, GM-SEARCH-001).
#include <charconv>
#include <set>

#include "core/time.h"
#include "rest/handlers.h"
#include "rest/outcome.h"
#include "rest/respond.h"

namespace gm::rest {

namespace {

constexpr size_t kMaxIncludedPerPage = 1000;

Status Bad(std::string code, std::string text, std::string param) {
  return Status::Error(ErrorCategory::kInvalid, std::move(code), "invalid", std::move(text),
                       std::move(param));
}

// The name/value pairs of a Parameters resource with primitive values.
Result<Params> ParametersBody(const Context& ctx, std::string_view body) {
  auto doc = json::Parse(body, json::ParseOptions{.max_depth = ctx.options.max_json_depth});
  if (!doc.ok()) return doc.status();
  if (!doc->is_object() || doc->get_string("resourceType") != "Parameters") {
    return Bad("GM-REST-150", "$everything takes a Parameters resource or a form", "");
  }
  Params out;
  if (const json::Value* ps = doc->find("parameter"); ps != nullptr && ps->is_array()) {
    for (const json::Value& p : ps->array()) {
      std::string name(p.get_string("name"));
      for (const auto& [k, v] : p.object()) {
        if (k.rfind("value", 0) != 0) continue;
        if (v.is_string() || v.is_number()) out.emplace_back(name, v.str());
        if (v.is_bool()) out.emplace_back(name, v.as_bool() ? "true" : "false");
      }
    }
  }
  return out;
}

}  // namespace

http::Response HandleEverything(Call& call) {
  const Context& ctx = call.ctx;
  const bool pretty = call.format.pretty;
  Params params = call.params;
  if (call.req.method == "POST" && !call.req.body.empty()) {
    auto kind = ClassifyBody(call.req, true, false);
    if (!kind.ok()) return ErrorResponse(kind.status(), pretty);
    auto body = *kind == BodyKind::kForm ? ParseForm(call.req.body)
                                         : ParametersBody(ctx, call.req.body);
    if (!body.ok()) return ErrorResponse(body.status(), pretty);
    params.insert(params.end(), body->begin(), body->end());
  }
  const std::string& id = call.target.id;
  auto patient = ctx.store.Read("Patient", id);
  if (!patient.ok()) return ErrorResponse(patient.status(), pretty);
  if (!patient->has_value()) {
    return ErrorResponse(Status::Error(ErrorCategory::kNotFound, "GM-REST-060", "not-found",
                                       "resource Patient/" + id + " is not known"),
                         pretty);
  }
  if ((*patient)->deleted) {
    return ErrorResponse(
        Status::Error(ErrorCategory::kGone, "GM-REST-061", "deleted",
                      "resource Patient/" + id + " was deleted"),
        pretty);
  }

  store::Query q;
  q.limit = ctx.options.default_count;
  std::vector<std::string> ignored;
  std::set<std::string> types;
  {
    store::Clause c;
    c.op = store::Clause::Op::kCompartment;
    c.any_of.push_back(store::Clause::Value{.code = id});
    q.clauses.push_back(std::move(c));
  }
  for (const auto& [name, value] : params) {
    if (name == "_format" || name == "_pretty" || name == "_summary" || name == "_elements") {
      continue;
    }
    if (name == "_type") {
      size_t start = 0;
      while (start <= value.size()) {
        size_t comma = value.find(',', start);
        if (comma == std::string::npos) comma = value.size();
        std::string t = value.substr(start, comma - start);
        if (!ctx.model.IsResourceType(t)) {
          return ErrorResponse(Bad("GM-SEARCH-005", "unknown type in _type", "_type"), pretty);
        }
        types.insert(t);
        q.types.push_back(t);
        start = comma + 1;
      }
    } else if (name == "_since") {
      auto r = time::ParseFhirDateTime(value);
      if (!r) return ErrorResponse(Bad("GM-SEARCH-013", "invalid _since", "_since"), pretty);
      store::Clause c;
      c.op = store::Clause::Op::kLastUpdated;
      c.param = "_lastUpdated";
      store::Clause::Value v;
      v.cmp = store::Clause::Cmp::kGe;
      v.begin_us = r->begin_us;
      v.end_us = r->end_us;
      c.any_of.push_back(v);
      q.clauses.push_back(std::move(c));
    } else if (name == "_count") {
      size_t n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || p != value.data() + value.size()) {
        return ErrorResponse(Bad("GM-SEARCH-002", "_count must be a whole number", "_count"),
                             pretty);
      }
      q.limit = std::min(n, ctx.options.max_count);
    } else if (name == "_cursor") {
      q.after = value;
    } else if (call.prefer.strict) {
      return ErrorResponse(
          Bad("GM-SEARCH-001", "parameter '" + name.substr(0, 64) + "': not supported", name),
          pretty);
    } else {
      ignored.push_back(name);
    }
  }

  auto page = ctx.store.Search(q);
  if (!page.ok()) return ErrorResponse(page.status(), pretty);

  const std::string base = ctx.options.base_url + "/Patient/" + id + "/$everything";
  std::string query;
  for (const auto& [k, v] : params) {
    if (k == "_cursor") continue;
    query += (query.empty() ? "?" : "&") + PercentEncode(k) + "=" + PercentEncode(v);
  }
  BundleWriter bundle("searchset", call.format);
  bundle.AddLink("self", base + query +
                             (q.after.empty() ? ""
                                              : (query.empty() ? "?" : "&") +
                                                    std::string("_cursor=") +
                                                    PercentEncode(q.after)));
  if (!page->next.empty()) {
    bundle.AddLink("next", base + query + (query.empty() ? "?" : "&") + "_cursor=" +
                               PercentEncode(page->next));
  }

  json::Value match = json::Value::MakeObject();
  match.set("mode", "match");
  json::Value include = json::Value::MakeObject();
  include.set("mode", "include");
  std::set<std::string> seen;
  for (const auto& v : page->resources) seen.insert(v.type + "/" + v.id);
  for (const auto& v : page->resources) {
    bundle.AddEntry(ResourceUrl(ctx, v, false), v.json, &match, nullptr, nullptr);
  }
  size_t included = 0;
  for (const auto& v : page->resources) {
    auto doc = json::Parse(v.json, json::ParseOptions{.max_depth = 1024});
    if (!doc.ok()) continue;
    auto extracted = ctx.indexer.Extract(v.type, v.id, *doc);
    if (!extracted.ok()) return ErrorResponse(extracted.status(), pretty);
    for (const store::IndexEntry& e : extracted->index) {
      if (e.kind != store::IndexEntry::Kind::kReference || e.system.empty() || e.code.empty()) {
        continue;
      }
      if (ctx.model.PatientCompartmentParams(e.system) != nullptr) continue;
      if (!types.empty() && types.count(e.system) == 0) continue;
      if (!seen.insert(e.system + "/" + e.code).second) continue;
      if (included >= kMaxIncludedPerPage) break;
      auto target = ctx.store.Read(e.system, e.code);
      if (!target.ok()) return ErrorResponse(target.status(), pretty);
      if (!target->has_value() || (*target)->deleted) continue;
      ++included;
      bundle.AddEntry(ResourceUrl(ctx, **target, false), (*target)->json, &include, nullptr,
                      nullptr);
    }
  }
  if (!ignored.empty()) {
    std::string names;
    for (const auto& n : ignored) names += (names.empty() ? "" : ", ") + n.substr(0, 64);
    json::Value oo = InformationOutcome("GM-SEARCH-020", "parameters ignored: " + names);
    oo.object()[1].second.array()[0].set("severity", "warning");
    json::Value outcome_mode = json::Value::MakeObject();
    outcome_mode.set("mode", "outcome");
    bundle.AddEntry("", json::Write(oo), &outcome_mode, nullptr, nullptr);
  }
  http::Response r;
  r.SetHeader("Content-Type", call.format.content_type + "; charset=utf-8");
  r.body = bundle.Finish();
  return r;
}

}  // namespace gm::rest
