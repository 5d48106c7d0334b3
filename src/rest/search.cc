// search: GET [base]/[type]?params, POST [base]/[type]/_search (form body, so
// identifiers such as fødselsnummer stay out of URLs and logs), system search
// GET [base]?params, and compartment search GET [base]/Patient/[id]/[type]
// — http://hl7.org/fhir/R4/http.html#search, http://hl7.org/fhir/R4/search.html
#include <set>

#include "rest/engine.h"
#include "rest/handlers.h"
#include "rest/outcome.h"
#include "rest/respond.h"
#include "search/query.h"

namespace gm::rest {

namespace {

constexpr size_t kMaxIncluded = 1000;

json::Value SearchMode(const char* mode) {
  json::Value s = json::Value::MakeObject();
  s.set("mode", mode);
  return s;
}

std::string Key(const std::string& type, const std::string& id) { return type + "/" + id; }

// Adds the resources that `inc` reaches from `from` to the bundle.
Status AddIncludes(const Context& ctx, const std::vector<search::Include>& includes,
                   std::vector<store::ResourceVersion> from, std::set<std::string>& seen,
                   BundleWriter& bundle) {
  json::Value mode = SearchMode("include");
  size_t added = 0;
  for (int round = 0; round < 4 && !from.empty(); ++round) {
    std::vector<store::ResourceVersion> next;
    for (const search::Include& inc : includes) {
      if (round > 0 && !inc.iterate) continue;
      if (!inc.reverse) {
        for (const auto& v : from) {
          if (inc.source_type != "*" && inc.source_type != v.type) continue;
          auto doc = json::Parse(v.json, json::ParseOptions{.max_depth = 1024});
          if (!doc.ok()) continue;
          auto extracted = ctx.indexer.Extract(v.type, v.id, *doc);
          if (!extracted.ok()) return extracted.status();
          for (const auto& e : extracted->index) {
            if (e.kind != store::IndexEntry::Kind::kReference || e.system.empty()) continue;
            if (inc.param != "*" && e.param != inc.param) continue;
            if (!inc.target_type.empty() && e.system != inc.target_type) continue;
            if (!seen.insert(Key(e.system, e.code)).second) continue;
            auto target = ctx.store.Read(e.system, e.code);
            if (!target.ok()) return target.status();
            if (!target->has_value() || (*target)->deleted) continue;
            if (++added > kMaxIncluded) return Status::Ok();
            bundle.AddEntry(ResourceUrl(ctx, **target, false), (*target)->json, &mode, nullptr,
                            nullptr);
            next.push_back(std::move(**target));
          }
        }
      } else {
        if (inc.source_type == "*") continue;
        for (const auto& v : from) {
          store::Query q;
          q.type = inc.source_type;
          store::Clause c;
          c.op = store::Clause::Op::kReference;
          c.param = inc.param;
          c.any_of.push_back(store::Clause::Value{.system = v.type, .code = v.id});
          q.clauses.push_back(std::move(c));
          q.limit = kMaxIncluded;
          auto page = ctx.store.Search(q);
          if (!page.ok()) return page.status();
          for (auto& r : page->resources) {
            if (!seen.insert(Key(r.type, r.id)).second) continue;
            if (++added > kMaxIncluded) return Status::Ok();
            bundle.AddEntry(ResourceUrl(ctx, r, false), r.json, &mode, nullptr, nullptr);
            next.push_back(std::move(r));
          }
        }
      }
    }
    from = std::move(next);
  }
  return Status::Ok();
}

}  // namespace

http::Response HandleSearch(Call& call) {
  Params params = call.params;
  if (call.req.method == "POST") {
    auto kind = ClassifyBody(call.req, true, false);
    if (!kind.ok()) return ErrorResponse(kind.status(), call.format.pretty);
    if (*kind != BodyKind::kForm) {
      return ErrorResponse(Status::Error(ErrorCategory::kUnsupportedMediaType, "GM-REST-140",
                                         "not-supported",
                                         "POST _search takes application/x-www-form-urlencoded"),
                           call.format.pretty);
    }
    auto form = ParseForm(call.req.body);
    if (!form.ok()) return ErrorResponse(form.status(), call.format.pretty);
    params.insert(params.end(), form->begin(), form->end());
  }
  std::string type = call.target.route == Route::kCompartmentSearch ? call.target.compartment_type
                                                                     : call.target.type;
  auto parsed = search::ParseSearch(
      call.ctx.model, type, params,
      search::ParseOptions{.strict = call.prefer.strict,
                           .default_count = call.ctx.options.default_count,
                           .max_count = call.ctx.options.max_count});
  if (!parsed.ok()) return ErrorResponse(parsed.status(), call.format.pretty);
  store::Query& q = parsed->query;
  if (call.target.route == Route::kCompartmentSearch) {
    store::Clause c;
    c.op = store::Clause::Op::kCompartment;
    c.any_of.push_back(store::Clause::Value{.code = call.target.id});
    q.clauses.push_back(std::move(c));
  }
  auto page = call.ctx.store.Search(q);
  if (!page.ok()) return ErrorResponse(page.status(), call.format.pretty);

  // Links repeat the request's parameters (not the cursor) so paging is stateless.
  std::string self = call.ctx.options.base_url;
  if (call.target.route == Route::kCompartmentSearch) {
    self += "/Patient/" + call.target.id + "/" + type;
  } else if (!type.empty()) {
    self += "/" + type;
  }
  std::string query;
  for (const auto& [k, v] : params) {
    if (k == "_cursor") continue;
    query += (query.empty() ? "?" : "&") + PercentEncode(k) + "=" + PercentEncode(v);
  }
  BundleWriter bundle("searchset", call.format);
  bundle.AddLink("self", self + query);
  if (!page->next.empty()) {
    bundle.AddLink("next", self + query + (query.empty() ? "?" : "&") + "_cursor=" +
                               PercentEncode(page->next));
  }
  json::Value match = SearchMode("match");
  std::set<std::string> seen;
  for (const auto& v : page->resources) {
    seen.insert(Key(v.type, v.id));
    if (call.format.summary != SummaryMode::kCount) {
      bundle.AddEntry(ResourceUrl(call.ctx, v, false), v.json, &match, nullptr, nullptr);
    }
  }
  if (!parsed->includes.empty() && call.format.summary != SummaryMode::kCount) {
    Status st = AddIncludes(call.ctx, parsed->includes, page->resources, seen, bundle);
    if (!st.ok()) return ErrorResponse(st, call.format.pretty);
  }
  if (!parsed->ignored.empty()) {
    std::string names;
    for (const auto& n : parsed->ignored) names += (names.empty() ? "" : ", ") + n.substr(0, 64);
    json::Value oo = InformationOutcome("GM-SEARCH-020", "parameters ignored: " + names);
    oo.object()[1].second.array()[0].set("severity", "warning");
    json::Value outcome_mode = SearchMode("outcome");
    std::string text = json::Write(oo);
    bundle.AddEntry("", text, &outcome_mode, nullptr, nullptr);
  }
  http::Response r;
  r.SetHeader("Content-Type", call.format.content_type + "; charset=utf-8");
  r.body = bundle.Finish();
  return r;
}

}  // namespace gm::rest
