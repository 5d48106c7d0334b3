// search: GET [base]/[type]?params, POST [base]/[type]/_search (form body, so
// identifiers such as fødselsnummer stay out of URLs and logs), system search
// GET [base]?params, and compartment search GET [base]/Patient/[id]/[type]
// — http://hl7.org/fhir/R4/http.html#search, http://hl7.org/fhir/R4/search.html
//
// Paging links: a GET search repeats its parameters in its links, with
// `_cursor` (next page) or `_before` (previous page) holding the opaque keyset
// cursor. A POST _search — or any request that came with a page token — gets
// links that carry nothing but `_page=TOKEN` (search/page_token.h): its
// parameters never appear in a URL. A token is accepted on GET [path]?_page=
// and in the body of POST [path]/_search; it stands for the whole search, so
// no other search parameter may come with it (GM-SEARCH-043).
//
// _total: none (default) adds no total; accurate counts all matches;
// estimate counts up to kEstimateCap matches and gives no total beyond that.
// _summary=count gives the accurate total and no entries.
#include <memory>
#include <set>

#include "rest/engine.h"
#include "rest/auth.h"
#include "rest/handlers.h"
#include "rest/outcome.h"
#include "rest/respond.h"
#include "search/page_token.h"
#include "search/query.h"

namespace gm::rest {

namespace {

constexpr size_t kMaxIncluded = 1000;
constexpr int64_t kEstimateCap = 10000;

json::Value SearchMode(const char* mode) {
  json::Value s = json::Value::MakeObject();
  s.set("mode", mode);
  return s;
}

std::string Key(const std::string& type, const std::string& id) { return type + "/" + id; }

const search::PageTokenCodec& Codec(const Context& ctx) {
  if (ctx.page_tokens != nullptr) return *ctx.page_tokens;
  static const std::unique_ptr<search::PageTokenCodec> ephemeral =
      search::PageTokenCodec::Ephemeral();
  return *ephemeral;
}

bool IsPagingParam(const std::string& name) {
  return name == "_cursor" || name == "_before" || name == "_page";
}

bool IsFormatParam(const std::string& name) {
  return name == "_format" || name == "_pretty" || name == "_summary" || name == "_elements";
}

// Adds the resources that `includes` reach from `from` to the bundle.
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
        std::vector<std::string> params;
        if (inc.param == "*") {
          for (const fhir::SearchParamDef* d : ctx.model.SearchParams(inc.source_type)) {
            if (d->type == "reference") params.push_back(d->code);
          }
        } else {
          params.push_back(inc.param);
        }
        for (const auto& v : from) {
          for (const std::string& param : params) {
            store::Query q;
            q.type = inc.source_type;
            store::Clause c;
            c.op = store::Clause::Op::kReference;
            c.param = param;
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
    }
    from = std::move(next);
  }
  return Status::Ok();
}

Status TokenElsewhere() {
  return Status::Error(ErrorCategory::kInvalid, "GM-SEARCH-041", "invalid",
                       "The page token belongs to another search path", "_page");
}

Status TokenWithParams() {
  return Status::Error(ErrorCategory::kInvalid, "GM-SEARCH-043", "invalid",
                       "A page token stands for the whole search: send no other search "
                       "parameters with it",
                       "_page");
}

}  // namespace

Result<Params> SealedSearchParams(const Context& ctx, std::string_view token) {
  GM_ASSIGN_OR_RETURN(search::PageState state, Codec(ctx).Unseal(token));
  return std::move(state.params);
}

http::Response HandleSearch(Call& call) {
  const Context& ctx = call.ctx;
  Params params = call.params;
  const bool post = call.req.method == "POST";
  if (post) {
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
  const bool compartment = call.target.route == Route::kCompartmentSearch;
  const std::string type = compartment ? call.target.compartment_type : call.target.type;
  std::string path = type;
  if (compartment) path = "Patient/" + call.target.id + "/" + type;

  // A page token replaces the request's parameters with the sealed ones.
  bool sealed = post;
  if (std::optional<std::string> token = ParamValue(params, "_page")) {
    for (const auto& [k, v] : params) {
      if (k != "_page" && !IsFormatParam(k)) return ErrorResponse(TokenWithParams(), call.format.pretty);
    }
    auto state = Codec(ctx).Unseal(*token);
    if (!state.ok()) return ErrorResponse(state.status(), call.format.pretty);
    if (state->path != path) return ErrorResponse(TokenElsewhere(), call.format.pretty);
    Params merged;
    for (const auto& [k, v] : params) {
      if (IsFormatParam(k)) merged.emplace_back(k, v);
    }
    for (auto& [k, v] : state->params) {
      if (IsFormatParam(k) && ParamValue(merged, k)) continue;
      merged.emplace_back(std::move(k), std::move(v));
    }
    params = std::move(merged);
    if (!state->cursor.empty()) {
      params.emplace_back(
          state->direction == store::PageDirection::kBackward ? "_before" : "_cursor",
          std::move(state->cursor));
    }
    sealed = true;
  }
  // The body's (or token's) _summary, _elements and _format count too.
  auto format = NegotiateFormat(call.req, params);
  if (!format.ok()) return ErrorResponse(format.status(), call.format.pretty);
  const OutputFormat& fmt = *format;

  auto parsed = search::ParseSearch(
      ctx.model, type, params,
      search::ParseOptions{.strict = call.prefer.strict,
                           .default_count = ctx.options.default_count,
                           .max_count = ctx.options.max_count});
  if (!parsed.ok()) return ErrorResponse(parsed.status(), fmt.pretty);
  store::Query& q = parsed->query;
  if (!call.patient_scope.empty() ||
      !SearchMayReachOut(call.principal, call.target, call.req.method)) {
    // A person (citizen or clinician) or a client of a restricted kind: only
    // the compartments the policy allowed, and nothing that reaches past them
    // (includes, chains, reverse chains would need a decision per resource).
    bool reaches_out = !parsed->includes.empty();
    for (const auto& c : q.clauses) {
      if (c.op == store::Clause::Op::kChain || c.op == store::Clause::Op::kHas) reaches_out = true;
    }
    if (reaches_out) {
      return ErrorResponse(Status::Error(ErrorCategory::kForbidden, "GM-AUTH-043", "forbidden",
                                         "_include, _revinclude, chains and _has are open only "
                                         "to operator and EHR systems"),
                           fmt.pretty);
    }
  }
  if (!call.patient_scope.empty()) {
    store::Clause own;
    own.op = store::Clause::Op::kCompartment;
    for (const auto& p : call.patient_scope) own.any_of.push_back(store::Clause::Value{.code = p});
    q.clauses.push_back(std::move(own));
  }
  if (compartment) {
    store::Clause c;
    c.op = store::Clause::Op::kCompartment;
    c.any_of.push_back(store::Clause::Value{.code = call.target.id});
    q.clauses.push_back(std::move(c));
  }
  const bool count_only = fmt.summary == SummaryMode::kCount;
  store::QueryPage page;
  if (!count_only) {
    auto r = ctx.store.Search(q);
    if (!r.ok()) return ErrorResponse(r.status(), fmt.pretty);
    page = std::move(*r);
  }

  std::optional<int64_t> total;
  if (count_only || parsed->total == "accurate") {
    auto n = ctx.store.Count(q, INT64_MAX);
    if (!n.ok()) return ErrorResponse(n.status(), fmt.pretty);
    total = *n;
  } else if (parsed->total == "estimate") {
    if (q.after.empty() && page.next.empty()) {
      total = static_cast<int64_t>(page.resources.size());
    } else {
      auto n = ctx.store.Count(q, kEstimateCap);
      if (!n.ok()) return ErrorResponse(n.status(), fmt.pretty);
      if (*n < kEstimateCap) total = *n;
    }
  }

  // Links. Sealed: `_page` tokens only; otherwise the parameters themselves.
  const std::string base = ctx.options.base_url + (path.empty() ? "" : "/" + path);
  Params link_params;
  for (const auto& [k, v] : params) {
    if (!IsPagingParam(k)) link_params.emplace_back(k, v);
  }
  auto link = [&](const std::string& cursor, store::PageDirection dir) {
    if (sealed) {
      search::PageState state{path, link_params, cursor, dir};
      return base + "?_page=" + Codec(ctx).Seal(state);
    }
    std::string query;
    for (const auto& [k, v] : link_params) {
      query += (query.empty() ? "?" : "&") + PercentEncode(k) + "=" + PercentEncode(v);
    }
    if (!cursor.empty()) {
      query += (query.empty() ? "?" : "&");
      query += dir == store::PageDirection::kBackward ? "_before=" : "_cursor=";
      query += PercentEncode(cursor);
    }
    return base + query;
  };

  BundleWriter bundle("searchset", fmt);
  if (total) bundle.SetTotal(*total);
  bundle.AddLink("self", link(q.after, q.direction));
  if (!page.next.empty()) bundle.AddLink("next", link(page.next, store::PageDirection::kForward));
  if (!page.previous.empty()) {
    bundle.AddLink("previous", link(page.previous, store::PageDirection::kBackward));
  }
  json::Value match = SearchMode("match");
  std::set<std::string> seen;
  for (const auto& v : page.resources) {
    seen.insert(Key(v.type, v.id));
    bundle.AddEntry(ResourceUrl(ctx, v, false), v.json, &match, nullptr, nullptr);
  }
  if (!parsed->includes.empty() && !count_only) {
    Status st = AddIncludes(ctx, parsed->includes, page.resources, seen, bundle);
    if (!st.ok()) return ErrorResponse(st, fmt.pretty);
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
  r.SetHeader("Content-Type", fmt.content_type + "; charset=utf-8");
  r.body = bundle.Finish();
  return r;
}

}  // namespace gm::rest
