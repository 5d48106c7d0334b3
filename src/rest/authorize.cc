// /authorize and the TEST login page that stands in for the national eID.
//
//   GET  /authorize?client_id=…&request_uri=…   (PAR is required: a request
//        pushed to /par, used once) → the login page, server-rendered HTML
//        without JavaScript. The form carries a one-time value; a cookie
//        (HttpOnly, SameSite=Strict) carries a second random value bound to
//        it, so a form post from another site or another browser fails.
//   POST /authorize/login (login, role, pid, action) → citizens: a valid
//        FNR/D-nummer of a Patient in the registry; clinicians: of a
//        Practitioner, whose HPR number is taken from the registry. Success:
//        303 to the registered redirect_uri with code, state and iss
//        (RFC 9207); cancel: error=access_denied; a wrong number: the form
//        again with a new one-time value.
// Errors before the client and its redirect URI are known are shown as a
// page, never redirected. Every value written into HTML is escaped.
#include <string>

#include "no/identifiers.h"
#include "rest/oauth_internal.h"
#include "rest/request.h"
#include "trust/authcode.h"

namespace gm::rest::oauth {

namespace {

constexpr std::string_view kCookie = "gm_login";

std::string Html(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// Percent-encoding for a query component (RFC 3986 unreserved kept).
std::string QueryEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

void PageHeaders(http::Response& r) {
  r.SetHeader("Content-Type", "text/html; charset=utf-8");
  r.SetHeader("Cache-Control", "no-store");
  r.SetHeader("X-Frame-Options", "DENY");
  r.SetHeader("X-Content-Type-Options", "nosniff");
  r.SetHeader("Referrer-Policy", "no-referrer");
  r.SetHeader("Content-Security-Policy",
              "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
              "base-uri 'none'");
}

constexpr std::string_view kStyle =
    "body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}"
    ".test{background:#fde68a;border:2px solid #b45309;padding:.8em;font-weight:bold}"
    ".error{background:#fee2e2;border:1px solid #b91c1c;padding:.6em}"
    "label{display:block;margin:.6em 0}input[type=text]{font-size:1.2em;width:12em}";

std::string PageStart(std::string_view title) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width\"><title>" +
         Html(title) + "</title><style>" + std::string(kStyle) + "</style></head><body>\n";
}

http::Response ErrorPage(int status, std::string_view text) {
  http::Response r;
  r.status = status;
  r.interaction = "authorize";
  PageHeaders(r);
  r.body = PageStart("Login failed") + "<h1>Login cannot continue</h1><p class=\"error\">" +
           Html(text) + "</p><p>Start again from the application you came from.</p></body></html>\n";
  return r;
}

// The login form for a pending request; `error` is shown above it.
http::Response LoginPage(const Context& ctx, trust::PushedRequest request, std::string_view error,
                         int status = 200) {
  std::string client_name = request.client_id;
  if (auto c = ctx.clients->Find(request.client_id); c.ok() && *c && !(*c)->name.empty()) {
    client_name = (*c)->name;
  }
  std::string scope = request.scope;
  std::string binding;
  auto login = ctx.auth_codes->StartLogin(std::move(request), &binding);
  if (!login) return ErrorPage(503, "Too many logins are in progress; try again shortly.");
  http::Response r;
  r.status = status;
  r.interaction = "authorize";
  PageHeaders(r);
  bool secure = ctx.options.base_url.rfind("https://", 0) == 0;
  r.SetHeader("Set-Cookie", std::string(kCookie) + "=" + binding +
                                "; Path=/authorize; HttpOnly; SameSite=Strict" +
                                (secure ? "; Secure" : "") + "; Max-Age=600");
  std::string b = PageStart("TEST login - grunnmur");
  b += "<p class=\"test\">TEST LOGIN. This page stands in for the national eID (ID-porten, "
       "BankID) in test and development only: anyone who types a registered "
       "f&oslash;dselsnummer is logged in as that person. Production deployments put a real "
       "identity provider in front of grunnmur.</p>\n";
  b += "<h1>Log in to " + Html(client_name) + "</h1>\n";
  if (!error.empty()) b += "<p class=\"error\" role=\"alert\">" + Html(error) + "</p>\n";
  b += "<p>The application asks for: <code>" + Html(scope.empty() ? "(no scopes)" : scope) +
       "</code></p>\n";
  b += "<form method=\"post\" action=\"" + Html(ctx.options.base_url + "/authorize/login") +
       "\">\n<input type=\"hidden\" name=\"login\" value=\"" + Html(*login) + "\">\n";
  b += "<fieldset><legend>I am</legend>"
       "<label><input type=\"radio\" name=\"role\" value=\"citizen\" checked> a citizen "
       "(innbygger)</label>"
       "<label><input type=\"radio\" name=\"role\" value=\"clinician\"> health personnel "
       "(helsepersonell; HPR number from the registry)</label></fieldset>\n";
  b += "<label>F&oslash;dselsnummer or D-nummer (11 digits) <input type=\"text\" name=\"pid\" "
       "id=\"pid\" inputmode=\"numeric\" autocomplete=\"off\" maxlength=\"11\" "
       "pattern=\"[0-9]{11}\" required></label>\n";
  b += "<button type=\"submit\" name=\"action\" value=\"login\" id=\"login\">Log in</button> "
       "<button type=\"submit\" name=\"action\" value=\"cancel\" formnovalidate "
       "id=\"cancel\">Cancel</button>\n</form>\n</body></html>\n";
  r.body = std::move(b);
  return r;
}

std::string CookieValue(std::string_view header, std::string_view name) {
  size_t i = 0;
  while (i < header.size()) {
    size_t end = header.find(';', i);
    if (end == std::string_view::npos) end = header.size();
    std::string_view part = header.substr(i, end - i);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name &&
        part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
    i = end + 1;
  }
  return {};
}

http::Response Redirect(const Context& ctx, const trust::PushedRequest& request,
                        const std::string& params) {
  std::string location = request.redirect_uri;
  location += location.find('?') == std::string::npos ? '?' : '&';
  location += params;
  if (!request.state.empty()) location += "&state=" + QueryEncode(request.state);
  location += "&iss=" + QueryEncode(ctx.issuer);
  http::Response r;
  r.status = 303;
  r.interaction = "authorize";
  r.SetHeader("Location", location);
  r.SetHeader("Cache-Control", "no-store");
  r.SetHeader("Referrer-Policy", "no-referrer");
  return r;
}

// Keeps the scopes a person of this kind may hold (see oauth.cc).
std::string ScopesFor(std::string_view granted, bool clinician) {
  std::string out;
  size_t i = 0;
  while (i < granted.size()) {
    size_t end = granted.find(' ', i);
    if (end == std::string_view::npos) end = granted.size();
    std::string_view s = granted.substr(i, end - i);
    i = end + 1;
    if (s.empty()) continue;
    auto rs = trust::ParseResourceScope(s);
    if (rs && rs->context != (clinician ? trust::ScopeContext::kUser
                                        : trust::ScopeContext::kPatient)) {
      continue;
    }
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

http::Response Start(const Context& ctx, const http::Request& req) {
  if (req.method != "GET") return ErrorPage(405, "Use GET to start a login.");
  auto query = ParseForm(req.query);
  if (!query.ok()) return ErrorPage(400, "The request is malformed.");
  std::string request_uri = Param(*query, "request_uri");
  std::string client_id = Param(*query, "client_id");
  if (request_uri.empty()) {
    return ErrorPage(400,
                     "This server requires pushed authorization requests (PAR, RFC 9126): "
                     "push the request to /par and send its request_uri here.");
  }
  auto request = ctx.auth_codes->TakeRequest(request_uri);
  if (!request) return ErrorPage(400, "The request_uri is unknown, expired or already used.");
  if (client_id != request->client_id) {
    return ErrorPage(400, "The client_id does not match the pushed request.");
  }
  return LoginPage(ctx, std::move(*request), "");
}

http::Response Login(const Context& ctx, const http::Request& req) {
  if (req.method != "POST") return ErrorPage(405, "Use the login form.");
  std::string_view ct = req.Header("content-type");
  if (ct.substr(0, ct.find(';')) != "application/x-www-form-urlencoded") {
    return ErrorPage(400, "Use the login form.");
  }
  auto form = ParseForm(req.body);
  if (!form.ok()) return ErrorPage(400, "The form is malformed.");
  auto request = ctx.auth_codes->TakeLogin(Param(*form, "login"),
                                           CookieValue(req.Header("cookie"), kCookie));
  if (!request) {
    return ErrorPage(400,
                     "This login form has expired, was already used, or was not opened in this "
                     "browser.");
  }
  if (Param(*form, "action") == "cancel") {
    return Redirect(ctx, *request, "error=access_denied");
  }
  const bool clinician = Param(*form, "role") == "clinician";
  std::string pid = Param(*form, "pid");
  if (!no::IsValidFnr(pid) && !no::IsValidDnr(pid)) {
    return LoginPage(ctx, std::move(*request),
                     "That is not a valid fødselsnummer or D-nummer.", 400);
  }
  trust::CodeGrant grant;
  if (clinician) {
    auto person = FindPractitioner(ctx, pid);
    if (!person || person->hpr_number.empty()) {
      return LoginPage(ctx, std::move(*request),
                       "Login failed: no health personnel with an HPR number is registered with "
                       "this number.",
                       400);
    }
    grant.hpr_number = person->hpr_number;
    grant.name = person->name;
  } else {
    auto person = FindPatient(ctx, pid);
    if (!person) {
      return LoginPage(ctx, std::move(*request),
                       "Login failed: no citizen is registered with this number.", 400);
    }
    grant.name = person->name;
  }
  grant.pid = pid;
  grant.clinician = clinician;
  grant.scope = ScopesFor(request->scope, clinician);
  grant.auth_time = ctx.clock.NowUs() / 1'000'000;
  grant.request = *request;
  auto code = ctx.auth_codes->IssueCode(std::move(grant));
  if (!code) return ErrorPage(503, "Too many logins are in progress; try again shortly.");
  return Redirect(ctx, *request, "code=" + QueryEncode(*code));
}

}  // namespace

std::optional<http::Response> Authorize(const Context& ctx, const http::Request& req) {
  if (ctx.auth_codes == nullptr) return ErrorPage(404, "This server has no login.");
  if (req.path == "/authorize") return Start(ctx, req);
  if (req.path == "/authorize/login") return Login(ctx, req);
  return std::nullopt;
}

}  // namespace gm::rest::oauth
