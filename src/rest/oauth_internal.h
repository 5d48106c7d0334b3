// Shared pieces of grunnmur's authorization server (oauth.cc: /token, /par,
// /introspect, /userinfo; authorize.cc: /authorize and the test login page).
// Not a public interface of gm_rest.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/params.h"
#include "http/server.h"
#include "rest/context.h"
#include "store/store.h"
#include "trust/clients.h"

namespace gm::rest::oauth {

// An OAuth error answer (RFC 6749 §5.2): JSON, Cache-Control: no-store.
http::Response Error(int status, std::string_view error, std::string description,
                     std::string_view interaction = "token");
// A JSON answer with Cache-Control: no-store.
http::Response Json(const json::Value& body, std::string_view interaction, int status = 200);

// The first value of a parameter ("" when absent).
std::string Param(const Params& params, std::string_view name);

// /authorize and the login form (authorize.cc). nullopt: not its path.
std::optional<http::Response> Authorize(const Context& ctx, const http::Request& req);

// Registry look-ups for the login and /userinfo.
struct Person {
  std::string name, given_name, family_name;
  std::string hpr_number;  // Practitioner only
};
// The current Patient (by FNR/DNR identifier) / Practitioner with that
// FNR/DNR; nullopt when there is none (errors count as none).
std::optional<Person> FindPatient(const Context& ctx, const std::string& pid);
std::optional<Person> FindPractitioner(const Context& ctx, const std::string& pid);

// The pseudonymous subject of a person's tokens (never the FNR itself).
std::string PersonSubject(const std::string& pid);

}  // namespace gm::rest::oauth
