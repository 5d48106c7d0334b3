// One handler per FHIR REST interaction (http://hl7.org/fhir/R4/http.html),
// each in its own file named after it. A handler gets the parsed Call and
// returns the HTTP response; errors go through rest/outcome.h.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "http/server.h"
#include "rest/context.h"
#include "trust/tokens.h"
#include "rest/request.h"
#include "store/store.h"

namespace gm::rest {

struct Call {
  const Context& ctx;
  http::Request& req;
  Target target;
  Params params;  // query string (and form body for POST _search)
  OutputFormat format;
  Prefer prefer;
  // Who is asking (null: a trusted internal request, or authentication off).
  const trust::Principal* principal = nullptr;
  // Non-empty: a citizen's request, limited to these Patients' compartments
  // (searches get a compartment clause; includes, chains and _has are refused).
  std::vector<std::string> patient_scope = {};
  // Persons: a write may only touch the compartments the policy decided
  // permitted for this request (RequestPolicy::write_permits). Handlers call
  // it inside the write transaction, before the store's Put, with the type and
  // the patients of the old and of the new version (an error: refuse, nothing
  // written). Null: not confined (systems, trusted internal requests).
  std::function<Status(const std::string& type, const std::vector<std::string>& patients)>
      may_write = nullptr;
  // Persons: ids are not chosen by the client — update-as-create (PUT to an
  // unknown id) answers exactly as an id in a record the caller may not see.
  bool no_client_ids = false;
  std::string person_code = "GM-AUTH-041";  // the mode's 403 code (041 clinician, 042 citizen)
  // Persons' batch/transaction: the policy's verdict per entry (index = entry
  // index); an entry without a verdict is not run.
  bool entries_decided = false;
  std::vector<Status> entry_denials = {};                     // ok = allowed
  std::vector<std::vector<std::string>> entry_scopes = {};    // conditional entries
};

// Conditional criteria → ids of current matches (at most `limit`) inside the
// write transaction; when `scope` is non-empty the match is confined to those
// patients' compartments (update.cc).
Result<std::vector<std::string>> MatchConfined(const Context& ctx, store::Txn& txn,
                                               const std::string& type,
                                               std::string_view criteria, size_t limit,
                                               const std::vector<std::string>& scope);

// The patients a write touches, for Call::may_write: the compartments of the
// current version inside txn (none when it does not exist or is deleted) and
// of `next` (null: a delete) stored as type/id (update.cc).
Result<std::vector<std::string>> TouchedPatients(const Context& ctx, store::Txn& txn,
                                                 const std::string& type, const std::string& id,
                                                 const json::Value* next);
// Call::may_write on what the write touches (ok when not confined).
Status CheckWrite(const Call& call, store::Txn& txn, const std::string& type,
                  const std::string& id, const json::Value* next);

// The parameters sealed in a search page token (search.cc), for the policy:
// the follow-up page is decided on the same parameters as the first one.
Result<Params> SealedSearchParams(const Context& ctx, std::string_view token);

// A transaction's fullUrl resolution (transaction.cc): every
// Reference.reference, url and value[x] string equal to a key of `map` is
// replaced by its value. The policy resolves entries the same way (auth.cc).
void RewriteReferences(json::Value& v, const std::map<std::string, std::string>& map);

http::Response HandleRead(Call& call);          // read.cc
http::Response HandleVRead(Call& call);         // vread.cc
http::Response HandleCreate(Call& call);        // create.cc
http::Response HandleUpdate(Call& call);        // update.cc (incl. conditional update)
http::Response HandlePatch(Call& call);         // patch.cc
http::Response HandleDelete(Call& call);        // delete.cc (incl. conditional delete)
http::Response HandleHistory(Call& call);       // history.cc (instance, type, system)
http::Response HandleBundle(Call& call);        // transaction.cc (batch and transaction)
http::Response HandleCapabilities(Call& call);  // capabilities.cc
http::Response HandleValidate(Call& call);      // validate.cc ($validate)
http::Response HandleSearch(Call& call);        // search.cc (type, system, compartment)
http::Response HandleEverything(Call& call);    // everything.cc (Patient/[id]/$everything)

}  // namespace gm::rest
