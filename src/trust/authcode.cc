#include "trust/authcode.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstdlib>

#include "trust/jose.h"

namespace gm::trust {

std::string RandomHandle() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();
  return Base64UrlEncode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
}

bool SafeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool IsS256Challenge(std::string_view challenge) {
  if (challenge.size() != 43) return false;
  for (char c : challenge) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_')) {
      return false;
    }
  }
  return true;
}

bool PkceS256Matches(std::string_view verifier, std::string_view challenge) {
  if (verifier.size() < 43 || verifier.size() > 128) return false;
  for (char c : verifier) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '.' || c == '_' || c == '~')) {
      return false;
    }
  }
  if (!IsS256Challenge(challenge)) return false;
  return SafeEquals(Base64UrlEncode(Sha256(verifier)), challenge);
}

template <typename T>
std::optional<std::string> AuthCodeStore::Put(std::unordered_map<std::string, Entry<T>>& map,
                                              T value, int64_t ttl_s) {
  const int64_t now = clock_.NowUs() / 1'000'000;
  if (map.size() >= options_.max_entries) {
    for (auto it = map.begin(); it != map.end();) {
      it = it->second.expires_at_s < now ? map.erase(it) : std::next(it);
    }
    if (map.size() >= options_.max_entries) return std::nullopt;
  }
  std::string key = RandomHandle();
  map.emplace(key, Entry<T>{std::move(value), now + ttl_s});
  return key;
}

template <typename T>
std::optional<T> AuthCodeStore::Take(std::unordered_map<std::string, Entry<T>>& map,
                                     std::string_view key) {
  const int64_t now = clock_.NowUs() / 1'000'000;
  auto it = map.find(std::string(key));
  if (it == map.end()) return std::nullopt;
  Entry<T> e = std::move(it->second);
  map.erase(it);
  if (e.expires_at_s < now) return std::nullopt;
  return std::move(e.value);
}

std::optional<std::string> AuthCodeStore::PushRequest(PushedRequest request) {
  std::lock_guard<std::mutex> lock(mu_);
  auto key = Put(requests_, std::move(request), options_.request_ttl_s);
  if (!key) return std::nullopt;
  return std::string(kRequestUriPrefix) + *key;
}

std::optional<PushedRequest> AuthCodeStore::TakeRequest(std::string_view request_uri) {
  if (request_uri.substr(0, kRequestUriPrefix.size()) != kRequestUriPrefix) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  return Take(requests_, request_uri.substr(kRequestUriPrefix.size()));
}

std::optional<std::string> AuthCodeStore::StartLogin(PushedRequest request,
                                                     std::string* browser_binding) {
  std::string binding = RandomHandle();
  std::lock_guard<std::mutex> lock(mu_);
  auto key = Put(logins_, Login{std::move(request), Sha256(binding)}, options_.login_ttl_s);
  if (key && browser_binding != nullptr) *browser_binding = std::move(binding);
  return key;
}

std::optional<PushedRequest> AuthCodeStore::TakeLogin(std::string_view login_value,
                                                      std::string_view browser_binding) {
  std::lock_guard<std::mutex> lock(mu_);
  auto login = Take(logins_, login_value);
  if (!login || !SafeEquals(login->binding_hash, Sha256(browser_binding))) return std::nullopt;
  return std::move(login->request);
}

std::optional<std::string> AuthCodeStore::IssueCode(CodeGrant grant) {
  std::lock_guard<std::mutex> lock(mu_);
  return Put(codes_, std::move(grant), options_.code_ttl_s);
}

std::optional<CodeGrant> AuthCodeStore::TakeCode(std::string_view code) {
  std::lock_guard<std::mutex> lock(mu_);
  return Take(codes_, code);
}

}  // namespace gm::trust
