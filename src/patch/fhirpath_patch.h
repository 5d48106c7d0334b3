// FHIRPath Patch (http://hl7.org/fhir/R4/fhirpatch.html): a Parameters
// resource whose "operation" parameters edit a resource, each operation
// selecting elements with a FHIRPath expression. For FHIR's patch interaction
// with a FHIR (JSON) body, http://hl7.org/fhir/R4/http.html#patch.
//
// Operations (parts of each "operation" parameter):
//   add      path, name, value   add element `name` to the one element `path`
//                                selects; appended when it repeats, an error
//                                when a single-valued element already exists
//   insert   path, index, value  insert into the list `path` selects, at index
//                                0..count (a list that does not exist yet may
//                                be created when `path` ends in a member name)
//   delete   path                delete the one element `path` selects;
//                                nothing selected is not an error
//   replace  path, value         replace the one element `path` selects
//   move     path, source,       move the list entry at `source` to
//            destination         `destination` (positions in the list `path`
//                                selects, destination counted after removal)
// The value is a "value[x]" part (its type must fit the element: the same
// type, a type derived from it, or, for primitives, any primitive whose
// value is lexically valid for the element's type, e.g. a valueString for a
// code or xhtml), a "resource" part, or nested "part"s that build a complex
// or backbone element member by member (a part per member, repeated for
// repeating members, "value[x]" of each part or parts again).
//
// Editing details: a primitive is its value and its "_name" companion (id,
// extensions); both move together, aligned in arrays. A choice element is
// renamed by the value's type (valueQuantity → valueString). A delete that
// leaves an object or array empty removes it too, up to (not including) the
// resource. The result is not validated here; the caller validates it like
// any other write (the spec requires an error for an invalid outcome).
//
// Paths are evaluated over the current state of the resource with the
// FHIRPath engine; resolve() finds only resources inside the patched one
// (contained resources, Bundle entries). Every selected item must be an
// element inside the resource, never a computed value.
//
// Cost: each operation is linear in the size of the resource (times the
// depth of the edited element), hence the limits in FhirPathPatchOptions.
//
// Errors (a Status; texts name the zero-based operation index, its type and
// path as given in the patch, and never echo values of the resource):
//   category kInvalid — the Parameters resource is malformed:
//     GM-FPATCH-001  not a JSON object with resourceType "Parameters"
//     GM-FPATCH-002  a parameter is not an object named "operation" with parts
//     GM-FPATCH-003  a part is malformed: not an object, no name, an unknown
//                    or repeated name, or a value of the wrong type
//     GM-FPATCH-004  "type" missing or not add | insert | delete | replace | move
//     GM-FPATCH-005  a part the operation type needs is missing, or one it
//                    does not take is present
//     GM-FPATCH-006  "path" is not a valid FHIRPath expression
//     GM-FPATCH-007  the value is malformed: not exactly one of value[x],
//                    resource or parts; an unknown value type; a bad nested part
//   category kUnprocessable — well-formed, but cannot be applied:
//     GM-FPATCH-010  evaluating "path" failed (FHIRPath evaluation error)
//     GM-FPATCH-011  "path" selects nothing (add, insert, replace, move)
//     GM-FPATCH-012  "path" selects more than one element (add, delete, replace)
//     GM-FPATCH-013  "path" selects something that is not an element of the
//                    resource (a computed value, the resource itself where an
//                    element is needed, a primitive where a complex is needed)
//     GM-FPATCH-014  the element named (add, or a nested part) is not defined
//                    for the type
//     GM-FPATCH-015  add of a single-valued element that already exists
//     GM-FPATCH-016  the value's type does not fit the element
//     GM-FPATCH-017  index, source or destination out of range
//     GM-FPATCH-018  insert or move on elements that are not one repeating list
//
// Thread-safety: a pure function of its arguments (no shared state); distinct
// resources may be patched concurrently.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/json.h"
#include "core/status.h"
#include "fhir/model.h"

namespace gm::patch {

struct FhirPathPatchOptions {
  const fhir::Model* model = nullptr;  // null: fhir::Model::R4()
  size_t max_operations = 1'000;       // more operations are refused (GM-FPATCH-002)
  // FHIRPath work limit per path evaluation (EvalOptions::max_steps);
  // exceeding it fails the patch with GM-FPATCH-010.
  uint64_t max_steps = 1'000'000;
};

// Applies the FHIRPath Patch `parameters` to `resource` (a FHIR resource in
// JSON), atomically: on success `resource` holds the patched resource; on any
// error it is unchanged. `parameters` is only read.
Status ApplyFhirPathPatch(const json::Value& parameters, json::Value& resource,
                          const FhirPathPatchOptions& options = {});

}  // namespace gm::patch
