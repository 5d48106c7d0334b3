// The compiled form of a profile (internal to gm_profile): one ElementNode per
// snapshot element, arranged as the element ids nest ("Patient.identifier" →
// child "identifier" of the root; "Patient.identifier:FNR" → slice "FNR" of it;
// "Patient.identifier:FNR.system" → child "system" of that slice).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/json.h"
#include "fhir/model.h"
#include "fhirpath/fhirpath.h"
#include "profile/profile.h"

namespace gm::profile::internal {

struct TypeSpec {
  std::string code;                          // "Identifier", "Reference", "string"
  std::vector<std::string> profiles;         // type.profile
  std::vector<std::string> target_profiles;  // type.targetProfile
};

struct Discriminator {
  enum class Kind { kValue, kPattern, kExists, kType, kProfile, kUnsupported };
  Kind kind = Kind::kValue;
  std::vector<std::string> path;  // dotted segments; empty = $this
};

struct Invariant {
  std::string key, severity, human;
  std::optional<fhirpath::Expression> expression;  // null: could not compile
  std::string compile_failure;                     // the engine's code then
};

struct ElementNode {
  std::string id;         // "Patient.identifier:FNR.system"
  std::string path;       // "Patient.identifier.system"
  std::string name;       // JSON name; the stem for choices ("value" of value[x])
  bool choice = false;
  std::string slice_name;  // for slices
  int min = 0, max = -1;   // -1: "*"
  int base_min = 0, base_max = -1;
  std::vector<TypeSpec> types;
  std::optional<json::Value> fixed, pattern;
  std::string fixed_key, pattern_key;  // "fixedUri", "patternCoding"
  std::string required_valueset;       // a required binding's value set (version stripped)
  std::vector<Invariant> invariants;

  bool sliced = false;
  std::vector<Discriminator> discriminators;
  std::string rules = "open";  // open | closed | openAtEnd
  bool ordered = false;
  std::vector<std::unique_ptr<ElementNode>> slices;
  std::vector<std::unique_ptr<ElementNode>> children;
  std::string content_reference;          // "#Composition.section"
  const ElementNode* content = nullptr;   // resolved contentReference

  // Base model: the element (null at the root and for unknown paths) and the
  // type of the node's children (null for choices of several types).
  const fhir::ElementDef* model_element = nullptr;
  const fhir::TypeDef* model_type = nullptr;
  // Reference targets the profile allows differ from the base: check them.
  bool check_targets = false;

  const ElementNode* Child(std::string_view n) const {
    for (const auto& c : children) {
      if (c->name == n) return c.get();
    }
    return nullptr;
  }
  const std::vector<std::unique_ptr<ElementNode>>& EffectiveChildren() const {
    return content != nullptr ? content->children : children;
  }
};

// A CodeSystem's codes (nested concepts flattened).
struct CodeSystemIndex {
  std::string url;
  bool complete = false;  // content = complete
  std::unordered_set<std::string> codes;
};

}  // namespace gm::profile::internal
