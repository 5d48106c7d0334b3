// The OAuth 2.0 token endpoint of grunnmur's own authorization server, for
// systems (EHRs, pharmacy and lab systems): HelseID's client_credentials with
// private_key_jwt. Answers follow RFC 6749 §5 (JSON, Cache-Control: no-store).
// Client secrets do not exist; assertions and tokens are never logged.
#include "core/json.h"
#include "rest/auth.h"
#include "rest/request.h"

namespace gm::rest {

namespace {

constexpr std::string_view kJwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
constexpr int64_t kAccessTokenTtl = 600;

http::Response OAuthError(int status, std::string_view error, std::string description) {
  http::Response r;
  r.status = status;
  r.interaction = "token";
  r.SetHeader("Content-Type", "application/json; charset=utf-8");
  r.SetHeader("Cache-Control", "no-store");
  json::Value e = json::Value::MakeObject();
  e.set("error", std::string(error));
  e.set("error_description", std::move(description));
  r.body = json::Write(e);
  if (status == 401) r.SetHeader("WWW-Authenticate", "Bearer realm=\"grunnmur\"");
  return r;
}

std::string Param(const Params& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

}  // namespace

std::optional<http::Response> TokenEndpoint(const Context& ctx, const http::Request& req) {
  if (req.path != "/token") return std::nullopt;
  if (ctx.clients == nullptr || ctx.token_issuer == nullptr || ctx.verifier == nullptr ||
      ctx.assertion_jtis == nullptr) {
    return OAuthError(400, "unsupported_grant_type", "this server issues no tokens");
  }
  if (req.method != "POST") return OAuthError(400, "invalid_request", "use POST");
  std::string_view ct = req.Header("content-type");
  if (ct.substr(0, ct.find(';')) != "application/x-www-form-urlencoded") {
    return OAuthError(400, "invalid_request", "the body must be application/x-www-form-urlencoded");
  }
  auto form = ParseForm(req.body);
  if (!form.ok()) return OAuthError(400, "invalid_request", "the form body is malformed");
  for (size_t i = 0; i < form->size(); ++i) {
    for (size_t j = i + 1; j < form->size(); ++j) {
      if ((*form)[i].first == (*form)[j].first) {
        return OAuthError(400, "invalid_request", "a parameter is repeated");
      }
    }
  }
  std::string grant = Param(*form, "grant_type");
  if (grant != "client_credentials") {
    return OAuthError(400, "unsupported_grant_type", "only client_credentials is supported here");
  }
  if (Param(*form, "client_assertion_type") != kJwtBearer) {
    return OAuthError(401, "invalid_client",
                      "clients authenticate with private_key_jwt (client_assertion_type jwt-bearer)");
  }
  trust::AssertionCheck check;
  check.audiences = {ctx.issuer, ctx.options.base_url, ctx.options.base_url + "/token"};
  auto client = trust::VerifyClientAssertion(Param(*form, "client_assertion"), *ctx.clients, check,
                                             ctx.clock, *ctx.assertion_jtis);
  if (!client.ok()) return OAuthError(401, "invalid_client", client.status().message());
  std::string claimed_id = Param(*form, "client_id");
  if (!claimed_id.empty() && claimed_id != client->client.client_id) {
    return OAuthError(401, "invalid_client", "client_id does not match the client assertion");
  }
  auto scope = trust::GrantScopes(Param(*form, "scope"), client->client.allowed_scope);
  if (!scope) return OAuthError(400, "invalid_scope", "a requested scope is not allowed for this client");

  trust::IssueRequest issue;
  issue.client_id = client->client.client_id;
  issue.subject = client->client.client_id;
  issue.scope = *scope;
  issue.orgnr_parent = client->client.orgnr_parent;
  issue.orgnr_child = client->client.orgnr_child;
  issue.ttl_seconds = kAccessTokenTtl;
  // The attestation travels in the signed assertion and is copied as it is.
  if (const json::Value* details = client->claims.find("authorization_details")) {
    auto parsed = trust::ParseAttestation(*details);
    if (!parsed.ok()) return OAuthError(400, "invalid_authorization_details", parsed.status().message());
    issue.authorization_details = *details;
  }
  std::string token_type = "Bearer";
  if (std::string_view proof = req.Header("dpop"); !proof.empty()) {
    auto jkt = ctx.verifier->VerifyDpopProof(proof, "POST", ctx.options.base_url + "/token",
                                             std::nullopt);
    if (!jkt.ok()) return OAuthError(400, "invalid_dpop_proof", jkt.status().message());
    issue.cnf_jkt = *jkt;
    token_type = "DPoP";
  }
  json::Value out = json::Value::MakeObject();
  out.set("access_token", ctx.token_issuer->Issue(issue));
  out.set("token_type", token_type);
  out.set("expires_in", kAccessTokenTtl);
  out.set("scope", *scope);
  http::Response r;
  r.interaction = "token";
  r.SetHeader("Content-Type", "application/json; charset=utf-8");
  r.SetHeader("Cache-Control", "no-store");
  r.body = json::Write(out);
  return r;
}

}  // namespace gm::rest
