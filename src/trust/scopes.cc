#include "trust/scopes.h"

namespace gm::trust {

namespace {

bool IsTypeName(std::string_view t) {
  if (t == "*") return true;
  if (t.empty() || t.size() > 64 || !(t[0] >= 'A' && t[0] <= 'Z')) return false;
  for (char c : t) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

std::optional<uint8_t> ParsePermissions(std::string_view p) {
  if (p == "read") return kRead | kSearch;
  if (p == "write") return kCreate | kUpdate | kDelete;
  if (p == "*") return kCreate | kRead | kUpdate | kDelete | kSearch;
  static constexpr std::string_view kOrder = "cruds";
  uint8_t bits = 0;
  size_t pos = 0;
  for (char c : p) {
    size_t at = kOrder.find(c, pos);
    if (at == std::string_view::npos) return std::nullopt;  // unknown or out of order
    bits |= static_cast<uint8_t>(1u << at);
    pos = at + 1;
  }
  if (bits == 0) return std::nullopt;
  return bits;
}

}  // namespace

std::optional<ResourceScope> ParseResourceScope(std::string_view scope) {
  // SMART v2 allows query parameters after '?' to narrow a scope; narrowing
  // is not supported, so such scopes are not honoured (never widened).
  if (scope.find('?') != std::string_view::npos) return std::nullopt;
  size_t slash = scope.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  ResourceScope r;
  std::string_view ctx = scope.substr(0, slash);
  if (ctx == "patient") r.context = ScopeContext::kPatient;
  else if (ctx == "user") r.context = ScopeContext::kUser;
  else if (ctx == "system") r.context = ScopeContext::kSystem;
  else return std::nullopt;
  std::string_view rest = scope.substr(slash + 1);
  size_t dot = rest.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::string_view type = rest.substr(0, dot);
  if (!IsTypeName(type)) return std::nullopt;
  auto perms = ParsePermissions(rest.substr(dot + 1));
  if (!perms) return std::nullopt;
  r.type = std::string(type);
  r.permissions = *perms;
  return r;
}

std::string ToString(const ResourceScope& scope) {
  std::string out = scope.context == ScopeContext::kPatient ? "patient/"
                    : scope.context == ScopeContext::kUser  ? "user/"
                                                            : "system/";
  out += scope.type;
  out += '.';
  static constexpr std::string_view kOrder = "cruds";
  for (size_t i = 0; i < kOrder.size(); ++i) {
    if (scope.permissions & (1u << i)) out += kOrder[i];
  }
  return out;
}

ScopeSet ScopeSet::Parse(std::string_view text) {
  ScopeSet s;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t j = text.find(' ', i);
    if (j == std::string_view::npos) j = text.size();
    std::string_view token = text.substr(i, j - i);
    if (!token.empty()) {
      if (auto r = ParseResourceScope(token)) {
        s.resources_.push_back(std::move(*r));
      } else if (token.find('/') == std::string_view::npos ||
                 token.rfind("launch/", 0) == 0) {
        s.others_.emplace_back(token);
      }
      // A malformed resource scope is dropped: it grants nothing.
    }
    i = j;
  }
  return s;
}

bool ScopeSet::Allows(std::string_view type, Permission permission,
                      std::initializer_list<ScopeContext> contexts) const {
  for (const ResourceScope& r : resources_) {
    bool context_ok = false;
    for (ScopeContext c : contexts) context_ok = context_ok || c == r.context;
    if (!context_ok) continue;
    if ((r.type == "*" || r.type == type) && (r.permissions & permission)) return true;
  }
  return false;
}

bool ScopeSet::Has(std::string_view plain_scope) const {
  for (const auto& o : others_) {
    if (o == plain_scope) return true;
  }
  return false;
}

std::string ScopeSet::ToString() const {
  std::string out;
  for (const auto& r : resources_) {
    if (!out.empty()) out += ' ';
    out += trust::ToString(r);
  }
  for (const auto& o : others_) {
    if (!out.empty()) out += ' ';
    out += o;
  }
  return out;
}

}  // namespace gm::trust
