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
// (issue "Trust"), which comes on top of this check, not instead of it.
#pragma once

#include <optional>
#include <string>

#include "core/status.h"
#include "http/server.h"
#include "rest/context.h"
#include "rest/request.h"
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
//   system   a system acting for its organisation: the scopes decide;
//   user     a clinician: needs the policy decision point (care relationship,
//            HPR, the citizen's blocks), which does not exist yet, so
//            refused (403 GM-AUTH-041) - default deny;
//   patient  a citizen: only their own patient compartment (PatientAccess).
enum class AccessMode { kSystem, kUser, kPatient };
AccessMode ModeFor(const trust::Principal& principal, const Requirement& need);

// Citizen access (patient-context scopes): the Patient ids whose identifier
// is the token's fødselsnummer/D-nummer; then, per route, reads only inside
// those compartments (anything else answers 404 as if unknown, so existence
// is not revealed), searches restricted to them (Call::patient_scope) without
// _include/_revinclude/chains/_has, $everything and compartment searches only
// for those ids; no writes and no system-wide routes (403 GM-AUTH-042).
Status PatientAccess(const Context& ctx, const trust::Principal& principal, const Target& target,
                     const std::string& method, std::vector<std::string>& patient_ids);

// 401 with WWW-Authenticate (RFC 6750 / RFC 9449) for an authentication failure.
http::Response Unauthorized(const Status& status);

// /.well-known/openid-configuration and /jwks (nullopt: not such a path).
std::optional<http::Response> Discovery(const Context& ctx, const http::Request& req);

// POST /token (oauth.cc): client_credentials with private_key_jwt (RFC 7523),
// optional DPoP binding (RFC 9449), the trust-framework attestation copied
// from the client assertion's authorization_details. nullopt: not /token.
std::optional<http::Response> TokenEndpoint(const Context& ctx, const http::Request& req);

}  // namespace gm::rest
