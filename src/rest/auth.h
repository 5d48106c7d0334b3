// Authentication and the scope check, in front of every handler.
//
// Every request except discovery (/.well-known/openid-configuration, /jwks),
// /metadata and the health and metrics endpoints must carry an access token
// (Authorization: DPoP or Bearer) that ctx.verifier accepts (trust/tokens.h);
// otherwise 401 with a WWW-Authenticate challenge and an OperationOutcome that
// says which rule failed and nothing about data.
//
// The token's SMART scopes must then grant the interaction on the type
// (trust/scopes.h), else 403 GM-AUTH-040:
//   read, vread, instance history              r on the type
//   search (type, compartment, POST _search)   s on the type
//   create                                     c;  update, patch  u;  delete  d
//   conditional update / delete                u / d, and s (they search)
//   type history                               r and s on the type
//   system search and history, $everything,    the permission on every type ("*")
//   batch and transaction
//   $validate                                  any valid token (reveals no data)
// Scopes only say what kind of access a client may have at all; which
// patients' data it may touch is decided by the policy decision point
// (trust/pdp.h, DecideRequest below; docs/trust.md), which comes on top of
// this check, not instead of it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "audit/event.h"
#include "core/status.h"
#include "http/server.h"
#include "rest/context.h"
#include "rest/request.h"
#include "trust/pdp.h"
#include "trust/tokens.h"

namespace gm::rest {

// What a route needs; public routes need nothing.
struct Requirement {
  bool is_public = false;
  std::string type;  // "*" for all types
  uint8_t permissions = 0;  // trust::Permission bits, all required
};
Requirement RequirementFor(const Target& target, const std::string& method);

// Checks the request's token (ctx.verifier must be set).
Result<trust::Principal> Authenticate(const Context& ctx, const http::Request& req);

// kForbidden GM-AUTH-040 unless the principal's scopes grant `need`.
Status Authorize(const trust::Principal& principal, const Requirement& need);

// Which kind of scope grants the access, and so which rules apply:
//   system   a client system acting for its organisation: scopes and the
//            client's kind (trust/pdp.h, docs/trust.md);
//   user     a clinician: the policy decision point per patient (HPR, care
//            relationship, the citizen's controls);
//   patient  a citizen: own record and the people they represent.
enum class AccessMode { kSystem, kUser, kPatient };
AccessMode ModeFor(const trust::Principal& principal, const Requirement& need);

// How the policy treats a route for a mode (RouteRuleFor); every (route,
// method, mode) has one, none of them "not decided" (tests enumerate them).
enum class RouteRule {
  kPublic,            // no token, no patient data (metadata, health)
  kNoData,            // reveals no data ($validate, unknown operations answer 404)
  kSystemAsToday,     // system of kind operator/ehr: the scopes decide
  kSystemByType,      // system of a restricted kind: the kind's table per type
  kAddressed,         // read/vread/history of one resource: its patients
  kAddressedWrite,    // update/patch/delete of one resource: its patients (old and new)
  kCreate,            // create: the patients of the body
  kPatientSearch,     // search limited to patients the caller may see
  kCompartment,       // Patient/X/… and Patient/X/$everything, $access-log: patient X
  kConditionalWrite,  // person's conditional update/delete: criteria name one patient
  kBundle,            // person's batch/transaction: every entry decided as if alone
  kDenied,            // refused for this mode (cross-patient, system search …)
};
RouteRule RouteRuleFor(const Target& target, const std::string& method, AccessMode mode,
                       bool restricted_kind);

// The policy's answer for one request (DecideRequest), used by the
// dispatcher, the search handler and the audit.
struct RequestPolicy {
  bool decided = false;   // set on every path through DecideRequest
  Status status;          // not ok: answer with it (403, or 404 for an addressed resource)
  AccessMode mode = AccessMode::kSystem;
  RouteRule rule = RouteRule::kDenied;
  // Non-empty: searches are limited to these patients' compartments and may
  // not reach out (_include, _revinclude, chains, _has).
  std::vector<std::string> patient_scope;
  // Searches may not reach out even without a scope (restricted callers).
  bool no_reach = false;
  // $everything: only these types (empty: all).
  std::vector<std::string> everything_types;
  // Patients concerned, known before the handler runs, with their decisions.
  std::vector<std::string> patients;
  std::vector<trust::Decision> decisions;
  trust::Caller caller;
  std::string practitioner_name;  // clinician's name from HPR (audit)
  std::string practitioner_authorization;  // an active HPR authorisation (9060), audit
  std::string requester_reference;  // citizen: Patient/<own id> (audit)
  // Persons (clinicians, citizens): writes are confined to these (patient,
  // type) pairs, the ones decided permitted for writing in this request; the
  // handlers check the old and the new version against them inside the write
  // transaction (Call::may_write), so a write never moves a resource into, or
  // touches, a record the request was not decided for.
  bool confined_writes = false;
  std::vector<std::pair<std::string, std::string>> write_permits;
  // kBundle: one verdict per Bundle entry (index = entry index): ok, or the
  // answer that entry gets (a batch answers it in the entry's response; a
  // transaction with any refused entry is refused as a whole, before it runs).
  struct EntryVerdict {
    Status status;
    std::vector<std::string> patient_scope;  // conditional entries: the one patient
  };
  std::vector<EntryVerdict> entries;
};

// Copies what the handlers enforce from the policy into the call (the
// compartments a search or a conditional write is confined to, the write
// hook, the per-entry verdicts of a person's batch/transaction).
void ApplyPolicy(const Context& ctx, const RequestPolicy& policy, struct Call& call);

// Runs the policy for a request: gathers the facts from the store and asks
// trust::Decide for each patient concerned.
RequestPolicy DecideRequest(const Context& ctx, const trust::Principal& principal,
                            AccessMode mode, const Target& target, const std::string& method,
                            const Params& params, const http::Request& req);

// Facts about one patient, from the store (fact-gathering layer of the PDP).
Result<trust::PatientFacts> GatherPatientFacts(const Context& ctx, const std::string& patient_id,
                                               const trust::Caller& caller, bool registered);

// Whether a search may use _include, _revinclude, chains and _has: only
// system callers of kind operator/ehr (and trusted internal requests).
bool SearchMayReachOut(const trust::Principal* principal, const Target& target,
                       const std::string& method);

// The audit code of a request's interaction (restful-interaction: read,
// vread, update, patch, delete, create, search-type, search-system,
// history-*, transaction, operation); "" for what is not audited.
std::string AuditInteraction(const Target& target, const std::string& method);

// Appends one AuditEvent per patient touched by the request (access_log.cc):
// the policy's patients when it named them (addressed resources, the
// patients a person's search was limited to), else the patient compartments
// of the resources in the response (system callers), else, for a failed
// request on one resource, that resource's compartments. Outcome: denied
// when `denied`, failed for a 4xx/5xx answer, else allowed. Error (kUnavailable
// GM-AUDIT-030) when the log cannot take the events: the caller then sends
// that error instead of the answer.
// Patients in already_audited are left out (a write's own audit, staged in
// its transaction: rest/audit_outbox.h).
Status AuditAccess(const Context& ctx, const trust::Principal& principal,
                   const RequestPolicy& policy, const Target& target, const http::Request& req,
                   const std::string& interaction, const http::Response& response, bool denied,
                   const std::vector<std::string>& already_audited = {});

// The AuditEvents of one request for the given patients, one per patient,
// each with the decision the policy made for that patient (access_log.cc).
// failure_text: the outcome text of a failed request.
Result<std::vector<audit::Event>> AccessEvents(const Context& ctx,
                                               const trust::Principal& principal,
                                               const RequestPolicy& policy, const Target& target,
                                               const http::Request& req,
                                               const std::string& interaction,
                                               const std::vector<std::string>& patients,
                                               audit::Outcome outcome,
                                               const std::string& failure_text);

// GET Patient/[id]/$access-log (access_log.cc): the citizen's (or their
// representative's) view of who accessed the record: name, role,
// organisation, basis (incl. emergency), time; never a fødselsnummer.
// Pages with _count (1-500, default 50) and _before (from the next link).
struct Call;
http::Response HandleAccessLog(Call& call);

// The patient compartments of a stored resource (current, or its latest
// version with content) — for the policy and the audit.
Result<std::vector<std::string>> CompartmentsOf(const Context& ctx, const std::string& type,
                                                const std::string& id);

// 401 with WWW-Authenticate (RFC 6750 / RFC 9449) for an authentication failure.
http::Response Unauthorized(const Status& status);

// /.well-known/openid-configuration and /jwks (nullopt: not such a path).
std::optional<http::Response> Discovery(const Context& ctx, const http::Request& req);

// POST /token (oauth.cc): client_credentials with private_key_jwt (RFC 7523),
// optional DPoP binding (RFC 9449), the trust-framework attestation copied
// from the client assertion's authorization_details. nullopt: not /token.
std::optional<http::Response> TokenEndpoint(const Context& ctx, const http::Request& req);

}  // namespace gm::rest
