#include "no/check.h"

#include <type_traits>

namespace gm::no {

namespace {

// Calls fn(identifier_node, location) for every Identifier in a resource.
template <typename V, typename Fn>
class Walker {
 public:
  Walker(const fhir::Model& model, Fn& fn) : model_(model), fn_(fn) {}

  void Resource(V& node, std::string path, int depth) {
    if (!node.is_object() || depth > 32) return;
    std::string_view rt = node.get_string("resourceType");
    const fhir::TypeDef* type = model_.Type(rt);
    if (type == nullptr || type->kind != fhir::TypeKind::kResource) return;
    if (path.empty()) path = std::string(rt);
    Object(node, *type, path, depth);
  }

 private:
  void Object(V& node, const fhir::TypeDef& type, const std::string& path, int depth) {
    if (depth > 64) return;
    for (auto& member : node.object()) {
      const std::string& key = member.first;
      if (key.empty() || key[0] == '_' || key == "resourceType") continue;
      fhir::TypeDef::Match m = type.Find(key);
      if (m.element == nullptr) continue;
      const fhir::ElementDef& el = *m.element;
      const fhir::TypeDef* child = nullptr;
      std::string seg = path + "." + el.name;
      if (el.choice) {
        if (m.type == nullptr) continue;
        child = model_.Type(m.type->code);
        seg += ".ofType(" + m.type->code + ")";
      } else {
        child = el.type;
      }
      if (child == nullptr || child->IsPrimitive()) continue;
      V& value = member.second;
      if (value.is_array()) {
        size_t i = 0;
        for (auto& item : value.array()) {
          Item(item, *child, seg + "[" + std::to_string(i) + "]", depth);
          ++i;
        }
      } else {
        Item(value, *child, seg, depth);
      }
    }
  }

  void Item(V& node, const fhir::TypeDef& type, const std::string& path, int depth) {
    if (!node.is_object()) return;
    if (type.kind == fhir::TypeKind::kResource) {
      Resource(node, path, depth + 1);
      return;
    }
    if (type.name == "Identifier") fn_(node, path);
    Object(node, type, path, depth + 1);
  }

  const fhir::Model& model_;
  Fn& fn_;
};

template <typename V, typename Fn>
void ForEachIdentifier(V& resource, const fhir::Model& model, Fn fn) {
  Walker<V, Fn> w(model, fn);
  w.Resource(resource, std::string(), 0);
}

}  // namespace

std::string_view IssueCode(IdSystem system) {
  switch (system) {
    case IdSystem::kFnr: return "GM-NO-001";
    case IdSystem::kDnr: return "GM-NO-002";
    case IdSystem::kFhn: return "GM-NO-003";
    case IdSystem::kHnr: return "GM-NO-004";
    case IdSystem::kHpr: return "GM-NO-005";
    case IdSystem::kDuf: return "GM-NO-006";
    case IdSystem::kOrgnr: return "GM-NO-007";
    case IdSystem::kResh: return "GM-NO-008";
    case IdSystem::kAko: return "GM-NO-009";
    case IdSystem::kHerId: return "GM-NO-010";
  }
  return "GM-NO-000";
}

std::vector<Issue> CheckIdentifiers(const json::Value& resource, const fhir::Model& model) {
  std::vector<Issue> issues;
  ForEachIdentifier(resource, model, [&](const json::Value& id, const std::string& path) {
    const json::Value* system = id.find("system");
    if (system == nullptr || !system->is_string()) return;
    std::optional<IdSystem> kind = IdentifySystem(system->str());
    if (!kind) return;
    if (*kind == IdSystem::kHnr && id.find("assigner") == nullptr) {
      issues.push_back(Issue{Severity::kError, "required", "GM-NO-011",
                             "An H-nummer identifier needs an assigner (the organisation that "
                             "issued it)",
                             path});
    }
    const json::Value* value = id.find("value");
    if (value == nullptr || !value->is_string()) return;
    Problem p = Check(*kind, value->str());
    if (p == Problem::kNone) return;
    issues.push_back(Issue{Severity::kError, "value", std::string(IssueCode(*kind)),
                           "Invalid " + std::string(DisplayName(*kind)) + ": " +
                               std::string(ProblemText(p)),
                           path + ".value"});
  });
  return issues;
}

size_t CanonicalizeIdentifierSystems(json::Value& resource, const fhir::Model& model) {
  size_t n = 0;
  ForEachIdentifier(resource, model, [&](json::Value& id, const std::string&) {
    json::Value* system = id.find("system");
    if (system == nullptr || !system->is_string()) return;
    std::optional<IdSystem> kind = IdentifySystem(system->str());
    if (!kind || system->str() == CanonicalUri(*kind)) return;
    system->str() = std::string(CanonicalUri(*kind));
    ++n;
  });
  return n;
}

}  // namespace gm::no
