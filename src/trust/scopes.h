// SMART App Launch v2 scopes (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html):
//   <context>/<resource>.<permissions>
// context: patient | user | system; resource: a resource type or "*";
// permissions: a non-empty subset of "cruds" in that order (c create, r read,
// u update, d delete, s search). The v1 forms ".read" (= rs) and ".write"
// (= cud) and ".*" (= cruds) are accepted and mapped. Other scopes (openid,
// fhirUser, launch/patient, offline_access, nhn:… ) are kept as they are and
// grant no data access by themselves.
//
// A scope grants an interaction on a type; whether this principal may touch
// this patient's data is decided by the policy, never by scopes alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gm::trust {

enum class ScopeContext { kPatient, kUser, kSystem };

// Bits of the permissions.
enum Permission : uint8_t {
  kCreate = 1,
  kRead = 2,
  kUpdate = 4,
  kDelete = 8,
  kSearch = 16,
};

struct ResourceScope {
  ScopeContext context = ScopeContext::kUser;
  std::string type;  // "*" for all types
  uint8_t permissions = 0;
};

// Parses one scope token; nullopt when it is not a resource scope (or malformed).
std::optional<ResourceScope> ParseResourceScope(std::string_view scope);

// The canonical v2 text of a resource scope ("system/Observation.rs").
std::string ToString(const ResourceScope& scope);

class ScopeSet {
 public:
  // Space-separated scopes, as in the "scope" claim.
  static ScopeSet Parse(std::string_view text);

  // Whether some scope of one of `contexts` grants `permission` on `type`.
  bool Allows(std::string_view type, Permission permission,
              std::initializer_list<ScopeContext> contexts) const;
  bool Allows(std::string_view type, Permission permission) const {
    return Allows(type, permission,
                  {ScopeContext::kPatient, ScopeContext::kUser, ScopeContext::kSystem});
  }
  bool Has(std::string_view plain_scope) const;  // e.g. "openid"

  const std::vector<ResourceScope>& resources() const { return resources_; }
  const std::vector<std::string>& others() const { return others_; }
  std::string ToString() const;  // canonical v2 forms, space-separated

 private:
  std::vector<ResourceScope> resources_;
  std::vector<std::string> others_;
};

}  // namespace gm::trust
