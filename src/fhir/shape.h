// Output shaping of FHIR resources for reads and searches, and the canonical
// JSON serializer.
//
// _summary (http://hl7.org/fhir/R4/search.html#summary):
//   true  - elements marked isSummary in the base definitions, recursively into
//           complex types and backbone elements, plus mandatory (min > 0) and
//           modifier elements at every level (a summary never hides something
//           that changes the meaning of what it shows); an included Extension,
//           primitive or "_name" companion is copied whole; resources held by an
//           included element (Bundle.entry.resource) are summarized as their type.
//   text  - resourceType, id, meta, text and the mandatory top-level elements.
//   data  - everything except text.
//   false - everything.
//   count - a search-level mode (no resources are returned); Shape treats it as true.
// _elements (http://hl7.org/fhir/R4/search.html#elements): the listed top-level
//   elements plus resourceType, id, meta and the mandatory top-level elements.
//   A choice element is named by its stem ("value", "value[x]") or a variant
//   ("valueQuantity"); "Patient.name" names "name"; a deeper path ("name.given")
//   selects its top-level element whole; unknown names are ignored.
// Every mode other than false, and any _elements list, marks the result with the
// tag SUBSETTED (system http://terminology.hl7.org/CodeSystem/v3-ObservationValue)
// in meta.tag, so a client cannot mistake it for the whole resource.
//
// Canonical order: "resourceType" first, then the members in the order of the
// type's element definitions (inherited elements first), each "_name" companion
// right after its "name"; members the model does not know keep their relative
// order at the end. Applies recursively, also to contained and bundled resources.
//
// Thread-safety: all functions are pure; distinct values may be shaped
// concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "fhir/model.h"

namespace gm::fhir {

enum class Summary : uint8_t { kFalse, kTrue, kText, kData, kCount };

// Parses a _summary value ("true", "text", "data", "count", "false").
// Errors: kInvalid, GM-SHAPE-001, for any other value.
Result<Summary> ParseSummary(std::string_view value);

// Splits an _elements value at commas; entries are trimmed and empty ones dropped.
std::vector<std::string> ParseElements(std::string_view value);

struct ShapeOptions {
  Summary summary = Summary::kFalse;
  std::vector<std::string> elements;  // _elements; empty when not requested
  const Model* model = nullptr;       // null: Model::R4()
};

// True when `options` would remove anything (and add the SUBSETTED tag).
bool Subsets(const ShapeOptions& options);

// Returns `resource` shaped by `options`. When both are given, _summary is
// applied first, then _elements. A value that is not a resource of a known type
// is returned unchanged.
json::Value Shape(const json::Value& resource, const ShapeOptions& options);

// Adds the SUBSETTED tag to resource.meta.tag unless it is there (creating meta
// and tag as needed).
void AddSubsettedTag(json::Value& resource);

// Reorders the members of `resource` in place into canonical order (above).
void Canonicalize(json::Value& resource, const Model* model = nullptr);

struct SerializeOptions {
  bool pretty = false;
  const Model* model = nullptr;  // null: Model::R4()
};

// Writes `resource` as JSON in canonical order, appending to `out`.
void Serialize(const json::Value& resource, std::string& out, const SerializeOptions& options = {});
std::string Serialize(const json::Value& resource, const SerializeOptions& options = {});

}  // namespace gm::fhir
