#include "trust/tokens.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <openssl/rand.h>

namespace gm::trust {

namespace {

Status AuthError(const char* code, std::string text) {
  return Status::Error(ErrorCategory::kUnauthorized, code, "login", std::move(text));
}

std::string RandomId() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();
  return Base64UrlEncode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
}

std::optional<int64_t> IntClaim(const json::Value& payload, std::string_view name) {
  const json::Value* v = payload.find(name);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  const std::string& t = v->str();
  int64_t out = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  if (ec != std::errc()) return std::nullopt;
  if (p != t.data() + t.size()) {
    // "1700000000.0" style: accept an integral value written with a fraction.
    double d = std::strtod(t.c_str(), nullptr);
    // Out of range, infinite ("1e999") or NaN: not a usable time (the cast
    // would be undefined behaviour).
    if (!(d > -1e18 && d < 1e18)) return std::nullopt;
    out = static_cast<int64_t>(d);
  }
  // Times beyond ±1e18 s are nonsense, and the checks below add leeways and
  // subtract claims, which must not overflow.
  if (out > 1'000'000'000'000'000'000 || out < -1'000'000'000'000'000'000) return std::nullopt;
  return out;
}

std::string StringOf(const json::Value* v) {
  if (v == nullptr) return {};
  if (v->is_string() || v->is_number()) return v->str();
  return {};
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

// ---- Attestation ------------------------------------------------------------

Result<std::optional<Attestation>> ParseAttestation(const json::Value& details) {
  const json::Value* found = nullptr;
  auto consider = [&](const json::Value& d) {
    if (d.is_object() && d.get_string("type") == kAttestationType) found = &d;
  };
  if (details.is_array()) {
    for (const auto& d : details.array()) consider(d);
  } else {
    consider(details);
  }
  if (found == nullptr) return std::optional<Attestation>();
  const json::Value& d = *found;
  Attestation a;
  a.raw = d;
  auto bad = [](std::string what) {
    return AuthError("GM-AUTH-020", "the trust-framework attestation is malformed: " + what);
  };
  const json::Value* practitioner = d.find("practitioner");
  if (practitioner == nullptr || !practitioner->is_object()) return bad("no practitioner");
  auto id_of = [](const json::Value* v) -> std::string {
    if (v == nullptr) return {};
    if (v->is_string()) return v->str();
    if (v->is_object()) return std::string(v->get_string("id"));
    return {};
  };
  a.practitioner_id = id_of(practitioner->find("identifier"));
  a.practitioner_hpr = id_of(practitioner->find("hpr_nr"));
  auto code_of = [](const json::Value* v) -> std::string {
    if (v == nullptr) return {};
    if (v->is_string()) return v->str();
    if (v->is_object()) return std::string(v->get_string("code"));
    return {};
  };
  a.authorization = code_of(practitioner->find("authorization"));
  a.legal_entity = id_of(practitioner->find("legal_entity"));
  a.point_of_care = id_of(practitioner->find("point_of_care"));
  a.department = id_of(practitioner->find("department"));
  const json::Value* care = d.find("care_relationship");
  if (care == nullptr) care = d.find("care_relation");
  if (care == nullptr || !care->is_object()) return bad("no care_relationship");
  a.purpose_of_use = code_of(care->find("purpose_of_use"));
  a.healthcare_service = code_of(care->find("healthcare_service"));
  if (const json::Value* ref = care->find("decision_ref"); ref && ref->is_object()) {
    a.decision_ref = std::string(ref->get_string("id"));
  }
  static constexpr std::string_view kPurposes[] = {"TREAT", "ETREAT", "COC", "BTG"};
  if (std::find(std::begin(kPurposes), std::end(kPurposes), a.purpose_of_use) ==
      std::end(kPurposes)) {
    return bad("purpose_of_use must be TREAT, ETREAT, COC or BTG");
  }
  if (const json::Value* patients = d.find("patients"); patients && patients->is_array()) {
    for (const auto& p : patients->array()) {
      std::string id = id_of(p.find("identifier"));
      if (!id.empty()) a.patients.push_back(std::move(id));
    }
  }
  auto toa = IntClaim(d, "toa");
  if (!toa) return bad("toa (time of attestation) is missing");
  a.toa = *toa;
  return std::optional<Attestation>(std::move(a));
}

// ---- KeyRing ---------------------------------------------------------------

namespace {

namespace fs = std::filesystem;

const SystemClock& DefaultClock() {
  static const SystemClock clock;
  return clock;
}

std::string ReadText(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The activation sidecar of a key: Unix seconds, or nullopt when absent or unreadable.
std::optional<int64_t> ReadActivation(const fs::path& dir, const std::string& kid) {
  std::error_code ec;
  fs::path file = dir / (kid + ".activation");
  if (!fs::exists(file, ec)) return std::nullopt;
  std::string text = ReadText(file);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  int64_t v = 0;
  auto [p, err] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (err != std::errc() || p != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

Status KeyWriteError() {
  return Status::Error(ErrorCategory::kUnavailable, "GM-AUTH-032", "exception",
                       "cannot write a signing key");
}

// Writes `text` to `path` through a temporary file and a rename (mode 0600).
bool WriteAtomically(const fs::path& path, const std::string& text) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    ::chmod(tmp.c_str(), 0600);
    out << text;
    out.flush();
    if (!out) return false;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  return !ec;
}

}  // namespace

Result<std::shared_ptr<KeyRing>> KeyRing::Open(const std::string& dir, Alg alg,
                                               const Clock* clock) {
  std::shared_ptr<KeyRing> ring(new KeyRing(dir, alg, clock ? clock : &DefaultClock()));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return Status::Error(ErrorCategory::kUnavailable, "GM-AUTH-030", "exception",
                         "cannot create the key directory");
  }
  ::chmod(dir.c_str(), 0700);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".pem") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());  // kids are time-ordered: oldest first
  for (const auto& f : files) {
    auto key = Jwk::FromPem(ReadText(f), f.stem().string());
    if (!key.ok() || !key->is_private()) {
      return Status::Error(ErrorCategory::kUnavailable, "GM-AUTH-031", "exception",
                           "a signing key file is unreadable: " + f.filename().string());
    }
    int64_t activate = ReadActivation(dir, f.stem().string()).value_or(0);
    ring->keys_.push_back(Entry{std::move(*key), activate});
  }
  ring->last_scan_s_ = ring->NowS();
  if (ring->keys_.empty()) GM_RETURN_IF_ERROR(ring->Rotate());
  return ring;
}

std::shared_ptr<KeyRing> KeyRing::InMemory(Alg alg) {
  std::shared_ptr<KeyRing> ring(new KeyRing("", alg, &DefaultClock()));
  (void)ring->Rotate();
  return ring;
}

int64_t KeyRing::NowS() const { return clock_->NowUs() / 1'000'000; }

size_t KeyRing::CurrentIndexLocked(int64_t now_s) const {
  for (size_t i = keys_.size(); i-- > 0;) {
    if (keys_[i].activate_s <= now_s) return i;
  }
  return 0;
}

void KeyRing::MaybeReloadLocked() const {
  if (dir_.empty()) return;
  const int64_t now = NowS();
  if (now - last_scan_s_ < kKeyReloadIntervalS && now >= last_scan_s_) return;
  last_scan_s_ = now;
  std::error_code ec;
  std::vector<std::string> kids;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".pem") kids.push_back(it->path().stem().string());
  }
  if (ec) return;  // keep what we have; try again at the next interval
  std::sort(kids.begin(), kids.end());
  std::vector<Entry> next;
  next.reserve(kids.size());
  bool changed = kids.size() != keys_.size();
  for (const std::string& kid : kids) {
    auto known = std::find_if(keys_.begin(), keys_.end(),
                              [&](const Entry& e) { return e.key.kid() == kid; });
    if (known != keys_.end()) {
      next.push_back(*known);
      continue;
    }
    changed = true;
    auto key = Jwk::FromPem(ReadText(fs::path(dir_) / (kid + ".pem")), kid);
    if (!key.ok() || !key->is_private()) continue;  // half-copied: read again next time
    int64_t activate =
        ReadActivation(dir_, kid).value_or(now + kDefaultActivationDelayS);
    next.push_back(Entry{std::move(*key), activate});
  }
  // Never end up without a key (a directory emptied by mistake): keep the old ones.
  if (changed && !next.empty()) keys_ = std::move(next);
}

Jwk KeyRing::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  MaybeReloadLocked();
  return keys_[CurrentIndexLocked(NowS())].key;
}

std::optional<Jwk> KeyRing::Find(std::string_view kid) const {
  std::lock_guard<std::mutex> lock(mu_);
  MaybeReloadLocked();
  for (const auto& e : keys_) {
    if (e.key.kid() == kid) return e.key;
  }
  return std::nullopt;
}

std::optional<int64_t> KeyRing::ActivationOf(std::string_view kid) const {
  std::lock_guard<std::mutex> lock(mu_);
  MaybeReloadLocked();
  for (const auto& e : keys_) {
    if (e.key.kid() == kid) return e.activate_s;
  }
  return std::nullopt;
}

json::Value KeyRing::PublicJwks() const {
  std::lock_guard<std::mutex> lock(mu_);
  MaybeReloadLocked();
  const size_t current = CurrentIndexLocked(NowS());
  json::Value keys = json::Value::MakeArray();
  keys.push_back(keys_[current].key.PublicJson());
  for (size_t i = keys_.size(); i-- > 0;) {
    if (i != current) keys.push_back(keys_[i].key.PublicJson());
  }
  json::Value out = json::Value::MakeObject();
  out.set("keys", std::move(keys));
  return out;
}

Status KeyRing::Rotate(size_t keep, int64_t activate_after_s) {
  // kid: time-ordered and unique ("k" + microseconds + random suffix).
  auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "k%017lld", static_cast<long long>(now));
  Jwk key = Jwk::Generate(alg_, std::string(stamp) + "-" + RandomId().substr(0, 6));
  std::lock_guard<std::mutex> lock(mu_);
  MaybeReloadLocked();
  const int64_t activate = NowS() + std::max<int64_t>(0, activate_after_s);
  if (!dir_.empty()) {
    // The sidecar first: a node that sees the key file sees its activation time.
    if (!WriteAtomically(fs::path(dir_) / (key.kid() + ".activation"), std::to_string(activate))) {
      return KeyWriteError();
    }
    if (!WriteAtomically(fs::path(dir_) / (key.kid() + ".pem"), key.PrivatePem())) {
      return KeyWriteError();
    }
  }
  keys_.push_back(Entry{std::move(key), activate});
  // Retire the oldest keys beyond `keep` older than the current one.
  size_t current = CurrentIndexLocked(NowS());
  while (current > keep) {
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove(fs::path(dir_) / (keys_.front().key.kid() + ".pem"), ec);
      fs::remove(fs::path(dir_) / (keys_.front().key.kid() + ".activation"), ec);
    }
    keys_.erase(keys_.begin());
    --current;
  }
  return Status::Ok();
}

// ---- ReplayCache -----------------------------------------------------------

bool ReplayCache::FirstUse(std::string_view jti, int64_t expires_at_s, int64_t now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = seen_.find(std::string(jti));
  if (it != seen_.end()) {
    if (it->second >= now_s) return false;
    seen_.erase(it);
  }
  if (seen_.size() >= capacity_) {
    for (auto i = seen_.begin(); i != seen_.end();) {
      i = i->second < now_s ? seen_.erase(i) : std::next(i);
    }
    if (seen_.size() >= capacity_) return false;  // fail closed
  }
  seen_.emplace(std::string(jti), expires_at_s);
  return true;
}

// ---- TokenIssuer -----------------------------------------------------------

std::string TokenIssuer::Issue(const IssueRequest& r) const {
  const int64_t now = clock_.NowUs() / 1'000'000;
  json::Value header = json::Value::MakeObject();
  header.set("typ", "at+jwt");
  json::Value c = json::Value::MakeObject();
  c.set("iss", issuer_);
  c.set("sub", r.subject.empty() ? r.client_id : r.subject);
  c.set("aud", audience_);
  c.set("client_id", r.client_id);
  c.set("iat", now);
  c.set("nbf", now);
  c.set("exp", now + r.ttl_seconds);
  c.set("jti", RandomId());
  if (!r.scope.empty()) c.set("scope", r.scope);
  if (!r.pid.empty()) c.set(kClaimPid, r.pid);
  if (r.security_level > 0) c.set(kClaimSecurityLevel, std::to_string(r.security_level));
  if (!r.hpr_number.empty()) c.set(kClaimHpr, r.hpr_number);
  if (!r.orgnr_parent.empty()) c.set(kClaimOrgParent, r.orgnr_parent);
  if (!r.orgnr_child.empty()) c.set(kClaimOrgChild, r.orgnr_child);
  if (!r.authorization_details.is_null()) c.set("authorization_details", r.authorization_details);
  if (!r.cnf_jkt.empty()) {
    json::Value cnf = json::Value::MakeObject();
    cnf.set("jkt", r.cnf_jkt);
    c.set("cnf", std::move(cnf));
  }
  return SignJws(std::move(header), c, keys_->Current());
}

// ---- TokenVerifier ---------------------------------------------------------

std::string NormalizeHtu(std::string_view url) {
  size_t cut = url.find_first_of("?#");
  if (cut != std::string_view::npos) url = url.substr(0, cut);
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  std::string scheme = Lower(url.substr(0, scheme_end));
  std::string_view rest = url.substr(scheme_end + 3);
  size_t path_start = rest.find('/');
  std::string authority = Lower(rest.substr(0, path_start));
  std::string path = path_start == std::string_view::npos ? "/" : std::string(rest.substr(path_start));
  if ((scheme == "https" && authority.size() > 4 &&
       authority.compare(authority.size() - 4, 4, ":443") == 0) ||
      (scheme == "http" && authority.size() > 3 &&
       authority.compare(authority.size() - 3, 3, ":80") == 0)) {
    authority.erase(authority.rfind(':'));
  }
  return scheme + "://" + authority + path;
}

Result<std::string> TokenVerifier::VerifyDpopProof(
    std::string_view proof, std::string_view method, std::string_view url,
    std::optional<std::string_view> access_token) const {
  auto bad = [](std::string why) { return AuthError("GM-AUTH-011", "DPoP proof: " + why); };
  auto jws = DecodeJws(proof);
  if (!jws.ok()) return bad("not a JWS");
  if (jws->header.get_string("typ") != "dpop+jwt") return bad("typ must be dpop+jwt");
  const json::Value* jwk_json = jws->header.find("jwk");
  if (jwk_json == nullptr || !jwk_json->is_object()) return bad("no jwk in the header");
  if (jwk_json->find("d") != nullptr) return bad("the jwk must be a public key");
  auto jwk = Jwk::FromJson(*jwk_json);
  if (!jwk.ok()) return bad("unusable jwk");
  if (!VerifyJws(*jws, *jwk, options_.algs).ok()) return bad("signature or alg");
  const json::Value& p = jws->payload;
  if (p.get_string("htm") != method) return bad("htm does not match the request method");
  if (NormalizeHtu(p.get_string("htu")) != NormalizeHtu(url)) {
    return bad("htu does not match the request URL");
  }
  const int64_t now = clock_.NowUs() / 1'000'000;
  auto iat = IntClaim(p, "iat");
  if (!iat || *iat > now + options_.leeway_s || *iat < now - options_.dpop_max_age_s) {
    return bad("iat outside the accepted window");
  }
  std::string jti(p.get_string("jti"));
  if (jti.size() < 8 || jti.size() > 256) return bad("jti missing or unusable");
  if (access_token) {
    std::string ath = Base64UrlEncode(Sha256(*access_token));
    if (p.get_string("ath") != ath) return bad("ath does not match the access token");
  }
  // Replay: a jti is remembered for as long as its proof could be accepted.
  ReplayGuard& replay = options_.dpop_replay ? *options_.dpop_replay : dpop_jtis_;
  if (!replay.FirstUse(jwk->Thumbprint() + ":" + jti,
                       *iat + options_.dpop_max_age_s + options_.leeway_s, now)) {
    return bad("jti was used before (or the replay check is unavailable)");
  }
  return jwk->Thumbprint();
}

Result<Principal> TokenVerifier::Verify(const RequestAuth& request) const {
  std::string_view h = request.authorization;
  bool dpop_scheme = false;
  std::string_view token;
  auto starts_ci = [](std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    }
    return true;
  };
  if (starts_ci(h, "bearer ")) {
    token = h.substr(7);
  } else if (starts_ci(h, "dpop ")) {
    token = h.substr(5);
    dpop_scheme = true;
  } else {
    return AuthError("GM-AUTH-001", "an access token is required (Authorization: DPoP or Bearer)");
  }
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  auto jws = DecodeJws(token);
  if (!jws.ok()) return AuthError("GM-AUTH-002", "the access token is not a signed JWT");
  const json::Value& header = jws->header;
  std::string typ = Lower(header.get_string("typ"));
  if (typ != "at+jwt" && typ != "application/at+jwt" && typ != "jwt") {
    return AuthError("GM-AUTH-003", "the access token's typ must be at+jwt");
  }
  for (const char* k : {"jku", "x5u", "jwk", "x5c"}) {
    if (header.find(k) != nullptr) {
      return AuthError("GM-AUTH-004", "access tokens may not name their own keys");
    }
  }
  const json::Value& claims = jws->payload;
  std::string_view iss = claims.get_string("iss");
  const TrustedIssuer* issuer = nullptr;
  for (const auto& t : options_.issuers) {
    if (t.issuer == iss) issuer = &t;
  }
  if (issuer == nullptr) return AuthError("GM-AUTH-005", "the token's issuer is not trusted");
  std::string_view kid = header.get_string("kid");
  std::optional<Jwk> key;
  if (issuer->own_keys) key = issuer->own_keys->Find(kid);
  for (const auto& k : issuer->keys) {
    if (!key && k.kid() == kid) key = k;
  }
  if (!key) return AuthError("GM-AUTH-006", "the token's signing key is not known");
  bool signature_known = false;
  {
    std::lock_guard<std::mutex> lock(verified_mu_);
    signature_known = verified_.count(std::string(token)) > 0;
  }
  if (!signature_known && !VerifyJws(*jws, *key, options_.algs).ok()) {
    return AuthError("GM-AUTH-006", "the token's signature does not verify");
  }
  const json::Value* aud = claims.find("aud");
  const std::string& want_aud = issuer->audience.empty() ? options_.audience : issuer->audience;
  bool aud_ok = false;
  if (aud && aud->is_string()) aud_ok = aud->str() == want_aud;
  if (aud && aud->is_array() && aud->size() == 1 && aud->array()[0].is_string()) {
    aud_ok = aud->array()[0].str() == want_aud;
  }
  if (!aud_ok) return AuthError("GM-AUTH-007", "the token is not for this audience");
  const int64_t now = clock_.NowUs() / 1'000'000;
  auto exp = IntClaim(claims, "exp");
  if (!exp || *exp + options_.leeway_s < now) {
    return AuthError("GM-AUTH-008", "the token has expired");
  }
  auto nbf = IntClaim(claims, "nbf");
  auto iat = IntClaim(claims, "iat");
  if ((claims.find("nbf") && !nbf) || (claims.find("iat") && !iat)) {
    return AuthError("GM-AUTH-009", "the token's nbf or iat is not a time");
  }
  if ((nbf && *nbf - options_.leeway_s > now) || (iat && *iat - options_.leeway_s > now)) {
    return AuthError("GM-AUTH-009", "the token is not valid yet");
  }
  int64_t start = iat ? *iat : (nbf ? *nbf : now);
  if (*exp - start > issuer->max_lifetime_s) {
    return AuthError("GM-AUTH-013", "the token lives longer than its issuer allows");
  }
  Principal pr;
  if (const json::Value* cnf = claims.find("cnf"); cnf && cnf->is_object()) {
    std::string jkt(cnf->get_string("jkt"));
    if (!jkt.empty()) {
      if (!dpop_scheme || request.dpop.empty()) {
        return AuthError("GM-AUTH-010", "this token is DPoP-bound: send it with a DPoP proof");
      }
      GM_ASSIGN_OR_RETURN(std::string thumb,
                          VerifyDpopProof(request.dpop, request.method, request.url, token));
      if (thumb != jkt) return AuthError("GM-AUTH-012", "the DPoP key is not the token's key");
      pr.dpop_jkt = jkt;
    }
  } else if (dpop_scheme) {
    return AuthError("GM-AUTH-010", "the DPoP scheme needs a DPoP-bound token");
  }
  pr.issuer = std::string(iss);
  pr.subject = std::string(claims.get_string("sub"));
  pr.client_id = std::string(claims.get_string("client_id"));
  pr.jti = std::string(claims.get_string("jti"));
  pr.pid = StringOf(claims.find(kClaimPid));
  pr.hpr_number = StringOf(claims.find(kClaimHpr));
  pr.orgnr_parent = StringOf(claims.find(kClaimOrgParent));
  pr.orgnr_child = StringOf(claims.find(kClaimOrgChild));
  std::string level = StringOf(claims.find(kClaimSecurityLevel));
  pr.security_level = level.empty() ? 0 : std::atoi(level.c_str());
  const json::Value* scope = claims.find("scope");
  if (scope && scope->is_string()) {
    pr.scopes = ScopeSet::Parse(scope->str());
  } else if (scope && scope->is_array()) {
    std::string joined;
    for (const auto& s : scope->array()) {
      if (s.is_string()) joined += s.str() + " ";
    }
    pr.scopes = ScopeSet::Parse(joined);
  }
  if (const json::Value* details = claims.find("authorization_details")) {
    GM_ASSIGN_OR_RETURN(pr.attestation, ParseAttestation(*details));
  }
  pr.issued_at = start;
  pr.expires_at = *exp;
  if (!signature_known) {
    std::lock_guard<std::mutex> lock(verified_mu_);
    if (verified_.size() >= kMaxVerifiedTokens) {
      // Drop the expired ones; if all are live, start over (bounded memory).
      std::erase_if(verified_, [&](const auto& e) { return e.second + options_.leeway_s < now; });
      if (verified_.size() >= kMaxVerifiedTokens) verified_.clear();
    }
    verified_.emplace(std::string(token), *exp);
  }
  return pr;
}

}  // namespace gm::trust
