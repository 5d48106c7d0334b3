#include "trust/clients.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace gm::trust {

namespace {

Status ClientError(const char* code, std::string text) {
  return Status::Error(ErrorCategory::kUnauthorized, code, "login", std::move(text));
}

bool ValidClientId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.' || c == ':')) {
      return false;
    }
  }
  return id != "." && id != "..";
}

std::string FileName(const std::string& client_id) {
  // ':' is legal in a client id but awkward in file names.
  std::string f;
  for (char c : client_id) f += c == ':' ? '~' : c;
  return f + ".json";
}

std::optional<int64_t> Int(const json::Value& o, std::string_view k) {
  const json::Value* v = o.find(k);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  double d = std::strtod(v->str().c_str(), nullptr);
  // Out of range, infinite or NaN is not a usable time (and the cast would be
  // undefined behaviour); the checks add and subtract leeways, which must not overflow.
  if (!(d > -1e15 && d < 1e15)) return std::nullopt;
  return static_cast<int64_t>(d);
}

}  // namespace

bool Client::Allows(std::string_view grant_type) const {
  if (grant_types.empty()) return grant_type == "client_credentials";
  for (const auto& g : grant_types) {
    if (g == grant_type) return true;
  }
  return false;
}

bool Client::HasRedirectUri(std::string_view uri) const {
  for (const auto& r : redirect_uris) {
    if (r == uri) return true;
  }
  return false;
}

bool IsAcceptableRedirectUri(std::string_view uri) {
  if (uri.size() > 2000 || uri.find('#') != std::string_view::npos) return false;
  for (char c : uri) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '"' || c == '<' || c == '>' ||
        c == '\\' || c == '`') {
      return false;
    }
  }
  std::string_view rest;
  bool https = false;
  if (uri.substr(0, 8) == "https://") {
    rest = uri.substr(8);
    https = true;
  } else if (uri.substr(0, 7) == "http://") {
    rest = uri.substr(7);
  } else {
    return false;
  }
  size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return false;
  if (https) return true;
  std::string_view host = authority;
  if (host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);
  } else if (size_t colon = host.find(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  return host == "127.0.0.1" || host == "[::1]" || host == "localhost";
}

Status ClientRegistry::Put(const std::string& client_id, const std::string& name,
                           const json::Value& jwks, const std::string& allowed_scope,
                           const std::string& orgnr_parent, const std::string& orgnr_child) const {
  return Put(client_id, name, jwks, allowed_scope, orgnr_parent, orgnr_child, {}, {});
}

Status ClientRegistry::Put(const std::string& client_id, const std::string& name,
                           const json::Value& jwks, const std::string& allowed_scope,
                           const std::string& orgnr_parent, const std::string& orgnr_child,
                           const std::vector<std::string>& redirect_uris,
                           std::vector<std::string> grant_types) const {
  namespace fs = std::filesystem;
  for (const auto& uri : redirect_uris) {
    if (!IsAcceptableRedirectUri(uri)) {
      return Status::Error(ErrorCategory::kInvalid, "GM-AUTH-065", "value",
                           "a redirect URI must be absolute https (or http to a loopback host) "
                           "without a fragment");
    }
  }
  if (grant_types.empty()) {
    grant_types.push_back("client_credentials");
    if (!redirect_uris.empty()) grant_types.push_back("authorization_code");
  }
  for (const auto& g : grant_types) {
    if (g != "client_credentials" && g != "authorization_code") {
      return Status::Error(ErrorCategory::kInvalid, "GM-AUTH-066", "value",
                           "grant types are client_credentials and authorization_code");
    }
    if (g == "authorization_code" && redirect_uris.empty()) {
      return Status::Error(ErrorCategory::kInvalid, "GM-AUTH-066", "value",
                           "authorization_code needs at least one redirect URI");
    }
  }
  if (!ValidClientId(client_id)) {
    return Status::Error(ErrorCategory::kInvalid, "GM-AUTH-060", "value",
                         "client ids are 1-128 letters, digits and - _ . :");
  }
  const json::Value* keys = jwks.find("keys");
  if (keys == nullptr || !keys->is_array() || keys->empty()) {
    return Status::Error(ErrorCategory::kInvalid, "GM-AUTH-061", "value",
                         "the client's JWKS must hold at least one key");
  }
  json::Value pub = json::Value::MakeArray();
  for (const auto& k : keys->array()) {
    if (k.find("d") != nullptr || k.find("p") != nullptr) {
      return Status::Error(ErrorCategory::kInvalid, "GM-AUTH-062", "security",
                           "a client's JWKS must contain public keys only");
    }
    auto key = Jwk::FromJson(k);
    if (!key.ok()) return key.status();
    pub.push_back(k);
  }
  json::Value doc = json::Value::MakeObject();
  doc.set("client_id", client_id);
  doc.set("name", name);
  json::Value jw = json::Value::MakeObject();
  jw.set("keys", std::move(pub));
  doc.set("jwks", std::move(jw));
  doc.set("scope", allowed_scope);
  doc.set("orgnr_parent", orgnr_parent);
  doc.set("orgnr_child", orgnr_child);
  json::Value uris = json::Value::MakeArray();
  for (const auto& u : redirect_uris) uris.push_back(u);
  doc.set("redirect_uris", std::move(uris));
  json::Value grants = json::Value::MakeArray();
  for (const auto& g : grant_types) grants.push_back(g);
  doc.set("grant_types", std::move(grants));
  std::error_code ec;
  fs::create_directories(dir_, ec);
  ::chmod(dir_.c_str(), 0700);
  fs::path path = fs::path(dir_) / FileName(client_id);
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    ::chmod(tmp.c_str(), 0600);
    out << json::Write(doc, {.pretty = true});
    if (!out) {
      return Status::Error(ErrorCategory::kUnavailable, "GM-AUTH-063", "exception",
                           "cannot write the client registration");
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    return Status::Error(ErrorCategory::kUnavailable, "GM-AUTH-063", "exception",
                         "cannot write the client registration");
  }
  return Status::Ok();
}

Result<std::optional<Client>> ClientRegistry::Find(const std::string& client_id) const {
  if (!ValidClientId(client_id)) return std::optional<Client>();
  std::ifstream in(std::filesystem::path(dir_) / FileName(client_id), std::ios::binary);
  if (!in) return std::optional<Client>();
  std::stringstream ss;
  ss << in.rdbuf();
  auto doc = json::Parse(ss.str());
  if (!doc.ok() || doc->get_string("client_id") != client_id) {
    return Status::Error(ErrorCategory::kInternal, "GM-AUTH-064", "exception",
                         "a client registration is unreadable");
  }
  Client c;
  c.client_id = client_id;
  c.name = std::string(doc->get_string("name"));
  c.allowed_scope = std::string(doc->get_string("scope"));
  c.orgnr_parent = std::string(doc->get_string("orgnr_parent"));
  c.orgnr_child = std::string(doc->get_string("orgnr_child"));
  auto strings = [&](std::string_view key, std::vector<std::string>& out) {
    if (const json::Value* a = doc->find(key); a && a->is_array()) {
      for (const auto& v : a->array()) {
        if (v.is_string()) out.push_back(v.str());
      }
    }
  };
  strings("redirect_uris", c.redirect_uris);
  strings("grant_types", c.grant_types);
  if (const json::Value* jwks = doc->find("jwks")) {
    if (const json::Value* keys = jwks->find("keys"); keys && keys->is_array()) {
      for (const auto& k : keys->array()) {
        auto key = Jwk::FromJson(k);
        if (key.ok()) c.keys.push_back(std::move(*key));
      }
    }
  }
  return std::optional<Client>(std::move(c));
}

Result<AuthenticatedClient> VerifyClientAssertion(std::string_view assertion,
                                                  const ClientRegistry& registry,
                                                  const AssertionCheck& check, const Clock& clock,
                                                  ReplayGuard& replay) {
  auto jws = DecodeJws(assertion);
  if (!jws.ok()) return ClientError("GM-AUTH-050", "the client assertion is not a signed JWT");
  if (jws->header.get_string("typ") != "client-authentication+jwt") {
    return ClientError("GM-AUTH-050", "the client assertion's typ must be client-authentication+jwt");
  }
  for (const char* k : {"jku", "x5u", "jwk", "x5c"}) {
    if (jws->header.find(k) != nullptr) {
      return ClientError("GM-AUTH-050", "client assertions may not name their own keys");
    }
  }
  const json::Value& c = jws->payload;
  std::string iss(c.get_string("iss"));
  if (iss.empty() || iss != c.get_string("sub")) {
    return ClientError("GM-AUTH-051", "the client assertion's iss and sub must both be the client_id");
  }
  GM_ASSIGN_OR_RETURN(std::optional<Client> client, registry.Find(iss));
  if (!client) return ClientError("GM-AUTH-051", "the client is not registered");
  bool verified = false;
  std::string_view kid = jws->header.get_string("kid");
  for (const Jwk& k : client->keys) {
    if (!kid.empty() && !k.kid().empty() && k.kid() != kid) continue;
    if (VerifyJws(*jws, k, {Alg::kES256, Alg::kRS256}).ok()) {
      verified = true;
      break;
    }
  }
  if (!verified) return ClientError("GM-AUTH-052", "no key of the client verifies the assertion");
  bool aud_ok = false;
  auto aud_matches = [&](std::string_view a) {
    for (const auto& want : check.audiences) {
      if (a == want) return true;
    }
    return false;
  };
  if (const json::Value* aud = c.find("aud")) {
    if (aud->is_string()) aud_ok = aud_matches(aud->str());
    if (aud->is_array() && aud->size() == 1 && aud->array()[0].is_string()) {
      aud_ok = aud_matches(aud->array()[0].str());
    }
  }
  if (!aud_ok) return ClientError("GM-AUTH-053", "the client assertion is not for this token endpoint");
  const int64_t now = clock.NowUs() / 1'000'000;
  auto exp = Int(c, "exp");
  auto iat = Int(c, "iat");
  auto nbf = Int(c, "nbf");
  if ((c.find("iat") && !iat) || (c.find("nbf") && !nbf)) {
    return ClientError("GM-AUTH-054", "the client assertion's iat or nbf is not a time");
  }
  if (!exp || *exp + check.leeway_s < now) {
    return ClientError("GM-AUTH-054", "the client assertion has expired");
  }
  int64_t start = iat ? *iat : (nbf ? *nbf : now);
  if ((iat && *iat - check.leeway_s > now) || (nbf && *nbf - check.leeway_s > now)) {
    return ClientError("GM-AUTH-054", "the client assertion is not valid yet");
  }
  if (*exp - start > check.max_lifetime_s || *exp - now > check.max_lifetime_s + check.leeway_s) {
    return ClientError("GM-AUTH-054", "a client assertion may live at most 60 seconds");
  }
  std::string jti(c.get_string("jti"));
  if (jti.size() < 8 || jti.size() > 256) return ClientError("GM-AUTH-055", "jti is missing");
  if (!replay.FirstUse(iss + ":" + jti, *exp + check.leeway_s, now)) {
    return ClientError("GM-AUTH-055", "the client assertion was used before");
  }
  return AuthenticatedClient{std::move(*client), c};
}

std::optional<std::string> GrantScopes(std::string_view requested, std::string_view allowed) {
  ScopeSet allow = ScopeSet::Parse(allowed);
  if (requested.empty()) return allow.ToString();
  ScopeSet want = ScopeSet::Parse(requested);
  // Every token of the request must have been understood.
  size_t tokens = 0;
  for (size_t i = 0; i < requested.size();) {
    while (i < requested.size() && requested[i] == ' ') ++i;
    if (i >= requested.size()) break;
    ++tokens;
    while (i < requested.size() && requested[i] != ' ') ++i;
  }
  if (tokens != want.resources().size() + want.others().size()) return std::nullopt;
  for (const auto& r : want.resources()) {
    bool ok = false;
    for (const auto& a : allow.resources()) {
      if (a.context == r.context && (a.type == "*" || a.type == r.type) &&
          (a.permissions & r.permissions) == r.permissions) {
        ok = true;
      }
    }
    if (!ok) return std::nullopt;
  }
  for (const auto& o : want.others()) {
    if (!allow.Has(o)) return std::nullopt;
  }
  return want.ToString();
}

}  // namespace gm::trust
