// The write path shared by single interactions and transaction/batch entries:
// parse and check an incoming resource, then create / update / delete it
// inside a store transaction, filling id, meta.versionId and meta.lastUpdated,
// extracting search indexes and patient compartment keys.
//
// All Do* functions run inside store::Store::Write's fn and only touch the Txn.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "rest/context.h"
#include "store/store.h"
#include "validation/invariants.h"

namespace gm::rest {

struct WriteResult {
  store::ResourceVersion version;  // as stored
  int status = 200;                // 201 when created, 200 otherwise (204 for deletes)
  bool matched_existing = false;   // conditional create found a match: nothing written
};

// Parses a request body as a resource: JSON limits, resourceType present and
// known, equal to `expected_type` when given; then structural validation.
Result<json::Value> ParseResource(const Context& ctx, std::string_view body,
                                  std::string_view expected_type);
// The same without the validation (for $validate, which reports it itself).
Result<json::Value> ParseResourceUnvalidated(const Context& ctx, std::string_view body,
                                             std::string_view expected_type);
// Everything a write checks: structure, primitives, the invariants of the
// base definitions, Norwegian identifiers (no/check.h), and the profiles the
// resource claims (plus extra_profiles) when ctx.profiles is set. status: kUnprocessable with one issue per problem;
// warnings: the warning issues (reported by $validate).
validation::ValidationResult Validate(const Context& ctx, const json::Value& resource,
                                      const std::vector<std::string>& extra_profiles = {});
// Called after a write committed, for each version it stored: registers
// StructureDefinitions, ValueSets and CodeSystems with ctx.profiles.
void AfterCommit(const Context& ctx, const store::ResourceVersion& version);
// At start-up: registers the stored StructureDefinitions, ValueSets and
// CodeSystems with ctx.profiles.
Status LoadStoredProfiles(const Context& ctx);
// Registers those written (by any node) at or after since_us; returns the
// newest lastUpdated seen (since_us when none). Several nodes on one
// database call it periodically, so a definition created through one node is
// enforced by the others within that period (docs/SCALING.md).
Result<int64_t> RefreshStoredProfiles(const Context& ctx, int64_t since_us);
// Validate(...).status.
Status ValidateResource(const Context& ctx, const json::Value& resource);

// Who writes. Ordinary writes (kPublic) never create, change or delete an
// e-prescription's state — a MedicationRequest with the national status
// (7408) or a MedicationDispense authorised by one — and are refused with
// GM-ERX-040 (409); only the e-resept operations (rest/eresept.cc) pass
// kEresept.
enum class WriteGuard { kPublic, kEresept };

Result<WriteResult> DoCreate(const Context& ctx, store::Txn& txn, json::Value resource,
                             const std::string& id, WriteGuard guard = WriteGuard::kPublic);
// Update-as-create is allowed. if_match: the version the client last saw.
Result<WriteResult> DoUpdate(const Context& ctx, store::Txn& txn, const std::string& type,
                             const std::string& id, json::Value resource,
                             std::optional<int64_t> if_match, WriteGuard guard = WriteGuard::kPublic);
// Deleting a deleted or never-existing resource writes nothing (status 204 / 404).
Result<WriteResult> DoDelete(const Context& ctx, store::Txn& txn, const std::string& type,
                             const std::string& id, std::optional<int64_t> if_match,
                             WriteGuard guard = WriteGuard::kPublic);

// A create or update made ready outside the store transaction (on the
// request's thread, so the store's single writer does less): the resource with
// its id set, canonicalised, and its search index and compartments except the
// parameters that read meta.versionId / meta.lastUpdated, which only the
// transaction knows. Finishing it inside the transaction (DoCreatePrepared /
// DoUpdatePrepared) stores exactly what DoCreate / DoUpdate would have stored
// for the same resource. Finishing is idempotent, so a store fn that uses it
// may run more than once.
struct PreparedWrite {
  std::string type;
  std::string id;
  json::Value resource;
  store::PutRequest put;   // index (stable part) and compartments filled in
  size_t stable_entries = 0;
};
// nullopt when the resource cannot be prepared outside (the indexer cannot
// split its extraction, or extraction failed): the caller uses DoCreate/DoUpdate.
std::optional<PreparedWrite> PrepareWrite(const Context& ctx, json::Value resource,
                                          const std::string& type, const std::string& id);
// DoCreate / DoUpdate for a prepared resource (same checks, same result).
Result<WriteResult> DoCreatePrepared(const Context& ctx, store::Txn& txn, PreparedWrite& prepared);
Result<WriteResult> DoUpdatePrepared(const Context& ctx, store::Txn& txn, PreparedWrite& prepared,
                                     std::optional<int64_t> if_match);

// Search criteria ("identifier=x|y&active=true") → the store query (strict:
// empty criteria and unknown parameters are refused, 400).
Result<store::Query> CriteriaQuery(const Context& ctx, const std::string& type,
                                   std::string_view criteria);
// Conditional criteria → ids of current matches (at most `limit`), read
// inside the write transaction.
Result<std::vector<std::string>> MatchCriteria(const Context& ctx, store::Txn& txn,
                                               const std::string& type,
                                               std::string_view criteria, size_t limit);

// Parses an If-Match / If-None-Match ETag (W/"3" or "3") into a version number.
std::optional<int64_t> ParseETag(std::string_view etag);
std::string ETagFor(int64_t version);

}  // namespace gm::rest
