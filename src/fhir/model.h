// The FHIR R4 (4.0.1) model: every type, resource, element, search parameter
// and the Patient compartment, built from HL7's definitions at build time
// (tools/gen-fhir-model.mjs) and embedded in the binary.
//
// Thread-safety: Model::R4() is built once on first use (thread-safe static)
// and is immutable afterwards; all accessors are safe from any thread.
// Pointers returned stay valid for the life of the process.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace gm::fhir {

enum class TypeKind { kPrimitive, kComplex, kResource, kBackbone, kLogical };

struct TypeRef {
  std::string code;                  // "string", "Reference", "Quantity", "Resource", ...
  bool system = false;               // a FHIRPath System type (Element.id, Extension.url):
                                     // no id/extension, no "_name" companion in JSON
  std::vector<std::string> targets;  // Reference/canonical targets ("Patient", "Group")
};

struct Constraint {
  std::string key;         // "obs-6"
  std::string severity;    // "error" | "warning"
  std::string expression;  // FHIRPath
  std::string human;
};

struct TypeDef;

struct ElementDef {
  std::string name;  // JSON name; for choice elements the stem ("value" of value[x])
  std::string path;  // "Observation.value[x]"
  int min = 0;
  int max = 1;        // -1 = unbounded
  bool array = false;  // JSON shape: an array (base max != 1)
  bool choice = false;
  bool summary = false;
  bool modifier = false;
  std::vector<TypeRef> types;
  std::vector<Constraint> constraints;
  std::string binding_strength;  // required | extensible | preferred | example
  std::string binding_valueset;  // canonical, possibly with |version
  // The type of the children: for a single non-choice type, the TypeDef of that
  // type; for inline BackboneElement/Element children or a contentReference,
  // the anonymous backbone TypeDef (named by path). Null for choice elements.
  const TypeDef* type = nullptr;
};

struct TypeDef {
  std::string name;  // "Patient", "HumanName", "dateTime", or a backbone path "Patient.contact"
  TypeKind kind = TypeKind::kComplex;
  std::string base;  // "DomainResource", "Element", ... (empty for Base/Element roots)
  bool abstract = false;
  std::vector<ElementDef> elements;       // direct children in definition order
  std::vector<Constraint> constraints;    // constraints on the type itself (e.g. dom-2)
  std::string regex;                      // primitives: value regex (may be empty)
  std::string system_type;                // primitives: "System.String", "System.Decimal", ...

  struct Match {
    const ElementDef* element = nullptr;
    const TypeRef* type = nullptr;  // the concrete type (the chosen one for choices)
  };
  // Matches a JSON property name ("valueQuantity", "name") to a child element.
  Match Find(std::string_view json_name) const;
  const ElementDef* Child(std::string_view name) const;
  bool IsPrimitive() const { return kind == TypeKind::kPrimitive; }

 private:
  friend class Model;
  std::unordered_map<std::string, size_t> index_;
};

struct SearchParamDef {
  std::string code;  // "identifier", "_id", "code-value-quantity"
  std::string url;
  std::string type;        // number|date|string|token|reference|composite|quantity|uri|special
  std::string expression;  // FHIRPath, may be empty (e.g. _content)
  std::vector<std::string> base;
  std::vector<std::string> target;
  struct Component {
    std::string definition;  // the component's SearchParameter id
    std::string expression;
  };
  std::vector<Component> components;
  std::vector<std::string> modifiers;
};

class Model {
 public:
  // The embedded R4 model.
  static const Model& R4();
  // Builds a model from the generated JSON (tests and tools).
  static Result<Model> FromJson(const json::Value& doc);

  const TypeDef* Type(std::string_view name) const;
  bool IsResourceType(std::string_view name) const;  // concrete (non-abstract) resources
  const std::vector<std::string>& ResourceTypes() const { return resource_types_; }
  // True if `type` is `ancestor` or derives from it ("Patient" → "DomainResource").
  bool IsA(std::string_view type, std::string_view ancestor) const;

  // Search parameters that apply to a resource type, including those defined on
  // Resource and DomainResource.
  std::vector<const SearchParamDef*> SearchParams(std::string_view resource_type) const;
  const SearchParamDef* SearchParam(std::string_view resource_type, std::string_view code) const;

  // Patient compartment: the search parameters through which a resource of this
  // type belongs to a Patient's compartment. Null when the type is not in it.
  const std::vector<std::string>* PatientCompartmentParams(std::string_view resource_type) const;

  // Codes of a value set that a required binding names, when enumerable. Null if unknown.
  const std::vector<std::string>* ValueSetCodes(std::string_view url) const;

  const std::string& version() const { return version_; }

 private:
  std::string version_;
  std::vector<std::unique_ptr<TypeDef>> owned_;
  std::unordered_map<std::string, const TypeDef*> types_;
  std::vector<std::string> resource_types_;
  std::vector<std::unique_ptr<SearchParamDef>> params_;
  std::unordered_map<std::string, std::vector<const SearchParamDef*>> params_by_base_;
  std::unordered_map<std::string, std::vector<std::string>> compartment_;
  std::unordered_map<std::string, std::vector<std::string>> codes_;
};

// The embedded generated model text (from the build).
std::string_view EmbeddedModelJson();

}  // namespace gm::fhir
