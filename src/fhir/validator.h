// Structural validation of FHIR R4 resources in JSON
// (http://hl7.org/fhir/R4/json.html, http://hl7.org/fhir/R4/validation.html)
// against the base definitions in the embedded model (fhir/model.h).
//
// Checked here: resourceType; unknown elements and "_name" companions; JSON
// shape (array or single) and JSON kinds; choice elements; cardinality;
// primitive values (fhir/primitives.h); alignment of primitive arrays with
// their "_name" companions; null, empty objects, arrays and strings; Extension
// structure; contained and polymorphic resources (validated as the type their
// resourceType names); required bindings on code elements whose value set the
// model can enumerate. The constraints below with a native check are enforced
// here; every other FHIRPath invariant is left to an optional hook
// (ValidateOptions::invariants), which the FHIRPath engine plugs in.
//
// Every issue has severity error, a FHIR issue type, a stable code from the
// table below, a text that quotes no data values (element and type names only,
// truncated), and a FHIRPath expression locating the element. Choice elements
// are located with ofType: "Observation.value.ofType(Quantity)"; repeating
// elements always carry an index: "Patient.name[0].given[1]"; a resource inside
// another is located by the element that holds it:
// "Bundle.entry[2].resource.status".
//
// | code       | issue type   | problem                                                     |
// |------------|--------------|-------------------------------------------------------------|
// | GM-VAL-001 | structure    | the resource is not a JSON object                           |
// | GM-VAL-002 | required     | resourceType is missing or not a string                     |
// | GM-VAL-003 | invalid      | resourceType names no known resource type                   |
// | GM-VAL-004 | invalid      | resourceType names an abstract type (DomainResource)        |
// | GM-VAL-005 | structure    | unknown element                                             |
// | GM-VAL-006 | structure    | "_name" companion for an element that takes none            |
// | GM-VAL-007 | structure    | a repeating element is not a JSON array                     |
// | GM-VAL-008 | structure    | a single element is a JSON array                            |
// | GM-VAL-009 | structure    | wrong JSON kind (object / string / number / boolean)        |
// | GM-VAL-010 | structure    | more than one type of a choice element (value[x])           |
// | GM-VAL-011 | structure    | a choice element with a type it does not allow (valueFoo)   |
// | GM-VAL-012 | required     | a required element is missing (min cardinality)             |
// | GM-VAL-013 | structure    | too many entries (max cardinality)                          |
// | GM-VAL-014 | value        | invalid primitive value (lexical form or range)             |
// | GM-VAL-015 | structure    | "name" and "_name" arrays differ in length                  |
// | GM-VAL-016 | structure    | null outside an aligned primitive array                     |
// | GM-VAL-017 | structure    | "name" and "_name" both null at one index                   |
// | GM-VAL-018 | structure    | empty object                                                |
// | GM-VAL-019 | structure    | empty array                                                 |
// | GM-VAL-020 | value        | empty string                                                |
// | GM-VAL-021 | invariant    | element with nothing but an id (ele-1)                      |
// | GM-VAL-022 | invariant    | extension with both a value and nested extensions (ext-1)   |
// | GM-VAL-023 | invariant    | extension with neither a value nor extensions (ext-1)       |
// | GM-VAL-024 | invariant    | contained resource that itself contains resources (dom-2)   |
// | GM-VAL-025 | invariant    | contained resource with meta.versionId/lastUpdated (dom-4)  |
// | GM-VAL-026 | invariant    | contained resource with meta.security (dom-5)               |
// | GM-VAL-027 | invalid      | resource of a type the element does not allow               |
// | GM-VAL-028 | code-invalid | code not in the value set of a required binding             |
// | GM-VAL-029 | too-costly   | too many issues; validation stopped                         |
// | GM-VAL-030 | too-costly   | content nested too deeply; not validated further            |
//
// Thread-safety: Validate is a pure function of its arguments; it may run
// concurrently on any threads (the hook must then be thread-safe too).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "fhir/model.h"

namespace gm::fhir {

namespace internal {
class Validator;
}

// A node handed to the invariant hook: an element (or a resource) whose
// definition or type carries FHIRPath constraints. Valid only during the call.
class InvariantSite {
 public:
  // The element's JSON: an object, or a primitive's value (null when the
  // primitive exists only as its "_name" companion).
  const json::Value* node() const { return node_; }
  // A primitive's "_name" companion object, otherwise null.
  const json::Value* companion() const { return companion_; }
  // The node's type (the chosen type of a choice element, the backbone type of
  // an inline element, the resource type at a resource root). May be null for
  // FHIRPath System types (xhtml.id).
  const TypeDef* type() const { return type_; }
  // The element definition; null at a resource root.
  const ElementDef* element() const { return element_; }
  // %resource and %rootResource for the node.
  const json::Value& resource() const { return *resource_; }
  const json::Value& root_resource() const { return *root_resource_; }
  // FHIRPath expression of the node, as used in issues ("Patient.name[0]").
  std::string Location() const;

 private:
  friend class internal::Validator;
  const internal::Validator* validator_ = nullptr;
  const json::Value* node_ = nullptr;
  const json::Value* companion_ = nullptr;
  const TypeDef* type_ = nullptr;
  const ElementDef* element_ = nullptr;
  const json::Value* resource_ = nullptr;
  const json::Value* root_resource_ = nullptr;
};

// Called for each node whose element or type has constraints (both lists may
// be consulted: site.element()->constraints, site.type()->constraints),
// after the node's structure was validated. Appends one Issue per violated
// constraint; constraints with IsNativeConstraint(key) are already checked.
using InvariantHook = std::function<void(const InvariantSite& site, std::vector<Issue>& issues)>;

struct ValidateOptions {
  const Model* model = nullptr;  // null: Model::R4()
  size_t max_issues = 100;       // after this many, GM-VAL-029 is added and validation stops
  InvariantHook invariants;      // optional
};

// Validates `resource` (a parsed JSON resource of any type). Returns the
// problems found, empty when the resource is structurally valid. The order is
// deterministic: per object, unknown members first, then the elements in
// definition order, depth first.
std::vector<Issue> Validate(const json::Value& resource, const ValidateOptions& options = {});

// As Validate, as a Status: ok, or kUnprocessable with one issue per problem.
Status ValidateResource(const json::Value& resource, const ValidateOptions& options = {});

// True for the constraint keys this validator enforces natively (ext-1,
// dom-2, dom-4, dom-5, txt-1, txt-2, ele-1); an invariant hook skips them.
bool IsNativeConstraint(std::string_view key);

}  // namespace gm::fhir
