// JSON Patch (RFC 6902) with JSON Pointer (RFC 6901) over gm::json::Value,
// for FHIR's patch interaction with Content-Type application/json-patch+json.
//
//   https://www.rfc-editor.org/rfc/rfc6902
//   https://www.rfc-editor.org/rfc/rfc6901
//   https://hl7.org/fhir/R4/http.html#patch
//
// Pure functions, no I/O. Thread-safety: none needed beyond the usual rule
// for json::Value (distinct objects from distinct threads).
//
// Errors (a Status; the text names the failing operation by its zero-based
// index, its op and path, and never echoes values from the document):
//   category kInvalid — the patch document itself is malformed:
//     GM-PATCH-001  the patch is not a JSON array
//     GM-PATCH-002  an operation is not a JSON object
//     GM-PATCH-003  "op" missing, not a string, or not one of the six operations
//     GM-PATCH-004  "path" missing or not a string
//     GM-PATCH-005  "from" missing or not a string (move, copy)
//     GM-PATCH-006  "value" missing (add, replace, test)
//     GM-PATCH-007  a pointer is not valid RFC 6901 syntax
//   category kUnprocessable — the patch is well-formed but cannot be applied:
//     GM-PATCH-010  the target location (or "from") does not exist
//     GM-PATCH-011  the parent of the target location does not exist or is not
//                   an object or array
//     GM-PATCH-012  an array index is not valid (leading zeros, not a number,
//                   "-" where an existing element is required)
//     GM-PATCH-013  an array index is out of bounds
//     GM-PATCH-014  move into a child of the moved location
//     GM-PATCH-015  a "test" operation failed
//     GM-PATCH-016  remove of the whole document
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace gm::fhir {

// Applies the patch (a JSON array of operations) to `document`, atomically:
// either every operation succeeds and `document` holds the result, or an
// error is returned and `document` is unchanged.
Status ApplyJsonPatch(const json::Value& patch, json::Value& document);

// Splits an RFC 6901 pointer into its unescaped reference tokens ("" is the
// whole document and yields no tokens). Error GM-PATCH-007 (kInvalid) when it
// does not start with '/' or has a '~' not followed by '0' or '1'.
Result<std::vector<std::string>> ParseJsonPointer(std::string_view pointer);

// JSON equality as RFC 6902's "test" defines it: same type; numbers equal by
// value (1, 1.0 and 1e0 are equal, compared exactly, not in floating point);
// strings by code points; arrays element-wise in order; objects by the same
// set of members with equal values, in any order.
bool JsonEqual(const json::Value& a, const json::Value& b);

}  // namespace gm::fhir
