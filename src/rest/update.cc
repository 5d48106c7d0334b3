// update: PUT [base]/[type]/[id] — http://hl7.org/fhir/R4/http.html#update
// Update-as-create is allowed; If-Match gives version-aware updates
// (http://hl7.org/fhir/R4/http.html#concurrency).
// Conditional update: PUT [base]/[type]?criteria
// (http://hl7.org/fhir/R4/http.html#cond-update).
#include <algorithm>

#include "rest/engine.h"
#include "rest/handlers.h"
#include "rest/outcome.h"
#include "rest/respond.h"

namespace gm::rest {

namespace {

Result<std::optional<int64_t>> IfMatch(const http::Request& req) {
  std::string_view h = req.Header("if-match");
  if (h.empty()) return std::optional<int64_t>();
  auto v = ParseETag(h);
  if (!v) {
    return Status::Error(ErrorCategory::kInvalid, "GM-REST-071", "value",
                         "If-Match must be an ETag such as W/\"3\"");
  }
  return std::optional<int64_t>(*v);
}

}  // namespace

Result<std::vector<std::string>> MatchConfined(const Context& ctx, store::Txn& txn,
                                               const std::string& type,
                                               std::string_view criteria, size_t limit,
                                               const std::vector<std::string>& scope) {
  if (scope.empty()) return MatchCriteria(ctx, txn, type, criteria, limit);
  GM_ASSIGN_OR_RETURN(store::Query query, CriteriaQuery(ctx, type, criteria));
  store::Clause within;
  within.op = store::Clause::Op::kCompartment;
  for (const auto& p : scope) within.any_of.push_back(store::Clause::Value{.code = p});
  query.clauses.push_back(std::move(within));
  return txn.Match(query, limit);
}

Result<std::vector<std::string>> TouchedPatients(const Context& ctx, store::Txn& txn,
                                                 const std::string& type, const std::string& id,
                                                 const json::Value* next) {
  std::vector<std::string> out;
  auto add = [&](std::vector<std::string> more) {
    for (auto& p : more) {
      if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(std::move(p));
    }
  };
  GM_ASSIGN_OR_RETURN(auto current, txn.Current(type, id));
  if (current && !current->deleted && !current->json.empty()) {
    GM_ASSIGN_OR_RETURN(json::Value old,
                        json::Parse(current->json, json::ParseOptions{.max_depth = 1024}));
    GM_ASSIGN_OR_RETURN(auto comps, ctx.indexer.Compartments(type, id, old));
    add(std::move(comps));
  }
  if (next != nullptr) {
    GM_ASSIGN_OR_RETURN(auto comps, ctx.indexer.Compartments(type, id, *next));
    add(std::move(comps));
  }
  return out;
}

Status CheckWrite(const Call& call, store::Txn& txn, const std::string& type,
                  const std::string& id, const json::Value* next) {
  if (!call.may_write) return Status::Ok();
  if (next != nullptr) {
    // The new version alone: it must stay in some record (a patient-data
    // resource in none would be out of every person's reach).
    GM_ASSIGN_OR_RETURN(auto fresh, call.ctx.indexer.Compartments(type, id, *next));
    if (fresh.empty()) GM_RETURN_IF_ERROR(call.may_write(type, fresh));
  }
  GM_ASSIGN_OR_RETURN(auto patients, TouchedPatients(call.ctx, txn, type, id, next));
  if (patients.empty() && next == nullptr) return Status::Ok();  // deletes nothing
  return call.may_write(type, patients);
}

http::Response HandleUpdate(Call& call) {
  auto kind = ClassifyBody(call.req, false, false);
  if (!kind.ok()) return ErrorResponse(kind.status(), call.format.pretty);
  auto if_match = IfMatch(call.req);
  if (!if_match.ok()) return ErrorResponse(if_match.status(), call.format.pretty);
  auto resource = ParseResource(call.ctx, call.req.body, call.target.type);
  if (!resource.ok()) return ErrorResponse(resource.status(), call.format.pretty);
  const bool conditional = call.target.route == Route::kType;
  std::string criteria = conditional ? call.req.query : std::string();
  std::string new_id = call.ctx.new_id();

  WriteResult result;
  Status st = call.ctx.store.Write([&](store::Txn& txn) -> Status {
    std::string id = call.target.id;
    json::Value body = *resource;
    if (conditional) {
      // A person's match is confined to the patient the criteria name.
      auto ids = MatchConfined(call.ctx, txn, call.target.type, criteria, 2, call.patient_scope);
      if (!ids.ok()) return ids.status();
      if (ids->size() > 1) {
        return Status::Error(ErrorCategory::kPreconditionFailed, "GM-REST-072", "multiple-matches",
                             "the conditional update criteria match more than one resource");
      }
      std::string_view body_id = body.get_string("id");
      if (ids->size() == 1) {
        id = ids->front();
        if (!body_id.empty() && body_id != id) {
          return Status::Error(ErrorCategory::kInvalid, "GM-REST-073", "invalid",
                               "the id in the body is not the id of the matching resource",
                               call.target.type + ".id");
        }
      } else {
        if (call.no_client_ids && !body_id.empty()) {
          // Would be update-as-create with the client's id (and tell
          // whether that id exists elsewhere).
          return Status::Error(ErrorCategory::kForbidden, call.person_code, "forbidden",
                               "a conditional update that matches nothing creates with a "
                               "server-assigned id: leave out the id");
        }
        id = body_id.empty() ? new_id : std::string(body_id);
      }
      body.set("id", id);
    } else if (call.no_client_ids) {
      // Persons do not create with ids of their choosing: an unknown id
      // answers as the policy answers an id in a record it may not show.
      auto current = txn.Current(call.target.type, id);
      if (!current.ok()) return current.status();
      if (!current->has_value()) {
        return Status::Error(ErrorCategory::kNotFound, "GM-REST-060", "not-found",
                             "resource " + call.target.type + "/" + id + " is not known");
      }
    }
    GM_RETURN_IF_ERROR(CheckWrite(call, txn, call.target.type, id, &body));
    auto r = DoUpdate(call.ctx, txn, call.target.type, id, std::move(body), *if_match);
    if (!r.ok()) return r.status();
    result = std::move(*r);
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st, call.format.pretty);
  if (!result.matched_existing) AfterCommit(call.ctx, result.version);
  return WriteResponse(call.ctx, call.format, call.prefer, result.version, result.status);
}

}  // namespace gm::rest
