// What every REST handler works with. Owned by the caller of Service; all
// members outlive the Service.
#pragma once

#include <functional>
#include <string>

#include "core/clock.h"
#include "fhir/model.h"
#include "profile/profile.h"
#include "search/indexer.h"
#include "search/page_token.h"
#include "store/store.h"
#include "trust/authcode.h"
#include "trust/clients.h"
#include "trust/tokens.h"

namespace gm::audit {
class AuditLog;
}

namespace gm::rest {

struct Options {
  std::string base_url = "http://127.0.0.1:8080";  // no trailing slash
  size_t default_count = 50;
  size_t max_count = 1000;
  size_t max_transaction_entries = 10000;
  size_t max_json_depth = 128;
  std::string software_version = "0.1.0";
  // Pasientens prøvesvar: days after a result's release clock (issued) that a
  // result labelled NORU (delayed release) becomes visible to the citizen
  // without the requester's release (serve --lab-release-delay-days).
  int lab_release_delay_days = 14;
};

struct Context {
  store::Store& store;
  const fhir::Model& model;
  const Clock& clock;
  const search::Indexer& indexer;
  std::function<std::string()> new_id;  // server-assigned ids
  Options options;
  // Seals the paging links of searches whose parameters stay out of URLs
  // (POST _search); null: a per-process key (links die with the process).
  const search::PageTokenCodec* page_tokens = nullptr;
  // Profiles, extension definitions and terminology that writes claiming them
  // are validated against (meta.profile); StructureDefinitions, ValueSets and
  // CodeSystems written through the API join it. Null: no profile validation.
  profile::ProfileRegistry* profiles = nullptr;
  // Access tokens (rest/auth.h). Null only when the operator turned
  // authentication off explicitly (serve --auth off).
  const trust::TokenVerifier* verifier = nullptr;
  std::shared_ptr<trust::KeyRing> keys;  // grunnmur's own issuer, published as /jwks
  std::string issuer;
  // The token endpoint (rest/oauth.cc): registered clients, the issuer that
  // signs, and the jti values of client assertions already used. Null: no
  // token endpoint.
  const trust::ClientRegistry* clients = nullptr;
  const trust::TokenIssuer* token_issuer = nullptr;
  trust::ReplayGuard* assertion_jtis = nullptr;  // shared by the nodes on PostgreSQL
  // The authorization-code flow for people (rest/oauth.cc, rest/authorize.cc):
  // pushed requests, login sessions and codes. Null: no /par, /authorize.
  trust::AuthCodeStore* auth_codes = nullptr;
  // The audit log (audit/log.h): every authenticated access to patient data,
  // allowed, denied or failed, is appended before the answer is sent; reads
  // whose audit cannot be written return no data. Null: no auditing (tests
  // and tools that run without a data directory).
  audit::AuditLog* audit = nullptr;
};

}  // namespace gm::rest
